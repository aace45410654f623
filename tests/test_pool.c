/* clt_pool2d_*: hand-computed cases (as PyTorch gives them), sweeps against
 * the double-precision reference, ties and NaN rules, finite differences,
 * determinism and validation. */
#include "ref.h"
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static ref_pool to_ref(const clt_pool2d_desc *d)
{
    ref_pool r = {d->n,
                  d->c,
                  d->h,
                  d->w,
                  d->mode == CLT_POOL_MAX,
                  d->kernel_h,
                  d->kernel_w,
                  d->stride_h ? d->stride_h : d->kernel_h,
                  d->stride_w ? d->stride_w : d->kernel_w,
                  d->pad_h,
                  d->pad_w,
                  d->ceil_mode,
                  d->count_include_pad};
    return r;
}

static size_t x_count(const clt_pool2d_desc *d)
{
    return (size_t)d->n * d->c * d->h * d->w;
}

static size_t y_count(const clt_pool2d_desc *d)
{
    clt_shape s;
    TU_OK(NULL, clt_pool2d_output_shape(d, &s));
    return (size_t)s.n * s.c * s.h * s.w;
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* int32 data travels in tu_bufs of floats: same size, bits copied. */
static tu_buf int_buf_new(clt_context_t ctx, const int *host, size_t n)
{
    if (!host)
        return tu_buf_new(ctx, NULL, n);
    float *tmp = xmalloc(n * sizeof *tmp);
    memcpy(tmp, host, n * sizeof *tmp);
    tu_buf b = tu_buf_new(ctx, tmp, n);
    free(tmp);
    return b;
}

static void int_buf_read(clt_context_t ctx, tu_buf b, int *host)
{
    float *tmp = xmalloc(b.n * sizeof *tmp);
    tu_buf_read(ctx, b, tmp);
    memcpy(host, tmp, b.n * sizeof *tmp);
    free(tmp);
}

/* Forward on the device into garbage-filled outputs; argmax may be NULL
 * (average mode then passes {NULL, 0}). Canaries checked. */
static void dev_forward(clt_context_t ctx, const clt_pool2d_desc *d, const float *x, float *y,
                        int *argmax)
{
    size_t nx = x_count(d), ny = y_count(d);
    tu_buf bx = tu_buf_new(ctx, x, nx), by = tu_buf_new(ctx, NULL, ny);
    tu_buf ba = int_buf_new(ctx, NULL, ny);
    clt_buf arg = d->mode == CLT_POOL_MAX ? ba.b : (clt_buf){NULL, 0};
    TU_OK(ctx, clt_pool2d_forward(ctx, d, bx.b, by.b, arg));
    tu_buf_read(ctx, by, y);
    if (argmax)
        int_buf_read(ctx, ba, argmax);
    tu_check_canary(ctx, by);
    tu_check_canary(ctx, ba);
    tu_buf_free(bx);
    tu_buf_free(by);
    tu_buf_free(ba);
}

/* Backward on the device into a garbage-filled dx. */
static void dev_backward(clt_context_t ctx, const clt_pool2d_desc *d, const float *dy,
                         const int *argmax, float *dx)
{
    size_t nx = x_count(d), ny = y_count(d);
    tu_buf bdy = tu_buf_new(ctx, dy, ny), bdx = tu_buf_new(ctx, NULL, nx);
    tu_buf ba = {0};
    clt_buf arg = {NULL, 0};
    if (d->mode == CLT_POOL_MAX) {
        ba = int_buf_new(ctx, argmax, ny);
        arg = ba.b;
    }
    TU_OK(ctx, clt_pool2d_backward(ctx, d, bdy.b, arg, bdx.b));
    tu_buf_read(ctx, bdx, dx);
    tu_check_canary(ctx, bdx);
    tu_buf_free(bdy);
    tu_buf_free(bdx);
    tu_buf_free(ba);
}

/* got == want exactly, or both NaN. */
static void expect_exact(const char *what, const float *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((double)got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))))
            fail_msg("%s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], want[i]);
}

static void expect_ints(const char *what, const int *got, const int *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s[%zu]: got %d, want %d", what, i, got[i], want[i]);
}

static void describe(char *out, size_t cap, const clt_pool2d_desc *d)
{
    snprintf(out, cap, "%s %dx%dx%dx%d k%dx%d s%dx%d p%dx%d ceil%d cip%d",
             d->mode == CLT_POOL_MAX ? "max" : "avg", d->n, d->c, d->h, d->w, d->kernel_h,
             d->kernel_w, d->stride_h, d->stride_w, d->pad_h, d->pad_w, d->ceil_mode,
             d->count_include_pad);
}

/* Distinct integers (a shuffled range): every window has a unique maximum,
 * a gap of at least 1 to the next value, and exact sums. */
static void fill_distinct(float *x, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i - (float)(n / 2);
    for (size_t i = n; i > 1; i--) {
        size_t j = tu_rand(s) % i;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* Forward and backward of one descriptor against the reference, from input
 * x and gradient dy (both given). Max: values, indices and gradients exact;
 * average: within a few ulp (OpenCL's division is allowed 2.5 ulp). */
static void check_against_ref(clt_context_t ctx, const clt_pool2d_desc *d, const float *x,
                              const float *dy)
{
    char what[160];
    describe(what, sizeof what, d);
    ref_pool r = to_ref(d);
    size_t nx = x_count(d), ny = y_count(d);
    float *y = xmalloc(ny * sizeof *y), *dx = xmalloc(nx * sizeof *dx);
    int *arg = xmalloc(ny * sizeof *arg), *want_arg = xmalloc(ny * sizeof *want_arg);
    double *want_y = xmalloc(ny * sizeof *want_y), *want_dx = xmalloc(nx * sizeof *want_dx);
    bool max = d->mode == CLT_POOL_MAX;

    ref_pool2d_forward(&r, x, want_y, want_arg);
    dev_forward(ctx, d, x, y, max ? arg : NULL);
    if (max) {
        expect_exact(what, y, want_y, ny);
        expect_ints(what, arg, want_arg, ny);
    } else {
        tu_compare(what, y, want_y, ny, 1e-6, 1e-6, NULL);
    }
    ref_pool2d_backward(&r, dy, want_arg, want_dx);
    dev_backward(ctx, d, dy, arg, dx);
    if (max)
        expect_exact(what, dx, want_dx, nx);
    else
        tu_compare(what, dx, want_dx, nx, 1e-5, 1e-5, NULL);
    free(y);
    free(dx);
    free(arg);
    free(want_arg);
    free(want_y);
    free(want_dx);
}

/* One case: distinct inputs, integer gradients. */
static void check_case(clt_context_t ctx, const clt_pool2d_desc *d, uint64_t seed)
{
    size_t nx = x_count(d), ny = y_count(d);
    float *x = xmalloc(nx * sizeof *x), *dy = xmalloc(ny * sizeof *dy);
    uint64_t s = seed;
    fill_distinct(x, nx, &s);
    tu_fill_int(dy, ny, -4, 4, &s);
    check_against_ref(ctx, d, x, dy);
    free(x);
    free(dy);
}

/* ---- output shapes ---- */

static void test_pool_output_shapes_by_hand(void **state)
{
    (void)state;
    /* in, kernel, stride, pad, ceil_mode -> out, worked out from PyTorch's rule */
    const int cases[][6] = {
        {4, 3, 2, 0, 1, 2},                     /* ceil(1/2)+1 */
        {4, 3, 2, 0, 0, 1}, {5, 2, 2, 1, 1, 3}, /* ceil gives 4; window 3 would start at 5 = in+pad
                                                 */
        {5, 2, 2, 1, 0, 3}, {5, 2, 2, 0, 1, 3}, {5, 2, 2, 0, 0, 2}, {4, 3, 2, 1, 1, 3},
        {4, 3, 2, 1, 0, 2}, {1, 1, 1, 0, 0, 1}, {7, 3, 3, 1, 1, 3}, {6, 4, 3, 2, 1, 3},
        {2, 2, 3, 1, 1, 1}, /* ceil gives 2; window 1 would lie wholly in the right pad */
        {2, 2, 3, 1, 0, 1}, {9, 1, 3, 0, 0, 3}, {9, 1, 3, 0, 1, 3}, {10, 1, 3, 0, 1, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *t = cases[i];
        /* along h, and transposed along w with a different h */
        clt_pool2d_desc d = {.n = 2,
                             .c = 3,
                             .h = t[0],
                             .w = 6,
                             .kernel_h = t[1],
                             .kernel_w = 1,
                             .stride_h = t[2],
                             .pad_h = t[3],
                             .ceil_mode = t[4]};
        clt_shape s = {0};
        TU_OK(NULL, clt_pool2d_output_shape(&d, &s));
        assert_string_equal(clt_context_last_error(NULL), "");
        if (s.n != 2 || s.c != 3 || s.h != t[5] || s.w != 6)
            fail_msg("case %zu: got %dx%dx%dx%d, want 2x3x%dx6", i, s.n, s.c, s.h, s.w, t[5]);
        assert_int_equal(ref_pool_out_size(t[0], t[1], t[2], t[3], t[4]), t[5]);
        clt_pool2d_desc e = {.n = 1,
                             .c = 1,
                             .h = 3,
                             .w = t[0],
                             .mode = CLT_POOL_AVG,
                             .kernel_h = 3,
                             .kernel_w = t[1],
                             .stride_w = t[2],
                             .pad_w = t[3],
                             .ceil_mode = t[4],
                             .count_include_pad = 1};
        TU_OK(NULL, clt_pool2d_output_shape(&e, &s));
        assert_int_equal(s.h, 1);
        assert_int_equal(s.w, t[5]);
    }
}

/* ---- hand-computed values, as PyTorch gives them ---- */

/* Runs d on `x` and compares with the expected y (and argmax for max). */
static void check_by_hand(clt_context_t ctx, const clt_pool2d_desc *d, const float *x,
                          const double *want_y, const int *want_arg)
{
    size_t ny = y_count(d);
    float y[16];
    int arg[16];
    assert_true(ny <= 16);
    dev_forward(ctx, d, x, y, want_arg ? arg : NULL);
    char what[160];
    describe(what, sizeof what, d);
    if (d->mode == CLT_POOL_MAX)
        expect_exact(what, y, want_y, ny);
    else
        tu_compare(what, y, want_y, ny, 0, 1e-6, NULL);
    if (want_arg)
        expect_ints(what, arg, want_arg, ny);
}

static void test_pool_hand_computed(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    float x16[16], x25[25];
    for (int i = 0; i < 16; i++)
        x16[i] = (float)(i + 1); /* x[h][w] = 4h + w + 1 */
    for (int i = 0; i < 25; i++)
        x25[i] = (float)(i + 1);

    /* 4x4, kernel 3, stride 2, ceil_mode: rows and cols [0,3) and [2,4) */
    clt_pool2d_desc d = {.n = 1, .c = 1, .h = 4, .w = 4, .kernel_h = 3, .kernel_w = 3};
    d.stride_h = d.stride_w = 2;
    d.ceil_mode = 1;
    check_by_hand(ctx, &d, x16, (double[]){11, 12, 15, 16}, (int[]){10, 11, 14, 15});
    d.ceil_mode = 0;
    check_by_hand(ctx, &d, x16, (double[]){11}, (int[]){10});
    d.mode = CLT_POOL_AVG;
    d.ceil_mode = 1; /* no padding: the divisor is the clipped window either way */
    for (d.count_include_pad = 0; d.count_include_pad < 2; d.count_include_pad++)
        check_by_hand(ctx, &d, x16, (double[]){54 / 9.0, 45 / 6.0, 72 / 6.0, 54 / 4.0}, NULL);

    /* 4x4, kernel 3, stride 2, pad 1, ceil_mode: 3x3; the last windows span
     * [3, 5) in the padded input, one input row or column plus one of pad */
    d.pad_h = d.pad_w = 1;
    d.count_include_pad = 1;
    check_by_hand(ctx, &d, x16,
                  (double[]){14 / 9.0, 30 / 9.0, 12 / 6.0, 57 / 9.0, 99 / 9.0, 36 / 6.0, 27 / 6.0,
                             45 / 6.0, 16 / 4.0},
                  NULL);
    d.count_include_pad = 0;
    check_by_hand(ctx, &d, x16,
                  (double[]){14 / 4.0, 30 / 6.0, 12 / 2.0, 57 / 6.0, 99 / 9.0, 36 / 3.0, 27 / 2.0,
                             45 / 3.0, 16 / 1.0},
                  NULL);
    d.mode = CLT_POOL_MAX;
    check_by_hand(ctx, &d, x16, (double[]){6, 8, 8, 14, 16, 16, 14, 16, 16},
                  (int[]){5, 7, 7, 13, 15, 15, 13, 15, 15});
    /* backward routes dy = 1..9 through those indices, summing overlaps */
    float dy9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, dx16[16];
    dev_backward(ctx, &d, dy9, (int[]){5, 7, 7, 13, 15, 15, 13, 15, 15}, dx16);
    double want_dx16[16] = {0};
    want_dx16[5] = 1;
    want_dx16[7] = 2 + 3;
    want_dx16[13] = 4 + 7;
    want_dx16[15] = 5 + 6 + 8 + 9;
    expect_exact("max backward by hand", dx16, want_dx16, 16);

    /* 5x5, kernel 2, stride 2, ceil_mode: a third, one-wide window */
    clt_pool2d_desc e = {.n = 1, .c = 1, .h = 5, .w = 5, .kernel_h = 2, .kernel_w = 2};
    e.ceil_mode = 1; /* stride 0: the kernel size */
    check_by_hand(ctx, &e, x25, (double[]){7, 9, 10, 17, 19, 20, 22, 24, 25},
                  (int[]){6, 8, 9, 16, 18, 19, 21, 23, 24});

    /* 3x3 average, kernel 2, stride 1: dx = (windows covering it) / 4 */
    clt_pool2d_desc f = {.n = 1, .c = 1, .h = 3, .w = 3, .mode = CLT_POOL_AVG};
    f.kernel_h = f.kernel_w = 2;
    f.stride_h = f.stride_w = 1;
    float ones[4] = {1, 1, 1, 1}, dx9[9];
    dev_backward(ctx, &f, ones, NULL, dx9);
    tu_compare("avg backward by hand", dx9, (double[]){.25, .5, .25, .5, 1, .5, .25, .5, .25}, 9, 0,
               0, NULL);
}

/* ---- sweeps against the reference ---- */

static void test_pool_sweep(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const int kernels[][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {2, 3}, {3, 1}, {1, 4}, {4, 2}};
    const int strides[][2] = {{1, 1}, {2, 2}, {3, 3}, {1, 2}, {2, 1}, {3, 1}, {0, 0}};
    uint64_t s = 12345;
    int checked = 0, rejected = 0;
    for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++)
        for (size_t si = 0; si < sizeof strides / sizeof strides[0]; si++)
            for (int ph = 0; ph <= kernels[ki][0] / 2; ph++)
                for (int pw = 0; pw <= kernels[ki][1] / 2; pw++)
                    for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++)
                        for (int m = 0; m < 3; m++) {
                            clt_pool2d_desc d = {
                                .n = 1 + (int)(tu_rand(&s) % 3),
                                .c = 1 + (int)(tu_rand(&s) % 3),
                                .mode = m == 0 ? CLT_POOL_MAX : CLT_POOL_AVG,
                                .kernel_h = kernels[ki][0],
                                .kernel_w = kernels[ki][1],
                                .stride_h = strides[si][0],
                                .stride_w = strides[si][1],
                                .pad_h = ph,
                                .pad_w = pw,
                                .ceil_mode = ceil_mode,
                                .count_include_pad = m == 2,
                            };
                            /* sizes from one short of the smallest valid one up */
                            d.h = d.kernel_h - 2 * ph - 1 + (int)(tu_rand(&s) % 8);
                            d.w = d.kernel_w - 2 * pw - 1 + (int)(tu_rand(&s) % 8);
                            d.h = d.h < 1 ? 1 : d.h;
                            d.w = d.w < 1 ? 1 : d.w;
                            ref_pool r = to_ref(&d);
                            int oh = ref_pool_out_size(d.h, r.kh, r.sh, ph, ceil_mode);
                            int ow = ref_pool_out_size(d.w, r.kw, r.sw, pw, ceil_mode);
                            clt_shape shape;
                            if (oh < 1 || ow < 1) {
                                TU_FAILS(NULL, CLT_STATUS_INVALID_SHAPE,
                                         clt_pool2d_output_shape(&d, &shape));
                                rejected++;
                                continue;
                            }
                            TU_OK(NULL, clt_pool2d_output_shape(&d, &shape));
                            assert_int_equal(shape.h, oh);
                            assert_int_equal(shape.w, ow);
                            check_case(ctx, &d, tu_rand(&s));
                            checked++;
                        }
    print_message("pool sweep: %d cases checked, %d too-small geometries rejected\n", checked,
                  rejected);
    assert_true(checked > 1000);
    assert_true(rejected > 10);
}

static void test_pool_larger(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt_pool2d_desc d = {.n = 3, .c = 3, .h = 37, .w = 29, .kernel_h = 3, .kernel_w = 3};
    d.stride_h = d.stride_w = 2;
    d.pad_h = d.pad_w = 1;
    for (int m = 0; m < 3; m++)
        for (d.ceil_mode = 0; d.ceil_mode < 2; d.ceil_mode++) {
            d.mode = m == 0 ? CLT_POOL_MAX : CLT_POOL_AVG;
            d.count_include_pad = m == 2;
            check_case(ctx, &d, 77 + (uint64_t)m);
        }
}

/* Stride 0 means the kernel size. */
static void test_pool_default_stride(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt_pool2d_desc d = {.n = 2, .c = 2, .h = 7, .w = 9, .kernel_h = 3, .kernel_w = 2};
    d.ceil_mode = 1;
    clt_pool2d_desc e = d;
    e.stride_h = 3;
    e.stride_w = 2;
    for (int m = 0; m < 2; m++) {
        d.mode = e.mode = m ? CLT_POOL_AVG : CLT_POOL_MAX;
        size_t nx = x_count(&d), ny = y_count(&d);
        assert_int_equal(ny, y_count(&e));
        float *x = xmalloc(nx * sizeof *x), *y1 = xmalloc(ny * sizeof *y1);
        float *y2 = xmalloc(ny * sizeof *y2);
        uint64_t s = 5;
        fill_distinct(x, nx, &s);
        dev_forward(ctx, &d, x, y1, NULL);
        dev_forward(ctx, &e, x, y2, NULL);
        assert_memory_equal(y1, y2, ny * sizeof *y1);
        free(x);
        free(y1);
        free(y2);
    }
}

/* ---- ties, NaN, -inf ---- */

static void test_pool_ties_first_max(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt_pool2d_desc d = {.n = 2, .c = 3, .h = 9, .w = 8, .kernel_h = 3, .kernel_w = 4};
    d.stride_h = 1;
    d.stride_w = 2;
    d.pad_h = 1;
    d.pad_w = 2;
    d.ceil_mode = 1;
    size_t nx = x_count(&d), ny = y_count(&d);
    float *x = xmalloc(nx * sizeof *x), *dy = xmalloc(ny * sizeof *dy);
    uint64_t s = 99;
    /* a constant input: every argmax is the window's first input element */
    for (size_t i = 0; i < nx; i++)
        x[i] = 3;
    tu_fill_int(dy, ny, -4, 4, &s);
    check_against_ref(ctx, &d, x, dy);
    /* three values only: ties everywhere, the first maximum must win */
    tu_fill_int(x, nx, 0, 2, &s);
    check_against_ref(ctx, &d, x, dy);
    /* 2x2 windows over [[5, 5], [5, 5]]: index 0 */
    clt_pool2d_desc e = {.n = 1, .c = 1, .h = 2, .w = 2, .kernel_h = 2, .kernel_w = 2};
    check_by_hand(ctx, &e, (float[]){5, 5, 5, 5}, (double[]){5}, (int[]){0});
    check_by_hand(ctx, &e, (float[]){1, 5, 5, 5}, (double[]){5}, (int[]){1});
    check_by_hand(ctx, &e, (float[]){1, 2, 5, 5}, (double[]){5}, (int[]){2});
    free(x);
    free(dy);
}

static void test_pool_nan_and_inf(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* PyTorch's `v > max || isnan(v)`: a NaN wins, the last NaN of several */
    clt_pool2d_desc e = {.n = 1, .c = 1, .h = 2, .w = 2, .kernel_h = 2, .kernel_w = 2};
    check_by_hand(ctx, &e, (float[]){NAN, 5, NAN, 1}, (double[]){NAN}, (int[]){2});
    check_by_hand(ctx, &e, (float[]){1, 5, NAN, 7}, (double[]){NAN}, (int[]){2});
    /* all -inf: -inf, the first element (padding never wins) */
    e.h = e.w = 3;
    e.pad_h = e.pad_w = 1;
    float minf[9];
    for (int i = 0; i < 9; i++)
        minf[i] = -INFINITY;
    check_by_hand(ctx, &e, minf, (double[]){-INFINITY, -INFINITY, -INFINITY, -INFINITY},
                  (int[]){0, 1, 3, 4});

    /* scattered NaNs and -infs against the reference, max and average */
    clt_pool2d_desc d = {.n = 2, .c = 2, .h = 11, .w = 10, .kernel_h = 3, .kernel_w = 3};
    d.stride_h = d.stride_w = 1;
    d.pad_h = d.pad_w = 1;
    size_t nx = x_count(&d), ny = y_count(&d);
    float *x = xmalloc(nx * sizeof *x), *dy = xmalloc(ny * sizeof *dy);
    uint64_t s = 4242;
    fill_distinct(x, nx, &s);
    for (size_t i = 0; i < nx; i++) {
        uint32_t r = tu_rand(&s) % 16;
        x[i] = r == 0 ? NAN : r == 1 ? -INFINITY : x[i];
    }
    tu_fill_int(dy, ny, -4, 4, &s);
    check_against_ref(ctx, &d, x, dy);
    /* average: NaN propagates through the sum */
    d.mode = CLT_POOL_AVG;
    float *y = xmalloc(ny * sizeof *y);
    double *want = xmalloc(ny * sizeof *want);
    ref_pool r = to_ref(&d);
    ref_pool2d_forward(&r, x, want, NULL);
    dev_forward(ctx, &d, x, y, NULL);
    for (size_t i = 0; i < ny; i++)
        if (isnan(want[i])
                ? !isnan(y[i])
                : !(fabs(y[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])) || (double)y[i] == want[i]))
            fail_msg("avg with NaN/-inf [%zu]: got %g, want %g", i, (double)y[i], want[i]);
    free(x);
    free(dy);
    free(y);
    free(want);
}

/* 2x2 windows at stride 2 without padding take vector kernels on CPUs
   (four windows, eight inputs per step, a last step overlapping the one
   before): every width from 1 to 41 and odd heights, with distinct values,
   then ties, NaNs and -infs, against the reference. */
static void test_pool_2x2_widths(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 2222;
    for (int w = 1; w <= 41; w++)
        for (int h = 2; h <= 5; h += 3)
            for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++)
                for (int values = 0; values < 2; values++) {
                    clt_pool2d_desc d = {.n = 2,
                                         .c = 3,
                                         .h = h,
                                         .w = w,
                                         .kernel_h = 2,
                                         .kernel_w = 2,
                                         .ceil_mode = ceil_mode};
                    if (w < 2 && !ceil_mode)
                        continue; /* no window fits */
                    size_t nx = x_count(&d), ny = y_count(&d);
                    float *x = xmalloc(nx * sizeof *x), *dy = xmalloc(ny * sizeof *dy);
                    fill_distinct(x, nx, &s);
                    for (size_t i = 0; values && i < nx; i++) {
                        uint32_t r = tu_rand(&s) % 8;
                        x[i] = r == 0 ? NAN : r == 1 ? -INFINITY : r < 5 ? 1.0f : x[i];
                    }
                    tu_fill_int(dy, ny, -4, 4, &s);
                    check_against_ref(ctx, &d, x, dy);
                    free(x);
                    free(dy);
                }
}

/* ---- finite differences ---- */

/* L(x) = sum(w * pool(x)), computed from the device's forward. */
static double loss(clt_context_t ctx, const clt_pool2d_desc *d, const float *x, const float *w,
                   float *y)
{
    dev_forward(ctx, d, x, y, NULL);
    double l = 0;
    for (size_t i = 0, n = y_count(d); i < n; i++)
        l += (double)w[i] * y[i];
    return l;
}

/* dx from backward against central differences of L. Average pooling is
 * linear; max pooling is locally linear when no perturbation can change an
 * argmax (distinct integers, eps 0.25), and then exact. */
static void check_finite_differences(clt_context_t ctx, const clt_pool2d_desc *d, uint64_t seed)
{
    size_t nx = x_count(d), ny = y_count(d);
    float *x = xmalloc(nx * sizeof *x), *w = xmalloc(ny * sizeof *w);
    float *y = xmalloc(ny * sizeof *y), *dx = xmalloc(nx * sizeof *dx);
    int *arg = xmalloc(ny * sizeof *arg);
    uint64_t s = seed;
    fill_distinct(x, nx, &s);
    tu_fill_int(w, ny, -3, 3, &s);
    dev_forward(ctx, d, x, y, d->mode == CLT_POOL_MAX ? arg : NULL);
    dev_backward(ctx, d, w, arg, dx);
    const float eps = 0.25f;
    char what[160];
    describe(what, sizeof what, d);
    for (size_t i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        double up = loss(ctx, d, x, w, y);
        x[i] = keep - eps;
        double down = loss(ctx, d, x, w, y);
        x[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        double tol = d->mode == CLT_POOL_MAX ? 0 : 1e-3 * (1 + fabs(fd));
        if (!(fabs(fd - dx[i]) <= tol))
            fail_msg("%s: dx[%zu] = %.9g, finite difference %.9g", what, i, (double)dx[i], fd);
    }
    free(x);
    free(w);
    free(y);
    free(dx);
    free(arg);
}

static void test_pool_finite_differences(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* overlapping, padded, ceil_mode windows; non-square */
    const clt_pool2d_desc base[] = {
        {.n = 2,
         .c = 2,
         .h = 5,
         .w = 6,
         .kernel_h = 3,
         .kernel_w = 2,
         .stride_h = 1,
         .stride_w = 1,
         .pad_h = 1,
         .pad_w = 1},
        {.n = 1,
         .c = 2,
         .h = 6,
         .w = 7,
         .kernel_h = 3,
         .kernel_w = 3,
         .stride_h = 2,
         .stride_w = 2,
         .pad_h = 1,
         .pad_w = 0,
         .ceil_mode = 1},
        {.n = 1,
         .c = 1,
         .h = 7,
         .w = 5,
         .kernel_h = 4,
         .kernel_w = 2,
         .stride_h = 3,
         .stride_w = 1,
         .pad_h = 2,
         .pad_w = 1,
         .ceil_mode = 1},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        for (int m = 0; m < 3; m++) {
            clt_pool2d_desc d = base[i];
            d.mode = m == 0 ? CLT_POOL_MAX : CLT_POOL_AVG;
            d.count_include_pad = m == 2;
            check_finite_differences(ctx, &d, 31 + i);
        }
}

/* ---- determinism ---- */

static void test_pool_bit_identical_runs(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt_pool2d_desc d = {.n = 2, .c = 3, .h = 23, .w = 19, .kernel_h = 4, .kernel_w = 3};
    d.stride_h = d.stride_w = 1;
    d.pad_h = 2;
    d.pad_w = 1;
    d.ceil_mode = 1;
    size_t nx = x_count(&d), ny = y_count(&d);
    float *x = xmalloc(nx * sizeof *x), *dy = xmalloc(ny * sizeof *dy);
    float *y[2], *dx[2];
    int *arg[2];
    uint64_t s = 2024;
    tu_fill_uniform(x, nx, -1, 1, &s);
    tu_fill_uniform(dy, ny, -1, 1, &s);
    for (int m = 0; m < 3; m++) {
        d.mode = m == 0 ? CLT_POOL_MAX : CLT_POOL_AVG;
        d.count_include_pad = m == 2;
        for (int run = 0; run < 2; run++) {
            y[run] = xmalloc(ny * sizeof *y[run]);
            dx[run] = xmalloc(nx * sizeof *dx[run]);
            arg[run] = xmalloc(ny * sizeof *arg[run]);
            dev_forward(ctx, &d, x, y[run], arg[run]);
            dev_backward(ctx, &d, dy, arg[run], dx[run]);
        }
        assert_memory_equal(y[0], y[1], ny * sizeof *y[0]);
        assert_memory_equal(dx[0], dx[1], nx * sizeof *dx[0]);
        if (m == 0)
            assert_memory_equal(arg[0], arg[1], ny * sizeof *arg[0]);
        for (int run = 0; run < 2; run++) {
            free(y[run]);
            free(dx[run]);
            free(arg[run]);
        }
    }
    free(x);
    free(dy);
}

/* ---- validation ---- */

static cl_mem exact_buffer(clt_context_t ctx, size_t floats, float value)
{
    float host[64];
    assert_true(floats <= 64);
    for (size_t i = 0; i < floats; i++)
        host[i] = value;
    cl_int err;
    cl_mem m = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              floats * sizeof(float), host, &err);
    assert_int_equal(err, CL_SUCCESS);
    return m;
}

static void expect_unchanged(clt_context_t ctx, cl_mem m, size_t floats, float value)
{
    float host[64];
    assert_int_equal(clEnqueueReadBuffer(clt_context_queue(ctx), m, CL_TRUE, 0,
                                         floats * sizeof(float), host, 0, NULL, NULL),
                     CL_SUCCESS);
    for (size_t i = 0; i < floats; i++)
        if (host[i] != value)
            fail_msg("a failed call wrote element %zu: %g", i, (double)host[i]);
}

static void test_pool_rejects_bad_descriptors(void **state)
{
    (void)state;
    const clt_pool2d_desc ok = {.n = 1, .c = 1, .h = 4, .w = 4, .kernel_h = 2, .kernel_w = 2};
    clt_shape s = {-1, -1, -1, -1};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_output_shape(NULL, &s));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_output_shape(&ok, NULL));
    struct {
        clt_status want;
        clt_pool2d_desc d;
    } bad[] = {
        {CLT_STATUS_INVALID_SHAPE, ok}, /* n = 0, set below */
        {CLT_STATUS_INVALID_SHAPE, ok}, /* w = -3 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* mode 7 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* kernel_h 0 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* stride_w -1 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* pad_h 2 > kernel 2 / 2 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* pad_w -1 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* ceil_mode 2 */
        {CLT_STATUS_INVALID_VALUE, ok}, /* count_include_pad -1 */
        {CLT_STATUS_INVALID_SHAPE, ok}, /* h 1 < kernel 2 */
        {CLT_STATUS_INVALID_SHAPE, ok}, /* h 2, kernel 3, stride 3: out 0 */
        {CLT_STATUS_SIZE_OVERFLOW, ok}, /* 2^31+ elements */
        {CLT_STATUS_SIZE_OVERFLOW, ok}, /* n * c * h * w overflows size_t */
        {CLT_STATUS_SIZE_OVERFLOW, ok}, /* window bounds overflow int */
    };
    bad[0].d.n = 0;
    bad[1].d.w = -3;
    bad[2].d.mode = (clt_pool_mode)7;
    bad[3].d.kernel_h = 0;
    bad[4].d.stride_w = -1;
    bad[5].d.pad_h = 2;
    bad[6].d.pad_w = -1;
    bad[7].d.ceil_mode = 2;
    bad[8].d.count_include_pad = -1;
    bad[9].d.h = 1;
    bad[10].d.h = 2;
    bad[10].d.kernel_h = 3;
    bad[10].d.stride_h = 3;
    bad[11].d.n = 50000;
    bad[11].d.c = 50000;
    bad[12].d.n = bad[12].d.c = bad[12].d.h = bad[12].d.w = 1000000000;
    bad[13].d.h = 2000000000;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TU_FAILS(NULL, bad[i].want, clt_pool2d_output_shape(&bad[i].d, &s));
        assert_int_equal(s.n, -1); /* untouched */
    }
    /* ceil_mode rescues h 2, kernel 3, stride 3 */
    bad[10].d.ceil_mode = 1;
    TU_OK(NULL, clt_pool2d_output_shape(&bad[10].d, &s));
    assert_int_equal(s.h, 1);
    assert_string_equal(clt_context_last_error(NULL), "");
}

static void test_pool_rejects_bad_calls(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* 1x1x4x4 max, kernel 2: y and argmax hold 4 elements, exactly */
    clt_pool2d_desc d = {.n = 1, .c = 1, .h = 4, .w = 4, .kernel_h = 2, .kernel_w = 2};
    cl_mem x = exact_buffer(ctx, 16, 1), y = exact_buffer(ctx, 4, 42), a = exact_buffer(ctx, 4, 42);
    cl_mem big = exact_buffer(ctx, 16, 42);
    clt_buf bx = {x, 0}, by = {y, 0}, ba = {a, 0}, none = {NULL, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(NULL, &d, bx, by, ba));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, NULL, bx, by, ba));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, &d, none, by, ba));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, &d, bx, none, ba));
    /* max needs argmax */
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, &d, bx, by, none));
    clt_pool2d_desc e = d;
    e.kernel_w = 0;
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_pool2d_forward(ctx, &e, bx, by, ba));
    e = d;
    e.h = 5; /* x needs 20 floats */
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_pool2d_forward(ctx, &e, bx, by, ba));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_forward(ctx, &d, (clt_buf){x, 1}, by, ba));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_forward(ctx, &d, bx, (clt_buf){y, 1}, ba));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_forward(ctx, &d, bx, by, (clt_buf){a, 1}));
    e = d;
    e.kernel_h = e.kernel_w = 1; /* y would need 16 */
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_pool2d_forward(ctx, &e, bx, by, ba));
    /* aliasing: y over x, argmax over y or x */
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_pool2d_forward(ctx, &d, bx, bx, ba));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_pool2d_forward(ctx, &d, bx, (clt_buf){big, 0}, (clt_buf){big, 3}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_pool2d_forward(ctx, &d, (clt_buf){big, 0}, by, (clt_buf){big, 12}));
    /* backward: the same rules for dy, argmax, dx */
    cl_mem dx = exact_buffer(ctx, 16, 42);
    clt_buf bdx = {dx, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_backward(NULL, &d, by, ba, bdx));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_backward(ctx, NULL, by, ba, bdx));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_backward(ctx, &d, by, none, bdx));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_backward(ctx, &d, by, ba, none));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_backward(ctx, &d, (clt_buf){y, 1}, ba, bdx));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_backward(ctx, &d, by, (clt_buf){a, 2}, bdx));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_backward(ctx, &d, by, ba, (clt_buf){dx, 1}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_pool2d_backward(ctx, &d, bdx, ba, bdx));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_pool2d_backward(ctx, &d, by, (clt_buf){dx, 12}, bdx));
    e = d;
    e.pad_h = 3;
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_pool2d_backward(ctx, &e, by, ba, bdx));
    /* average mode ignores argmax, in both directions */
    e = d;
    e.mode = CLT_POOL_AVG;
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_pool2d_backward(ctx, &e, by, none, (clt_buf){dx, 1}));

    /* nothing was written, and the context still works */
    clt_finish(ctx);
    expect_unchanged(ctx, y, 4, 42);
    expect_unchanged(ctx, a, 4, 42);
    expect_unchanged(ctx, big, 16, 42);
    expect_unchanged(ctx, dx, 16, 42);
    expect_unchanged(ctx, x, 16, 1);
    TU_OK(ctx, clt_pool2d_forward(ctx, &e, bx, by, none));
    expect_unchanged(ctx, y, 4, 1);
    TU_OK(ctx, clt_pool2d_backward(ctx, &e, by, none, bdx));
    expect_unchanged(ctx, dx, 16, 0.25f);
    TU_OK(ctx, clt_pool2d_forward(ctx, &d, bx, by, ba));
    assert_string_equal(clt_context_last_error(ctx), "");
    clReleaseMemObject(x);
    clReleaseMemObject(y);
    clReleaseMemObject(a);
    clReleaseMemObject(big);
    clReleaseMemObject(dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_output_shapes_by_hand),
        cmocka_unit_test(test_pool_hand_computed),
        cmocka_unit_test(test_pool_sweep),
        cmocka_unit_test(test_pool_larger),
        cmocka_unit_test(test_pool_default_stride),
        cmocka_unit_test(test_pool_ties_first_max),
        cmocka_unit_test(test_pool_nan_and_inf),
        cmocka_unit_test(test_pool_2x2_widths),
        cmocka_unit_test(test_pool_finite_differences),
        cmocka_unit_test(test_pool_bit_identical_runs),
        cmocka_unit_test(test_pool_rejects_bad_descriptors),
        cmocka_unit_test(test_pool_rejects_bad_calls),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
