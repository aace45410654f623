/* The binary cache: hits, and every kind of bad entry rebuilt, never trusted;
 * CLT_CACHE=off; a broken kernel source surfacing its build log. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static int setup(void **state)
{
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base) {
        mkdir(base, 0755);
        snprintf(tmpl, sizeof tmpl, "%s/cache-XXXXXX", base);
    } else {
        snprintf(tmpl, sizeof tmpl, "/tmp/clt-cache-XXXXXX");
    }
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    clt_context_t probe = NULL;
    *state = tu_context(&probe) == 0 ? (void *)1 : NULL;
    clt_context_destroy(probe);
    return 0;
}

static clt_context_t open_ctx(const char *cache_dir, const char *options)
{
    clt_context_options opt = {.cache_dir = cache_dir, .build_options = options};
    clt_context_t ctx = NULL;
    TU_OK(NULL, clt_context_create(&opt, &ctx));
    return ctx;
}

static clt_load_stats load(clt_context_t ctx)
{
    clt_load_stats s;
    TU_OK(ctx, clt_context_load_kernels(ctx, &s));
    return s;
}

/* A kernel from the cached program gives the right numbers. */
static void check_results(clt_context_t ctx)
{
    tu_buf b = tu_buf_new(ctx, NULL, 37);
    TU_OK(ctx, clt_fill(ctx, b.b, 37, 4.25f));
    float out[37];
    tu_buf_read(ctx, b, out);
    for (int i = 0; i < 37; i++)
        assert_true(out[i] == 4.25f);
    tu_check_canary(ctx, b);
    tu_buf_free(b);
}

static int count_entries(const char *path, const char *prefix, char *first, size_t cap)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".bin") &&
            !strncmp(e->d_name, prefix, strlen(prefix))) {
            if (n++ == 0 && first)
                snprintf(first, cap, "%s/%s", path, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_miss_then_hit(void **state)
{
    if (!*state)
        skip();
    clt_context_t a = open_ctx(dir, NULL);
    clt_load_stats s = load(a);
    assert_int_equal(s.cache_enabled, 1);
    assert_int_equal(s.cache_misses, s.programs);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(count_entries(dir, "", NULL, 0), s.programs);
    check_results(a);
    clt_context_destroy(a);

    clt_context_t b = open_ctx(dir, NULL);
    s = load(b);
    assert_int_equal(s.cache_hits, s.programs);
    assert_int_equal(s.cache_misses, 0);
    check_results(b);
    clt_context_destroy(b);
}

typedef void (*damage_fn)(const char *entry, const char *foreign);

static void flip_middle(const char *entry, const char *foreign)
{
    (void)foreign;
    FILE *f = fopen(entry, "r+b");
    assert_non_null(f);
    long size = file_size(entry);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void truncate_half(const char *entry, const char *foreign)
{
    (void)foreign;
    assert_int_equal(truncate(entry, file_size(entry) / 2), 0);
}

static void truncate_empty(const char *entry, const char *foreign)
{
    (void)foreign;
    assert_int_equal(truncate(entry, 0), 0);
}

static void random_bytes(const char *entry, const char *foreign)
{
    (void)foreign;
    FILE *f = fopen(entry, "wb");
    uint64_t s = 99;
    for (int i = 0; i < 5000; i++)
        fputc((int)(tu_rand(&s) & 0xff), f);
    fclose(f);
}

static void append_bytes(const char *entry, const char *foreign)
{
    (void)foreign;
    FILE *f = fopen(entry, "ab");
    fputs("trailing", f);
    fclose(f);
}

/* A valid entry written for another key (other build options). */
static void replace_with_foreign(const char *entry, const char *foreign)
{
    FILE *in = fopen(foreign, "rb"), *out = fopen(entry, "wb");
    assert_true(in && out);
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(c, out);
    fclose(in);
    fclose(out);
}

static void test_bad_entries_are_rebuilt(void **state)
{
    if (!*state)
        skip();
    /* a foreign entry: same program, different key */
    char fdir[600], foreign[1200], entry[1200];
    snprintf(fdir, sizeof fdir, "%s/foreign", dir);
    clt_context_t f = open_ctx(fdir, "-DCLT_TEST_FOREIGN=1");
    load(f);
    clt_context_destroy(f);
    assert_true(count_entries(fdir, "eltwise-", foreign, sizeof foreign) == 1);

    clt_context_t warm = open_ctx(dir, NULL);
    clt_load_stats full = load(warm);
    clt_context_destroy(warm);
    assert_int_equal(count_entries(dir, "eltwise-", entry, sizeof entry), 1);

    const damage_fn damage[] = {flip_middle,  truncate_half, truncate_empty,
                                random_bytes, append_bytes,  replace_with_foreign};
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        damage[i](entry, foreign);
        clt_context_t ctx = open_ctx(dir, NULL);
        clt_load_stats s = load(ctx);
        assert_int_equal(s.cache_misses, 1); /* the damaged one, rebuilt */
        assert_int_equal(s.cache_hits, full.programs - 1);
        check_results(ctx);
        clt_context_destroy(ctx);
        /* ... and written back good */
        ctx = open_ctx(dir, NULL);
        s = load(ctx);
        assert_int_equal(s.cache_hits, full.programs);
        clt_context_destroy(ctx);
    }
}

static void test_cache_off(void **state)
{
    if (!*state)
        skip();
    char off[600];
    snprintf(off, sizeof off, "%s/off", dir);
    setenv("CLT_CACHE", "off", 1);
    clt_context_t ctx = open_ctx(off, NULL);
    unsetenv("CLT_CACHE");
    clt_load_stats s = load(ctx);
    assert_int_equal(s.cache_enabled, 0);
    assert_int_equal(s.cache_misses, s.programs);
    assert_string_equal(clt_context_cache_dir(ctx), "");
    check_results(ctx);
    clt_context_destroy(ctx);
    assert_int_equal(count_entries(off, "", NULL, 0), 0);

    clt_context_options opt = {.cache_dir = off, .cache = CLT_CACHE_OFF};
    TU_OK(NULL, clt_context_create(&opt, &ctx));
    s = load(ctx);
    assert_int_equal(s.cache_enabled, 0);
    clt_context_destroy(ctx);
    assert_int_equal(count_entries(off, "", NULL, 0), 0);
}

static void test_broken_source_surfaces_build_log(void **state)
{
    if (!*state)
        skip();
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    TU_OK(NULL, clt_context_create(&opt, &ctx));
    clt__override_source("eltwise", "__kernel void fill(__global float *y, int o, int n, float v)\n"
                                    "{ y[o] = undeclared_identifier_xyz; }\n");
    tu_buf b = tu_buf_new(ctx, NULL, 8);
    clt_status st = clt_fill(ctx, b.b, 8, 1.0f);
    clt__override_source("eltwise", NULL);
    assert_int_equal(st, CLT_STATUS_BUILD_FAILED);
    const char *msg = clt_context_last_error(ctx);
    assert_non_null(strstr(msg, "build log"));
    assert_non_null(strstr(msg, "undeclared_identifier_xyz"));
    /* the context is still usable once the source is sound again */
    TU_OK(ctx, clt_fill(ctx, b.b, 8, 1.0f));
    tu_buf_free(b);
    check_results(ctx);
    clt_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_then_hit),
        cmocka_unit_test(test_bad_entries_are_rebuilt),
        cmocka_unit_test(test_cache_off),
        cmocka_unit_test(test_broken_source_surfaces_build_log),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
