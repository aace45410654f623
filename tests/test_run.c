/* cltool run, end to end: the built cltool (CLTOOL_PATH) runs on .npy files
 * written here, and its outputs are compared with the library called
 * directly (bit for bit, same algorithm, same device) and with the
 * double-precision host references; then the input and usage errors, each
 * exiting 2 with a message and leaving no output file behind. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "ref.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char dir[512];
static char tool_stderr[8192];

/* ---- files ---- */

static void remove_all(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove(p);
        }
    closedir(d);
}

static int setup(void **state)
{
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base) {
        mkdir(base, 0755);
        snprintf(tmpl, sizeof tmpl, "%s/run-XXXXXX", base);
    } else {
        snprintf(tmpl, sizeof tmpl, "/tmp/clt-run-XXXXXX");
    }
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    return tu_group_setup(state);
}

static int teardown(void **state)
{
    remove_all();
    rmdir(dir);
    return tu_group_teardown(state);
}

/* A path in the test directory (one of a few rotating buffers). */
static const char *path_of(const char *name)
{
    static char bufs[16][1024];
    static int next;
    char *p = bufs[next++ % 16];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static int exists(const char *name)
{
    return access(path_of(name), F_OK) == 0;
}

/* Temporary files left in the directory. */
static int count_temporaries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void save(const char *name, npy_dtype t, const void *data, int ndim, const size_t *shape)
{
    npy_array a = {.dtype = t, .ndim = ndim, .data = (void *)data};
    memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
    assert_int_equal(npy_shape_count(ndim, shape, &a.count, NULL, 0), 0);
    char err[512];
    if (npy_save(path_of(name), &a, err, sizeof err))
        fail_msg("saving %s: %s", name, err);
}

static void save4(const char *name, const float *data, int n, int c, int h, int w)
{
    save(name, NPY_FLOAT32, data, 4, (size_t[]){(size_t)n, (size_t)c, (size_t)h, (size_t)w});
}

/* int64 indices as NumPy writes them (npy.c writes int32 only). */
static void save_int64(const char *name, const int *v, size_t count, int ndim, const size_t *shape)
{
    char shp[128], dict[256];
    npy_format_shape(ndim, shape, shp, sizeof shp);
    int len =
        snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': %s, }", shp);
    size_t hlen = ((size_t)len + 11 + 63) / 64 * 64 - 10;
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hlen, (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)len, f);
    for (size_t i = (size_t)len; i + 1 < hlen; i++)
        fputc(' ', f);
    fputc('\n', f);
    for (size_t i = 0; i < count; i++) {
        int64_t x = v[i];
        fwrite(&x, 8, 1, f); /* little-endian hosts */
    }
    assert_int_equal(fclose(f), 0);
}

/* Loads an output and checks its dtype and shape; the caller frees. */
static void *load(const char *name, npy_dtype t, int ndim, const size_t *shape)
{
    npy_array a;
    char err[512];
    if (npy_load(path_of(name), t == NPY_FLOAT32 ? NPY_WANT_FLOAT32 : NPY_WANT_INDEX, &a, err,
                 sizeof err))
        fail_msg("loading %s: %s", name, err);
    assert_int_equal(a.dtype, t);
    assert_int_equal(a.ndim, ndim);
    for (int i = 0; i < ndim; i++)
        if (a.shape[i] != shape[i])
            fail_msg("%s: dimension %d is %zu, expected %zu", name, i, a.shape[i], shape[i]);
    return a.data;
}

static float *load4(const char *name, int n, int c, int h, int w)
{
    return load(name, NPY_FLOAT32, 4, (size_t[]){(size_t)n, (size_t)c, (size_t)h, (size_t)w});
}

/* ---- running cltool ---- */

/* Runs "cltool run" with the arguments (NULL-terminated; "@name" stands for
 * the file name in the test directory). Returns the exit status; stderr is
 * kept in tool_stderr. */
static int run_tool(const char *first, ...)
{
    static char paths[32][1024];
    char *argv[64];
    int n = 0, np = 0;
    argv[n++] = (char *)CLTOOL_PATH;
    argv[n++] = (char *)"run";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(n < 62 && np < 32);
        if (a[0] == '@') {
            snprintf(paths[np], sizeof paths[0], "%s/%s", dir, a + 1);
            argv[n++] = paths[np++];
        } else {
            argv[n++] = (char *)a;
        }
    }
    va_end(ap);
    argv[n] = NULL;

    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s/stdout.txt", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, CLTOOL_PATH, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        fail_msg("cannot start %s: %s", CLTOOL_PATH, strerror(rc));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(err, "rb");
    size_t len = f ? fread(tool_stderr, 1, sizeof tool_stderr - 1, f) : 0;
    tool_stderr[len] = '\0';
    if (f)
        fclose(f);
    remove(out);
    remove(err);
    if (!WIFEXITED(status))
        fail_msg("cltool died (status %d); stderr:\n%s", status, tool_stderr);
    return WEXITSTATUS(status);
}

#define RUN_OK(...)                                                                                \
    do {                                                                                           \
        int rc_ = run_tool(__VA_ARGS__, NULL);                                                     \
        if (rc_ != 0)                                                                              \
            fail_msg("cltool run exited %d:\n%s", rc_, tool_stderr);                               \
    } while (0)

/* ---- the library, called directly ---- */

static float *fetch(clt_context_t ctx, tu_buf b)
{
    float *host = tu_buf_read_new(ctx, b);
    tu_check_canary(ctx, b);
    tu_buf_free(b);
    return host;
}

static float *library_conv2d(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                             const float *x, const float *w, const float *bias, size_t ny)
{
    size_t nx = (size_t)d->n * d->c * d->h * d->w;
    size_t nw = (size_t)d->k * (d->c / d->groups) * d->kernel_h * d->kernel_w;
    tu_buf bx = tu_buf_new(ctx, x, nx), bw = tu_buf_new(ctx, w, nw), by = tu_buf_new(ctx, NULL, ny);
    tu_buf bb = bias ? tu_buf_new(ctx, bias, (size_t)d->k) : (tu_buf){0};
    TU_OK(ctx, clt_conv2d_forward(ctx, d, algo, bx.b, bw.b, bias ? bb.b : (clt_buf){NULL, 0},
                                  CLT_ACTIVATION_NONE, by.b, NULL, 0));
    tu_buf_free(bx);
    tu_buf_free(bw);
    if (bias)
        tu_buf_free(bb);
    return fetch(ctx, by);
}

static ref_conv ref_of(const clt_conv2d_desc *d)
{
    return (ref_conv){d->n,        d->c,          d->h,          d->w,     d->k,
                      d->kernel_h, d->kernel_w,   d->pad_h,      d->pad_w, d->stride_h,
                      d->stride_w, d->dilation_h, d->dilation_w, d->groups};
}

static float *int_data(size_t n, int lo, int hi, uint64_t seed)
{
    float *v = malloc(n * sizeof *v + 1);
    assert_non_null(v);
    tu_fill_int(v, n, lo, hi, &seed);
    return v;
}

/* ---- conv2d ---- */

typedef struct conv_case {
    clt_conv2d_desc d;
    const char *stride, *padding, *dilation, *groups, *algo;
    int bias;
} conv_case;

static void check_conv2d(clt_context_t ctx, const conv_case *t)
{
    const clt_conv2d_desc *d = &t->d;
    clt_shape ys;
    TU_OK(NULL, clt_conv2d_output_shape(d, &ys));
    size_t nx = (size_t)d->n * d->c * d->h * d->w;
    size_t nw = (size_t)d->k * (d->c / d->groups) * d->kernel_h * d->kernel_w;
    size_t ny = (size_t)ys.n * ys.c * ys.h * ys.w;
    float *x = int_data(nx, -3, 3, 1), *w = int_data(nw, -2, 2, 2), *b = int_data(d->k, -4, 4, 3);
    save4("x.npy", x, d->n, d->c, d->h, d->w);
    save4("w.npy", w, d->k, d->c / d->groups, d->kernel_h, d->kernel_w);
    save("b.npy", NPY_FLOAT32, b, 1, (size_t[]){(size_t)d->k});
    remove(path_of("y.npy"));
    if (t->bias)
        RUN_OK("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--b", "@b.npy", "--stride", t->stride,
               "--padding", t->padding, "--dilation", t->dilation, "--groups", t->groups, "--algo",
               t->algo, "-o", "@y.npy");
    else
        RUN_OK("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--stride", t->stride, "--padding",
               t->padding, "--dilation", t->dilation, "--groups", t->groups, "--algo", t->algo,
               "-o", "@y.npy");
    float *y = load4("y.npy", ys.n, ys.c, ys.h, ys.w);

    clt_conv_algo algo;
    TU_OK(NULL, clt_conv_algo_from_name(t->algo, &algo));
    float *lib = library_conv2d(ctx, d, algo, x, w, t->bias ? b : NULL, ny);
    assert_memory_equal(y, lib, ny * sizeof *y); /* the same call, bit for bit */

    double *want = malloc(ny * sizeof *want);
    assert_non_null(want);
    ref_conv r = ref_of(d);
    ref_conv2d_forward(&r, x, w, t->bias ? b : NULL, 0, want);
    int wino = algo == CLT_CONV_ALGO_WINOGRAD_F2X3;
    tu_compare("cltool conv2d", y, want, ny, wino ? 1e-3 : 0, wino ? 1e-5 : 0, NULL);
    free(x), free(w), free(b), free(y), free(lib), free(want);
}

static void test_conv2d(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const conv_case cases[] = {
        /* per-axis parameters, groups, bias; each algorithm that runs it */
        {{2, 4, 7, 6, 6, 3, 2, 1, 2, 2, 1, 1, 2, 2}, "2,1", "1,2", "1,2", "2", "direct", 1},
        {{2, 4, 7, 6, 6, 3, 2, 1, 2, 2, 1, 1, 2, 2}, "2,1", "1,2", "1,2", "2", "im2col", 1},
        {{2, 4, 7, 6, 6, 3, 2, 1, 2, 2, 1, 1, 2, 2}, "2,1", "1,2", "1,2", "2", "auto", 0},
        /* 'same' padding (1, 2 for a 3x5 kernel) */
        {{1, 3, 5, 6, 4, 3, 5, 1, 2, 1, 1, 1, 1, 1}, "1", "same", "1", "1", "direct", 1},
        /* 'valid', one number for both axes */
        {{1, 2, 6, 6, 3, 3, 3, 0, 0, 2, 2, 2, 2, 1}, "2", "valid", "2", "1", "auto", 1},
        {{1, 4, 6, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1}, "1", "1", "1", "1", "winograd", 1},
        {{2, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 1}, "1", "0", "1", "1", "gemm1x1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv2d(ctx, &cases[i]);
}

/* ---- the backward convolutions ---- */

static void test_conv2d_backward_data(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    (void)ctx;
    /* input height 8 and 7 give the same 4 output rows with stride 2: the
     * input size settles it */
    const int heights[] = {7, 8};
    for (int i = 0; i < 2; i++) {
        clt_conv2d_desc d = {2, 4, heights[i], 6, 6, 3, 2, 1, 0, 2, 1, 1, 1, 2};
        clt_shape ys;
        TU_OK(NULL, clt_conv2d_output_shape(&d, &ys));
        size_t ny = (size_t)ys.n * ys.c * ys.h * ys.w, nw = 6 * 2 * 3 * 2;
        size_t nx = (size_t)d.n * d.c * d.h * d.w;
        float *dy = int_data(ny, -3, 3, 4), *w = int_data(nw, -2, 2, 5);
        save4("dy.npy", dy, ys.n, ys.c, ys.h, ys.w);
        save4("w.npy", w, 6, 2, 3, 2);
        char size[32];
        snprintf(size, sizeof size, "%d,6", heights[i]);
        RUN_OK("conv2d-backward-data", "--dy", "@dy.npy", "--w", "@w.npy", "--input-size", size,
               "--stride", "2,1", "--padding", "1,0", "--groups", "2", "-o", "@dx.npy");
        float *dx = load4("dx.npy", 2, 4, heights[i], 6);
        double *want = malloc(nx * sizeof *want);
        assert_non_null(want);
        ref_conv r = ref_of(&d);
        ref_conv2d_backward_data(&r, dy, w, want);
        tu_compare("cltool conv2d-backward-data", dx, want, nx, 0, 0, NULL);
        free(dy), free(w), free(dx), free(want);
    }
}

static void test_conv2d_backward_weights(void **state)
{
    tu_ctx(state);
    clt_conv2d_desc d = {3, 4, 6, 7, 6, 2, 3, 1, 1, 1, 2, 2, 1, 2};
    clt_shape ys;
    TU_OK(NULL, clt_conv2d_output_shape(&d, &ys));
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)ys.n * ys.c * ys.h * ys.w;
    size_t nw = 6 * 2 * 2 * 3;
    float *x = int_data(nx, -3, 3, 6), *dy = int_data(ny, -2, 2, 7);
    save4("x.npy", x, d.n, d.c, d.h, d.w);
    save4("dy.npy", dy, ys.n, ys.c, ys.h, ys.w);
    RUN_OK("conv2d-backward-weights", "--x", "@x.npy", "--dy", "@dy.npy", "--kernel-size", "2,3",
           "--stride", "1,2", "--padding", "1", "--dilation", "2,1", "--groups", "2", "-o",
           "@dw.npy", "--db", "@db.npy");
    float *dw = load4("dw.npy", 6, 2, 2, 3);
    float *db = load("db.npy", NPY_FLOAT32, 1, (size_t[]){6});
    double *want = malloc(nw * sizeof *want), want_db[6];
    assert_non_null(want);
    ref_conv r = ref_of(&d);
    ref_conv2d_backward_weights(&r, x, dy, want, want_db);
    tu_compare("cltool conv2d-backward-weights dw", dw, want, nw, 0, 0, NULL);
    tu_compare("cltool conv2d-backward-weights db", db, want_db, 6, 0, 0, NULL);
    free(x), free(dy), free(dw), free(db), free(want);
}

/* ---- pooling ---- */

static void test_maxpool2d_and_backward(void **state)
{
    tu_ctx(state);
    /* kernel 3x2, stride 2, padding 1, ceil mode; small integers make ties */
    ref_pool p = {.n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 8,
                  .max = 1,
                  .kh = 3,
                  .kw = 2,
                  .sh = 2,
                  .sw = 2,
                  .ph = 1,
                  .pw = 1,
                  .ceil_mode = 1};
    int oh = ref_pool_out_size(7, 3, 2, 1, 1), ow = ref_pool_out_size(8, 2, 2, 1, 1);
    size_t nx = 2 * 3 * 7 * 8, ny = (size_t)2 * 3 * oh * ow;
    float *x = int_data(nx, -3, 3, 8);
    save4("x.npy", x, 2, 3, 7, 8);
    RUN_OK("maxpool2d", "--x", "@x.npy", "--kernel-size", "3,2", "--stride", "2", "--padding", "1",
           "--ceil-mode", "-o", "@y.npy", "--indices", "@i.npy");
    float *y = load4("y.npy", 2, 3, oh, ow);
    int32_t *idx = load("i.npy", NPY_INT32, 4, (size_t[]){2, 3, (size_t)oh, (size_t)ow});
    double *want = malloc(ny * sizeof *want);
    int *want_idx = malloc(ny * sizeof *want_idx);
    assert_true(want && want_idx);
    ref_pool2d_forward(&p, x, want, want_idx);
    tu_compare("cltool maxpool2d", y, want, ny, 0, 0, NULL);
    for (size_t i = 0; i < ny; i++)
        if (idx[i] != want_idx[i])
            fail_msg("index %zu: %d, expected %d", i, idx[i], want_idx[i]);

    /* backward through the indices, as int32 and as int64 */
    float *dy = int_data(ny, -3, 3, 9);
    save4("dy.npy", dy, 2, 3, oh, ow);
    save_int64("i64.npy", want_idx, ny, 4, (size_t[]){2, 3, (size_t)oh, (size_t)ow});
    double *want_dx = malloc(nx * sizeof *want_dx);
    assert_non_null(want_dx);
    ref_pool2d_backward(&p, dy, want_idx, want_dx);
    const char *files[] = {"@i.npy", "@i64.npy"};
    for (int f = 0; f < 2; f++) {
        RUN_OK("maxpool2d-backward", "--dy", "@dy.npy", "--indices", files[f], "--input-size",
               "7,8", "--kernel-size", "3,2", "--stride", "2", "--padding", "1", "--ceil-mode",
               "-o", "@dx.npy");
        float *dx = load4("dx.npy", 2, 3, 7, 8);
        tu_compare("cltool maxpool2d-backward", dx, want_dx, nx, 0, 0, NULL);
        free(dx);
    }

    /* an index outside its window: refused, nothing written */
    remove(path_of("dx.npy"));
    idx[ny - 1] = 0;
    save("bad.npy", NPY_INT32, idx, 4, (size_t[]){2, 3, (size_t)oh, (size_t)ow});
    assert_int_equal(run_tool("maxpool2d-backward", "--dy", "@dy.npy", "--indices", "@bad.npy",
                              "--input-size", "7,8", "--kernel-size", "3,2", "--stride", "2",
                              "--padding", "1", "--ceil-mode", "-o", "@dx.npy", NULL),
                     2);
    assert_non_null(strstr(tool_stderr, "is not inside its pooling window"));
    assert_false(exists("dx.npy"));
    free(x), free(y), free(idx), free(want), free(want_idx), free(dy), free(want_dx);
}

static void check_avgpool(const ref_pool *p, const char *stride, const char *include_flag)
{
    int oh = ref_pool_out_size(p->h, p->kh, p->sh, p->ph, p->ceil_mode);
    int ow = ref_pool_out_size(p->w, p->kw, p->sw, p->pw, p->ceil_mode);
    size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)p->n * p->c * oh * ow;
    float *x = int_data(nx, -4, 4, 10), *dy = int_data(ny, -4, 4, 11);
    save4("x.npy", x, p->n, p->c, p->h, p->w);
    save4("dy.npy", dy, p->n, p->c, oh, ow);
    char kernel[32], pad[32], size[32];
    snprintf(kernel, sizeof kernel, "%d,%d", p->kh, p->kw);
    snprintf(pad, sizeof pad, "%d,%d", p->ph, p->pw);
    snprintf(size, sizeof size, "%d,%d", p->h, p->w);
    const char *ceil = p->ceil_mode ? "--ceil-mode=true" : "--ceil-mode=false";
    /* include_flag comes last: NULL ends the list, leaving PyTorch's default
     * (count_include_pad on); without a stride the default (the kernel) */
    if (stride) {
        RUN_OK("avgpool2d", "--x", "@x.npy", "--kernel-size", kernel, "--padding", pad, ceil, "-o",
               "@y.npy", "--stride", stride, include_flag);
        RUN_OK("avgpool2d-backward", "--dy", "@dy.npy", "--input-size", size, "--kernel-size",
               kernel, "--padding", pad, ceil, "-o", "@dx.npy", "--stride", stride, include_flag);
    } else {
        RUN_OK("avgpool2d", "--x", "@x.npy", "--kernel-size", kernel, "--padding", pad, ceil, "-o",
               "@y.npy", include_flag);
        RUN_OK("avgpool2d-backward", "--dy", "@dy.npy", "--input-size", size, "--kernel-size",
               kernel, "--padding", pad, ceil, "-o", "@dx.npy", include_flag);
    }
    float *y = load4("y.npy", p->n, p->c, oh, ow), *dx = load4("dx.npy", p->n, p->c, p->h, p->w);
    double *want = malloc(ny * sizeof *want), *want_dx = malloc(nx * sizeof *want_dx);
    assert_true(want && want_dx);
    ref_pool2d_forward(p, x, want, NULL);
    ref_pool2d_backward(p, dy, NULL, want_dx);
    tu_compare("cltool avgpool2d", y, want, ny, 1e-6, 1e-6, NULL);
    tu_compare("cltool avgpool2d-backward", dx, want_dx, nx, 1e-6, 1e-6, NULL);
    free(x), free(dy), free(y), free(dx), free(want), free(want_dx);
}

static void test_avgpool2d_and_backward(void **state)
{
    tu_ctx(state);
    /* PyTorch's default: padding counts in the divisor */
    ref_pool a = {.n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 6,
                  .kh = 3,
                  .kw = 3,
                  .sh = 2,
                  .sw = 1,
                  .ph = 1,
                  .pw = 1,
                  .ceil_mode = 1,
                  .include_pad = 1};
    check_avgpool(&a, "2,1", NULL);
    a.include_pad = 0;
    check_avgpool(&a, "2,1", "--no-count-include-pad");
    /* the default stride is the kernel size */
    ref_pool b = {.n = 1,
                  .c = 2,
                  .h = 9,
                  .w = 8,
                  .kh = 3,
                  .kw = 2,
                  .sh = 3,
                  .sw = 2,
                  .ph = 1,
                  .pw = 1,
                  .include_pad = 0};
    check_avgpool(&b, NULL, "--count-include-pad=false");
}

/* ---- gemm ---- */

static void test_gemm(void **state)
{
    tu_ctx(state);
    const size_t m = 5, n = 4, k = 3;
    float *a = int_data(m * k, -3, 3, 12), *b = int_data(n * k, -3, 3, 13);
    float *c = int_data(m * n, -3, 3, 14);
    double want[20];
    save("a.npy", NPY_FLOAT32, a, 2, (size_t[]){m, k});
    save("bt.npy", NPY_FLOAT32, b, 2, (size_t[]){n, k});
    save("c.npy", NPY_FLOAT32, c, 2, (size_t[]){m, n});
    /* addmm: beta * c + alpha * a @ b^T */
    RUN_OK("gemm", "--a", "@a.npy", "--b", "@bt.npy", "--trans-b", "--c", "@c.npy", "--alpha", "2",
           "--beta", "0.5", "-o", "@o.npy");
    float *o = load("o.npy", NPY_FLOAT32, 2, (size_t[]){m, n});
    ref_gemm(0, 1, m, n, k, 2.0, a, k, b, k, 0.5, c, want, n);
    tu_compare("cltool gemm addmm", o, want, m * n, 0, 0, NULL);
    free(o);
    /* with c, beta defaults to 1 */
    RUN_OK("gemm", "--a", "@a.npy", "--b", "@bt.npy", "--trans-b", "--c", "@c.npy", "-o", "@o.npy");
    o = load("o.npy", NPY_FLOAT32, 2, (size_t[]){m, n});
    ref_gemm(0, 1, m, n, k, 1.0, a, k, b, k, 1.0, c, want, n);
    tu_compare("cltool gemm beta 1", o, want, m * n, 0, 0, NULL);
    free(o);
    /* mm with a transposed: a is read as k x m */
    save("at.npy", NPY_FLOAT32, a, 2, (size_t[]){k, m});
    save("b.npy", NPY_FLOAT32, b, 2, (size_t[]){k, n});
    RUN_OK("gemm", "--a", "@at.npy", "--b", "@b.npy", "--trans-a", "-o", "@o.npy");
    o = load("o.npy", NPY_FLOAT32, 2, (size_t[]){m, n});
    ref_gemm(1, 0, m, n, k, 1.0, a, m, b, n, 0.0, NULL, want, n);
    tu_compare("cltool gemm mm", o, want, m * n, 0, 0, NULL);
    free(o);
    /* beta 0 ignores c, NaN included (PyTorch's rule) */
    c[3] = NAN;
    save("cnan.npy", NPY_FLOAT32, c, 2, (size_t[]){m, n});
    RUN_OK("gemm", "--a", "@a.npy", "--b", "@bt.npy", "--trans-b", "--c", "@cnan.npy", "--beta",
           "0", "-o", "@o.npy");
    o = load("o.npy", NPY_FLOAT32, 2, (size_t[]){m, n});
    ref_gemm(0, 1, m, n, k, 1.0, a, k, b, k, 0.0, NULL, want, n);
    tu_compare("cltool gemm beta 0", o, want, m * n, 0, 0, NULL);
    free(o), free(a), free(b), free(c);
}

/* ---- errors: exit 2, a message, no output ---- */

typedef struct bad_case {
    const char *needle; /* in the message */
    const char *args[24];
} bad_case;

static void expect_refused(const bad_case *t)
{
    remove(path_of("out.npy"));
    const char *const *a = t->args;
    int rc =
        run_tool(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
                 a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23], NULL);
    if (rc != 2)
        fail_msg("%s %s ...: exit %d, expected 2; stderr:\n%s", a[0], a[1], rc, tool_stderr);
    if (!strstr(tool_stderr, t->needle))
        fail_msg("%s %s ...: the message\n%s\ndoes not mention \"%s\"", a[0], a[1], tool_stderr,
                 t->needle);
    assert_false(exists("out.npy"));
    assert_int_equal(count_temporaries(), 0);
}

static void write_raw(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_errors(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    (void)ctx;
    float data[400] = {0};
    save4("x.npy", data, 2, 4, 5, 5);
    save4("w.npy", data, 6, 2, 3, 3);  /* for --groups 2 */
    save4("w3.npy", data, 6, 3, 3, 2); /* 3 input channels per group */
    save("x3.npy", NPY_FLOAT32, data, 3, (size_t[]){4, 5, 5});
    save("i.npy", NPY_INT32, data, 4, (size_t[]){2, 4, 2, 2});
    save("m.npy", NPY_FLOAT32, data, 2, (size_t[]){5, 3});
    save4("dy.npy", data, 2, 6, 4, 4);
    write_raw("text.npy", "not numpy", 9);
    /* a header promising 200 floats, holding 2 */
    char trunc[128 + 8];
    memcpy(trunc, "\x93NUMPY\x01\x00\x76\x00", 10);
    int len = snprintf(trunc + 10, 118,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, "
                       "4, 5, 5), }");
    memset(trunc + 10 + len, ' ', 117 - (size_t)len);
    trunc[127] = '\n';
    write_raw("trunc.npy", trunc, sizeof trunc);
    memcpy(trunc + 10, "{'descr': '<f4', 'fortran_order': True,  ", 41);
    write_raw("fortran.npy", trunc, 128);
    memcpy(trunc + 10, "{'descr': '<f8', 'fortran_order': False, ", 41);
    write_raw("f64.npy", trunc, 128);

#define CONV "conv2d", "--x", "@x.npy", "--w", "@w.npy", "-o", "@out.npy"
    const bad_case cases[] = {
        {"--x", {"conv2d", "--x", "@text.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"not a .npy file", {"conv2d", "--x", "@text.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"truncated", {"conv2d", "--x", "@trunc.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"Fortran-order", {"conv2d", "--x", "@fortran.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"'<f8' (float64)", {"conv2d", "--x", "@f64.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"cannot open", {"conv2d", "--x", "@missing.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"--w has 3 input channels per group but --x has 4 channels and --groups 2",
         {"conv2d", "--x", "@x.npy", "--w", "@w3.npy", "--groups", "2", "-o", "@out.npy"}},
        {"--groups 3 does not divide the 4 channels of --x",
         {"conv2d", "--x", "@x.npy", "--w", "@w.npy", "--groups", "3", "-o", "@out.npy"}},
        {"--x has shape (4, 5, 5): expected 4 dimensions (N, C, H, W)",
         {"conv2d", "--x", "@x3.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"--b has shape (5, 3)", {CONV, "--groups", "2", "--b", "@m.npy"}},
        {"--stride \"0\": must be >= 1", {CONV, "--stride", "0"}},
        {"--stride \"3x\": not an integer", {CONV, "--stride", "3x"}},
        {"--stride \"2,\": expected an integer", {CONV, "--stride", "2,"}},
        {"--stride \"1,2,3\"", {CONV, "--stride", "1,2,3"}},
        {"--padding \"-1\": must be >= 0", {CONV, "--padding", "-1"}},
        {"--padding \"\"", {CONV, "--padding", ""}},
        {"--groups \"99999999999\": out of range", {CONV, "--groups", "99999999999"}},
        {"--algo \"fast\"", {CONV, "--algo", "fast"}},
        {"--padding same needs --stride 1",
         {CONV, "--groups", "2", "--padding", "same", "--stride", "2"}},
        {"larger than the padded input", {CONV, "--groups", "2", "--dilation", "3"}},
        {"algorithm winograd cannot run", {CONV, "--groups", "2", "--algo", "winograd"}},
        {"--groups is given twice", {CONV, "--groups", "2", "--groups", "2"}},
        {"unknown option --frobnicate", {CONV, "--frobnicate"}},
        {"unexpected argument \"extra\"", {CONV, "extra"}},
        {"-o is required", {"conv2d", "--x", "@x.npy", "--w", "@w.npy"}},
        {"-o needs a value", {"conv2d", "--x", "@x.npy", "--w", "@w.npy", "-o"}},
        {"cannot create the temporary file",
         {"conv2d", "--x", "@x.npy", "--w", "@w.npy", "--groups", "2", "-o", "@no/out.npy"}},
        {"--dy is 2 x 6 x 4 x 4 but the forward output of these parameters is 2 x 6 x 3 x 3",
         {"conv2d-backward-data", "--dy", "@dy.npy", "--w", "@w.npy", "--groups", "2",
          "--input-size", "5", "-o", "@out.npy"}},
        {"--input-size is required",
         {"conv2d-backward-data", "--dy", "@dy.npy", "--w", "@w.npy", "-o", "@out.npy"}},
        {"--kernel-size \"0\": must be >= 1",
         {"conv2d-backward-weights", "--x", "@x.npy", "--dy", "@dy.npy", "--kernel-size", "0", "-o",
          "@out.npy"}},
        {"-o and --db name the same file",
         {"conv2d-backward-weights", "--x", "@x.npy", "--dy", "@dy.npy", "--kernel-size", "2",
          "--groups", "2", "-o", "@out.npy", "--db", "@out.npy"}},
        {"between 0 and kernel_h/2",
         {"maxpool2d", "--x", "@x.npy", "--kernel-size", "2", "--padding", "2", "-o", "@out.npy"}},
        {"--ceil-mode \"maybe\"",
         {"maxpool2d", "--x", "@x.npy", "--kernel-size", "2", "--ceil-mode=maybe", "-o",
          "@out.npy"}},
        {"--indices has shape (2, 4, 2, 2) but --dy is (2, 6, 4, 4)",
         {"maxpool2d-backward", "--dy", "@dy.npy", "--indices", "@i.npy", "--input-size", "8",
          "--kernel-size", "2", "-o", "@out.npy"}},
        {"dtype '<f4' (float32) is not supported here",
         {"maxpool2d-backward", "--dy", "@dy.npy", "--indices", "@dy.npy", "--input-size", "8",
          "--kernel-size", "2", "-o", "@out.npy"}},
        {"--dy is 4 x 4 per channel but pooling a 9 x 9 input with these parameters gives 3 x 3",
         {"avgpool2d-backward", "--dy", "@dy.npy", "--input-size", "9", "--kernel-size", "3", "-o",
          "@out.npy"}},
        {"unknown option --count-include-pad",
         {"maxpool2d", "--x", "@x.npy", "--kernel-size", "2", "--count-include-pad", "-o",
          "@out.npy"}},
        {"the inner dimensions differ",
         {"gemm", "--a", "@m.npy", "--b", "@m.npy", "-o", "@out.npy"}},
        {"--c has shape (2, 4, 5, 5) but the product is 5 x 5",
         {"gemm", "--a", "@m.npy", "--b", "@m.npy", "--trans-b", "--c", "@x.npy", "-o",
          "@out.npy"}},
        {"--beta needs --c",
         {"gemm", "--a", "@m.npy", "--b", "@m.npy", "--trans-b", "--beta", "2", "-o", "@out.npy"}},
        {"--alpha \"inf\": not a finite float32 number",
         {"gemm", "--a", "@m.npy", "--b", "@m.npy", "--trans-b", "--alpha", "inf", "-o",
          "@out.npy"}},
        {"--alpha \"1e39\"",
         {"gemm", "--a", "@m.npy", "--b", "@m.npy", "--trans-b", "--alpha", "1e39", "-o",
          "@out.npy"}},
        {"expected 2 dimensions", {"gemm", "--a", "@x.npy", "--b", "@m.npy", "-o", "@out.npy"}},
        {"unknown operation \"conv3d\"", {"conv3d"}},
        {"which operation?", {NULL}},
    };
#undef CONV
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(&cases[i]);
}

/* A failed run leaves an existing output as it was; a successful one
 * replaces it. */
static void test_no_clobber(void **state)
{
    tu_ctx(state);
    float data[64] = {0};
    save4("x.npy", data, 1, 2, 4, 4);
    save4("w.npy", data, 3, 2, 3, 3);
    write_raw("y.npy", "precious", 8);
    assert_int_equal(run_tool("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--padding", "-1", "-o",
                              "@y.npy", NULL),
                     2);
    assert_int_equal(
        run_tool("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--stride", "0", "-o", "@y.npy", NULL),
        2);
    /* failures after the temporary output was created: on the device (2),
     * and no device at all (1) */
    assert_int_equal(run_tool("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--algo", "gemm1x1", "-o",
                              "@y.npy", NULL),
                     2);
    assert_non_null(strstr(tool_stderr, "algorithm gemm1x1 cannot run"));
    assert_int_equal(run_tool("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--device",
                              "no-such-device", "-o", "@y.npy", NULL),
                     1);
    assert_non_null(strstr(tool_stderr, "cannot create a context"));
    FILE *f = fopen(path_of("y.npy"), "rb");
    char buf[16] = "";
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 8);
    fclose(f);
    assert_memory_equal(buf, "precious", 8);
    assert_int_equal(count_temporaries(), 0);
    RUN_OK("conv2d", "--x", "@x.npy", "--w", "@w.npy", "--padding=1", "-o", "@y.npy");
    free(load4("y.npy", 1, 3, 4, 4));
    assert_int_equal(count_temporaries(), 0);
}

static void test_help(void **state)
{
    (void)state;
    const char *ops[] = {"conv2d",
                         "conv2d-backward-data",
                         "conv2d-backward-weights",
                         "maxpool2d",
                         "maxpool2d-backward",
                         "avgpool2d",
                         "avgpool2d-backward",
                         "gemm"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        /* --help wins wherever it stands, even after a bad option */
        assert_int_equal(run_tool(ops[i], "--frobnicate", "--help", NULL), 0);
        assert_int_equal(run_tool(ops[i], "-h", NULL), 0);
    }
    assert_int_equal(run_tool("--help", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_backward_data),
        cmocka_unit_test(test_conv2d_backward_weights),
        cmocka_unit_test(test_maxpool2d_and_backward),
        cmocka_unit_test(test_avgpool2d_and_backward),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_clobber),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
