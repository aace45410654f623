/* The small CNN of `cltool train` on clt's public API (see cnn.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cnn.h"

#include "rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CONV1, CONV2, N_CONVS };
enum { N_PASSES = 3 }; /* forward, backward data, backward weights (clt_conv_op) */

struct cnn {
    clt_context_t ctx;
    cl_command_queue queue;
    cnn_config cfg;
    cnn_tensor t[CNN_PARAMS];
    size_t n_params;
    clt_conv_algo algo[N_CONVS][N_PASSES];
    char algo_note[256];

    /* parameters, their gradients and momentum, each one buffer */
    cl_mem param, grad, velocity;
    /* the packed batch: images, then labels (int32) right after them */
    cl_mem batch;
    /* activations (forward) and their gradients (backward), max_batch deep */
    cl_mem a1, p1, a2, p2, logits, loss;
    cl_mem idx1, idx2; /* max-pool argmax (int32) */
    cl_mem dp2, da2, dp1, da1, dlogits;
    cl_mem workspace;
    size_t workspace_bytes;

    double *profile; /* seconds per stage, or NULL */
    double stage_start;
};

static const char *const stage_names[CNN_STAGES] = {
    "upload",
    "conv1 forward",
    "pool1 forward",
    "conv2 forward",
    "pool2 forward",
    "linear forward",
    "loss forward",
    "loss backward",
    "linear backward",
    "relu2 backward",
    "pool2 backward",
    "conv2 backward weights",
    "conv2 backward data",
    "relu1 backward",
    "pool1 backward",
    "conv1 backward weights",
    "sgd",
    "read back",
};

const char *cnn_stage_name(cnn_stage s)
{
    return (unsigned)s < CNN_STAGES ? stage_names[s] : "?";
}

cnn_config cnn_default_config(int h, int w, int max_batch, clt_conv_algo algo)
{
    return (cnn_config){
        .h = h, .w = w, .c1 = 16, .c2 = 32, .classes = 10, .max_batch = max_batch, .algo = algo};
}

/* ---- shapes ---- */

static int fc_in(const cnn_config *c)
{
    return c->c2 * (c->h / 4) * (c->w / 4);
}

static clt_conv2d_desc conv_desc(const cnn_config *c, int which, int n)
{
    int in = which == CONV1 ? 1 : c->c1, out = which == CONV1 ? c->c1 : c->c2;
    int h = which == CONV1 ? c->h : c->h / 2, w = which == CONV1 ? c->w : c->w / 2;
    return (clt_conv2d_desc){.n = n,
                             .c = in,
                             .h = h,
                             .w = w,
                             .k = out,
                             .kernel_h = 3,
                             .kernel_w = 3,
                             .pad_h = 1,
                             .pad_w = 1,
                             .stride_h = 1,
                             .stride_w = 1,
                             .dilation_h = 1,
                             .dilation_w = 1,
                             .groups = 1};
}

static clt_pool2d_desc pool_desc(const cnn_config *c, int which, int n)
{
    int ch = which == CONV1 ? c->c1 : c->c2;
    int h = which == CONV1 ? c->h : c->h / 2, w = which == CONV1 ? c->w : c->w / 2;
    return (clt_pool2d_desc){
        .n = n, .c = ch, .h = h, .w = w, .mode = CLT_POOL_MAX, .kernel_h = 2, .kernel_w = 2};
}

size_t cnn_layout(const cnn_config *c, cnn_tensor t[CNN_PARAMS])
{
    const cnn_tensor shapes[CNN_PARAMS] = {
        {"conv1.weight", 4, {c->c1, 1, 3, 3}, 0, 0},     {"conv1.bias", 1, {c->c1}, 0, 0},
        {"conv2.weight", 4, {c->c2, c->c1, 3, 3}, 0, 0}, {"conv2.bias", 1, {c->c2}, 0, 0},
        {"fc.weight", 2, {c->classes, fc_in(c)}, 0, 0},  {"fc.bias", 1, {c->classes}, 0, 0},
    };
    size_t offset = 0;
    for (int i = 0; i < CNN_PARAMS; i++) {
        t[i] = shapes[i];
        t[i].count = 1;
        for (int d = 0; d < t[i].rank; d++)
            t[i].count *= (size_t)t[i].dims[d];
        t[i].offset = offset;
        offset += t[i].count;
    }
    return offset;
}

void cnn_init_params(const cnn_config *cfg, uint64_t seed, float *params)
{
    cnn_tensor t[CNN_PARAMS];
    cnn_layout(cfg, t);
    uint64_t state = seed;
    /* fan_in of each layer: its weight's elements per output */
    for (int i = 0; i < CNN_PARAMS; i++) {
        const cnn_tensor *weight = &t[i & ~1];
        double fan_in = (double)weight->count / weight->dims[0];
        float bound = (float)(1.0 / sqrt(fan_in));
        for (size_t j = 0; j < t[i].count; j++)
            params[t[i].offset + j] = (2.0f * rng_uniform(&state) - 1.0f) * bound;
    }
}

/* ---- profiling ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cnn_set_profile(cnn *net, double *seconds)
{
    net->profile = seconds;
}

/* Runs at the end of each stage: with profiling on, waits for the device and
 * books the time since the previous stage ended. */
static clt_status stage_done(cnn *net, cnn_stage s, clt_status st)
{
    if (st != CLT_STATUS_SUCCESS || !net->profile)
        return st;
    st = clt_finish(net->ctx);
    double t = now_s();
    net->profile[s] += t - net->stage_start;
    net->stage_start = t;
    return st;
}

static void stage_begin(cnn *net)
{
    if (net->profile) {
        clt_finish(net->ctx);
        net->stage_start = now_s();
    }
}

/* ---- creation ---- */

static clt_buf B(cl_mem m)
{
    return (clt_buf){m, 0};
}

static clt_buf at(cl_mem m, size_t offset)
{
    return (clt_buf){m, offset};
}

static clt_status new_buffer(cnn *net, size_t elements, cl_mem *out)
{
    cl_int err;
    *out = clCreateBuffer(clt_context_cl_context(net->ctx), CL_MEM_READ_WRITE,
                          elements * sizeof(float), NULL, &err);
    return (clt_status)err;
}

/* For every convolution pass: the configured algorithm if it can run it,
 * else AUTO (noted); and the largest workspace any pass wants. */
static clt_status choose_algos(cnn *net)
{
    static const char *const pass_names[N_PASSES] = {"forward", "backward data",
                                                     "backward weights"};
    size_t note_len = 0;
    for (int c = 0; c < N_CONVS; c++)
        for (int op = 0; op < N_PASSES; op++) {
            if (c == CONV1 && op == CLT_CONV_BACKWARD_DATA)
                continue; /* the input needs no gradient */
            clt_conv2d_desc d = conv_desc(&net->cfg, c, net->cfg.max_batch);
            clt_conv_algo a = net->cfg.algo;
            if (a != CLT_CONV_ALGO_AUTO &&
                clt_conv2d_check(net->ctx, &d, (clt_conv_op)op, a) != CLT_STATUS_SUCCESS) {
                int len = snprintf(net->algo_note + note_len, sizeof net->algo_note - note_len,
                                   "%sconv%d %s: %s -> auto", note_len ? ", " : "", c + 1,
                                   pass_names[op], clt_conv_algo_name(a));
                if (len > 0 && note_len + (size_t)len < sizeof net->algo_note)
                    note_len += (size_t)len;
                a = CLT_CONV_ALGO_AUTO;
            }
            net->algo[c][op] = a;
            size_t bytes;
            clt_status st = clt_conv2d_workspace_size(net->ctx, &d, (clt_conv_op)op, a, &bytes);
            if (st != CLT_STATUS_SUCCESS)
                return st;
            if (bytes > net->workspace_bytes)
                net->workspace_bytes = bytes;
        }
    return CLT_STATUS_SUCCESS;
}

static clt_status create_buffers(cnn *net)
{
    const cnn_config *c = &net->cfg;
    size_t n = (size_t)c->max_batch, hw = (size_t)c->h * c->w;
    size_t hw2 = (size_t)(c->h / 2) * (c->w / 2), hw4 = (size_t)(c->h / 4) * (c->w / 4);
    struct {
        cl_mem *mem;
        size_t elements;
    } bufs[] = {
        {&net->param, net->n_params},
        {&net->grad, net->n_params},
        {&net->velocity, net->n_params},
        {&net->batch, n * (hw + 1)},
        {&net->a1, n * c->c1 * hw},
        {&net->da1, n * c->c1 * hw},
        {&net->p1, n * c->c1 * hw2},
        {&net->dp1, n * c->c1 * hw2},
        {&net->idx1, n * c->c1 * hw2},
        {&net->a2, n * c->c2 * hw2},
        {&net->da2, n * c->c2 * hw2},
        {&net->p2, n * c->c2 * hw4},
        {&net->dp2, n * c->c2 * hw4},
        {&net->idx2, n * c->c2 * hw4},
        {&net->logits, n * c->classes},
        {&net->dlogits, n * c->classes},
        {&net->loss, 1},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        clt_status st = new_buffer(net, bufs[i].elements, bufs[i].mem);
        if (st != CLT_STATUS_SUCCESS)
            return st;
    }
    if (net->workspace_bytes > 0)
        return new_buffer(net, (net->workspace_bytes + sizeof(float) - 1) / sizeof(float),
                          &net->workspace);
    return CLT_STATUS_SUCCESS;
}

clt_status cnn_create(clt_context_t ctx, const cnn_config *cfg, cnn **out)
{
    *out = NULL;
    if (cfg->h < 4 || cfg->w < 4 || cfg->c1 < 1 || cfg->c2 < 1 || cfg->classes < 1 ||
        cfg->max_batch < 1)
        return CLT_STATUS_INVALID_VALUE;
    cnn *net = calloc(1, sizeof *net);
    if (!net)
        return CLT_STATUS_OUT_OF_HOST_MEMORY;
    net->ctx = ctx;
    net->queue = clt_context_queue(ctx);
    net->cfg = *cfg;
    net->n_params = cnn_layout(cfg, net->t);
    clt_status st = choose_algos(net);
    if (st == CLT_STATUS_SUCCESS)
        st = create_buffers(net);
    if (st == CLT_STATUS_SUCCESS)
        st = clt_fill(ctx, B(net->velocity), net->n_params, 0.0f);
    if (st == CLT_STATUS_SUCCESS)
        st = clt_fill(ctx, B(net->param), net->n_params, 0.0f);
    if (st != CLT_STATUS_SUCCESS) {
        cnn_destroy(net);
        return st;
    }
    *out = net;
    return CLT_STATUS_SUCCESS;
}

void cnn_destroy(cnn *net)
{
    if (!net)
        return;
    cl_mem *mems[] = {&net->param, &net->grad,    &net->velocity, &net->batch,  &net->a1,
                      &net->p1,    &net->a2,      &net->p2,       &net->logits, &net->loss,
                      &net->idx1,  &net->idx2,    &net->dp2,      &net->da2,    &net->dp1,
                      &net->da1,   &net->dlogits, &net->workspace};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (*mems[i])
            clReleaseMemObject(*mems[i]);
    free(net);
}

clt_context_t cnn_context(const cnn *net)
{
    return net->ctx;
}

const cnn_config *cnn_get_config(const cnn *net)
{
    return &net->cfg;
}

const cnn_tensor *cnn_tensors(const cnn *net)
{
    return net->t;
}

size_t cnn_param_count(const cnn *net)
{
    return net->n_params;
}

const char *cnn_algo_note(const cnn *net)
{
    return net->algo_note;
}

/* ---- host transfers ---- */

static clt_status transfer(cnn *net, cl_mem mem, int write, size_t bytes, void *host)
{
    cl_int err = write
                     ? clEnqueueWriteBuffer(net->queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL)
                     : clEnqueueReadBuffer(net->queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    return (clt_status)err;
}

clt_status cnn_set_params(cnn *net, const float *params)
{
    clt_status st = transfer(net, net->param, 1, net->n_params * sizeof(float), (void *)params);
    if (st == CLT_STATUS_SUCCESS)
        st = clt_fill(net->ctx, B(net->velocity), net->n_params, 0.0f);
    return st == CLT_STATUS_SUCCESS ? clt_finish(net->ctx) : st;
}

clt_status cnn_get_params(cnn *net, float *params)
{
    return transfer(net, net->param, 0, net->n_params * sizeof(float), params);
}

clt_status cnn_get_grads(cnn *net, float *grads)
{
    return transfer(net, net->grad, 0, net->n_params * sizeof(float), grads);
}

size_t cnn_batch_bytes(const cnn *net, int n)
{
    return (size_t)n * ((size_t)net->cfg.h * net->cfg.w * sizeof(float) + sizeof(int32_t));
}

float *cnn_batch_images(void *packed)
{
    return packed;
}

int32_t *cnn_batch_labels(const cnn *net, void *packed, int n)
{
    return (int32_t *)((float *)packed + (size_t)n * net->cfg.h * net->cfg.w);
}

/* The labels of a batch of n sit right after its n images. */
static clt_buf labels_of(const cnn *net, int n)
{
    return at(net->batch, (size_t)n * net->cfg.h * net->cfg.w);
}

clt_status cnn_upload(cnn *net, int n, const void *packed)
{
    stage_begin(net);
    cl_int err = clEnqueueWriteBuffer(net->queue, net->batch, CL_FALSE, 0, cnn_batch_bytes(net, n),
                                      packed, 0, NULL, NULL);
    return stage_done(net, CNN_UPLOAD, (clt_status)err);
}

clt_status cnn_read_results(cnn *net, int n, float *loss, float *logits, cl_event *done)
{
    stage_begin(net);
    cl_int err =
        clEnqueueReadBuffer(net->queue, net->loss, CL_FALSE, 0, sizeof(float), loss, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(net->queue, net->logits, CL_FALSE, 0,
                                  (size_t)n * net->cfg.classes * sizeof(float), logits, 0, NULL,
                                  done);
    return stage_done(net, CNN_READBACK, (clt_status)err);
}

/* ---- the step ---- */

static clt_buf param(const cnn *net, cl_mem m, cnn_param p)
{
    return at(m, net->t[p].offset);
}

/* conv (+ bias, fused ReLU) then max pool, for layer c. */
static clt_status conv_block_forward(cnn *net, int c, int n, clt_buf x, cl_mem a, cl_mem p,
                                     cl_mem idx)
{
    clt_conv2d_desc d = conv_desc(&net->cfg, c, n);
    clt_pool2d_desc pd = pool_desc(&net->cfg, c, n);
    cnn_param w = c == CONV1 ? CNN_CONV1_W : CNN_CONV2_W;
    clt_status st =
        clt_conv2d_forward(net->ctx, &d, net->algo[c][CLT_CONV_FORWARD], x,
                           param(net, net->param, w), param(net, net->param, w + 1),
                           CLT_ACTIVATION_RELU, B(a), net->workspace, net->workspace_bytes);
    st = stage_done(net, c == CONV1 ? CNN_CONV1_FWD : CNN_CONV2_FWD, st);
    if (st == CLT_STATUS_SUCCESS)
        st = clt_pool2d_forward(net->ctx, &pd, B(a), B(p), B(idx));
    return stage_done(net, c == CONV1 ? CNN_POOL1_FWD : CNN_POOL2_FWD, st);
}

clt_status cnn_forward(cnn *net, int n)
{
    const cnn_config *c = &net->cfg;
    if (n < 1 || n > c->max_batch)
        return CLT_STATUS_INVALID_VALUE;
    stage_begin(net);
    clt_status st = conv_block_forward(net, CONV1, n, B(net->batch), net->a1, net->p1, net->idx1);
    if (st == CLT_STATUS_SUCCESS)
        st = conv_block_forward(net, CONV2, n, B(net->p1), net->a2, net->p2, net->idx2);
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, CNN_FC_FWD,
                        clt_linear_forward(net->ctx, n, fc_in(c), c->classes, B(net->p2),
                                           param(net, net->param, CNN_FC_W),
                                           param(net, net->param, CNN_FC_B), B(net->logits)));
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, CNN_LOSS_FWD,
                        clt_softmax_cross_entropy_forward(net->ctx, n, c->classes, B(net->logits),
                                                          labels_of(net, n), B(net->loss),
                                                          (clt_buf){NULL, 0}));
    return st;
}

/* From the gradient at pool output p (dp, overwritten) down to the
 * parameters of layer c and, for conv2, the gradient at its input (dx).
 * ReLU's backward runs on the pooled tensor, a quarter of the size: max
 * pooling passes each gradient to its window's argmax, where the ReLU
 * output equals the pooled value p, so masking dp by p > 0 before the
 * pooling's backward gives the same sums as masking after it. */
static clt_status conv_block_backward(cnn *net, int c, int n, clt_buf x, cl_mem p, cl_mem idx,
                                      cl_mem dp, cl_mem da, cl_mem dx)
{
    clt_conv2d_desc d = conv_desc(&net->cfg, c, n);
    clt_pool2d_desc pd = pool_desc(&net->cfg, c, n);
    clt_shape ps;
    clt_status st = clt_pool2d_output_shape(&pd, &ps);
    size_t pooled = (size_t)ps.n * ps.c * ps.h * ps.w;
    cnn_param w = c == CONV1 ? CNN_CONV1_W : CNN_CONV2_W;
    bool first = c == CONV1;
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, first ? CNN_RELU1_BWD : CNN_RELU2_BWD,
                        clt_relu_backward(net->ctx, pooled, B(p), B(dp), B(dp)));
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, first ? CNN_POOL1_BWD : CNN_POOL2_BWD,
                        clt_pool2d_backward(net->ctx, &pd, B(dp), B(idx), B(da)));
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, first ? CNN_CONV1_BWD_W : CNN_CONV2_BWD_W,
                        clt_conv2d_backward_weights(
                            net->ctx, &d, net->algo[c][CLT_CONV_BACKWARD_WEIGHTS], x, B(da),
                            param(net, net->grad, w), param(net, net->grad, w + 1), net->workspace,
                            net->workspace_bytes));
    if (st == CLT_STATUS_SUCCESS && dx)
        st = stage_done(net, CNN_CONV2_BWD_X,
                        clt_conv2d_backward_data(net->ctx, &d, net->algo[c][CLT_CONV_BACKWARD_DATA],
                                                 B(da), param(net, net->param, w), B(dx),
                                                 net->workspace, net->workspace_bytes));
    return st;
}

clt_status cnn_backward(cnn *net, int n)
{
    const cnn_config *c = &net->cfg;
    if (n < 1 || n > c->max_batch)
        return CLT_STATUS_INVALID_VALUE;
    stage_begin(net);
    clt_status st =
        stage_done(net, CNN_LOSS_BWD,
                   clt_softmax_cross_entropy_backward(net->ctx, n, c->classes, B(net->logits),
                                                      labels_of(net, n), B(net->dlogits)));
    if (st == CLT_STATUS_SUCCESS)
        st = stage_done(net, CNN_FC_BWD,
                        clt_linear_backward(net->ctx, n, fc_in(c), c->classes, B(net->p2),
                                            param(net, net->param, CNN_FC_W), B(net->dlogits),
                                            B(net->dp2), param(net, net->grad, CNN_FC_W),
                                            param(net, net->grad, CNN_FC_B)));
    if (st == CLT_STATUS_SUCCESS)
        st = conv_block_backward(net, CONV2, n, B(net->p1), net->p2, net->idx2, net->dp2, net->da2,
                                 net->dp1);
    if (st == CLT_STATUS_SUCCESS)
        st = conv_block_backward(net, CONV1, n, B(net->batch), net->p1, net->idx1, net->dp1,
                                 net->da1, NULL);
    return st;
}

clt_status cnn_sgd(cnn *net, float lr, float momentum)
{
    stage_begin(net);
    return stage_done(net, CNN_SGD,
                      clt_sgd_momentum_update(net->ctx, net->n_params, B(net->param), B(net->grad),
                                              B(net->velocity), lr, momentum, 0.0f));
}
