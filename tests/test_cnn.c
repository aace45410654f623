/* The network of `cltool train` (tools/cnn.c, tools/trainer.c) end to end:
 *  - its gradients on a tiny batch against a host reference of the whole
 *    network chained from tests/ref.c, for every parameter;
 *  - the same gradients against central finite differences of the device's
 *    own forward loss, for a sample of parameters of every layer;
 *  - one SGD step against the reference update;
 *  - a short seeded training run on a subset of Fashion-MNIST that must cut
 *    the loss and reach a stated accuracy, bit-identically when repeated
 *    (skipped when the data set is not installed). */
#define _POSIX_C_SOURCE 200809L
#include "cnn.h"
#include "idx.h"
#include "ref.h"
#include "testutil.h"
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TINY 3

static float *floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static double *doubles(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

/* A double array rounded to float, as the next layer's input. */
static float *to_float(const double *d, size_t n)
{
    float *f = floats(n);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)d[i];
    return f;
}

/* ---- a host reference of the whole network (double math per layer) ---- */

typedef struct ref_net {
    double loss;
    double *grad; /* cnn_layout's order */
} ref_net;

static ref_conv ref_conv_of(const cnn_config *c, int layer, int n)
{
    int in = layer == 0 ? 1 : c->c1, out = layer == 0 ? c->c1 : c->c2;
    int h = layer == 0 ? c->h : c->h / 2, w = layer == 0 ? c->w : c->w / 2;
    return (ref_conv){n, in, h, w, out, 3, 3, 1, 1, 1, 1, 1, 1, 1};
}

static ref_pool ref_pool_of(const cnn_config *c, int layer, int n)
{
    int ch = layer == 0 ? c->c1 : c->c2;
    int h = layer == 0 ? c->h : c->h / 2, w = layer == 0 ? c->w : c->w / 2;
    return (ref_pool){n, ch, h, w, 1, 2, 2, 2, 2, 0, 0, 0, 0};
}

/* One conv + ReLU + max pool block forward: a (ReLU output, float), p and
 * the argmax, from input x. */
static void block_forward(const cnn_config *c, int layer, int n, const float *x, const float *w,
                          const float *b, float **a, float **p, int **arg)
{
    ref_conv d = ref_conv_of(c, layer, n);
    ref_pool pd = ref_pool_of(c, layer, n);
    size_t ac = (size_t)n * d.k * d.h * d.w, pc = ac / 4;
    double *tmp = doubles(ac);
    ref_conv2d_forward(&d, x, w, b, 1, tmp);
    *a = to_float(tmp, ac);
    *arg = malloc(pc * sizeof **arg);
    assert_non_null(*arg);
    ref_pool2d_forward(&pd, *a, tmp, *arg);
    *p = to_float(tmp, pc);
    free(tmp);
}

/* Back through pool, ReLU and conv of a block: weight and bias gradients
 * into grad, and (dx non-NULL) the gradient at the block's input. */
static void block_backward(const cnn_config *c, int layer, int n, const float *x, const float *w,
                           const float *a, const int *arg, const float *dp, double *dw, double *db,
                           float **dx)
{
    ref_conv d = ref_conv_of(c, layer, n);
    ref_pool pd = ref_pool_of(c, layer, n);
    size_t ac = (size_t)n * d.k * d.h * d.w, xc = (size_t)n * d.c * d.h * d.w;
    double *tmp = doubles(ac > xc ? ac : xc);
    ref_pool2d_backward(&pd, dp, arg, tmp);
    float *da = to_float(tmp, ac);
    ref_relu_backward(ac, a, da, tmp);
    free(da);
    da = to_float(tmp, ac);
    ref_conv2d_backward_weights(&d, x, da, dw, db);
    if (dx) {
        ref_conv2d_backward_data(&d, da, w, tmp);
        *dx = to_float(tmp, xc);
    }
    free(da);
    free(tmp);
}

static ref_net ref_forward_backward(const cnn_config *c, const float *params, const float *x,
                                    const int *labels, int n)
{
    cnn_tensor t[CNN_PARAMS];
    size_t count = cnn_layout(c, t);
    const float *P[CNN_PARAMS];
    for (int i = 0; i < CNN_PARAMS; i++)
        P[i] = params + t[i].offset;
    ref_net r = {0, doubles(count)};
    double *G[CNN_PARAMS];
    for (int i = 0; i < CNN_PARAMS; i++)
        G[i] = r.grad + t[i].offset;
    float *a1, *p1, *a2, *p2;
    int *arg1, *arg2;
    block_forward(c, 0, n, x, P[CNN_CONV1_W], P[CNN_CONV1_B], &a1, &p1, &arg1);
    block_forward(c, 1, n, p1, P[CNN_CONV2_W], P[CNN_CONV2_B], &a2, &p2, &arg2);
    int in = t[CNN_FC_W].dims[1], k = c->classes;
    double *tmp = doubles((size_t)n * in);
    ref_linear_forward(n, in, k, p2, P[CNN_FC_W], P[CNN_FC_B], tmp);
    float *logits = to_float(tmp, (size_t)n * k);
    r.loss = ref_softmax_ce_forward(n, k, logits, labels, NULL);
    ref_softmax_ce_backward(n, k, logits, labels, tmp);
    float *dlogits = to_float(tmp, (size_t)n * k);
    ref_linear_backward(n, in, k, p2, P[CNN_FC_W], dlogits, tmp, G[CNN_FC_W], G[CNN_FC_B]);
    float *dp2 = to_float(tmp, (size_t)n * in), *dp1;
    block_backward(c, 1, n, p1, P[CNN_CONV2_W], a2, arg2, dp2, G[CNN_CONV2_W], G[CNN_CONV2_B],
                   &dp1);
    block_backward(c, 0, n, x, P[CNN_CONV1_W], a1, arg1, dp1, G[CNN_CONV1_W], G[CNN_CONV1_B], NULL);
    float *owned[] = {a1, p1, a2, p2, logits, dlogits, dp2, dp1};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    free(arg1);
    free(arg2);
    free(tmp);
    return r;
}

/* ---- the device side ---- */

typedef struct tiny {
    cnn_config cfg;
    cnn *net;
    size_t count;
    float *params;
    float *x;
    int labels[N_TINY];
    void *packed;
} tiny;

/* The real model (28 x 28, 16 and 32 channels) on N_TINY random images. */
static tiny tiny_new(clt_context_t ctx, clt_conv_algo algo)
{
    tiny t = {.cfg = cnn_default_config(28, 28, N_TINY, algo)};
    TU_OK(ctx, cnn_create(ctx, &t.cfg, &t.net));
    t.count = cnn_param_count(t.net);
    t.params = floats(t.count);
    cnn_init_params(&t.cfg, 7, t.params);
    size_t hw = 28 * 28;
    t.x = floats(N_TINY * hw);
    uint64_t seed = 99;
    tu_fill_uniform(t.x, N_TINY * hw, 0, 1, &seed);
    t.packed = malloc(cnn_batch_bytes(t.net, N_TINY));
    assert_non_null(t.packed);
    memcpy(cnn_batch_images(t.packed), t.x, N_TINY * hw * sizeof(float));
    int32_t *lab = cnn_batch_labels(t.net, t.packed, N_TINY);
    for (int i = 0; i < N_TINY; i++)
        lab[i] = t.labels[i] = (i * 4 + 1) % 10;
    TU_OK(ctx, cnn_set_params(t.net, t.params));
    TU_OK(ctx, cnn_upload(t.net, N_TINY, t.packed));
    return t;
}

static void tiny_free(tiny *t)
{
    cnn_destroy(t->net);
    free(t->params);
    free(t->x);
    free(t->packed);
}

/* The device's mean loss of the uploaded batch with the current params. */
static float device_loss(clt_context_t ctx, tiny *t)
{
    float loss, logits[N_TINY * 10];
    cl_event ev;
    TU_OK(ctx, cnn_forward(t->net, N_TINY));
    TU_OK(ctx, cnn_read_results(t->net, N_TINY, &loss, logits, &ev));
    assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
    clReleaseEvent(ev);
    return loss;
}

static float *device_grads(clt_context_t ctx, tiny *t, float *loss)
{
    *loss = device_loss(ctx, t);
    TU_OK(ctx, cnn_backward(t->net, N_TINY));
    float *g = floats(t->count);
    TU_OK(ctx, cnn_get_grads(t->net, g));
    return g;
}

/* Every gradient, for each algorithm, against the host reference: per
 * tensor, within 1e-3 of its largest magnitude plus 1e-3 relative. */
static void test_gradients_match_reference(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const clt_conv_algo algos[] = {CLT_CONV_ALGO_AUTO, CLT_CONV_ALGO_DIRECT,
                                   CLT_CONV_ALGO_IM2COL_GEMM, CLT_CONV_ALGO_WINOGRAD_F2X3};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        tiny t = tiny_new(ctx, algos[a]);
        float loss;
        float *g = device_grads(ctx, &t, &loss);
        ref_net r = ref_forward_backward(&t.cfg, t.params, t.x, t.labels, N_TINY);
        assert_true(fabs(loss - r.loss) <= 1e-5 * fabs(r.loss));
        const cnn_tensor *ts = cnn_tensors(t.net);
        for (int i = 0; i < CNN_PARAMS; i++) {
            double big = 0;
            for (size_t j = 0; j < ts[i].count; j++)
                big = fmax(big, fabs(r.grad[ts[i].offset + j]));
            assert_true(big > 1e-4); /* a gradient that can be wrong */
            char what[96];
            snprintf(what, sizeof what, "%s gradient, algo %s", ts[i].name,
                     clt_conv_algo_name(algos[a]));
            tu_compare(what, g + ts[i].offset, r.grad + ts[i].offset, ts[i].count, 1e-3 * big, 1e-3,
                       NULL);
        }
        free(r.grad);
        free(g);
        tiny_free(&t);
    }
}

/* The indices of the k largest |g| of a tensor, then k spread over it. */
static void sample(const float *g, size_t count, size_t *out, int k)
{
    for (int s = 0; s < k; s++) {
        size_t best = 0;
        double bv = -1;
        for (size_t j = 0; j < count; j++) {
            int taken = 0;
            for (int u = 0; u < s; u++)
                taken |= out[u] == j;
            if (!taken && fabs(g[j]) > bv) {
                bv = fabs(g[j]);
                best = j;
            }
        }
        out[s] = best;
    }
    for (int s = 0; s < k; s++)
        out[k + s] = (size_t)((double)(s + 0.5) / k * (double)count);
}

/* Central differences of the device's own float loss. The loss is only
 * piecewise smooth (ReLU and max pool switch inside any eps: with eps 1e-2
 * conv1's differences drift ~4% from the derivative) and its rounding
 * (~1e-6) limits small eps: eps 1e-3 keeps both within 1e-3 + 5%. The
 * largest gradients sampled are checked to be > 1e-2, so a wrong sign,
 * scale or routing fails by far more. */
static void test_gradients_match_finite_differences(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    tiny t = tiny_new(ctx, CLT_CONV_ALGO_AUTO);
    float loss;
    float *g = device_grads(ctx, &t, &loss);
    const cnn_tensor *ts = cnn_tensors(t.net);
    const float eps = 1e-3f;
    enum { K = 3 };
    for (int i = 0; i < CNN_PARAMS; i++) {
        size_t idx[2 * K];
        sample(g + ts[i].offset, ts[i].count, idx, K);
        assert_true(fabs(g[ts[i].offset + idx[0]]) > 1e-2);
        for (int s = 0; s < 2 * K; s++) {
            size_t j = ts[i].offset + idx[s];
            float keep = t.params[j];
            t.params[j] = keep + eps;
            TU_OK(ctx, cnn_set_params(t.net, t.params));
            double up = device_loss(ctx, &t);
            t.params[j] = keep - eps;
            TU_OK(ctx, cnn_set_params(t.net, t.params));
            double down = device_loss(ctx, &t);
            t.params[j] = keep;
            double fd = (up - down) / (2.0 * eps);
            if (fabs(fd - g[j]) > 1e-3 + 5e-2 * fabs(g[j]))
                fail_msg("%s[%zu]: backward %.6g, finite difference %.6g", ts[i].name, idx[s], g[j],
                         fd);
        }
    }
    free(g);
    tiny_free(&t);
}

/* One SGD step moves every parameter as PyTorch's SGD would, twice (the
 * second step uses the momentum buffer). */
static void test_sgd_step(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    tiny t = tiny_new(ctx, CLT_CONV_ALGO_AUTO);
    double *p = doubles(t.count), *v = doubles(t.count);
    for (size_t j = 0; j < t.count; j++) {
        p[j] = t.params[j];
        v[j] = 0;
    }
    for (int step = 0; step < 2; step++) {
        float loss;
        float *g = device_grads(ctx, &t, &loss);
        TU_OK(ctx, cnn_sgd(t.net, 0.05f, 0.9f));
        ref_sgd_momentum_step(t.count, p, g, v, 0.05, 0.9, 0);
        float *got = floats(t.count);
        TU_OK(ctx, cnn_get_params(t.net, got));
        tu_compare("parameters after SGD", got, p, t.count, 1e-6, 1e-5, NULL);
        for (size_t j = 0; j < t.count; j++) /* continue from the device's values */
            p[j] = got[j];
        free(got);
        free(g);
    }
    free(p);
    free(v);
    tiny_free(&t);
}

/* ---- a short seeded run on real data ---- */

#define RUN_IMAGES 1000
#define RUN_TEST_IMAGES 1000
#define RUN_EPOCHS 2
#define RUN_BATCH 32
#define RUN_STEPS (RUN_EPOCHS * ((RUN_IMAGES + RUN_BATCH - 1) / RUN_BATCH))

typedef struct run_log {
    double running[RUN_STEPS]; /* mean loss so far, after each step */
    int n;
    epoch_stats epoch[RUN_EPOCHS], test;
    float *params;
    size_t count;
} run_log;

/* Called once per step, in order: keeps the running mean loss. */
static void record(int done, int total, double loss, double seconds, void *user)
{
    (void)done;
    (void)total;
    (void)seconds;
    run_log *l = user;
    if (l->n < RUN_STEPS)
        l->running[l->n++] = loss;
}

static int load_data(idx_set *train, idx_set *test)
{
    const char *dir = getenv("CLT_FASHION_MNIST");
    if (!dir)
        dir = "/usr/share/datasets/fashion-mnist";
    char ip[1024], lp[1024], err[2048];
    idx_set *sets[] = {train, test};
    const char *prefix[] = {"train", "t10k"};
    for (int s = 0; s < 2; s++) {
        char stem[64];
        snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix[s]);
        int ok = idx_find(dir, stem, ip, sizeof ip);
        snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix[s]);
        ok &= idx_find(dir, stem, lp, sizeof lp);
        if (!ok) {
            print_message("skipped: Fashion-MNIST not found in %s (Debian's "
                          "dataset-fashion-mnist; CLT_FASHION_MNIST=DIR for another copy)\n",
                          dir);
            return -1;
        }
        if (idx_load_set(ip, lp, 10, sets[s], err, sizeof err))
            fail_msg("%s", err);
    }
    return 0;
}

static void seeded_run(clt_context_t ctx, const idx_set *train, const idx_set *test, run_log *log)
{
    memset(log, 0, sizeof *log);
    cnn_config cfg = cnn_default_config(train->rows, train->cols, RUN_BATCH, CLT_CONV_ALGO_AUTO);
    cnn *net;
    trainer *tr;
    TU_OK(ctx, cnn_create(ctx, &cfg, &net));
    log->count = cnn_param_count(net);
    log->params = floats(log->count);
    cnn_init_params(&cfg, 1, log->params);
    TU_OK(ctx, cnn_set_params(net, log->params));
    TU_OK(ctx, trainer_create(net, 0.02f, 0.9f, 1, &tr));
    for (int e = 0; e < RUN_EPOCHS; e++)
        TU_OK(ctx, trainer_epoch(tr, train, RUN_IMAGES, 1, &log->epoch[e], record, log));
    TU_OK(ctx, trainer_epoch(tr, test, RUN_TEST_IMAGES, 0, &log->test, NULL, NULL));
    TU_OK(ctx, cnn_get_params(net, log->params));
    trainer_destroy(tr);
    cnn_destroy(net);
}

/* From the first step's loss (about ln 10 = 2.3) to at most half of it
 * over the last epoch (0.95 on PoCL), and at least 60% on 1000 test images
 * (67.5% on PoCL); a second run gives the very same bits. */
static void test_seeded_run(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    idx_set train = {0}, test = {0};
    if (load_data(&train, &test)) {
        skip();
        return;
    }
    run_log a, b;
    seeded_run(ctx, &train, &test, &a);
    double first = a.running[0], last = a.epoch[RUN_EPOCHS - 1].loss;
    double acc = 100.0 * a.test.correct / a.test.images;
    print_message("seeded run: first step loss %.4f, epoch losses %.4f %.4f, test accuracy "
                  "%.2f%%\n",
                  first, a.epoch[0].loss, last, acc);
    assert_true(first > 2.0 && first < 2.6);
    assert_true(last < first / 2);
    assert_true(acc >= 60.0);
    seeded_run(ctx, &train, &test, &b);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.running, b.running, sizeof a.running);
    for (int e = 0; e < RUN_EPOCHS; e++) {
        assert_true(a.epoch[e].loss == b.epoch[e].loss);
        assert_int_equal(a.epoch[e].correct, b.epoch[e].correct);
    }
    assert_int_equal(a.test.correct, b.test.correct);
    assert_memory_equal(a.params, b.params, a.count * sizeof(float));
    free(a.params);
    free(b.params);
    idx_free(&train);
    idx_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_match_reference),
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_sgd_step),
        cmocka_unit_test(test_seeded_run),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
