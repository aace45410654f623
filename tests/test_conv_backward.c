/* Convolution backward: data and weights (with the bias gradient) for every
 * algorithm against the double-precision reference over the forward's
 * sweep; finite differences through the device's own forward pass; col2im;
 * garbage outputs, canaries, run-to-run identity and bad calls. */
#include "conv_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bwd_data {
    float *x, *w, *dy;
    size_t nx, nw, ny;
    double *dx, *dw, *db;
} bwd_data;

static bwd_data make(const ref_conv *r, int random, uint64_t seed)
{
    bwd_data t;
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    t.nx = (size_t)r->n * r->c * r->h * r->w;
    t.nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    t.ny = (size_t)r->n * r->k * p * q;
    t.x = malloc(t.nx * sizeof(float));
    t.w = malloc(t.nw * sizeof(float));
    t.dy = malloc(t.ny * sizeof(float));
    t.dx = malloc(t.nx * sizeof(double));
    t.dw = malloc(t.nw * sizeof(double));
    t.db = malloc((size_t)r->k * sizeof(double));
    assert_true(t.x && t.w && t.dy && t.dx && t.dw && t.db);
    uint64_t s = seed;
    if (random) {
        tu_fill_uniform(t.x, t.nx, -1, 1, &s);
        tu_fill_uniform(t.w, t.nw, -1, 1, &s);
        tu_fill_uniform(t.dy, t.ny, -1, 1, &s);
    } else {
        tu_fill_int(t.x, t.nx, -3, 3, &s);
        tu_fill_int(t.w, t.nw, -2, 2, &s);
        tu_fill_int(t.dy, t.ny, -3, 3, &s);
    }
    ref_conv2d_backward_data(r, t.dy, t.w, t.dx);
    ref_conv2d_backward_weights(r, t.x, t.dy, t.dw, t.db);
    return t;
}

static void release(bwd_data *t)
{
    free(t->x);
    free(t->w);
    free(t->dy);
    free(t->dx);
    free(t->dw);
    free(t->db);
}

typedef struct err_stats {
    double max_abs, max_rel;
    int runs, refused;
} err_stats;

static err_stats stats[2][CLT_CONV_ALGO_COUNT]; /* [data, weights][algo] */

static void tolerance(const ref_conv *r, double wino, int random, int weights, double *atol,
                      double *rtol)
{
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    /* the length of the sums behind each gradient element */
    double len = weights ? (double)r->n * p * q : (double)(r->k / r->groups) * r->r * r->s;
    *atol = random ? 3e-6 * len * (wino ? 4 * wino : 1) : 1e-4 * len * wino;
    *rtol = random ? 1e-5 : 0;
}

static void record(int weights, clt_conv_algo algo, double abs_err, double rel)
{
    err_stats *e = &stats[weights][algo];
    e->max_abs = fmax(e->max_abs, abs_err);
    e->max_rel = fmax(e->max_rel, rel);
    e->runs++;
}

/* Runs a pass into a garbage-filled buffer twice and checks the two are
 * bit-identical; returns the status of the first run. */
typedef clt_status (*pass_fn)(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                              tu_buf in0, tu_buf in1, tu_buf out, tu_buf out2);

static clt_status pass_data(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                            tu_buf dy, tu_buf w, tu_buf dx, tu_buf unused)
{
    (void)unused;
    return clt_conv2d_backward_data(ctx, d, algo, dy.b, w.b, dx.b, NULL, 0);
}

static clt_status pass_weights(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                               tu_buf x, tu_buf dy, tu_buf dw, tu_buf db)
{
    return clt_conv2d_backward_weights(ctx, d, algo, x.b, dy.b, dw.b, db.b, NULL, 0);
}

static void check_refused(clt_context_t ctx, clt_status check, clt_status st, tu_buf out,
                          const char *what)
{
    if (st != CLT_STATUS_NOT_SUPPORTED || check != CLT_STATUS_NOT_SUPPORTED)
        fail_msg("%s: check %s, call %s", what, clt_status_name(check), clt_status_name(st));
    assert_true(clt_context_last_error(ctx)[0] != '\0');
    /* untouched: still the garbage tu_buf_new put there */
    tu_buf fresh = tu_buf_new(ctx, NULL, out.n);
    float *a = malloc(out.n * sizeof(float)), *b = malloc(out.n * sizeof(float));
    tu_buf_read(ctx, fresh, a);
    tu_buf_read(ctx, out, b);
    assert_memory_equal(a, b, out.n * sizeof(float));
    free(a);
    free(b);
    tu_buf_free(fresh);
}

static void run_case(clt_context_t ctx, const ref_conv *r, clt_conv_algo algo, int random,
                     uint64_t seed)
{
    clt_conv2d_desc d = cc_desc(r);
    bwd_data t = make(r, random, seed);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf dy = tu_buf_new(ctx, t.dy, t.ny);
    char what[200];
    for (int weights = 0; weights < 2; weights++) {
        size_t n_out = weights ? t.nw : t.nx;
        tu_buf out = tu_buf_new(ctx, NULL, n_out), out2 = tu_buf_new(ctx, NULL, n_out);
        tu_buf db = tu_buf_new(ctx, NULL, (size_t)r->k), db2 = tu_buf_new(ctx, NULL, (size_t)r->k);
        clt_conv_op op = weights ? CLT_CONV_BACKWARD_WEIGHTS : CLT_CONV_BACKWARD_DATA;
        pass_fn pass = weights ? pass_weights : pass_data;
        tu_buf in0 = weights ? x : dy, in1 = weights ? dy : w;
        cc_describe(r, algo, what, sizeof what);
        strcat(what, weights ? " backward weights" : " backward data");
        clt_status check = clt_conv2d_check(ctx, &d, op, algo);
        clt_status st = pass(ctx, &d, algo, in0, in1, out, db);
        if (check == CLT_STATUS_NOT_SUPPORTED || st == CLT_STATUS_NOT_SUPPORTED) {
            check_refused(ctx, check, st, out, what);
            stats[weights][algo].refused++;
        } else {
            if (st != CLT_STATUS_SUCCESS)
                fail_msg("%s: %s: %s", what, clt_status_name(st), clt_context_last_error(ctx));
            TU_OK(ctx, pass(ctx, &d, algo, in0, in1, out2, db2));
            float *got = malloc(n_out * sizeof(float)), *got2 = malloc(n_out * sizeof(float));
            tu_buf_read(ctx, out, got);
            tu_buf_read(ctx, out2, got2);
            assert_memory_equal(got, got2, n_out * sizeof(float)); /* run to run */
            double atol, rtol, rel;
            tolerance(r, cc_rounding_on(ctx, &d, op, algo), random, weights, &atol, &rtol);
            double abs_err = tu_compare(what, got, weights ? t.dw : t.dx, n_out, atol, rtol, &rel);
            record(weights, algo, abs_err, rel);
            if (weights) {
                float bias[64];
                assert_true(r->k <= 64);
                tu_buf_read(ctx, db, bias);
                int p, q;
                ref_conv_out_hw(r, &p, &q);
                tu_compare("dbias", bias, t.db, (size_t)r->k, random ? 1e-5 * r->n * p * q : 0,
                           1e-5, NULL);
                tu_check_canary(ctx, db);
            }
            tu_check_canary(ctx, out);
            free(got);
            free(got2);
        }
        tu_buf_free(out);
        tu_buf_free(out2);
        tu_buf_free(db);
        tu_buf_free(db2);
    }
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(dy);
    release(&t);
}

static const clt_conv_algo algos[] = CC_ALGOS;
#define N_ALGOS (sizeof algos / sizeof algos[0])

static void test_edge_cases(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (int i = 0; i < cc_edge_count; i++)
        for (size_t a = 0; a < N_ALGOS; a++) {
            run_case(ctx, &cc_edge_cases[i], algos[a], 0, 40 + (uint64_t)i);
            run_case(ctx, &cc_edge_cases[i], algos[a], 1, 80 + (uint64_t)i);
        }
}

static void test_random_sweep(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 4242;
    for (int i = 0; i < 80; i++) {
        ref_conv r = cc_random_case(&s);
        for (size_t a = 0; a < N_ALGOS; a++)
            run_case(ctx, &r, algos[a], i % 3 == 2, 500 + (uint64_t)i);
    }
}

/* L(x, w) = sum(dy * conv(x, w)) is linear in x and in w, so a central
 * difference with step 1 on integer data is exact: the device's backward
 * passes must equal differences of the device's own forward pass. */
static double loss(clt_context_t ctx, const clt_conv2d_desc *d, tu_buf x, tu_buf w, tu_buf y,
                   const float *dy, size_t ny)
{
    TU_OK(ctx, clt_conv2d_forward(ctx, d, CLT_CONV_ALGO_DIRECT, x.b, w.b, (clt_buf){0},
                                  CLT_ACTIVATION_NONE, y.b, NULL, 0));
    float *out = malloc(ny * sizeof(float));
    tu_buf_read(ctx, y, out);
    double l = 0;
    for (size_t i = 0; i < ny; i++)
        l += (double)dy[i] * out[i];
    free(out);
    return l;
}

static void nudge(clt_context_t ctx, tu_buf b, size_t i, float v)
{
    cl_int err = clEnqueueWriteBuffer(clt_context_queue(ctx), b.mem, CL_TRUE,
                                      (TU_CANARY + i) * sizeof(float), sizeof v, &v, 0, NULL, NULL);
    assert_int_equal(err, CL_SUCCESS);
}

static void test_finite_differences(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const ref_conv cases[] = {
        {2, 4, 7, 6, 6, 3, 3, 1, 1, 2, 1, 1, 1, 2},
        {1, 3, 9, 9, 4, 3, 3, 2, 2, 1, 1, 2, 2, 1},
    };
    const clt_conv_algo fd_algos[] = {CLT_CONV_ALGO_DIRECT, CLT_CONV_ALGO_IM2COL_GEMM};
    for (size_t c = 0; c < 2; c++) {
        const ref_conv *r = &cases[c];
        clt_conv2d_desc d = cc_desc(r);
        bwd_data t = make(r, 0, 9 + c);
        tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
        tu_buf dy = tu_buf_new(ctx, t.dy, t.ny), y = tu_buf_new(ctx, NULL, t.ny);
        for (size_t a = 0; a < 2; a++) {
            tu_buf dx = tu_buf_new(ctx, NULL, t.nx), dw = tu_buf_new(ctx, NULL, t.nw);
            TU_OK(ctx, clt_conv2d_backward_data(ctx, &d, fd_algos[a], dy.b, w.b, dx.b, NULL, 0));
            TU_OK(ctx, clt_conv2d_backward_weights(ctx, &d, fd_algos[a], x.b, dy.b, dw.b,
                                                   (clt_buf){0}, NULL, 0));
            float *gx = malloc(t.nx * sizeof(float)), *gw = malloc(t.nw * sizeof(float));
            tu_buf_read(ctx, dx, gx);
            tu_buf_read(ctx, dw, gw);
            uint64_t s = 77;
            for (int probe = 0; probe < 12; probe++) {
                int on_w = probe % 2;
                tu_buf b = on_w ? w : x;
                float *host = on_w ? t.w : t.x;
                size_t i = tu_rand(&s) % (on_w ? t.nw : t.nx);
                nudge(ctx, b, i, host[i] + 1.0f);
                double up = loss(ctx, &d, x, w, y, t.dy, t.ny);
                nudge(ctx, b, i, host[i] - 1.0f);
                double down = loss(ctx, &d, x, w, y, t.dy, t.ny);
                nudge(ctx, b, i, host[i]);
                double fd = (up - down) / 2.0, got = on_w ? gw[i] : gx[i];
                if (fd != got)
                    fail_msg("%s: d%s[%zu] = %g, finite difference %g",
                             clt_conv_algo_name(fd_algos[a]), on_w ? "w" : "x", i, got, fd);
            }
            free(gx);
            free(gw);
            tu_buf_free(dx);
            tu_buf_free(dw);
        }
        tu_buf_free(x);
        tu_buf_free(w);
        tu_buf_free(dy);
        tu_buf_free(y);
        release(&t);
    }
}

static void test_col2im(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const ref_conv cases[] = {
        {2, 3, 7, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1}, /* overlapping patches */
        {3, 2, 9, 8, 1, 3, 2, 2, 1, 2, 3, 2, 1, 1},
        {1, 2, 5, 5, 1, 2, 2, 0, 0, 3, 3, 1, 1, 1}, /* gaps: uncovered inputs get 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_conv *r = &cases[i];
        clt_conv2d_desc d = cc_desc(r);
        int p, q;
        ref_conv_out_hw(r, &p, &q);
        size_t nx = (size_t)r->n * r->c * r->h * r->w;
        size_t ncol = (size_t)r->c * r->r * r->s * r->n * p * q;
        float *col = malloc(ncol * sizeof *col), *got = malloc(nx * sizeof *got);
        double *want = malloc(nx * sizeof *want);
        uint64_t s = 15 + i;
        tu_fill_int(col, ncol, -9, 9, &s);
        ref_col2im(r, col, want);
        tu_buf dcol = tu_buf_new(ctx, col, ncol), x = tu_buf_new(ctx, NULL, nx);
        TU_OK(ctx, clt_col2im(ctx, &d, dcol.b, x.b));
        tu_buf_read(ctx, x, got);
        tu_compare("col2im", got, want, nx, 0, 0, NULL);
        tu_check_canary(ctx, x);
        TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_col2im(ctx, &d, dcol.b, dcol.b));
        tu_buf_free(dcol);
        tu_buf_free(x);
        free(col);
        free(got);
        free(want);
    }
}

static void test_rejects_bad_calls(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    ref_conv r = {2, 4, 6, 6, 4, 3, 3, 3, 3, 1, 1, 1, 1, 1};
    clt_conv2d_desc d = cc_desc(&r);
    bwd_data t = make(&r, 0, 1);
    tu_buf x = tu_buf_new(ctx, t.x, t.nx), w = tu_buf_new(ctx, t.w, t.nw);
    tu_buf dy = tu_buf_new(ctx, t.dy, t.ny);
    tu_buf dx = tu_buf_new(ctx, NULL, t.nx), dw = tu_buf_new(ctx, NULL, t.nw);
    const clt_conv_algo a = CLT_CONV_ALGO_IM2COL_GEMM;
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* dx is dy */
             clt_conv2d_backward_data(ctx, &d, a, dy.b, w.b, dy.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* dbias is dw */
             clt_conv2d_backward_weights(ctx, &d, a, x.b, dy.b, dw.b, dw.b, NULL, 0));
    TU_FAILS(
        ctx, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_backward_weights(ctx, &d, a, x.b, (clt_buf){0}, dw.b, (clt_buf){0}, NULL, 0));
    TU_FAILS(
        ctx, CLT_STATUS_NOT_SUPPORTED, /* pad 3 */
        clt_conv2d_backward_data(ctx, &d, CLT_CONV_ALGO_WINOGRAD_F2X3, dy.b, w.b, dx.b, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_NOT_SUPPORTED,
             clt_conv2d_backward_weights(ctx, &d, CLT_CONV_ALGO_WINOGRAD_F2X3, x.b, dy.b, dw.b,
                                         (clt_buf){0}, NULL, 0));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_conv2d_backward_data(ctx, &d, a, dy.b, w.b,
                                      (clt_buf){dx.mem, dx.b.offset + 2 * TU_CANARY}, NULL, 0));
    d.groups = 3;
    TU_FAILS(ctx, CLT_STATUS_INVALID_SHAPE,
             clt_conv2d_backward_data(ctx, &d, a, dy.b, w.b, dx.b, NULL, 0));
    tu_buf_free(x);
    tu_buf_free(w);
    tu_buf_free(dy);
    tu_buf_free(dx);
    tu_buf_free(dw);
    release(&t);
}

static void print_stats(void **state)
{
    (void)state;
    for (int weights = 0; weights < 2; weights++)
        for (size_t a = 0; a < N_ALGOS; a++) {
            err_stats *e = &stats[weights][algos[a]];
            print_message("%-7s %-9s %4d runs, %3d refused, max abs err %.3g, max rel err %.3g\n",
                          weights ? "weights" : "data", clt_conv_algo_name(algos[a]), e->runs,
                          e->refused, e->max_abs, e->max_rel);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_calls),  cmocka_unit_test(test_col2im),
        cmocka_unit_test(test_edge_cases),         cmocka_unit_test(test_random_sweep),
        cmocka_unit_test(test_finite_differences), cmocka_unit_test(print_stats),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
