/* Convolution forward: every algorithm against the double-precision host
 * reference over a sweep of parameters; workspace chunking, prepared
 * weights, offsets, im2col, and the errors of bad calls. */
#include "conv_cases.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct err_stats {
    double max_abs, max_rel;
    int runs, unsupported;
} err_stats;

static err_stats stats[CLT_CONV_ALGO_COUNT][2]; /* [algo][random inputs] */

static size_t w_elems(const ref_conv *r)
{
    return (size_t)r->k * (r->c / r->groups) * r->r * r->s;
}

/* Host inputs of one case. */
typedef struct conv_data {
    float *x, *w, *bias;
    size_t nx, nw, ny;
    double *want;
} conv_data;

static conv_data make_data(const ref_conv *r, int random, int with_bias, int relu, uint64_t seed)
{
    conv_data t;
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    t.nx = (size_t)r->n * r->c * r->h * r->w;
    t.nw = w_elems(r);
    t.ny = (size_t)r->n * r->k * p * q;
    t.x = malloc(t.nx * sizeof(float));
    t.w = malloc(t.nw * sizeof(float));
    t.bias = malloc((size_t)r->k * sizeof(float));
    t.want = malloc(t.ny * sizeof(double));
    assert_true(t.x && t.w && t.bias && t.want);
    uint64_t s = seed;
    if (random) {
        tu_fill_uniform(t.x, t.nx, -1, 1, &s);
        tu_fill_uniform(t.w, t.nw, -1, 1, &s);
        tu_fill_uniform(t.bias, (size_t)r->k, -1, 1, &s);
    } else { /* integers: every algorithm but Winograd is exact */
        tu_fill_int(t.x, t.nx, -3, 3, &s);
        tu_fill_int(t.w, t.nw, -2, 2, &s);
        tu_fill_int(t.bias, (size_t)r->k, -4, 4, &s);
    }
    ref_conv2d_forward(r, t.x, t.w, with_bias ? t.bias : NULL, relu, t.want);
    return t;
}

static void free_data(conv_data *t)
{
    free(t->x);
    free(t->w);
    free(t->bias);
    free(t->want);
}

/* Tolerances: integer inputs are exact except through Winograd's
 * fractions; random inputs scale with the length of the dot products. */
static void tolerance(const ref_conv *r, double wino, int random, double *atol, double *rtol)
{
    double len = (double)(r->c / r->groups) * r->r * r->s;
    *atol = random ? 2e-6 * len * (wino ? 4 * wino : 1) : 1e-4 * len * wino;
    *rtol = random ? 1e-5 * (wino > 1 ? wino : 1) : 1e-6 * wino;
}

/* Runs one case on the device and checks it; returns 0 if the algorithm
 * refused the parameters (after checking it refused properly). */
static int run_case(clt_context_t ctx, const ref_conv *r, clt_conv_algo algo, int random,
                    int with_bias, int relu, uint64_t seed)
{
    clt_conv2d_desc d = cc_desc(r);
    conv_data t = make_data(r, random, with_bias, relu, seed);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf b = tu_buf_new(ctx, t.bias, (size_t)r->k), y = tu_buf_new(ctx, NULL, t.ny);
    clt_buf bias = with_bias ? b.b : (clt_buf){0};
    clt_activation act = relu ? CLT_ACTIVATION_RELU : CLT_ACTIVATION_NONE;
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    clt_status check = clt_conv2d_check(ctx, &d, CLT_CONV_FORWARD, algo);
    clt_status st = clt_conv2d_forward(ctx, &d, algo, x.b, w.b, bias, act, y.b, NULL, 0);
    float *got = malloc(t.ny * sizeof(float));
    assert_non_null(got);
    int ran = 1;
    if (check == CLT_STATUS_NOT_SUPPORTED) {
        /* refused with a reason, before touching y */
        if (st != CLT_STATUS_NOT_SUPPORTED)
            fail_msg("%s: check said not supported, forward returned %s", what,
                     clt_status_name(st));
        assert_true(clt_context_last_error(ctx)[0] != '\0');
        assert_true(algo != CLT_CONV_ALGO_DIRECT && algo != CLT_CONV_ALGO_IM2COL_GEMM &&
                    algo != CLT_CONV_ALGO_AUTO);
        tu_buf garbage = tu_buf_new(ctx, NULL, t.ny);
        float *before = malloc(t.ny * sizeof(float));
        tu_buf_read(ctx, garbage, before);
        tu_buf_read(ctx, y, got);
        assert_memory_equal(before, got, t.ny * sizeof(float));
        free(before);
        tu_buf_free(garbage);
        stats[algo][random].unsupported++;
        ran = 0;
    } else {
        if (st != CLT_STATUS_SUCCESS)
            fail_msg("%s: %s: %s", what, clt_status_name(st), clt_context_last_error(ctx));
        tu_buf_read(ctx, y, got);
        double atol, rtol, rel;
        tolerance(r, cc_rounding_on(ctx, &d, CLT_CONV_FORWARD, algo), random, &atol, &rtol);
        double abs_err = tu_compare(what, got, t.want, t.ny, atol, rtol, &rel);
        err_stats *e = &stats[algo][random];
        e->max_abs = fmax(e->max_abs, abs_err);
        e->max_rel = fmax(e->max_rel, rel);
        e->runs++;
        tu_check_canary(ctx, y);
    }
    free(got);
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(b);
    tu_buf_free(y);
    free_data(&t);
    return ran;
}

static const clt_conv_algo all_algos[] = CC_ALGOS;
#define N_ALGOS (sizeof all_algos / sizeof all_algos[0])

static void test_edge_cases(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (size_t i = 0; i < (size_t)cc_edge_count; i++)
        for (size_t a = 0; a < N_ALGOS; a++) {
            run_case(ctx, &cc_edge_cases[i], all_algos[a], 0, 1, 0, 10 + i);
            run_case(ctx, &cc_edge_cases[i], all_algos[a], 1, 1, 1, 20 + i);
        }
}

static void test_random_sweep(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 2026;
    for (int i = 0; i < 120; i++) {
        ref_conv r = cc_random_case(&s);
        int random = i % 3 == 2;
        for (size_t a = 0; a < N_ALGOS; a++)
            run_case(ctx, &r, all_algos[a], random, i % 2, i % 4 == 1, 1000 + i);
    }
}

/* Winograd's home ground, random inputs: how noisy is it next to GEMM? */
static void test_winograd_accuracy(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    ref_conv r = {2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(run_case(ctx, &r, CLT_CONV_ALGO_WINOGRAD_F2X3, 1, 1, 0, 5), 1);
    assert_int_equal(run_case(ctx, &r, CLT_CONV_ALGO_WINOGRAD_F4X3, 1, 1, 0, 5), 1);
    assert_int_equal(run_case(ctx, &r, CLT_CONV_ALGO_IM2COL_GEMM, 1, 1, 0, 5), 1);
    assert_int_equal(run_case(ctx, &r, CLT_CONV_ALGO_DIRECT, 1, 1, 0, 5), 1);
}

static void print_stats(void **state)
{
    (void)state;
    for (size_t a = 0; a < N_ALGOS; a++)
        for (int rnd = 0; rnd < 2; rnd++) {
            err_stats *e = &stats[all_algos[a]][rnd];
            print_message("%-9s %-7s inputs: %4d runs, %3d refused, max abs err %.3g, max rel err "
                          "%.3g\n",
                          clt_conv_algo_name(all_algos[a]), rnd ? "random" : "integer", e->runs,
                          e->unsupported, e->max_abs, e->max_rel);
        }
}

/* The same result through a workspace that holds one image (or two) at a
 * time as through the default one. */
static void test_workspace_chunks(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    ref_conv r = {3, 4, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    clt_conv2d_desc d = cc_desc(&r), one = d;
    one.n = 1;
    conv_data t = make_data(&r, 0, 1, 0, 77);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf b = tu_buf_new(ctx, t.bias, (size_t)r.k), y = tu_buf_new(ctx, NULL, t.ny);
    float *got = malloc(t.ny * sizeof(float));
    const clt_conv_algo algos[] = {CLT_CONV_ALGO_IM2COL_GEMM, CLT_CONV_ALGO_WINOGRAD_F2X3,
                                   CLT_CONV_ALGO_WINOGRAD_F4X3};
    for (int i = 0; i < 3; i++) {
        size_t full = 0, min = 0;
        TU_OK(ctx, clt_conv2d_workspace_size(ctx, &d, CLT_CONV_FORWARD, algos[i], &full));
        TU_OK(ctx, clt_conv2d_workspace_size(ctx, &one, CLT_CONV_FORWARD, algos[i], &min));
        assert_true(min > 0 && min < full);
        cl_int err;
        cl_mem ws =
            clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, full, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        size_t sizes[] = {full, min, min + min / 2};
        for (int k = 0; k < 3; k++) {
            tu_buf fresh = tu_buf_new(ctx, NULL, t.ny);
            TU_OK(ctx, clt_conv2d_forward(ctx, &d, algos[i], x.b, w.b, b.b, CLT_ACTIVATION_NONE,
                                          fresh.b, ws, sizes[k]));
            tu_buf_read(ctx, fresh, got);
            tu_compare(clt_conv_algo_name(algos[i]), got, t.want, t.ny,
                       1e-3 * cc_rounding(algos[i]), 0, NULL);
            tu_check_canary(ctx, fresh);
            tu_buf_free(fresh);
        }
        TU_FAILS(ctx, CLT_STATUS_WORKSPACE_TOO_SMALL,
                 clt_conv2d_forward(ctx, &d, algos[i], x.b, w.b, b.b, CLT_ACTIVATION_NONE, y.b, ws,
                                    min - 4));
        TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, /* claims more than the buffer holds */
                 clt_conv2d_forward(ctx, &d, algos[i], x.b, w.b, b.b, CLT_ACTIVATION_NONE, y.b, ws,
                                    full + 4));
        clReleaseMemObject(ws);
    }
    free(got);
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(b);
    tu_buf_free(y);
    free_data(&t);
}

static void test_prepared_weights(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    ref_conv r = {2, 5, 7, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    clt_conv2d_desc d = cc_desc(&r);
    conv_data t = make_data(&r, 1, 1, 1, 31);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf b = tu_buf_new(ctx, t.bias, (size_t)r.k);
    float *got = malloc(t.ny * sizeof(float));
    for (size_t a = 0; a < N_ALGOS; a++) {
        clt_conv2d_weights_t pw = NULL;
        clt_status st = clt_conv2d_weights_create(ctx, &d, all_algos[a], w.b, &pw);
        if (all_algos[a] == CLT_CONV_ALGO_GEMM_1X1) {
            assert_int_equal(st, CLT_STATUS_NOT_SUPPORTED);
            assert_null(pw);
            continue;
        }
        TU_OK(ctx, st);
        if (all_algos[a] != CLT_CONV_ALGO_AUTO)
            assert_int_equal(clt_conv2d_weights_algo(pw), all_algos[a]);
        /* the original weights may change: the prepared ones stay */
        TU_OK(ctx, clt_fill(ctx, w.b, t.nw, 100.0f));
        for (int rep = 0; rep < 2; rep++) {
            tu_buf y = tu_buf_new(ctx, NULL, t.ny);
            TU_OK(ctx, clt_conv2d_forward_prepared(ctx, &d, pw, x.b, b.b, CLT_ACTIVATION_RELU, y.b,
                                                   NULL, 0));
            tu_buf_read(ctx, y, got);
            tu_compare("prepared", got, t.want, t.ny, 1e-4, 1e-4, NULL);
            tu_check_canary(ctx, y);
            tu_buf_free(y);
        }
        clt_conv2d_desc other = d;
        other.pad_h = 0;
        tu_buf y = tu_buf_new(ctx, NULL, t.ny);
        TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
                 clt_conv2d_forward_prepared(ctx, &other, pw, x.b, b.b, CLT_ACTIVATION_NONE, y.b,
                                             NULL, 0));
        tu_buf_free(y);
        clt_conv2d_weights_destroy(pw);
        TU_OK(ctx, clt_fill(ctx, w.b, t.nw, 0.0f));
        cl_int err =
            clEnqueueWriteBuffer(clt_context_queue(ctx), w.mem, CL_TRUE, TU_CANARY * sizeof(float),
                                 t.nw * sizeof(float), t.w, 0, NULL, NULL);
        assert_int_equal(err, CL_SUCCESS);
    }
    TU_FAILS(
        ctx, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_forward_prepared(ctx, &d, NULL, x.b, b.b, CLT_ACTIVATION_NONE, x.b, NULL, 0));
    clt_conv2d_weights_destroy(NULL);
    free(got);
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(b);
    free_data(&t);
}

static void test_im2col(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const ref_conv cases[] = {
        {2, 3, 7, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1},
        {3, 2, 9, 8, 1, 3, 2, 2, 1, 2, 3, 2, 1, 1},
        {1, 4, 5, 5, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_conv *r = &cases[i];
        clt_conv2d_desc d = cc_desc(r);
        int p, q;
        ref_conv_out_hw(r, &p, &q);
        size_t nx = (size_t)r->n * r->c * r->h * r->w;
        size_t ncol = (size_t)r->c * r->r * r->s * r->n * p * q;
        float *x = malloc(nx * sizeof *x), *got = malloc(ncol * sizeof *got);
        double *want = malloc(ncol * sizeof *want);
        uint64_t s = 5 + i;
        tu_fill_int(x, nx, -9, 9, &s);
        ref_im2col(r, x, want);
        tu_buf dx = tu_buf_new(ctx, x, nx), col = tu_buf_new(ctx, NULL, ncol);
        TU_OK(ctx, clt_im2col(ctx, &d, dx.b, col.b));
        tu_buf_read(ctx, col, got);
        tu_compare("im2col", got, want, ncol, 0, 0, NULL);
        tu_check_canary(ctx, col);
        tu_buf both = tu_buf_new(ctx, NULL, nx + ncol); /* col overlapping x */
        TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
                 clt_im2col(ctx, &d, both.b, (clt_buf){both.mem, both.b.offset + nx / 2}));
        tu_buf_free(both);
        tu_buf_free(dx);
        tu_buf_free(col);
        free(x);
        free(got);
        free(want);
    }
}

static void test_output_shape_and_names(void **state)
{
    (void)state;
    ref_conv r = {4, 3, 224, 224, 64, 7, 7, 3, 3, 2, 2, 1, 1, 1};
    clt_conv2d_desc d = cc_desc(&r);
    clt_shape y;
    assert_int_equal(clt_conv2d_output_shape(&d, &y), CLT_STATUS_SUCCESS);
    assert_int_equal(y.n, 4);
    assert_int_equal(y.c, 64);
    assert_int_equal(y.h, 112);
    assert_int_equal(y.w, 112);
    for (int a = 0; a < CLT_CONV_ALGO_COUNT; a++) {
        clt_conv_algo back;
        assert_int_equal(clt_conv_algo_from_name(clt_conv_algo_name((clt_conv_algo)a), &back),
                         CLT_STATUS_SUCCESS);
        assert_int_equal(back, a);
    }
    clt_conv_algo back;
    assert_int_equal(clt_conv_algo_from_name("fft", &back), CLT_STATUS_INVALID_VALUE);
    assert_null(clt_conv_algo_name(CLT_CONV_ALGO_COUNT));
}

/* Every bad descriptor and buffer is refused with its own status and a
 * reason, before anything runs: y keeps its contents. */
static void test_rejects_bad_calls(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    ref_conv r = {2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2};
    clt_conv2d_desc good = cc_desc(&r);
    conv_data t = make_data(&r, 0, 0, 0, 3);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf y = tu_buf_new(ctx, NULL, t.ny);
    float *before = malloc(t.ny * sizeof(float)), *after = malloc(t.ny * sizeof(float));
    tu_buf_read(ctx, y, before);
    const clt_conv_algo a = CLT_CONV_ALGO_DIRECT;
    const clt_activation none = CLT_ACTIVATION_NONE;
    clt_buf nob = {0};

    struct {
        int *field;
        int value;
        clt_status want;
    } bad[] = {
        {&good.n, 0, CLT_STATUS_INVALID_VALUE},
        {&good.c, -1, CLT_STATUS_INVALID_VALUE},
        {&good.stride_h, 0, CLT_STATUS_INVALID_VALUE},
        {&good.dilation_w, 0, CLT_STATUS_INVALID_VALUE},
        {&good.pad_w, -2, CLT_STATUS_INVALID_VALUE},
        {&good.groups, 3, CLT_STATUS_INVALID_SHAPE},
        {&good.kernel_h, 9, CLT_STATUS_INVALID_SHAPE},
        {&good.h, 1 << 26, CLT_STATUS_SIZE_OVERFLOW},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int saved = *bad[i].field;
        *bad[i].field = bad[i].value;
        TU_FAILS(ctx, bad[i].want,
                 clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, none, y.b, NULL, 0));
        TU_FAILS(ctx, bad[i].want, clt_conv2d_check(ctx, &good, CLT_CONV_FORWARD, a));
        clt_shape shape;
        assert_int_equal(clt_conv2d_output_shape(&good, &shape), bad[i].want);
        assert_true(clt_context_last_error(NULL)[0] != '\0');
        *bad[i].field = saved;
    }
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_forward(ctx, NULL, a, x.b, w.b, nob, none, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_forward(ctx, &good, a, nob, w.b, nob, none, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_conv2d_forward(ctx, &good, (clt_conv_algo)42, x.b, w.b, nob, none, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, (clt_activation)9, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_NOT_SUPPORTED, /* groups 2 */
             clt_conv2d_forward(ctx, &good, CLT_CONV_ALGO_WINOGRAD_F2X3, x.b, w.b, nob, none, y.b,
                                NULL, 0));
    TU_FAILS(
        ctx, CLT_STATUS_NOT_SUPPORTED,
        clt_conv2d_forward(ctx, &good, CLT_CONV_ALGO_GEMM_1X1, x.b, w.b, nob, none, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* y is x */
             clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, none, x.b, NULL, 0));
    clt_buf late = {y.mem, y.b.offset + 2 * TU_CANARY}; /* runs past the end */
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, none, late, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, /* bias of 4 floats at the very end of w */
             clt_conv2d_forward(ctx, &good, a, x.b, w.b, (clt_buf){w.mem, t.nw + 2 * TU_CANARY - 2},
                                none, y.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, none, y.b, NULL, 64));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_forward(NULL, &good, a, x.b, w.b, nob, none, y.b, NULL, 0));
    tu_buf_read(ctx, y, after);
    assert_memory_equal(before, after, t.ny * sizeof(float));
    /* and the context still works */
    TU_OK(ctx, clt_conv2d_forward(ctx, &good, a, x.b, w.b, nob, none, y.b, NULL, 0));
    tu_buf_read(ctx, y, after);
    tu_compare("after errors", after, t.want, t.ny, 0, 0, NULL);
    free(before);
    free(after);
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(y);
    free_data(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_shape_and_names),
        cmocka_unit_test(test_rejects_bad_calls),
        cmocka_unit_test(test_im2col),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_random_sweep),
        cmocka_unit_test(test_winograd_accuracy),
        cmocka_unit_test(test_workspace_chunks),
        cmocka_unit_test(test_prepared_weights),
        cmocka_unit_test(print_stats),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
