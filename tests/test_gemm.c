/* clt_gemm against the double-precision host reference. */
#include "ref.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_case {
    int ta, tb;
    size_t m, n, k, pad; /* pad: extra columns in each leading dimension */
    float alpha, beta;
} gemm_case;

static void run_case(clt_context_t ctx, const gemm_case *t, int integer, uint64_t seed)
{
    size_t ra = t->ta ? t->k : t->m, ca = t->ta ? t->m : t->k;
    size_t rb = t->tb ? t->n : t->k, cb = t->tb ? t->k : t->n;
    size_t lda = ca + t->pad, ldb = cb + t->pad, ldc = t->n + t->pad;
    size_t na = ra * lda, nb = rb * ldb, nc = t->m * ldc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *want = malloc(nc * sizeof *want);
    assert_true(a && b && c && want);
    uint64_t s = seed;
    if (integer) {
        tu_fill_int(a, na, -3, 3, &s);
        tu_fill_int(b, nb, -3, 3, &s);
        tu_fill_int(c, nc, -5, 5, &s);
    } else {
        tu_fill_uniform(a, na, -1, 1, &s);
        tu_fill_uniform(b, nb, -1, 1, &s);
        tu_fill_uniform(c, nc, -1, 1, &s);
    }
    ref_gemm(t->ta, t->tb, t->m, t->n, t->k, t->alpha, a, lda, b, ldb, t->beta, c, want, ldc);
    /* padding columns of C must stay as they were */
    for (size_t i = 0; i < t->m; i++)
        for (size_t j = t->n; j < ldc; j++)
            want[i * ldc + j] = c[i * ldc + j];
    tu_buf da = tu_buf_new(ctx, a, na), db = tu_buf_new(ctx, b, nb), dc = tu_buf_new(ctx, c, nc);
    TU_OK(ctx, clt_gemm(ctx, t->ta ? CLT_TRANS : CLT_NO_TRANS, t->tb ? CLT_TRANS : CLT_NO_TRANS,
                        t->m, t->n, t->k, t->alpha, da.b, lda, db.b, ldb, t->beta, dc.b, ldc));
    tu_buf_read(ctx, dc, c);
    char what[96];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d %zux%zux%zu", t->ta, t->tb, t->m, t->n, t->k);
    double tol = integer ? 0 : 1e-5 * (double)t->k;
    tu_compare(what, c, want, nc, tol, integer ? 0 : 1e-4, NULL);
    tu_check_canary(ctx, dc);
    tu_buf_free(da);
    tu_buf_free(db);
    tu_buf_free(dc);
    free(a);
    free(b);
    free(c);
    free(want);
}

static void test_gemm_transposes_odd_sizes(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t sizes[][3] = {{1, 1, 1}, {17, 13, 29}, {33, 65, 7}, {5, 100, 31}, {64, 48, 16}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                gemm_case t = {ta, tb, sizes[i][0], sizes[i][1], sizes[i][2], 0, 1.0f, 0.0f};
                run_case(ctx, &t, 1, 11 + i);
            }
}

static void test_gemm_alpha_beta_ld(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    gemm_case cases[] = {
        {0, 0, 19, 23, 11, 3, 2.0f, -1.0f},
        {1, 0, 9, 31, 18, 5, -0.5f, 0.5f},
        {0, 1, 40, 3, 37, 1, 1.0f, 1.0f},
        {1, 1, 7, 7, 70, 2, 0.25f, 2.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(ctx, &cases[i], 1, 100 + i);
        run_case(ctx, &cases[i], 0, 200 + i);
    }
}

static void test_gemm_random_larger(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    gemm_case t = {0, 1, 130, 97, 257, 0, 1.0f, 0.0f};
    run_case(ctx, &t, 0, 7);
}

static void test_gemm_rejects_bad_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    /* exact-size buffers of 16 floats, so that overruns show */
    float host[16] = {0};
    cl_int err;
    cl_context cl = clt_context_cl_context(ctx);
    tu_buf a = {0}, c = {0};
    a.mem = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof host, host, &err);
    c.mem = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof host, host, &err);
    a.b = (clt_buf){a.mem, 0};
    c.b = (clt_buf){c.mem, 0};
    clt_buf none = {0};
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_gemm(NULL, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, a.b, 4, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, none, 4, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_gemm(ctx, (clt_transpose)7, CLT_NO_TRANS, 4, 4, 4, 1, a.b, 4, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 0, 4, 4, 1, a.b, 4, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* lda < k */
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, a.b, 3, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL, /* 5x4 C does not fit 16 floats */
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 5, 4, 4, 1, a.b, 4, a.b, 4, 0, c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_SIZE_OVERFLOW,
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, a.b, SIZE_MAX / 2, a.b, 4, 0,
                      c.b, 4));
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE, /* C aliases A */
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, a.b, 4, a.b, 4, 0, a.b, 4));
    clt_buf shifted = {c.mem, 1}; /* runs one past the end */
    TU_FAILS(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
             clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 4, 4, 4, 1, a.b, 4, a.b, 4, 0, shifted, 4));
    /* nothing was written, and the context still works */
    float out[16];
    assert_int_equal(clEnqueueReadBuffer(clt_context_queue(ctx), c.mem, CL_TRUE, 0, sizeof out, out,
                                         0, NULL, NULL),
                     CL_SUCCESS);
    for (int i = 0; i < 16; i++)
        assert_true(out[i] == 0.0f);
    gemm_case t = {0, 0, 4, 4, 4, 0, 1, 0};
    run_case(ctx, &t, 1, 3);
    tu_buf_free(a);
    tu_buf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_transposes_odd_sizes),
        cmocka_unit_test(test_gemm_alpha_beta_ld),
        cmocka_unit_test(test_gemm_random_larger),
        cmocka_unit_test(test_gemm_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
