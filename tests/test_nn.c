/* Bias, ReLU, linear and SGD against the double-precision host references,
 * with finite-difference checks of the backward passes. The losses are in
 * test_nn_loss.c. */
#include "ref.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *ints(size_t n, int lo, int hi, uint64_t *seed)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    tu_fill_int(x, n, lo, hi, seed);
    return x;
}

static float *uniform(size_t n, float lo, float hi, uint64_t *seed)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    tu_fill_uniform(x, n, lo, hi, seed);
    return x;
}

static double *doubles(size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    return d;
}

/* ---- bias ---- */

static void test_bias_add_exact(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const int shapes[][3] = {{1, 1, 1}, {2, 3, 5}, {3, 17, 31}, {4, 10, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2];
        size_t count = (size_t)n * c * hw;
        uint64_t seed = 10 + s;
        float *y = ints(count, -50, 50, &seed), *bias = ints((size_t)c, -9, 9, &seed);
        double *want = doubles(count);
        ref_bias_add(n, c, hw, y, bias, want);
        tu_buf dy = tu_buf_new(ctx, y, count), db = tu_buf_new(ctx, bias, (size_t)c);
        TU_OK(ctx, clt_bias_add(ctx, n, c, hw, dy.b, db.b));
        char what[64];
        snprintf(what, sizeof what, "bias_add %dx%dx%d", n, c, hw);
        tu_expect(ctx, what, dy, want, 0, 0);
        tu_buf_free(dy);
        tu_buf_free(db);
        free(y);
        free(bias);
        free(want);
    }
}

static void test_bias_backward(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* integer sums are exact; the last shape is random, with long planes */
    const int shapes[][4] = {
        {1, 1, 1, 1}, {2, 3, 5, 1}, {3, 17, 31, 1}, {7, 9, 1, 1}, {3, 5, 20000, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2], exact = shapes[s][3];
        size_t count = (size_t)n * c * hw;
        uint64_t seed = 20 + s;
        float *dy = exact ? ints(count, -3, 3, &seed) : uniform(count, -1, 1, &seed);
        double *want = doubles((size_t)c);
        ref_bias_backward(n, c, hw, dy, want);
        tu_buf d_dy = tu_buf_new(ctx, dy, count), d_db = tu_buf_new(ctx, NULL, (size_t)c);
        TU_OK(ctx, clt_bias_backward(ctx, n, c, hw, d_dy.b, d_db.b));
        char what[64];
        snprintf(what, sizeof what, "bias_backward %dx%dx%d", n, c, hw);
        /* float sums of n * hw terms of size 1: allow a few ulps of sqrt(count) */
        tu_expect(ctx, what, d_db, want, exact ? 0 : 1e-4, exact ? 0 : 1e-5);
        tu_buf_free(d_dy);
        tu_buf_free(d_db);
        free(dy);
        free(want);
    }
}

/* ---- ReLU ---- */

static void test_relu_forward_backward(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t count = 1000;
    uint64_t seed = 31;
    float *x = ints(count, -5, 5, &seed), *dy = ints(count, -9, 9, &seed);
    x[3] = 0.0f;
    x[4] = -0.0f;
    double *want = doubles(count);
    tu_buf dx_in = tu_buf_new(ctx, x, count), dy_out = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_relu_forward(ctx, count, dx_in.b, dy_out.b));
    ref_relu_forward(count, x, want);
    tu_expect(ctx, "relu_forward", dy_out, want, 0, 0);
    float *x_after = tu_buf_read_new(ctx, dx_in);
    assert_memory_equal(x_after, x, count * sizeof *x); /* the input stays */
    free(x_after);

    /* backward from the forward output, into garbage */
    float *y = tu_buf_read_new(ctx, dy_out);
    tu_buf d_dy = tu_buf_new(ctx, dy, count), d_dx = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_relu_backward(ctx, count, dy_out.b, d_dy.b, d_dx.b));
    ref_relu_backward(count, y, dy, want);
    tu_expect(ctx, "relu_backward", d_dx, want, 0, 0);

    /* in place: dx = dy, then y = x */
    TU_OK(ctx, clt_relu_backward(ctx, count, dy_out.b, d_dy.b, d_dy.b));
    tu_expect(ctx, "relu_backward in place", d_dy, want, 0, 0);
    TU_OK(ctx, clt_relu_forward(ctx, count, dx_in.b, dx_in.b));
    ref_relu_forward(count, x, want);
    tu_expect(ctx, "relu_forward in place", dx_in, want, 0, 0);
    tu_buf_free(dx_in);
    tu_buf_free(dy_out);
    tu_buf_free(d_dy);
    tu_buf_free(d_dx);
    free(x);
    free(dy);
    free(y);
    free(want);
}

static void test_relu_nan_propagates(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    float x[4] = {NAN, -1.0f, 2.0f, -INFINITY};
    tu_buf dx = tu_buf_new(ctx, x, 4), dy = tu_buf_new(ctx, NULL, 4);
    TU_OK(ctx, clt_relu_forward(ctx, 4, dx.b, dy.b));
    float y[4];
    tu_buf_read(ctx, dy, y);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 0.0f && y[2] == 2.0f && y[3] == 0.0f);
    tu_check_canary(ctx, dy);
    tu_buf_free(dx);
    tu_buf_free(dy);
}

/* L = sum(relu(x) * r): the device forward, differenced with a step that
 * never crosses 0, against the device backward with dy = r. */
static void test_relu_gradcheck(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t count = 64;
    const float h = 0.125f;
    uint64_t seed = 41;
    float *x = uniform(count, -2, 2, &seed), *r = uniform(count, -1, 1, &seed);
    for (size_t i = 0; i < count; i++)
        if (fabsf(x[i]) < 0.25f)
            x[i] += x[i] < 0 ? -0.25f : 0.25f;
    tu_buf dx = tu_buf_new(ctx, x, count), dy = tu_buf_new(ctx, NULL, count);
    tu_buf dr = tu_buf_new(ctx, r, count), dgrad = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_relu_forward(ctx, count, dx.b, dy.b));
    TU_OK(ctx, clt_relu_backward(ctx, count, dy.b, dr.b, dgrad.b));
    double *fd = doubles(count);
    float *y = malloc(count * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < count; i++) {
        double l[2];
        for (int side = 0; side < 2; side++) {
            float keep = x[i];
            x[i] += side ? -h : h;
            tu_buf_write(ctx, dx, x);
            TU_OK(ctx, clt_relu_forward(ctx, count, dx.b, dy.b));
            tu_buf_read(ctx, dy, y);
            l[side] = 0;
            for (size_t j = 0; j < count; j++)
                l[side] += (double)y[j] * r[j];
            x[i] = keep;
        }
        fd[i] = (l[0] - l[1]) / (2.0 * h);
    }
    tu_expect(ctx, "relu gradient vs finite differences", dgrad, fd, 1e-5, 1e-5);
    tu_buf_free(dx);
    tu_buf_free(dy);
    tu_buf_free(dr);
    tu_buf_free(dgrad);
    free(x);
    free(r);
    free(fd);
    free(y);
}

/* ---- linear ---- */

typedef struct linear_case {
    int batch, in, out, bias;
} linear_case;

static const linear_case linear_cases[] = {
    {1, 1, 1, 1}, {1, 7, 3, 1}, {3, 5, 4, 0}, {8, 33, 10, 1}, {17, 64, 31, 1}, {2, 300, 3, 0},
};

static void test_linear_forward_exact(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (size_t s = 0; s < sizeof linear_cases / sizeof linear_cases[0]; s++) {
        const linear_case *t = &linear_cases[s];
        size_t nx = (size_t)t->batch * t->in, nw = (size_t)t->out * t->in;
        size_t ny = (size_t)t->batch * t->out;
        uint64_t seed = 50 + s;
        float *x = ints(nx, -3, 3, &seed), *w = ints(nw, -3, 3, &seed);
        float *b = ints((size_t)t->out, -9, 9, &seed);
        double *want = doubles(ny);
        ref_linear_forward(t->batch, t->in, t->out, x, w, t->bias ? b : NULL, want);
        tu_buf dx = tu_buf_new(ctx, x, nx), dw = tu_buf_new(ctx, w, nw);
        tu_buf db = tu_buf_new(ctx, b, (size_t)t->out), dy = tu_buf_new(ctx, NULL, ny);
        clt_buf none = {NULL, 0};
        TU_OK(ctx, clt_linear_forward(ctx, t->batch, t->in, t->out, dx.b, dw.b,
                                      t->bias ? db.b : none, dy.b));
        char what[64];
        snprintf(what, sizeof what, "linear_forward %dx%d->%d bias %d", t->batch, t->in, t->out,
                 t->bias);
        tu_expect(ctx, what, dy, want, 0, 0);
        tu_buf_free(dx);
        tu_buf_free(dw);
        tu_buf_free(db);
        tu_buf_free(dy);
        free(x);
        free(w);
        free(b);
        free(want);
    }
}

/* All three gradients, then each alone (x or w absent where not read). */
static void test_linear_backward_exact(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (size_t s = 0; s < sizeof linear_cases / sizeof linear_cases[0]; s++) {
        const linear_case *t = &linear_cases[s];
        size_t nx = (size_t)t->batch * t->in, nw = (size_t)t->out * t->in;
        size_t ny = (size_t)t->batch * t->out;
        uint64_t seed = 60 + s;
        float *x = ints(nx, -3, 3, &seed), *w = ints(nw, -3, 3, &seed);
        float *g = ints(ny, -4, 4, &seed);
        double *want_dx = doubles(nx), *want_dw = doubles(nw), *want_db = doubles(t->out);
        ref_linear_backward(t->batch, t->in, t->out, x, w, g, want_dx, want_dw, want_db);
        tu_buf dx = tu_buf_new(ctx, x, nx), dw = tu_buf_new(ctx, w, nw);
        tu_buf dg = tu_buf_new(ctx, g, ny);
        tu_buf gx = tu_buf_new(ctx, NULL, nx), gw = tu_buf_new(ctx, NULL, nw);
        tu_buf gb = tu_buf_new(ctx, NULL, (size_t)t->out);
        clt_buf none = {NULL, 0};
        TU_OK(ctx, clt_linear_backward(ctx, t->batch, t->in, t->out, dx.b, dw.b, dg.b, gx.b, gw.b,
                                       gb.b));
        tu_expect(ctx, "linear dx", gx, want_dx, 0, 0);
        tu_expect(ctx, "linear dw", gw, want_dw, 0, 0);
        tu_expect(ctx, "linear db", gb, want_db, 0, 0);
        tu_buf fresh[3] = {tu_buf_new(ctx, NULL, nx), tu_buf_new(ctx, NULL, nw),
                           tu_buf_new(ctx, NULL, (size_t)t->out)};
        TU_OK(ctx, clt_linear_backward(ctx, t->batch, t->in, t->out, none, dw.b, dg.b, fresh[0].b,
                                       none, none));
        TU_OK(ctx, clt_linear_backward(ctx, t->batch, t->in, t->out, dx.b, none, dg.b, none,
                                       fresh[1].b, none));
        TU_OK(ctx, clt_linear_backward(ctx, t->batch, t->in, t->out, none, none, dg.b, none, none,
                                       fresh[2].b));
        tu_expect(ctx, "linear dx alone", fresh[0], want_dx, 0, 0);
        tu_expect(ctx, "linear dw alone", fresh[1], want_dw, 0, 0);
        tu_expect(ctx, "linear db alone", fresh[2], want_db, 0, 0);
        tu_buf all[] = {dx, dw, dg, gx, gw, gb, fresh[0], fresh[1], fresh[2]};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            tu_buf_free(all[i]);
        free(x);
        free(w);
        free(g);
        free(want_dx);
        free(want_dw);
        free(want_db);
    }
}

/* sum(y * r) for the device forward at the current x, w, b. */
static double linear_objective(clt_context_t ctx, const linear_case *t, tu_buf x, tu_buf w,
                               tu_buf b, tu_buf y, const float *r)
{
    TU_OK(ctx, clt_linear_forward(ctx, t->batch, t->in, t->out, x.b, w.b, b.b, y.b));
    float *got = tu_buf_read_new(ctx, y);
    double l = 0;
    for (size_t i = 0; i < y.n; i++)
        l += (double)got[i] * r[i];
    free(got);
    return l;
}

/* Central differences of one parameter array through the device forward. */
static void linear_fd(clt_context_t ctx, const linear_case *t, tu_buf *bufs, int which, float *host,
                      tu_buf y, const float *r, double *fd)
{
    const float h = 0.5f; /* integers +- 0.5 stay exact, and y is linear in each */
    for (size_t i = 0; i < bufs[which].n; i++) {
        double l[2];
        for (int side = 0; side < 2; side++) {
            float keep = host[i];
            host[i] += side ? -h : h;
            tu_buf_write(ctx, bufs[which], host);
            l[side] = linear_objective(ctx, t, bufs[0], bufs[1], bufs[2], y, r);
            host[i] = keep;
        }
        tu_buf_write(ctx, bufs[which], host);
        fd[i] = (l[0] - l[1]) / (2.0 * h);
    }
}

/* With integer data and a step of 0.5 everything is exact: the device
 * backward must equal the differences of the device forward bit for bit. */
static void test_linear_gradcheck(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const linear_case t = {3, 4, 5, 1};
    size_t n[3] = {(size_t)t.batch * t.in, (size_t)t.out * t.in, (size_t)t.out};
    size_t ny = (size_t)t.batch * t.out;
    uint64_t seed = 71;
    float *host[3] = {ints(n[0], -3, 3, &seed), ints(n[1], -3, 3, &seed), ints(n[2], -3, 3, &seed)};
    float *r = ints(ny, -2, 2, &seed);
    tu_buf bufs[3], grads[3];
    for (int i = 0; i < 3; i++) {
        bufs[i] = tu_buf_new(ctx, host[i], n[i]);
        grads[i] = tu_buf_new(ctx, NULL, n[i]);
    }
    tu_buf y = tu_buf_new(ctx, NULL, ny), dr = tu_buf_new(ctx, r, ny);
    TU_OK(ctx, clt_linear_backward(ctx, t.batch, t.in, t.out, bufs[0].b, bufs[1].b, dr.b,
                                   grads[0].b, grads[1].b, grads[2].b));
    const char *names[3] = {"dx vs finite differences", "dw vs finite differences",
                            "db vs finite differences"};
    for (int i = 0; i < 3; i++) {
        double *fd = doubles(n[i]);
        linear_fd(ctx, &t, bufs, i, host[i], y, r, fd);
        tu_expect(ctx, names[i], grads[i], fd, 0, 0);
        free(fd);
    }
    for (int i = 0; i < 3; i++) {
        tu_buf_free(bufs[i]);
        tu_buf_free(grads[i]);
        free(host[i]);
    }
    tu_buf_free(y);
    tu_buf_free(dr);
    free(r);
}

/* ---- SGD ---- */

static void sgd_run(clt_context_t ctx, size_t count, float lr, float momentum, float wd, int steps,
                    const float *velocity0, uint64_t seed)
{
    float *p = uniform(count, -1, 1, &seed);
    double *want_p = doubles(count), *want_v = doubles(count);
    for (size_t i = 0; i < count; i++) {
        want_p[i] = p[i];
        want_v[i] = 0;
    }
    tu_buf dp = tu_buf_new(ctx, p, count), dv = tu_buf_new(ctx, velocity0, count);
    tu_buf dg = tu_buf_new(ctx, NULL, count);
    float *g = malloc(count * sizeof *g);
    assert_non_null(g);
    for (int s = 0; s < steps; s++) { /* a fresh gradient each step */
        tu_fill_uniform(g, count, -1, 1, &seed);
        tu_buf_write(ctx, dg, g);
        TU_OK(ctx, clt_sgd_momentum_update(ctx, count, dp.b, dg.b, dv.b, lr, momentum, wd));
        ref_sgd_momentum_step(count, want_p, g, want_v, lr, momentum, wd);
    }
    char what[96];
    snprintf(what, sizeof what, "sgd param lr %g momentum %g wd %g", lr, momentum, wd);
    tu_expect(ctx, what, dp, want_p, 1e-6, 1e-5);
    snprintf(what, sizeof what, "sgd velocity lr %g momentum %g wd %g", lr, momentum, wd);
    tu_expect(ctx, what, dv, want_v, 1e-6, 1e-5);
    float *gread = tu_buf_read_new(ctx, dg);
    assert_memory_equal(gread, g, count * sizeof *g); /* grad is read only */
    free(gread);
    tu_buf_free(dp);
    tu_buf_free(dv);
    tu_buf_free(dg);
    free(p);
    free(g);
    free(want_p);
    free(want_v);
}

static void test_sgd_momentum_steps(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t count = 1001;
    float *zeros = calloc(count, sizeof *zeros);
    assert_non_null(zeros);
    sgd_run(ctx, count, 0.1f, 0.9f, 0.01f, 6, zeros, 81);
    sgd_run(ctx, count, 0.05f, 0.5f, 0.0f, 4, zeros, 82);
    sgd_run(ctx, 1, 1.0f, 0.99f, 0.1f, 5, zeros, 83);
    /* momentum 0 never reads the velocity: garbage (NaN included) is fine */
    sgd_run(ctx, count, 0.1f, 0.0f, 0.01f, 3, NULL, 84);
    free(zeros);
}

/* ---- validation ---- */

static void test_bias_relu_reject_bad_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    cl_mem a = tu_raw_new(ctx, 24, 7.0f), b = tu_raw_new(ctx, 24, 7.0f);
    clt_buf A = {a, 0}, B = {b, 0}, none = {NULL, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_bias_add(NULL, 2, 3, 4, A, B));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_bias_add(ctx, 0, 3, 4, A, B));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_bias_add(ctx, 2, -3, 4, A, B));
    TU_FAILS(ctx, CLT_STATUS_SIZE_OVERFLOW, clt_bias_add(ctx, 65536, 65536, 1, A, B));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_bias_add(ctx, 5, 5, 1, A, B));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_bias_add(ctx, 2, 3, 4, A, (clt_buf){b, 22}));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_bias_add(ctx, 2, 3, 4, A, none));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* bias inside y */
             clt_bias_add(ctx, 2, 3, 2, A, (clt_buf){a, 10}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_bias_backward(ctx, 2, 3, 2, A, (clt_buf){a, 11}));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_bias_backward(ctx, 2, 3, 5, A, B));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_relu_forward(ctx, 0, A, B));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_relu_forward(ctx, 25, A, B));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* partial overlap */
             clt_relu_forward(ctx, 12, A, (clt_buf){a, 1}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_relu_backward(ctx, 8, B, A, (clt_buf){a, 4}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_relu_backward(ctx, 8, A, B, (clt_buf){a, 7}));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_relu_backward(ctx, 8, A, B, none));
    tu_raw_expect(ctx, a, 24, 7.0f);
    tu_raw_expect(ctx, b, 24, 7.0f);
    clReleaseMemObject(a);
    clReleaseMemObject(b);
}

static void test_linear_rejects_bad_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* batch 2, in 3, out 4: x 6, w 12, y 8 */
    cl_mem x = tu_raw_new(ctx, 6, 7.0f), w = tu_raw_new(ctx, 12, 7.0f),
           y = tu_raw_new(ctx, 8, 7.0f);
    cl_mem big = tu_raw_new(ctx, 64, 7.0f);
    clt_buf X = {x, 0}, W = {w, 0}, Y = {y, 0}, none = {NULL, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_linear_forward(NULL, 2, 3, 4, X, W, none, Y));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_linear_forward(ctx, 2, 0, 4, X, W, none, Y));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_linear_forward(ctx, 2, 3, 4, X, none, none, Y));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_linear_forward(ctx, 2, 3, 5, X, W, none, Y));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_linear_forward(ctx, 2, 3, 4, X, W, (clt_buf){x, 3}, Y));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* y over x */
             clt_linear_forward(ctx, 2, 3, 4, (clt_buf){big, 0}, W, none, (clt_buf){big, 5}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* y over b */
             clt_linear_forward(ctx, 2, 3, 4, X, W, (clt_buf){big, 6}, (clt_buf){big, 0}));
    /* backward: dy is y's 8 floats, dx 6, dw 12, db 4 */
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_linear_backward(ctx, 2, 3, 4, X, W, Y, none, none, none));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_linear_backward(ctx, 2, 3, 4, X, none, Y, (clt_buf){big, 0}, none, none));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_linear_backward(ctx, 2, 3, 4, none, W, Y, none, (clt_buf){big, 0}, none));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_linear_backward(ctx, 2, 3, 4, X, W, none, none, none, (clt_buf){big, 0}));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE, /* dx over dw */
        clt_linear_backward(ctx, 2, 3, 4, X, W, Y, (clt_buf){big, 0}, (clt_buf){big, 5}, none));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE, /* db over dy */
        clt_linear_backward(ctx, 2, 3, 4, X, W, (clt_buf){big, 0}, none, none, (clt_buf){big, 7}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* dx over x, which dw reads afterwards */
             clt_linear_backward(ctx, 2, 3, 4, (clt_buf){big, 0}, W, Y, (clt_buf){big, 0},
                                 (clt_buf){big, 20}, none));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_linear_backward(ctx, 2, 3, 4, X, W, Y, none, (clt_buf){x, 0}, none));
    tu_raw_expect(ctx, x, 6, 7.0f);
    tu_raw_expect(ctx, w, 12, 7.0f);
    tu_raw_expect(ctx, y, 8, 7.0f);
    tu_raw_expect(ctx, big, 64, 7.0f);
    /* dx may share a buffer with x when dw is not asked for (x is not read) */
    TU_OK(ctx, clt_linear_backward(ctx, 2, 3, 4, (clt_buf){big, 0}, W, Y, (clt_buf){big, 0}, none,
                                   none));
    clReleaseMemObject(x);
    clReleaseMemObject(w);
    clReleaseMemObject(y);
    clReleaseMemObject(big);
}

static void test_sgd_rejects_bad_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    cl_mem p = tu_raw_new(ctx, 10, 7.0f), g = tu_raw_new(ctx, 10, 7.0f),
           v = tu_raw_new(ctx, 10, 7.0f);
    clt_buf P = {p, 0}, G = {g, 0}, V = {v, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_sgd_momentum_update(NULL, 10, P, G, V, 1, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_sgd_momentum_update(ctx, 0, P, G, V, 1, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_sgd_momentum_update(ctx, 10, P, G, V, NAN, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_sgd_momentum_update(ctx, 10, P, G, V, 1, -1, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_sgd_momentum_update(ctx, 10, P, G, V, 1, 0, INFINITY));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_sgd_momentum_update(ctx, 10, P, P, V, 1, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_sgd_momentum_update(ctx, 5, P, G, (clt_buf){p, 4}, 1, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_sgd_momentum_update(ctx, 10, P, G, (clt_buf){v, 1}, 1, 0, 0));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_sgd_momentum_update(ctx, 10, P, (clt_buf){NULL, 0}, V, 1, 0, 0));
    tu_raw_expect(ctx, p, 10, 7.0f);
    tu_raw_expect(ctx, g, 10, 7.0f);
    tu_raw_expect(ctx, v, 10, 7.0f);
    clReleaseMemObject(p);
    clReleaseMemObject(g);
    clReleaseMemObject(v);
}

/* A buffer of another OpenCL context is refused by name. */
static void test_foreign_buffer_refused(void **state)
{
    clt_context_t ctx = tu_ctx(state), other = NULL;
    TU_OK(NULL, clt_context_create(NULL, &other));
    cl_mem mine = tu_raw_new(ctx, 8, 7.0f), theirs = tu_raw_new(other, 8, 7.0f);
    TU_FAILS(ctx, CLT_STATUS_CONTEXT_MISMATCH,
             clt_relu_forward(ctx, 8, (clt_buf){theirs, 0}, (clt_buf){mine, 0}));
    assert_non_null(strstr(clt_context_last_error(ctx), "x"));
    TU_FAILS(ctx, CLT_STATUS_CONTEXT_MISMATCH,
             clt_bias_backward(ctx, 1, 8, 1, (clt_buf){mine, 0}, (clt_buf){theirs, 0}));
    tu_raw_expect(ctx, mine, 8, 7.0f);
    clReleaseMemObject(mine);
    clReleaseMemObject(theirs);
    clt_context_destroy(other);
}

/* The same inputs give the same bits: the reductions have a fixed order. */
static void test_bit_identical_runs(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const int n = 4, c = 6, hw = 5000, batch = 16, in = 50, out = 10;
    uint64_t seed = 91;
    float *dy = uniform((size_t)n * c * hw, -1, 1, &seed);
    float *x = uniform((size_t)batch * in, -1, 1, &seed),
          *w = uniform((size_t)out * in, -1, 1, &seed);
    float *g = uniform((size_t)batch * out, -1, 1, &seed);
    tu_buf d_dy = tu_buf_new(ctx, dy, (size_t)n * c * hw),
           dx = tu_buf_new(ctx, x, (size_t)batch * in);
    tu_buf dw = tu_buf_new(ctx, w, (size_t)out * in), dg = tu_buf_new(ctx, g, (size_t)batch * out);
    tu_buf res[2][4];
    for (int run = 0; run < 2; run++) {
        tu_buf *r = res[run];
        r[0] = tu_buf_new(ctx, NULL, (size_t)c);
        r[1] = tu_buf_new(ctx, NULL, (size_t)batch * out);
        r[2] = tu_buf_new(ctx, NULL, (size_t)out * in);
        r[3] = tu_buf_new(ctx, NULL, (size_t)out);
        TU_OK(ctx, clt_bias_backward(ctx, n, c, hw, d_dy.b, r[0].b));
        TU_OK(ctx, clt_linear_forward(ctx, batch, in, out, dx.b, dw.b, (clt_buf){NULL, 0}, r[1].b));
        TU_OK(ctx, clt_linear_backward(ctx, batch, in, out, dx.b, dw.b, dg.b, (clt_buf){NULL, 0},
                                       r[2].b, r[3].b));
    }
    for (int i = 0; i < 4; i++) {
        float *a = tu_buf_read_new(ctx, res[0][i]), *b = tu_buf_read_new(ctx, res[1][i]);
        assert_memory_equal(a, b, res[0][i].n * sizeof *a);
        free(a);
        free(b);
        tu_buf_free(res[0][i]);
        tu_buf_free(res[1][i]);
    }
    tu_buf_free(d_dy);
    tu_buf_free(dx);
    tu_buf_free(dw);
    tu_buf_free(dg);
    free(dy);
    free(x);
    free(w);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias_add_exact),
        cmocka_unit_test(test_bias_backward),
        cmocka_unit_test(test_relu_forward_backward),
        cmocka_unit_test(test_relu_nan_propagates),
        cmocka_unit_test(test_relu_gradcheck),
        cmocka_unit_test(test_linear_forward_exact),
        cmocka_unit_test(test_linear_backward_exact),
        cmocka_unit_test(test_linear_gradcheck),
        cmocka_unit_test(test_sgd_momentum_steps),
        cmocka_unit_test(test_bias_relu_reject_bad_arguments),
        cmocka_unit_test(test_linear_rejects_bad_arguments),
        cmocka_unit_test(test_sgd_rejects_bad_arguments),
        cmocka_unit_test(test_foreign_buffer_refused),
        cmocka_unit_test(test_bit_identical_runs),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
