/* The kernels clt picks on GPUs, run here on whatever device there is:
 * a context that claims not to be a CPU takes the GPU-shaped variants
 * (direct, im2col, col2im and Winograd transforms by element, CLBlast
 * GEMM), which must agree with the reference as the CPU-shaped ones do.
 * Likewise the register tiles of other CPUs (AVX-512's, SSE's and NEON's
 * widths), and the paths a CPU takes only on large shapes, forced on small
 * ones by a context that claims a tiny cache. */
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
    tu_compare(what, got, want, nout, 1e-3 * cc_rounding(algo), 0, NULL);
    tu_check_canary(ctx, dout);
    tu_buf_free(din);
    tu_buf_free(dw);
    tu_buf_free(dout);
    free(in);
    free(w);
    free(got);
    free(want);
}

/* Backward weights through algo on integer data (exact through any order
 * of sums): dw and dbias against the reference, with dw's canaries. */
static void check_weights(clt_context_t ctx, const ref_conv *r, clt_conv_algo algo)
{
    clt_conv2d_desc d = cc_desc(r);
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    size_t nx = (size_t)r->n * r->c * r->h * r->w, ny = (size_t)r->n * r->k * p * q,
           nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    float *got = malloc((nw + r->k) * sizeof *got);
    double *want = malloc((nw + r->k) * sizeof *want);
    uint64_t s = 23;
    tu_fill_int(x, nx, -2, 2, &s);
    tu_fill_int(dy, ny, -2, 2, &s);
    ref_conv2d_backward_weights(r, x, dy, want, want + nw);
    tu_buf bx = tu_buf_new(ctx, x, nx), bdy = tu_buf_new(ctx, dy, ny);
    tu_buf bdw = tu_buf_new(ctx, NULL, nw), bdb = tu_buf_new(ctx, NULL, (size_t)r->k);
    TU_OK(ctx, clt_conv2d_backward_weights(ctx, &d, algo, bx.b, bdy.b, bdw.b, bdb.b, NULL, 0));
    tu_buf_read(ctx, bdw, got);
    tu_buf_read(ctx, bdb, got + nw);
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    tu_compare(what, got, want, nw + r->k, 0, 0, NULL);
    tu_check_canary(ctx, bdw);
    tu_buf_free(bx);
    tu_buf_free(bdy);
    tu_buf_free(bdw);
    tu_buf_free(bdb);
    free(x);
    free(dy);
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
    check_weights(ctx, r, CLT_CONV_ALGO_IM2COL_GEMM);
    if (clt_conv2d_check(ctx, &d, CLT_CONV_BACKWARD_WEIGHTS, CLT_CONV_ALGO_GEMM_1X1) ==
        CLT_STATUS_SUCCESS) {
        check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_GEMM_1X1);
        check_pass(ctx, r, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_GEMM_1X1);
        check_weights(ctx, r, CLT_CONV_ALGO_GEMM_1X1);
    }
    if (clt_conv2d_check(ctx, &d, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F2X3) ==
        CLT_STATUS_SUCCESS) {
        check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F2X3);
        check_pass(ctx, r, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F4X3);
    }
}

/* check_case, and the passes only CPUs take: DIRECT's backward data and
 * weights, Winograd's backward data. */
static void check_cpu_case(clt_context_t ctx, const ref_conv *r)
{
    clt_conv2d_desc d = cc_desc(r);
    check_case(ctx, r);
    if (clt_conv2d_check(ctx, &d, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_DIRECT) ==
        CLT_STATUS_SUCCESS)
        check_pass(ctx, r, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_DIRECT);
    if (clt_conv2d_check(ctx, &d, CLT_CONV_BACKWARD_WEIGHTS, CLT_CONV_ALGO_DIRECT) ==
        CLT_STATUS_SUCCESS)
        check_weights(ctx, r, CLT_CONV_ALGO_DIRECT);
    if (clt_conv2d_check(ctx, &d, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_WINOGRAD_F4X3) ==
        CLT_STATUS_SUCCESS)
        check_pass(ctx, r, CLT_CONV_BACKWARD_DATA, CLT_CONV_ALGO_WINOGRAD_F4X3);
}

/* A context on this device if it is a CPU (NULL otherwise), its programs
 * not built yet, so that their settings may still be changed. */
static clt_context_t cpu_context(void)
{
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    TU_OK(NULL, clt_context_create(&opt, &ctx));
    if (!ctx->is_cpu) {
        clt_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

/* The tiles of CPUs with other vector widths (cl/gemm.cl, cl/conv_cpu.cl;
 * gemm_cpu.c picks them from the native float width): 16 (AVX-512) as 8
 * rows of two float16s, 4 (SSE, NEON) as 6 rows of two float4s, forced on
 * this CPU before the programs are built, through every CPU path. With
 * CLT_TEST_QUICK (tools/valgrind.sh: three minutes there otherwise) only
 * the first edge cases. */
static void test_other_cpu_widths(void **state)
{
    (void)state;
    const int tiles[][3] = {{16, 8, 2}, {4, 6, 2}}; /* width, rows, vectors per row */
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
        clt_context_t ctx = cpu_context();
        if (!ctx)
            skip();
        ctx->gemm.vw = tiles[t][0];
        ctx->gemm.mr = tiles[t][1];
        ctx->gemm.nv = tiles[t][2];
        bool quick = getenv("CLT_TEST_QUICK") != NULL;
        for (int i = 0; i < (quick ? 5 : cc_edge_count); i++)
            check_cpu_case(ctx, &cc_edge_cases[i]);
        uint64_t s = 41 + t;
        for (int i = 0; i < (quick ? 0 : 8); i++) {
            ref_conv r = cc_random_case(&s);
            check_cpu_case(ctx, &r);
        }
        clt_context_destroy(ctx);
    }
}

/* A context on this device that takes the paths and kernels of a GPU
 * (NULL if none can be made). */
static clt_context_t gpu_shaped_context(void)
{
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    if (clt_context_create(&opt, &ctx) != CLT_STATUS_SUCCESS)
        return NULL;
    ctx->is_cpu = false;   /* before any program is built */
    ctx->gemm.own = false; /* CLBlast, as on GPUs */
    ctx->gemm.vw = 4;      /* what GPUs (native float vector width 1) get */
    return ctx;
}

static void test_gpu_shaped_kernels(void **state)
{
    (void)state;
    clt_context_t ctx = gpu_shaped_context();
    if (!ctx)
        skip();
    /* every program must build as on a GPU, CPU-only ones included: a
       context loads them all (cl/conv_cpu.cl once failed on the H100) */
    TU_OK(ctx, clt_context_load_kernels(ctx, NULL));
    for (int i = 0; i < cc_edge_count; i++)
        check_case(ctx, &cc_edge_cases[i]); /* implicit GEMM where it wins */
    /* reductions long enough to be cut into slices (gemm_sum.c), with a
     * remainder, and a grouped one; several implicit-GEMM tiles each way
     * with padding, stride and dilation (conv_igemm.c) */
    const ref_conv sliced[] = {{2, 3, 40, 40, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                               {3, 4, 40, 40, 6, 1, 1, 0, 0, 1, 1, 1, 1, 1},
                               {2, 4, 33, 35, 6, 1, 1, 0, 0, 1, 1, 1, 1, 2},
                               {2, 5, 19, 23, 130, 3, 2, 1, 2, 2, 1, 1, 2, 1},
                               {1, 17, 12, 12, 140, 1, 1, 0, 0, 1, 1, 1, 1, 1}};
    /* forward both ways: implicit GEMM wherever it can run, and never */
    for (int mode = 0; mode < 2; mode++) {
        ctx->igemm_use = !mode; /* as CLT_IGEMM=1, then 0 */
        for (size_t i = 0; i < sizeof sliced / sizeof sliced[0]; i++)
            check_case(ctx, &sliced[i]);
        uint64_t s = 99;
        for (int i = 0; i < 20; i++) {
            ref_conv r = cc_random_case(&s);
            check_case(ctx, &r);
        }
    }
    ctx->igemm_use = -1;
    clt_context_destroy(ctx);
}

/* On CPUs, Winograd transforms its filters a slice of output channels at a
 * time where they outgrow a quarter of the cache (conv_winograd.c): with a
 * 4 KiB cache, small shapes take slices of one tile of rows, the last one
 * short, forward and backward data. */
static void test_winograd_k_slices(void **state)
{
    (void)state;
    clt_context_t ctx = cpu_context();
    if (!ctx)
        skip();
    ctx->cache_bytes = 4096;
    const ref_conv cases[] = {{2, 5, 9, 11, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                              {3, 16, 7, 7, 20, 3, 3, 0, 2, 1, 1, 1, 1, 1}};
    const clt_conv_algo algos[] = {CLT_CONV_ALGO_WINOGRAD_F2X3, CLT_CONV_ALGO_WINOGRAD_F4X3};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < 2; j++) {
            check_pass(ctx, &cases[i], CLT_CONV_FORWARD, algos[j]);
            check_pass(ctx, &cases[i], CLT_CONV_BACKWARD_DATA, algos[j]);
        }
    clt_context_destroy(ctx);
}

/* Pooling: the row kernels (CPUs) and the element kernels (GPUs) must agree
 * forward and backward: argmax indices exactly, values to a few ulps. */
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

/* The two families sum overlapping windows in their own order, and a
   compiler may contract differently in each (NVIDIA's did): a few ulps. */
static void assert_close_or_nan(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            assert_true(isnan(a[i]) && isnan(b[i]));
            continue;
        }
        if (fabsf(a[i] - b[i]) > 4e-6f * fmaxf(1.0f, fabsf(a[i])))
            fail_msg("element %zu: %.9g vs %.9g", i, a[i], b[i]);
    }
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
        assert_close_or_nan(y[0], y[1], ny);
        assert_memory_equal(idx[0], idx[1], ny * sizeof(int));
        assert_close_or_nan(dx[0], dx[1], nx);
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

/* AUTO on a GPU picks Winograd F(4,3) for 3x3; where one image's Winograd
   workspace would pass 32-bit indexing it must take another algorithm,
   not refuse the shape (found by test_fuzz on the H100). */
static void test_auto_gives_way(void **state)
{
    (void)state;
    clt_context_t gpu = gpu_shaped_context();
    if (!gpu)
        skip();
    clt_conv2d_desc d = {.n = 1,
                         .c = 46341,
                         .h = 10,
                         .w = 13,
                         .k = 3270,
                         .kernel_h = 3,
                         .kernel_w = 3,
                         .pad_h = 1,
                         .pad_w = 1,
                         .stride_h = 1,
                         .stride_w = 1,
                         .dilation_h = 1,
                         .dilation_w = 1,
                         .groups = 1};
    clt_conv2d_desc small = d;
    small.c = small.k = 64;
    clt_conv_algo algo;
    TU_OK(gpu, clt_conv2d_auto_algo(gpu, &small, CLT_CONV_FORWARD, &algo, NULL));
    assert_int_equal(algo, CLT_CONV_ALGO_WINOGRAD_F4X3);
    TU_OK(gpu, clt_conv2d_auto_algo(gpu, &small, CLT_CONV_BACKWARD_DATA, &algo, NULL));
    assert_int_equal(algo, CLT_CONV_ALGO_WINOGRAD_F4X3);
    clt_conv2d_desc wide = {.n = 2,
                            .c = 512,
                            .h = 28,
                            .w = 28,
                            .k = 256,
                            .kernel_h = 1,
                            .kernel_w = 1,
                            .stride_h = 1,
                            .stride_w = 1,
                            .dilation_h = 1,
                            .dilation_w = 1,
                            .groups = 1};
    TU_OK(gpu, clt_conv2d_auto_algo(gpu, &wide, CLT_CONV_FORWARD, &algo, NULL));
    assert_int_equal(algo, CLT_CONV_ALGO_IM2COL_GEMM);
    wide.k = 128;
    TU_OK(gpu, clt_conv2d_auto_algo(gpu, &wide, CLT_CONV_FORWARD, &algo, NULL));
    assert_int_equal(algo, CLT_CONV_ALGO_GEMM_1X1);
    TU_OK(gpu, clt_conv2d_check(gpu, &d, CLT_CONV_FORWARD, CLT_CONV_ALGO_AUTO));
    TU_OK(gpu, clt_conv2d_auto_algo(gpu, &d, CLT_CONV_FORWARD, &algo, NULL));
    assert_int_equal(algo, CLT_CONV_ALGO_IM2COL_GEMM);
    assert_int_equal(clt_conv2d_check(gpu, &d, CLT_CONV_FORWARD, CLT_CONV_ALGO_WINOGRAD_F4X3),
                     CLT_STATUS_SIZE_OVERFLOW);
    clt_context_destroy(gpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_shaped_kernels), cmocka_unit_test(test_other_cpu_widths),
        cmocka_unit_test(test_winograd_k_slices), cmocka_unit_test(test_pool_rows_match_elements),
        cmocka_unit_test(test_auto_gives_way)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
