/* clt_gemm against the double-precision host reference, once through clt's
 * own kernels (CLT_GEMM=clt) and once through CLBlast (CLT_GEMM=clblast). */
#define _POSIX_C_SOURCE 200809L
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

/* Integer-valued inputs make every sum exact: any error is a wrong result. */
enum { UNIFORM = 0, INTEGER = 1 };

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
    /* 300 columns: A stored transposed is packed first (gemm_cpu.c), below
       it is read in place */
    const size_t sizes[][3] = {{1, 1, 1},    {17, 13, 29}, {33, 65, 7},
                               {5, 100, 31}, {64, 48, 16}, {13, 300, 37}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                gemm_case t = {ta, tb, sizes[i][0], sizes[i][1], sizes[i][2], 0, 1.0f, 0.0f};
                run_case(ctx, &t, INTEGER, 11 + i);
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
        run_case(ctx, &cases[i], INTEGER, 100 + i);
        run_case(ctx, &cases[i], UNIFORM, 200 + i);
    }
}

static void test_gemm_random_larger(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    gemm_case t = {0, 1, 130, 97, 257, 0, 1.0f, 0.0f};
    run_case(ctx, &t, UNIFORM, 7);
}

static void run_all_transposes(clt_context_t ctx, size_t m, size_t n, size_t k, uint64_t seed)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case t = {ta, tb, m, n, k, (m + n + k) % 3, 1.0f, 0.0f};
            run_case(ctx, &t, INTEGER, seed + (uint64_t)(2 * ta + tb));
        }
}

/* Every size around the register tiles' edges: rows of 6 (AVX2) or 8
 * (AVX-512), columns of 16 or 32, so partial tiles of every width occur. */
static void test_gemm_tile_edges(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t ms[] = {1, 5, 6, 7, 8, 9, 12, 13, 17};
    const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49};
    const size_t ks[] = {1, 2, 7};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++)
                run_all_transposes(ctx, ms[i], ns[j], ks[l], 1000 + 100 * i + 10 * j + l);
}

/* k around the chunk lengths the kernels may split k into (powers of two up
 * to 4096), where partial sums are stored and accumulated again. */
static void test_gemm_large_k(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t ks[] = {255, 256, 257, 1023, 1024, 1025, 2049, 4097};
    for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++)
        run_all_transposes(ctx, 13, 37, ks[l], 50 + l);
    gemm_case t = {0, 0, 7, 19, 3001, 2, -1.5f, 0.5f};
    run_case(ctx, &t, INTEGER, 77);
}

/* Odd primes everywhere: no dimension is a multiple of anything. */
static void test_gemm_primes(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    run_all_transposes(ctx, 97, 101, 103, 5);
    run_all_transposes(ctx, 3, 211, 59, 6);
    run_all_transposes(ctx, 127, 5, 67, 7);
}

/* With beta = 0, C may hold garbage (NaN included) that must not reach the
 * result; the padding columns of C stay exactly as they were. */
static void test_gemm_beta0_ignores_garbage(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const size_t sizes[][3] = {{6, 16, 5}, {13, 37, 29}, {40, 70, 300}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int tb = 0; tb < 2; tb++) {
            size_t m = sizes[s][0], n = sizes[s][1], k = sizes[s][2], ldc = n + 3;
            size_t lda = k, ldb = tb ? k : n, nb = tb ? n * ldb : k * ldb;
            float *a = malloc(m * lda * sizeof *a), *b = malloc(nb * sizeof *b);
            float *before = malloc(m * ldc * sizeof *before), *got = malloc(m * ldc * sizeof *got);
            double *want = malloc(m * ldc * sizeof *want);
            assert_true(a && b && before && got && want);
            uint64_t seed = 90 + s;
            tu_fill_int(a, m * lda, -3, 3, &seed);
            tu_fill_int(b, nb, -3, 3, &seed);
            ref_gemm(0, tb, m, n, k, 2.0, a, lda, b, ldb, 0.0, NULL, want, ldc);
            tu_buf da = tu_buf_new(ctx, a, m * lda), db = tu_buf_new(ctx, b, nb);
            tu_buf dc = tu_buf_new(ctx, NULL, m * ldc);
            tu_buf_read(ctx, dc, before);
            TU_OK(ctx, clt_gemm(ctx, CLT_NO_TRANS, tb ? CLT_TRANS : CLT_NO_TRANS, m, n, k, 2.0f,
                                da.b, lda, db.b, ldb, 0.0f, dc.b, ldc));
            tu_buf_read(ctx, dc, got);
            for (size_t i = 0; i < m; i++) {
                tu_compare("gemm beta=0 over garbage", got + i * ldc, want + i * ldc, n, 0, 0,
                           NULL);
                assert_memory_equal(got + i * ldc + n, before + i * ldc + n, 3 * sizeof(float));
            }
            tu_check_canary(ctx, dc);
            tu_buf_free(da);
            tu_buf_free(db);
            tu_buf_free(dc);
            free(a);
            free(b);
            free(before);
            free(got);
            free(want);
        }
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
    run_case(ctx, &t, INTEGER, 3);
    tu_buf_free(a);
    tu_buf_free(c);
}

/* A CLT_GEMM value that names nothing fails context creation, saying so. */
static void test_gemm_env_rejects_unknown(void **state)
{
    (void)tu_ctx(state);
    char *saved = strdup(getenv("CLT_GEMM"));
    assert_non_null(saved);
    setenv("CLT_GEMM", "fastest", 1);
    clt_context_t ctx = NULL;
    clt_status st = clt_context_create(NULL, &ctx);
    setenv("CLT_GEMM", saved, 1);
    free(saved);
    assert_int_equal(st, CLT_STATUS_INVALID_VALUE);
    assert_null(ctx);
    assert_non_null(strstr(clt_context_last_error(NULL), "CLT_GEMM"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_transposes_odd_sizes),
        cmocka_unit_test(test_gemm_alpha_beta_ld),
        cmocka_unit_test(test_gemm_random_larger),
        cmocka_unit_test(test_gemm_tile_edges),
        cmocka_unit_test(test_gemm_large_k),
        cmocka_unit_test(test_gemm_primes),
        cmocka_unit_test(test_gemm_beta0_ignores_garbage),
        cmocka_unit_test(test_gemm_rejects_bad_arguments),
        cmocka_unit_test(test_gemm_env_rejects_unknown),
    };
    /* The context reads CLT_GEMM when it is created: one group per path. */
    int failed = 0;
    setenv("CLT_GEMM", "clt", 1);
    failed +=
        cmocka_run_group_tests_name("gemm, clt kernels", tests, tu_group_setup, tu_group_teardown);
    setenv("CLT_GEMM", "clblast", 1);
    failed +=
        cmocka_run_group_tests_name("gemm, CLBlast", tests, tu_group_setup, tu_group_teardown);
    return failed;
}
