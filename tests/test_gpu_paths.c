/* The kernels clt picks on GPUs, run here on whatever device there is:
 * a context that claims not to be a CPU takes the GPU-shaped variants
 * (direct, im2col, col2im and Winograd transforms by element, CLBlast GEMM), which must agree with the
 * reference as the CPU-shaped ones do. */
#include "conv_cases.h"
#include "internal.h"

#include <stdlib.h>

static void check_forward(clt_context_t ctx, const ref_conv *r, clt_conv_algo algo)
{
    clt_conv2d_desc d = cc_desc(r);
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    size_t nx = (size_t)r->n * r->c * r->h * r->w,
           nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    size_t ny = (size_t)r->n * r->k * p * q;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    double *want = malloc(ny * sizeof *want);
    uint64_t s = 17;
    tu_fill_int(x, nx, -3, 3, &s);
    tu_fill_int(w, nw, -2, 2, &s);
    ref_conv2d_forward(r, x, w, NULL, 0, want);
    tu_buf dx = tu_buf_new(ctx, x, nx), dw = tu_buf_new(ctx, w, nw), dy = tu_buf_new(ctx, NULL, ny);
    TU_OK(ctx, clt_conv2d_forward(ctx, &d, algo, dx.b, dw.b, (clt_buf){0}, CLT_ACTIVATION_NONE,
                                  dy.b, NULL, 0));
    tu_buf_read(ctx, dy, y);
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    /* integers are exact through GEMMs; Winograd's halves may round */
    tu_compare(what, y, want, ny, algo == CLT_CONV_ALGO_WINOGRAD_F2X3 ? 1e-3 : 0, 0, NULL);
    tu_check_canary(ctx, dy);
    tu_buf_free(dx);
    tu_buf_free(dw);
    tu_buf_free(dy);
    free(x);
    free(w);
    free(y);
    free(want);
}

static void check_backward_data(clt_context_t ctx, const ref_conv *r)
{
    clt_conv2d_desc d = cc_desc(r);
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    size_t nx = (size_t)r->n * r->c * r->h * r->w,
           nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    size_t ny = (size_t)r->n * r->k * p * q;
    float *dy = malloc(ny * sizeof *dy), *w = malloc(nw * sizeof *w), *dx = malloc(nx * sizeof *dx);
    double *want = malloc(nx * sizeof *want);
    uint64_t s = 23;
    tu_fill_int(dy, ny, -3, 3, &s);
    tu_fill_int(w, nw, -2, 2, &s);
    ref_conv2d_backward_data(r, dy, w, want);
    tu_buf ddy = tu_buf_new(ctx, dy, ny), dw = tu_buf_new(ctx, w, nw),
           ddx = tu_buf_new(ctx, NULL, nx);
    TU_OK(ctx, clt_conv2d_backward_data(ctx, &d, CLT_CONV_ALGO_IM2COL_GEMM, ddy.b, dw.b, ddx.b,
                                        NULL, 0));
    tu_buf_read(ctx, ddx, dx);
    char what[200];
    cc_describe(r, CLT_CONV_ALGO_IM2COL_GEMM, what, sizeof what);
    tu_compare(what, dx, want, nx, 0, 0, NULL);
    tu_check_canary(ctx, ddx);
    tu_buf_free(ddy);
    tu_buf_free(dw);
    tu_buf_free(ddx);
    free(dy);
    free(w);
    free(dx);
    free(want);
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
    for (int i = 0; i < cc_edge_count; i++) {
        check_forward(ctx, &cc_edge_cases[i], CLT_CONV_ALGO_IM2COL_GEMM);
        check_forward(ctx, &cc_edge_cases[i], CLT_CONV_ALGO_DIRECT);
        check_backward_data(ctx, &cc_edge_cases[i]);
    }
    uint64_t s = 99;
    for (int i = 0; i < 20; i++) {
        ref_conv r = cc_random_case(&s);
        check_forward(ctx, &r, CLT_CONV_ALGO_IM2COL_GEMM);
        check_forward(ctx, &r, CLT_CONV_ALGO_DIRECT);
        check_backward_data(ctx, &r);
    }
    clt_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gpu_shaped_kernels)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
