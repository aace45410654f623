/* clt_conv2d_find and the perf-db: ranking, persistence, and a damaged or
 * foreign perf-db never leading AUTO astray. */
#define _POSIX_C_SOURCE 200809L
#include "conv_cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[512];

static int setup(void **state)
{
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base)
        mkdir(base, 0755);
    snprintf(tmpl, sizeof tmpl, "%s/find-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    clt_context_t probe = NULL;
    *state = tu_context(&probe) == 0 ? (void *)1 : NULL;
    clt_context_destroy(probe);
    return 0;
}

static clt_context_t open_ctx(clt_cache_mode cache)
{
    clt_context_options opt = {.cache_dir = dir, .cache = cache};
    clt_context_t ctx = NULL;
    TU_OK(NULL, clt_context_create(&opt, &ctx));
    return ctx;
}

static const ref_conv shape3x3 = {2, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1};

static void test_find_ranks_and_records(void **state)
{
    if (!*state)
        skip();
    clt_context_t ctx = open_ctx(CLT_CACHE_ON);
    clt_conv2d_desc d = cc_desc(&shape3x3);
    const clt_conv_op ops[] = {CLT_CONV_FORWARD, CLT_CONV_BACKWARD_DATA, CLT_CONV_BACKWARD_WEIGHTS};
    for (int o = 0; o < 3; o++) {
        clt_conv_algo_perf perf[8];
        int n = 0;
        TU_OK(ctx, clt_conv2d_find(ctx, &d, ops[o], perf, 8, &n));
        assert_int_equal(n, CLT_CONV_ALGO_COUNT - 1); /* every algorithm but AUTO */
        int ok = 0;
        for (int i = 0; i < n; i++) {
            if (perf[i].status != CLT_STATUS_SUCCESS) {
                assert_int_equal(perf[i].status, CLT_STATUS_NOT_SUPPORTED);
                continue;
            }
            assert_int_equal(ok, i); /* successes first */
            ok++;
            assert_true(perf[i].time_ms > 0);
            assert_true(perf[i].max_rel_err < 1e-4);
            if (i > 0)
                assert_true(perf[i].time_ms >= perf[i - 1].time_ms);
        }
        assert_true(ok >= 2); /* direct and im2col at least */
        clt_conv_algo chosen;
        int measured = 0;
        TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, ops[o], &chosen, &measured));
        assert_int_equal(measured, 1);
        assert_int_equal(chosen, perf[0].algo);
    }
    /* a count-only call */
    int n = 0;
    TU_OK(ctx, clt_conv2d_find(ctx, &d, CLT_CONV_FORWARD, NULL, 0, &n));
    assert_int_equal(n, CLT_CONV_ALGO_COUNT - 1);
    TU_FAILS(ctx, CLT_STATUS_INVALID_VALUE,
             clt_conv2d_find(ctx, &d, CLT_CONV_FORWARD, NULL, 3, &n));
    clt_context_destroy(ctx);

    /* a new context (a new process, in effect) reads the choices back */
    ctx = open_ctx(CLT_CACHE_ON);
    for (int o = 0; o < 3; o++) {
        clt_conv_algo chosen;
        int measured = 0;
        TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, ops[o], &chosen, &measured));
        assert_int_equal(measured, 1);
    }
    assert_true(strstr(clt_context_perfdb_path(ctx), dir) != NULL);
    clt_context_destroy(ctx);
}

/* Runs AUTO on the shape and checks it against the reference. */
static void auto_is_correct(clt_context_t ctx)
{
    clt_conv2d_desc d = cc_desc(&shape3x3);
    int p, q;
    ref_conv_out_hw(&shape3x3, &p, &q);
    size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * 9,
           ny = (size_t)d.n * d.k * p * q;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    double *want = malloc(ny * sizeof *want);
    uint64_t s = 3;
    tu_fill_int(x, nx, -2, 2, &s);
    tu_fill_int(w, nw, -2, 2, &s);
    ref_conv2d_forward(&shape3x3, x, w, NULL, 0, want);
    tu_buf dx = tu_buf_new(ctx, x, nx), dw = tu_buf_new(ctx, w, nw), dy = tu_buf_new(ctx, NULL, ny);
    TU_OK(ctx, clt_conv2d_forward(ctx, &d, CLT_CONV_ALGO_AUTO, dx.b, dw.b, (clt_buf){0},
                                  CLT_ACTIVATION_NONE, dy.b, NULL, 0));
    tu_buf_read(ctx, dy, y);
    tu_compare("auto", y, want, ny, 1e-3, 0, NULL);
    tu_buf_free(dx);
    tu_buf_free(dw);
    tu_buf_free(dy);
    free(x);
    free(w);
    free(y);
    free(want);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_damaged_perfdb(void **state)
{
    if (!*state)
        skip();
    clt_context_t ctx = open_ctx(CLT_CACHE_ON);
    char path[1200], header[256];
    snprintf(path, sizeof path, "%s", clt_context_perfdb_path(ctx));
    clt_conv2d_desc d = cc_desc(&shape3x3);
    int n;
    TU_OK(ctx, clt_conv2d_find(ctx, &d, CLT_CONV_FORWARD, NULL, 0, &n));
    clt_context_destroy(ctx);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(header, sizeof header, f));
    fclose(f);

    /* an entry naming an algorithm that cannot run the shape, junk lines,
       a truncated last line: AUTO falls back to its heuristic */
    char text[2048];
    snprintf(text, sizeof text,
             "%s0 2 16 10 10 16 3 3 1 1 1 1 1 1 1 gemm1x1 0.1\nnot a line\n0 2 16 10 10 16 3 "
             "3 1 1 1 1 1 1 1 fft 0.1\n0 2 16 10 10 16 3",
             header);
    write_file(path, text);
    ctx = open_ctx(CLT_CACHE_ON);
    clt_conv_algo chosen;
    int measured = 1;
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 0);
    auto_is_correct(ctx);
    clt_context_destroy(ctx);

    /* another device's (or version's) file is ignored */
    write_file(path, "clt-perfdb 1 0123456789abcdef0123456789abcdef\n"
                     "0 2 16 10 10 16 3 3 1 1 1 1 1 1 1 direct 0.1\n");
    ctx = open_ctx(CLT_CACHE_ON);
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 0);
    clt_context_destroy(ctx);

    /* random bytes */
    f = fopen(path, "wb");
    uint64_t s = 5;
    for (int i = 0; i < 3000; i++)
        fputc((int)(tu_rand(&s) & 0xff), f);
    fclose(f);
    ctx = open_ctx(CLT_CACHE_ON);
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 0);
    auto_is_correct(ctx);
    /* and measuring again repairs it */
    TU_OK(ctx, clt_conv2d_find(ctx, &d, CLT_CONV_FORWARD, NULL, 0, &n));
    clt_context_destroy(ctx);
    ctx = open_ctx(CLT_CACHE_ON);
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 1);
    clt_context_destroy(ctx);
}

static void test_perfdb_in_memory_without_cache(void **state)
{
    if (!*state)
        skip();
    clt_context_t ctx = open_ctx(CLT_CACHE_OFF);
    assert_string_equal(clt_context_perfdb_path(ctx), "");
    ref_conv r = {1, 8, 6, 6, 8, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    clt_conv2d_desc d = cc_desc(&r);
    int n;
    clt_conv_algo chosen;
    int measured = 1;
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 0);
    TU_OK(ctx, clt_conv2d_find(ctx, &d, CLT_CONV_FORWARD, NULL, 0, &n));
    TU_OK(ctx, clt_conv2d_auto_algo(ctx, &d, CLT_CONV_FORWARD, &chosen, &measured));
    assert_int_equal(measured, 1);
    clt_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_ranks_and_records),
        cmocka_unit_test(test_damaged_perfdb),
        cmocka_unit_test(test_perfdb_in_memory_without_cache),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
