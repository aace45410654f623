/* The kernels clt picks on GPUs, run here on whatever device there is:
 * a context that claims not to be a CPU takes the GPU-shaped variants
 * (direct, im2col, col2im and Winograd transforms by element, CLBlast
 * GEMM), which must agree with the reference as the CPU-shaped ones do. */
#include "conv_cases.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* One pass of r through algo on integer data, against the reference:
 * forward (x, w -> y) or backward data (dy, w -> dx). */
static void check_pass(clt_context_t ctx, const ref_conv *r, clt_conv_op op, clt_conv_algo algo)
{
    clt_conv2d_desc d = cc_desc(r);
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    size_t nx = (size_t)r->n * r->c * r->h * r->w,
           nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    size_t ny = (size_t)r->n * r->k * p * q;
    bool fwd = op == CLT_CONV_FORWARD;
    size_t nin = fwd ? nx : ny, nout = fwd ? ny : nx;
    float *in = malloc(nin * sizeof *in), *w = malloc(nw * sizeof *w);
    float *got = malloc(nout * sizeof *got);
    double *want = malloc(nout * sizeof *want);
    uint64_t s = 17;
    tu_fill_int(in, nin, -3, 3, &s);
    tu_fill_int(w, nw, -2, 2, &s);
    if (fwd)
        ref_conv2d_forward(r, in, w, NULL, 0, want);
    else
        ref_conv2d_backward_data(r, in, w, want);
    tu_buf din = tu_buf_new(ctx, in, nin), dw = tu_buf_new(ctx, w, nw);
    tu_buf dout = tu_buf_new(ctx, NULL, nout);
    if (fwd)
        TU_OK(ctx, clt_conv2d_forward(ctx, &d, algo, din.b, dw.b, (clt_buf){0}, CLT_ACTIVATION_NONE,
                                      dout.b, NULL, 0));
    else
        TU_OK(ctx, clt_conv2d_backward_data(ctx, &d, algo, din.b, dw.b, dout.b, NULL, 0));
    tu_buf_read(ctx, dout, got);
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    /* integers are exact through GEMMs; Winograd's halves may round */
    tu_compare(what, got, want, nout, algo == CLT_CONV_ALGO_WINOGRAD_F2X3 ? 1e-3 : 0, 0, NULL);
    tu_check_canary(ctx, dout);
    tu_buf_free(din);
    tu_buf_free(dw);
    tu_buf_free(dout);
    free(in);
    free(w);
    free(got);
    free(want);
}

/* Every GPU-shaped kernel the case can take. */
static void check_case(clt_context_t ctx, const ref_conv *r)
{
    clt_conv2d_desc d = cc_desc(r);
    check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_IM2COL_GEMM);
    check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_DIRECT);
    check_pass(ctx, r, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_IM2COL_GEMM);
    if (clt_conv2d_check(ctx, &d, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F2X3) ==
        CLT_STATUS_SUCCESS)
        check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F2X3);
}

static void test_gpu_shaped_kernels(void **state)
{
    (void)state;
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    if (clt_context_create(&opt, &ctx) != CLT_STATUS_SUCCESS)
        skip();
    ctx->is_cpu = false;   /* before any program is built */
    ctx->gemm.own = false; /* CLBlast, as on GPUs */
    for (int i = 0; i < cc_edge_count; i++)
        check_case(ctx, &cc_edge_cases[i]);
    uint64_t s = 99;
    for (int i = 0; i < 20; i++) {
        ref_conv r = cc_random_case(&s);
        check_case(ctx, &r);
    }
    clt_context_destroy(ctx);
}

/* Pooling: the row kernels (CPUs) and the element kernels (GPUs) sum in the
 * same order, so they must agree to the bit, forward and backward. */
static void run_pool(clt_context_t ctx, const clt_pool2d_desc *d, const float *x, const float *dy,
                     float *y, int *idx, float *dx)
{
    clt_shape ys;
    TU_OK(NULL, clt_pool2d_output_shape(d, &ys));
    size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)ys.n * ys.c * ys.h * ys.w;
    cl_int err;
    tu_buf bx = tu_buf_new(ctx, x, nx), by = tu_buf_new(ctx, NULL, ny);
    tu_buf bdy = tu_buf_new(ctx, dy, ny), bdx = tu_buf_new(ctx, NULL, nx);
    cl_mem bi = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, ny * sizeof(int),
                               NULL, &err);
    clt_buf ib = d->mode == CLT_POOL_MAX ? (clt_buf){bi, 0} : (clt_buf){NULL, 0};
    TU_OK(ctx, clt_pool2d_forward(ctx, d, bx.b, by.b, ib));
    TU_OK(ctx, clt_pool2d_backward(ctx, d, bdy.b, ib, bdx.b));
    tu_buf_read(ctx, by, y);
    tu_buf_read(ctx, bdx, dx);
    if (d->mode == CLT_POOL_MAX)
        clEnqueueReadBuffer(clt_context_queue(ctx), bi, CL_TRUE, 0, ny * sizeof(int), idx, 0, NULL,
                            NULL);
    clReleaseMemObject(bi);
    tu_buf_free(bx);
    tu_buf_free(by);
    tu_buf_free(bdy);
    tu_buf_free(bdx);
}

static void test_pool_rows_match_elements(void **state)
{
    (void)state;
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t cpu = NULL, gpu = NULL;
    if (clt_context_create(&opt, &cpu) != CLT_STATUS_SUCCESS)
        skip();
    TU_OK(NULL, clt_context_create(&opt, &gpu));
    gpu->is_cpu = !cpu->is_cpu; /* the other family of kernels */
    const clt_pool2d_desc cases[] = {
        {.n = 2,
         .c = 3,
         .h = 9,
         .w = 11,
         .mode = CLT_POOL_MAX,
         .kernel_h = 3,
         .kernel_w = 3,
         .stride_h = 2,
         .stride_w = 2,
         .pad_h = 1,
         .pad_w = 1,
         .ceil_mode = 1},
        {.n = 1,
         .c = 2,
         .h = 8,
         .w = 7,
         .mode = CLT_POOL_MAX,
         .kernel_h = 2,
         .kernel_w = 3,
         .stride_h = 1,
         .stride_w = 2},
        {.n = 2,
         .c = 2,
         .h = 10,
         .w = 9,
         .mode = CLT_POOL_AVG,
         .kernel_h = 3,
         .kernel_w = 2,
         .stride_h = 2,
         .stride_w = 1,
         .pad_h = 1,
         .ceil_mode = 1,
         .count_include_pad = 1},
        {.n = 1,
         .c = 3,
         .h = 7,
         .w = 7,
         .mode = CLT_POOL_AVG,
         .kernel_h = 4,
         .kernel_w = 4,
         .stride_h = 3,
         .stride_w = 3,
         .pad_h = 2,
         .pad_w = 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const clt_pool2d_desc *d = &cases[i];
        clt_shape ys;
        TU_OK(NULL, clt_pool2d_output_shape(d, &ys));
        size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)ys.n * ys.c * ys.h * ys.w;
        float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
        float *y[2], *dx[2];
        int *idx[2];
        uint64_t s = 31 + i;
        tu_fill_uniform(x, nx, -1, 1, &s);
        tu_fill_uniform(dy, ny, -1, 1, &s);
        for (size_t j = 5; j < nx; j += 97) /* NaN wins a max window */
            x[j] = NAN;
        for (int k = 0; k < 2; k++) {
            y[k] = malloc(ny * sizeof(float));
            dx[k] = malloc(nx * sizeof(float));
            idx[k] = calloc(ny, sizeof(int));
            run_pool(k ? gpu : cpu, d, x, dy, y[k], idx[k], dx[k]);
        }
        assert_memory_equal(y[0], y[1], ny * sizeof(float));
        assert_memory_equal(idx[0], idx[1], ny * sizeof(int));
        assert_memory_equal(dx[0], dx[1], nx * sizeof(float));
        for (int k = 0; k < 2; k++) {
            free(y[k]);
            free(dx[k]);
            free(idx[k]);
        }
        free(x);
        free(dy);
    }
    clt_context_destroy(cpu);
    clt_context_destroy(gpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gpu_shaped_kernels),
                                       cmocka_unit_test(test_pool_rows_match_elements)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
