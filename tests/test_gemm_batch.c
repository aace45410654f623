/* clt__gemm_run, the internal strided-batched GEMM every op computes with,
 * against the host reference: batches with gaps between their matrices,
 * offsets, a shared operand (stride 0), more batch items than work-items;
 * through clt's own kernels and through CLBlast. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "ref.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct batch_case {
    int ta, tb;
    size_t m, n, k, batch;
    float alpha, beta;
    int share_a; /* every item multiplies the same A (a_stride 0), as convolutions do */
    size_t seg;  /* B's and C's columns in runs of seg, with gaps between (0: one run) */
} batch_case;

/* Elements one stored matrix spans, plus a gap so items do not touch. */
static size_t item_span(size_t rows, size_t ld)
{
    return rows * ld + 5;
}

static void run_batch(clt_context_t ctx, const batch_case *t, uint64_t seed)
{
    assert_true(!t->seg || (!t->tb && t->n % t->seg == 0));
    size_t runs = t->seg ? t->n / t->seg : 1, w = t->n / runs; /* w columns per run */
    size_t ra = t->ta ? t->k : t->m, ca = t->ta ? t->m : t->k;
    size_t rb = t->tb ? t->n : t->k, cb = t->tb ? t->k : w;
    size_t lda = ca + 1, ldb = cb + 2, ldc = w + 3;
    size_t b_seg = item_span(rb, ldb), c_seg = item_span(t->m, ldc);
    size_t sa = t->share_a ? 0 : item_span(ra, lda), sb = runs * b_seg, sc = runs * c_seg;
    size_t off_a = 7, off_b = 3, off_c = 11;
    size_t na = off_a + (t->share_a ? ra * lda : t->batch * sa);
    size_t nb = off_b + t->batch * sb, nc = off_c + t->batch * sc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *want = malloc(nc * sizeof *want);
    assert_true(a && b && c && want);
    tu_fill_int(a, na, -3, 3, &seed);
    tu_fill_int(b, nb, -3, 3, &seed);
    tu_fill_int(c, nc, -5, 5, &seed);
    /* everything outside the m x n results must stay as it was */
    for (size_t i = 0; i < nc; i++)
        want[i] = c[i];
    for (size_t i = 0; i < t->batch; i++)
        for (size_t q = 0; q < runs; q++)
            for (size_t r = 0; r < t->m; r++) {
                double row[64];
                assert_true(w <= 64);
                const float *ci = c + off_c + i * sc + q * c_seg;
                ref_gemm(t->ta, t->tb, 1, w, t->k, t->alpha,
                         a + off_a + i * sa + (t->ta ? r : r * lda), lda,
                         b + off_b + i * sb + q * b_seg, ldb, t->beta, ci + r * ldc, row, ldc);
                for (size_t j = 0; j < w; j++)
                    want[off_c + i * sc + q * c_seg + r * ldc + j] = row[j];
            }
    tu_buf da = tu_buf_new(ctx, a, na), db = tu_buf_new(ctx, b, nb), dc = tu_buf_new(ctx, c, nc);
    clt__gemm_desc g = {
        .ta = t->ta ? CLT_TRANS : CLT_NO_TRANS,
        .tb = t->tb ? CLT_TRANS : CLT_NO_TRANS,
        .m = t->m,
        .n = t->n,
        .k = t->k,
        .alpha = t->alpha,
        .beta = t->beta,
        .a = da.mem,
        .a_off = TU_CANARY + off_a,
        .lda = lda,
        .a_stride = sa,
        .b = db.mem,
        .b_off = TU_CANARY + off_b,
        .ldb = ldb,
        .b_stride = sb,
        .c = dc.mem,
        .c_off = TU_CANARY + off_c,
        .ldc = ldc,
        .c_stride = sc,
        .batch = t->batch,
        .seg = t->seg,
        .b_seg = b_seg,
        .c_seg = c_seg,
    };
    TU_OK(ctx, clt__gemm_run(ctx, &g));
    tu_buf_read(ctx, dc, c);
    char what[96];
    snprintf(what, sizeof what, "batched gemm ta=%d tb=%d %zux%zux%zu x%zu seg %zu", t->ta, t->tb,
             t->m, t->n, t->k, t->batch, t->seg);
    tu_compare(what, c, want, nc, 0, 0, NULL);
    tu_check_canary(ctx, dc);
    tu_buf_free(da);
    tu_buf_free(db);
    tu_buf_free(dc);
    free(a);
    free(b);
    free(c);
    free(want);
}

/* The path under test is the one CLT_GEMM asked for. */
static void test_gemm_path_chosen(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    assert_int_equal(ctx->gemm.own, strcmp(getenv("CLT_GEMM"), "clt") == 0);
}

static void test_gemm_batch_transposes(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            batch_case t = {ta, tb, 13, 37, 21, 3, 1.0f, 0.0f, 0, 0};
            run_batch(ctx, &t, 10 + (uint64_t)(2 * ta + tb));
            batch_case u = {ta, tb, 7, 16, 1030, 2, -2.0f, 0.5f, 0, 0};
            run_batch(ctx, &u, 20 + (uint64_t)(2 * ta + tb));
        }
}

static void test_gemm_batch_shared_a(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (int ta = 0; ta < 2; ta++) {
        batch_case t = {ta, 0, 9, 50, 17, 4, 1.0f, 1.0f, 1, 0};
        run_batch(ctx, &t, 30 + (uint64_t)ta);
    }
}

/* More items than the work-items the kernels aim for: each runs several. */
static void test_gemm_batch_many(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    batch_case t = {0, 1, 5, 9, 11, 301, 0.5f, -1.0f, 0, 0};
    run_batch(ctx, &t, 40);
    batch_case u = {1, 0, 6, 16, 8, 97, 1.0f, 0.0f, 1, 0};
    run_batch(ctx, &u, 41);
}

/* Columns in runs (a convolution's images side by side): runs that tiles
 * straddle (49, 20), that they fill exactly (32), runs narrower than a tile
 * row (12: taken run by run), k in several chunks adding to C; a beta
 * other than 0 and 1 on runs the tiles take whole (40; 12 where a tile row
 * is 8, on GPUs), which must scale the runs and not the gaps. */
static void test_gemm_segments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    for (int ta = 0; ta < 2; ta++) {
        const batch_case cases[] = {
            {ta, 0, 13, 147, 21, 2, 1.0f, 0.0f, 1, 49},  {ta, 0, 7, 80, 30, 1, -1.0f, 1.0f, 0, 20},
            {ta, 0, 6, 64, 9, 3, 1.0f, 0.0f, 1, 32},     {ta, 0, 5, 36, 8, 2, 2.0f, 0.5f, 0, 12},
            {ta, 0, 9, 100, 2100, 1, 1.0f, 1.0f, 1, 50}, {ta, 0, 5, 80, 8, 2, 2.0f, 0.5f, 0, 40},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            run_batch(ctx, &cases[c], 50 + c);
    }
}

/* batch 0 means one product, as for CLBlast */
static void test_gemm_batch_zero_is_one(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    float host[4] = {1, 2, 3, 4}, out[4];
    tu_buf a = tu_buf_new(ctx, host, 4), c = tu_buf_new(ctx, NULL, 4);
    clt__gemm_desc g = {.ta = CLT_NO_TRANS,
                        .tb = CLT_NO_TRANS,
                        .m = 2,
                        .n = 2,
                        .k = 2,
                        .alpha = 1,
                        .beta = 0,
                        .a = a.mem,
                        .a_off = TU_CANARY,
                        .lda = 2,
                        .b = a.mem,
                        .b_off = TU_CANARY,
                        .ldb = 2,
                        .c = c.mem,
                        .c_off = TU_CANARY,
                        .ldc = 2,
                        .batch = 0};
    TU_OK(ctx, clt__gemm_run(ctx, &g));
    tu_buf_read(ctx, c, out);
    const double want[4] = {7, 10, 15, 22};
    tu_compare("gemm batch 0", out, want, 4, 0, 0, NULL);
    tu_buf_free(a);
    tu_buf_free(c);
}

/* Products whose indices overflow the kernels' ints go to CLBlast. */
static void test_gemm_int_range_decides(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt__gemm_desc g = {.ta = CLT_NO_TRANS,
                        .tb = CLT_NO_TRANS,
                        .m = 64,
                        .n = 64,
                        .k = 64,
                        .lda = 64,
                        .ldb = 64,
                        .ldc = 64,
                        .batch = 1};
    assert_true(clt__gemm_cpu_fits(ctx, &g));
    g.lda = (size_t)1 << 26; /* 63 rows of it pass 2^31 */
    assert_false(clt__gemm_cpu_fits(ctx, &g));
    g.m = 1; /* a single row: its pitch is never stepped over */
    assert_true(clt__gemm_cpu_fits(ctx, &g));
    g.c_off = (size_t)1 << 31;
    assert_false(clt__gemm_cpu_fits(ctx, &g));
    g.c_off = 0;
    g.batch = 3;
    g.b_stride = (size_t)1 << 30;
    assert_false(clt__gemm_cpu_fits(ctx, &g));
    g.b_stride = 4096;
    assert_true(clt__gemm_cpu_fits(ctx, &g));
}

/* A single row of A with a pitch far beyond int: the pitch is never used. */
static void test_gemm_huge_unused_pitch(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    float a[3] = {1, 2, 3}, b[6] = {1, 2, 3, 4, 5, 6}, out[2];
    tu_buf da = tu_buf_new(ctx, a, 3), db = tu_buf_new(ctx, b, 6), dc = tu_buf_new(ctx, NULL, 2);
    clt__gemm_desc g = {.ta = CLT_NO_TRANS,
                        .tb = CLT_NO_TRANS,
                        .m = 1,
                        .n = 2,
                        .k = 3,
                        .alpha = 1,
                        .a = da.mem,
                        .a_off = TU_CANARY,
                        .lda = (size_t)1 << 40,
                        .b = db.mem,
                        .b_off = TU_CANARY,
                        .ldb = 2,
                        .c = dc.mem,
                        .c_off = TU_CANARY,
                        .ldc = (size_t)1 << 40,
                        .batch = 1};
    TU_OK(ctx, clt__gemm_run(ctx, &g));
    tu_buf_read(ctx, dc, out);
    const double want[2] = {22, 28};
    tu_compare("gemm with an unused huge pitch", out, want, 2, 0, 0, NULL);
    tu_check_canary(ctx, dc);
    tu_buf_free(da);
    tu_buf_free(db);
    tu_buf_free(dc);
}

/* The tiles of other devices (width 4: SSE, NEON; 16: AVX-512) and a short
 * k chunk, in blocks of 1-4 column panels, half of them storing C past
 * the caches, forced on this device: each is built from the same
 * cl/gemm.cl with other #defines and must give the same exact results. */
static void test_gemm_other_tiles(void **state)
{
    (void)tu_ctx(state);
    const clt__gemm_cfg tiles[] = {
        {true, 4, 6, 2, 1024, 1, 8, 1},
        {true, 16, 8, 2, 1024, 2, 8, 8},
        {true, 8, 6, 2, 64, 3, 8, 2},
        {true, 8, 4, 1, 32, 4, 3, 3},
    };
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        clt_context_t ctx = NULL;
        TU_OK(NULL, clt_context_create(NULL, &ctx));
        ctx->gemm = tiles[i]; /* before the gemm program is first built */
        if (i % 2)
            ctx->cache_bytes = 8; /* every C counts as large: stored past the caches */
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const batch_case cases[] = {
                    {ta, tb, 1, 1, 1, 1, 1.0f, 0.0f, 0, 0},
                    {ta, tb, 17, 33, 9, 2, 1.0f, 0.0f, 0, 0},
                    {ta, tb, 8, 32, 70, 3, -0.5f, 2.0f, ta, 0},
                    {ta, tb, 9, 31, 200, 1, 1.0f, 1.0f, 0, 0},
                    {ta, tb, 13, 64, 40, 2, 1.0f, 0.0f, 0, 0},              /* aligned whole rows */
                    {ta, 0, 11, 120, 70, 2, 1.0f, tb ? 1.0f : 0.0f, 1, 40}, /* segmented */
                };
                for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
                    run_batch(ctx, &cases[c], 60 + c);
            }
        clt_context_destroy(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test(test_gemm_path_chosen),       cmocka_unit_test(test_gemm_batch_transposes),
        cmocka_unit_test(test_gemm_batch_shared_a),    cmocka_unit_test(test_gemm_batch_many),
        cmocka_unit_test(test_gemm_batch_zero_is_one), cmocka_unit_test(test_gemm_segments),
    };
    /* what CLBlast makes of an unused pitch beyond int is its own business */
    const struct CMUnitTest clt_only[] = {
        cmocka_unit_test(test_gemm_int_range_decides),
        cmocka_unit_test(test_gemm_huge_unused_pitch),
        cmocka_unit_test(test_gemm_other_tiles),
    };
    int failed = 0;
    setenv("CLT_GEMM", "clt", 1);
    failed += cmocka_run_group_tests_name("batched gemm, clt kernels", both, tu_group_setup,
                                          tu_group_teardown);
    failed += cmocka_run_group_tests_name("clt kernels only", clt_only, tu_group_setup,
                                          tu_group_teardown);
    setenv("CLT_GEMM", "clblast", 1);
    failed += cmocka_run_group_tests_name("batched gemm, CLBlast", both, tu_group_setup,
                                          tu_group_teardown);
    return failed;
}
