/* The binary cache: hits, and every kind of bad entry rebuilt, never trusted;
 * a missing, unwritable or impossible cache directory; two processes filling
 * one cache at once; CLT_CACHE=off; a broken kernel source surfacing its
 * build log. In every case results stay correct: at worst, programs are
 * rebuilt. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* The header alone (88 bytes): the payload is missing. */
static void header_only(const char *entry, const char *foreign)
{
    (void)foreign;
    assert_int_equal(truncate(entry, 88), 0);
}

/* A future format version. */
static void other_version(const char *entry, const char *foreign)
{
    (void)foreign;
    FILE *f = fopen(entry, "r+b");
    assert_non_null(f);
    fseek(f, 8, SEEK_SET); /* after the magic */
    fputc(0x7f, f);
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

    const damage_fn damage[] = {flip_middle,  truncate_half, truncate_empty, random_bytes,
                                append_bytes, header_only,   other_version,  replace_with_foreign};
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

/* A cache directory that does not exist yet is created, parents too. */
static void test_missing_dir_is_created(void **state)
{
    if (!*state)
        skip();
    char nested[700];
    snprintf(nested, sizeof nested, "%s/missing/a/b", dir);
    clt_context_t ctx = open_ctx(nested, NULL);
    clt_load_stats s = load(ctx);
    assert_int_equal(s.cache_misses, s.programs);
    check_results(ctx);
    clt_context_destroy(ctx);
    assert_int_equal(count_entries(nested, "", NULL, 0), s.programs);
    ctx = open_ctx(nested, NULL);
    s = load(ctx);
    assert_int_equal(s.cache_hits, s.programs);
    clt_context_destroy(ctx);
}

/* A cache that cannot be written: everything is built, results are right,
 * nothing fails. */
static void expect_cacheless(const char *cache_dir)
{
    clt_context_t ctx = open_ctx(cache_dir, NULL);
    clt_load_stats s = load(ctx);
    assert_int_equal(s.cache_misses, s.programs);
    check_results(ctx);
    clt_context_destroy(ctx);
}

/* The path is a regular file, or lies under one: mkdir fails. */
static void test_dir_is_a_file(void **state)
{
    if (!*state)
        skip();
    char file[700], under[800];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fputs("not a directory", f);
    fclose(f);
    snprintf(under, sizeof under, "%s/sub/dir", file);
    expect_cacheless(file);
    expect_cacheless(under);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 15); /* left alone */
}

/* A read-only directory: entries there are used, none can be added. */
static void test_read_only_dir(void **state)
{
    if (!*state)
        skip();
    if (geteuid() == 0) {
        print_message("skipped: running as root, which ignores permissions (the unwritable case "
                      "is covered by test_dir_is_a_file)\n");
        skip();
    }
    char ro[700];
    snprintf(ro, sizeof ro, "%s/read-only", dir);
    assert_int_equal(mkdir(ro, 0755), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    expect_cacheless(ro);
    assert_int_equal(count_entries(ro, "", NULL, 0), 0);
    /* filled while writable, then read-only: hits */
    assert_int_equal(chmod(ro, 0755), 0);
    clt_context_t ctx = open_ctx(ro, NULL);
    clt_load_stats full = load(ctx);
    clt_context_destroy(ctx);
    assert_int_equal(chmod(ro, 0555), 0);
    ctx = open_ctx(ro, NULL);
    clt_load_stats s = load(ctx);
    assert_int_equal(s.cache_hits, full.programs);
    check_results(ctx);
    clt_context_destroy(ctx);
    assert_int_equal(chmod(ro, 0755), 0);
}

/* An entry's path taken by a directory: rebuilt each time, never fatal. */
static void test_entry_is_a_directory(void **state)
{
    if (!*state)
        skip();
    char cdir[700], entry[1200];
    snprintf(cdir, sizeof cdir, "%s/entry-dir", dir);
    clt_context_t ctx = open_ctx(cdir, NULL);
    clt_load_stats full = load(ctx);
    clt_context_destroy(ctx);
    assert_int_equal(count_entries(cdir, "eltwise-", entry, sizeof entry), 1);
    assert_int_equal(remove(entry), 0);
    assert_int_equal(mkdir(entry, 0755), 0);
    char inside[1300];
    snprintf(inside, sizeof inside, "%s/keep", entry); /* non-empty: rename cannot replace it */
    fclose(fopen(inside, "wb"));
    for (int round = 0; round < 2; round++) {
        ctx = open_ctx(cdir, NULL);
        clt_load_stats s = load(ctx);
        assert_int_equal(s.cache_misses, 1);
        assert_int_equal(s.cache_hits, full.programs - 1);
        check_results(ctx);
        clt_context_destroy(ctx);
    }
}

/* ---- two processes filling one empty cache at once ---- */

/* The child's side (this binary run with --fill DIR): waits for the go on
 * stdin, loads every program through the cache, checks a result. Exit
 * status: 0 when all went well. */
static int fill_child(const char *cache_dir)
{
    clt_context_options opt = {.cache_dir = cache_dir};
    clt_context_t ctx = NULL;
    if (clt_context_create(&opt, &ctx) != CLT_STATUS_SUCCESS)
        return 2;
    char go;
    if (read(STDIN_FILENO, &go, 1) != 1)
        return 3;
    clt_load_stats s;
    int rc = 0;
    if (clt_context_load_kernels(ctx, &s) != CLT_STATUS_SUCCESS ||
        s.cache_hits + s.cache_misses != s.programs)
        rc = 4;
    cl_int err;
    cl_mem m = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, 64 * sizeof(float),
                              NULL, &err);
    float out[64];
    if (rc == 0 && (err != CL_SUCCESS || clt_fill(ctx, (clt_buf){m, 0}, 64, 1.5f) ||
                    clEnqueueReadBuffer(clt_context_queue(ctx), m, CL_TRUE, 0, sizeof out, out, 0,
                                        NULL, NULL) != CL_SUCCESS))
        rc = 5;
    for (int i = 0; rc == 0 && i < 64; i++)
        if (out[i] != 1.5f)
            rc = 6;
    if (m)
        clReleaseMemObject(m);
    clt_context_destroy(ctx);
    return rc;
}

/* Starts this binary as a fill child; *go is the write end of its stdin. */
static pid_t spawn_child(const char *self, const char *cache_dir, int *go)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* a fresh process: OpenCL state does not survive fork */
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "--fill", cache_dir, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    *go = fds[1];
    return pid;
}

static const char *self_path;

static void test_two_processes_fill_at_once(void **state)
{
    if (!*state)
        skip();
    char shared[700];
    snprintf(shared, sizeof shared, "%s/shared", dir);
    const int n = 2;
    pid_t pid[2];
    int go[2];
    for (int i = 0; i < n; i++)
        pid[i] = spawn_child(self_path, shared, &go[i]);
    sleep(1); /* both have made their contexts (no programs yet) */
    for (int i = 0; i < n; i++) {
        assert_int_equal(write(go[i], "g", 1), 1);
        close(go[i]);
    }
    for (int i = 0; i < n; i++) {
        int status = 0;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("fill child %d: %s %d", i, WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    /* every entry sound, no temporary left behind */
    clt_context_t ctx = open_ctx(shared, NULL);
    clt_load_stats s = load(ctx);
    assert_int_equal(s.cache_hits, s.programs);
    check_results(ctx);
    clt_context_destroy(ctx);
    DIR *d = opendir(shared);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            fail_msg("temporary file left behind: %s", e->d_name);
    closedir(d);
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

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--fill"))
        return fill_child(argv[2]);
    self_path = argv[0];
    const char *filter = getenv("CLT_TEST_FILTER"); /* e.g. one case under valgrind */
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_then_hit),
        cmocka_unit_test(test_bad_entries_are_rebuilt),
        cmocka_unit_test(test_missing_dir_is_created),
        cmocka_unit_test(test_dir_is_a_file),
        cmocka_unit_test(test_read_only_dir),
        cmocka_unit_test(test_entry_is_a_directory),
        cmocka_unit_test(test_two_processes_fill_at_once),
        cmocka_unit_test(test_cache_off),
        cmocka_unit_test(test_broken_source_surfaces_build_log),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
