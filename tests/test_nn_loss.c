/* Softmax cross-entropy and MSE losses against the double-precision host
 * references, with finite-difference checks of their gradients. */
#include "ref.h"
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const clt_buf none = {NULL, 0};

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

/* A device buffer of int32 labels (with the canaries of tu_buf). */
static tu_buf labels_new(clt_context_t ctx, const int *labels, int n)
{
    float *bits = malloc((size_t)n * sizeof *bits);
    assert_non_null(bits);
    memcpy(bits, labels, (size_t)n * sizeof *labels);
    tu_buf b = tu_buf_new(ctx, bits, (size_t)n);
    free(bits);
    return b;
}

static int *random_labels(int n, int classes, uint64_t *seed)
{
    int *l = malloc((size_t)n * sizeof *l);
    assert_non_null(l);
    for (int i = 0; i < n; i++)
        l[i] = (int)(tu_rand(seed) % (uint32_t)classes);
    return l;
}

static float read_scalar(clt_context_t ctx, tu_buf b)
{
    float v;
    tu_buf_read(ctx, b, &v);
    tu_check_canary(ctx, b);
    return v;
}

/* ---- softmax cross-entropy ---- */

typedef struct ce_case {
    int batch, classes;
    float shift; /* added to every logit: exp must not overflow */
} ce_case;

static const ce_case ce_cases[] = {
    {1, 1, 0},    {1, 10, 0},   {7, 13, 0},    {64, 10, 0},
    {5, 1000, 0}, {6, 9, 1000}, {4, 5, -1000}, {3, 4, 80},
};

static void ce_case_run(clt_context_t ctx, const ce_case *t, uint64_t seed)
{
    size_t count = (size_t)t->batch * t->classes;
    float *z = uniform(count, -4, 4, &seed);
    for (size_t i = 0; i < count; i++)
        z[i] += t->shift;
    int *lab = random_labels(t->batch, t->classes, &seed);
    double *want_p = doubles(count), *want_d = doubles(count);
    double want_loss = ref_softmax_ce_forward(t->batch, t->classes, z, lab, want_p);
    ref_softmax_ce_backward(t->batch, t->classes, z, lab, want_d);
    tu_buf dz = tu_buf_new(ctx, z, count), dl = labels_new(ctx, lab, t->batch);
    tu_buf loss = tu_buf_new(ctx, NULL, 1), loss2 = tu_buf_new(ctx, NULL, 1);
    tu_buf probs = tu_buf_new(ctx, NULL, count), grad = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_softmax_cross_entropy_forward(ctx, t->batch, t->classes, dz.b, dl.b, loss.b,
                                                 probs.b));
    TU_OK(ctx,
          clt_softmax_cross_entropy_forward(ctx, t->batch, t->classes, dz.b, dl.b, loss2.b, none));
    TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, t->batch, t->classes, dz.b, dl.b, grad.b));
    char what[96];
    snprintf(what, sizeof what, "ce loss %dx%d shift %g", t->batch, t->classes, t->shift);
    float got = read_scalar(ctx, loss);
    tu_compare(what, &got, &want_loss, 1, 1e-6, 1e-5, NULL);
    assert_true(read_scalar(ctx, loss2) == got); /* probs or not, the same loss */
    snprintf(what, sizeof what, "ce probs %dx%d shift %g", t->batch, t->classes, t->shift);
    tu_expect(ctx, what, probs, want_p, 1e-7, 1e-5);
    snprintf(what, sizeof what, "ce dlogits %dx%d shift %g", t->batch, t->classes, t->shift);
    tu_expect(ctx, what, grad, want_d, 1e-7, 1e-5);

    /* in place: probs over the logits, then dlogits over a fresh copy */
    TU_OK(ctx,
          clt_softmax_cross_entropy_forward(ctx, t->batch, t->classes, dz.b, dl.b, loss2.b, dz.b));
    assert_true(read_scalar(ctx, loss2) == got);
    tu_expect(ctx, "ce probs in place", dz, want_p, 1e-7, 1e-5);
    tu_buf_write(ctx, dz, z);
    TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, t->batch, t->classes, dz.b, dl.b, dz.b));
    tu_expect(ctx, "ce dlogits in place", dz, want_d, 1e-7, 1e-5);
    tu_buf bufs[] = {dz, dl, loss, loss2, probs, grad};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        tu_buf_free(bufs[i]);
    free(z);
    free(lab);
    free(want_p);
    free(want_d);
}

static void test_ce_forward_backward(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (size_t i = 0; i < sizeof ce_cases / sizeof ce_cases[0]; i++)
        ce_case_run(ctx, &ce_cases[i], 100 + i);
}

/* The reference backward against differences of the reference forward, in
 * double: the two references agree with each other. */
static void ce_ref_gradcheck(int batch, int classes, const float *z, const int *lab)
{
    size_t count = (size_t)batch * classes;
    double *zd = doubles(count), *grad = doubles(count), *fd = doubles(count);
    for (size_t i = 0; i < count; i++)
        zd[i] = z[i];
    ref_softmax_ce_backward(batch, classes, z, lab, grad);
    const double h = 1e-5;
    for (size_t i = 0; i < count; i++) {
        double keep = zd[i];
        zd[i] = keep + h;
        double lp = ref_softmax_ce_forward_d(batch, classes, zd, lab, NULL);
        zd[i] = keep - h;
        double lm = ref_softmax_ce_forward_d(batch, classes, zd, lab, NULL);
        zd[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    float *g = malloc(count * sizeof *g);
    assert_non_null(g);
    for (size_t i = 0; i < count; i++)
        g[i] = (float)grad[i];
    tu_compare("reference ce gradient vs finite differences", g, fd, count, 1e-7, 1e-6, NULL);
    free(g);
    free(zd);
    free(grad);
    free(fd);
}

/* The device backward against central differences of the device forward
 * in float; the step is large enough that rounding of the loss stays small. */
static void test_ce_gradcheck(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const int batch = 4, classes = 7;
    const size_t count = (size_t)batch * classes;
    uint64_t seed = 123;
    float *z = uniform(count, -3, 3, &seed);
    int *lab = random_labels(batch, classes, &seed);
    ce_ref_gradcheck(batch, classes, z, lab);
    tu_buf dz = tu_buf_new(ctx, z, count), dl = labels_new(ctx, lab, batch);
    tu_buf loss = tu_buf_new(ctx, NULL, 1), grad = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, batch, classes, dz.b, dl.b, grad.b));
    double *fd = doubles(count);
    for (size_t i = 0; i < count; i++) {
        float keep = z[i], at[2] = {keep + 1e-2f, keep - 1e-2f};
        double l[2];
        for (int side = 0; side < 2; side++) {
            z[i] = at[side];
            tu_buf_write(ctx, dz, z);
            TU_OK(ctx,
                  clt_softmax_cross_entropy_forward(ctx, batch, classes, dz.b, dl.b, loss.b, none));
            l[side] = read_scalar(ctx, loss);
        }
        z[i] = keep;
        tu_buf_write(ctx, dz, z);
        fd[i] = (l[0] - l[1]) / ((double)at[0] - (double)at[1]);
    }
    tu_expect(ctx, "ce dlogits vs finite differences", grad, fd, 1e-4, 1e-3);
    tu_buf_free(dz);
    tu_buf_free(dl);
    tu_buf_free(loss);
    tu_buf_free(grad);
    free(z);
    free(lab);
    free(fd);
}

/* Labels outside [0, classes): NaN loss, zero gradient rows, the other rows
 * and the probabilities as usual. */
static void ce_bad_labels_run(clt_context_t ctx, const int *lab, int bad_row, uint64_t seed)
{
    const int batch = 4, classes = 5;
    const size_t count = (size_t)batch * classes;
    float *z = uniform(count, -2, 2, &seed);
    double *want_p = doubles(count), *want_d = doubles(count);
    double want_loss = ref_softmax_ce_forward(batch, classes, z, lab, want_p);
    ref_softmax_ce_backward(batch, classes, z, lab, want_d);
    assert_true(isnan(want_loss));
    for (int j = 0; j < classes; j++) /* the reference zeroes bad rows */
        assert_true(want_d[(size_t)bad_row * classes + j] == 0);
    tu_buf dz = tu_buf_new(ctx, z, count), dl = labels_new(ctx, lab, batch);
    tu_buf loss = tu_buf_new(ctx, NULL, 1), probs = tu_buf_new(ctx, NULL, count);
    tu_buf grad = tu_buf_new(ctx, NULL, count);
    TU_OK(ctx, clt_softmax_cross_entropy_forward(ctx, batch, classes, dz.b, dl.b, loss.b, probs.b));
    TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, batch, classes, dz.b, dl.b, grad.b));
    assert_true(isnan(read_scalar(ctx, loss)));
    tu_expect(ctx, "ce probs with bad labels", probs, want_p, 1e-7, 1e-5);
    tu_expect(ctx, "ce dlogits with bad labels", grad, want_d, 1e-7, 1e-5);
    tu_buf_free(dz);
    tu_buf_free(dl);
    tu_buf_free(loss);
    tu_buf_free(probs);
    tu_buf_free(grad);
    free(z);
    free(want_p);
    free(want_d);
}

static void test_ce_bad_labels(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* one bad label per run: just outside the range (where a read would
     * still land inside the buffer) and far outside */
    const int labels[4][4] = {{2, -1, 3, 0}, {2, 1, 5, 0}, {INT_MIN, 1, 4, 0}, {0, 1, 4, INT_MAX}};
    const int bad_row[4] = {1, 2, 0, 3};
    for (int i = 0; i < 4; i++)
        ce_bad_labels_run(ctx, labels[i], bad_row[i], 131 + (uint64_t)i);
}

/* ---- MSE ---- */

static void test_mse_forward_backward(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* around the first-stage chunk of 256, and a long one */
    const size_t counts[] = {1, 255, 256, 257, 1000, 100003};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        size_t n = counts[s];
        uint64_t seed = 140 + s;
        float *p = uniform(n, -2, 2, &seed), *t = uniform(n, -2, 2, &seed);
        double want = ref_mse_forward(n, p, t), *want_d = doubles(n);
        ref_mse_backward(n, p, t, want_d);
        tu_buf dp = tu_buf_new(ctx, p, n), dt = tu_buf_new(ctx, t, n);
        tu_buf loss = tu_buf_new(ctx, NULL, 1), grad = tu_buf_new(ctx, NULL, n);
        TU_OK(ctx, clt_mse_loss_forward(ctx, n, dp.b, dt.b, loss.b));
        TU_OK(ctx, clt_mse_loss_backward(ctx, n, dp.b, dt.b, grad.b));
        char what[64];
        snprintf(what, sizeof what, "mse loss %zu", n);
        float got = read_scalar(ctx, loss);
        tu_compare(what, &got, &want, 1, 1e-7, 1e-5, NULL);
        snprintf(what, sizeof what, "mse dpred %zu", n);
        tu_expect(ctx, what, grad, want_d, 1e-12, 1e-6);
        /* in place over either input */
        TU_OK(ctx, clt_mse_loss_backward(ctx, n, dp.b, dt.b, dt.b));
        tu_expect(ctx, "mse dpred over target", dt, want_d, 1e-12, 1e-6);
        tu_buf_write(ctx, dt, t);
        TU_OK(ctx, clt_mse_loss_backward(ctx, n, dp.b, dt.b, dp.b));
        tu_expect(ctx, "mse dpred over pred", dp, want_d, 1e-12, 1e-6);
        tu_buf_free(dp);
        tu_buf_free(dt);
        tu_buf_free(loss);
        tu_buf_free(grad);
        free(p);
        free(t);
        free(want_d);
    }
}

static void test_mse_gradcheck(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t n = 20;
    uint64_t seed = 151;
    float *p = uniform(n, -1, 1, &seed), *t = uniform(n, -1, 1, &seed);
    double *pd = doubles(n), *fd = doubles(n);
    tu_buf dp = tu_buf_new(ctx, p, n), dt = tu_buf_new(ctx, t, n);
    tu_buf loss = tu_buf_new(ctx, NULL, 1), grad = tu_buf_new(ctx, NULL, n);
    TU_OK(ctx, clt_mse_loss_backward(ctx, n, dp.b, dt.b, grad.b));
    for (size_t i = 0; i < n; i++) {
        float keep = p[i], at[2] = {keep + 0.05f, keep - 0.05f};
        double l[2], lref[2];
        for (int side = 0; side < 2; side++) {
            p[i] = at[side];
            tu_buf_write(ctx, dp, p);
            TU_OK(ctx, clt_mse_loss_forward(ctx, n, dp.b, dt.b, loss.b));
            l[side] = read_scalar(ctx, loss);
            for (size_t j = 0; j < n; j++)
                pd[j] = p[j];
            lref[side] = ref_mse_forward_d(n, pd, t);
        }
        p[i] = keep;
        tu_buf_write(ctx, dp, p);
        double step = (double)at[0] - (double)at[1];
        fd[i] = (l[0] - l[1]) / step;
        /* the loss is quadratic: the reference differences are exact */
        double centre = ((double)at[0] + (double)at[1]) / 2;
        double want = 2.0 * (centre - t[i]) / (double)n, ref_fd = (lref[0] - lref[1]) / step;
        assert_true(fabs(ref_fd - want) < 1e-12);
    }
    tu_expect(ctx, "mse dpred vs finite differences", grad, fd, 1e-5, 1e-4);
    tu_buf_free(dp);
    tu_buf_free(dt);
    tu_buf_free(loss);
    tu_buf_free(grad);
    free(p);
    free(t);
    free(pd);
    free(fd);
}

/* ---- determinism ---- */

static void test_losses_bit_identical(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const int batch = 128, classes = 100;
    const size_t count = (size_t)batch * classes, n = 300001;
    uint64_t seed = 161;
    float *z = uniform(count, -5, 5, &seed), *p = uniform(n, -1, 1, &seed);
    float *t = uniform(n, -1, 1, &seed);
    int *lab = random_labels(batch, classes, &seed);
    tu_buf dz = tu_buf_new(ctx, z, count), dl = labels_new(ctx, lab, batch);
    tu_buf dp = tu_buf_new(ctx, p, n), dt = tu_buf_new(ctx, t, n);
    tu_buf out[2][4];
    for (int run = 0; run < 2; run++) {
        tu_buf *o = out[run];
        o[0] = tu_buf_new(ctx, NULL, 1);
        o[1] = tu_buf_new(ctx, NULL, count);
        o[2] = tu_buf_new(ctx, NULL, count);
        o[3] = tu_buf_new(ctx, NULL, 1);
        TU_OK(ctx,
              clt_softmax_cross_entropy_forward(ctx, batch, classes, dz.b, dl.b, o[0].b, o[1].b));
        TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, batch, classes, dz.b, dl.b, o[2].b));
        TU_OK(ctx, clt_mse_loss_forward(ctx, n, dp.b, dt.b, o[3].b));
    }
    for (int i = 0; i < 4; i++) {
        float *a = tu_buf_read_new(ctx, out[0][i]), *b = tu_buf_read_new(ctx, out[1][i]);
        assert_memory_equal(a, b, out[0][i].n * sizeof *a);
        free(a);
        free(b);
        tu_buf_free(out[0][i]);
        tu_buf_free(out[1][i]);
    }
    tu_buf_free(dz);
    tu_buf_free(dl);
    tu_buf_free(dp);
    tu_buf_free(dt);
    free(z);
    free(p);
    free(t);
    free(lab);
}

/* ---- validation ---- */

static void test_losses_reject_bad_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* batch 2, classes 3: logits 6 floats, labels 2 ints (zeros are valid) */
    cl_mem z = tu_raw_new(ctx, 6, 7.0f), l = tu_raw_new(ctx, 2, 0.0f);
    cl_mem o = tu_raw_new(ctx, 6, 7.0f), big = tu_raw_new(ctx, 32, 0.0f);
    clt_buf Z = {z, 0}, L = {l, 0}, O = {o, 0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_softmax_cross_entropy_forward(NULL, 2, 3, Z, L, O, none));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_softmax_cross_entropy_forward(ctx, 0, 3, Z, L, O, none));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_softmax_cross_entropy_forward(ctx, 2, -3, Z, L, O, none));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, /* 3 labels in 2 ints */
             clt_softmax_cross_entropy_forward(ctx, 3, 2, Z, L, O, none));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_softmax_cross_entropy_forward(ctx, 2, 3, Z, L, none, none));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* loss inside the logits */
             clt_softmax_cross_entropy_forward(ctx, 2, 3, Z, L, (clt_buf){z, 5}, none));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* loss over the labels' bytes */
             clt_softmax_cross_entropy_forward(ctx, 2, 3, Z, (clt_buf){big, 0}, (clt_buf){big, 1},
                                               none));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE, /* probs partly over the logits */
        clt_softmax_cross_entropy_forward(ctx, 2, 3, (clt_buf){big, 0}, L, O, (clt_buf){big, 3}));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE, /* probs over the labels */
        clt_softmax_cross_entropy_forward(ctx, 2, 3, Z, (clt_buf){big, 10}, O, (clt_buf){big, 6}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* loss over probs */
             clt_softmax_cross_entropy_forward(ctx, 2, 3, Z, L, (clt_buf){o, 2}, O));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_softmax_cross_entropy_backward(ctx, 2, 3, Z, L, none));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_softmax_cross_entropy_backward(ctx, 2, 3, Z, none, O));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE,
        clt_softmax_cross_entropy_backward(ctx, 2, 3, (clt_buf){big, 0}, L, (clt_buf){big, 1}));
    TU_FAILS(
        ctx, CLT_STATUS_INVALID_VALUE,
        clt_softmax_cross_entropy_backward(ctx, 2, 3, Z, (clt_buf){big, 0}, (clt_buf){big, 1}));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_softmax_cross_entropy_backward(ctx, 2, 3, Z, L, (clt_buf){o, 1}));
    /* MSE: pred Z, target O (6 each) */
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_mse_loss_forward(NULL, 6, Z, O, L));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_mse_loss_forward(ctx, 0, Z, O, L));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_mse_loss_forward(ctx, 6, Z, L, O));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_mse_loss_forward(ctx, 6, Z, O, (clt_buf){o, 5}));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, clt_mse_loss_backward(ctx, 5, Z, O, (clt_buf){o, 1}));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, clt_mse_loss_backward(ctx, 6, Z, O, L));
    tu_raw_expect(ctx, z, 6, 7.0f);
    tu_raw_expect(ctx, l, 2, 0.0f);
    tu_raw_expect(ctx, o, 6, 7.0f);
    tu_raw_expect(ctx, big, 32, 0.0f);
    clReleaseMemObject(z);
    clReleaseMemObject(l);
    clReleaseMemObject(o);
    clReleaseMemObject(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce_forward_backward),
        cmocka_unit_test(test_ce_gradcheck),
        cmocka_unit_test(test_ce_bad_labels),
        cmocka_unit_test(test_mse_forward_backward),
        cmocka_unit_test(test_mse_gradcheck),
        cmocka_unit_test(test_losses_bit_identical),
        cmocka_unit_test(test_losses_reject_bad_arguments),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
