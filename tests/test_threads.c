/* Thread safety as clt.h states it: contexts are independent and may be used
 * from different threads at once. N threads (CLT_THREADS, default 4), each
 * with its own context, run convolutions (forward, backward data, backward
 * weights, every algorithm that takes the case) and pooling (max and
 * average, forward and backward) for M iterations (CLT_THREADS_ITERS,
 * default 3), checking every result against the host reference. The threads
 * start together on an empty binary cache, so kernel builds, cache writes and
 * CLBlast's first compilations overlap too. The CI
 * runs this suite under ThreadSanitizer (-DCLT_TSAN=ON).
 *
 * Two more tests: the threads create the process's first contexts at once
 * (the ICD loader and PoCL set themselves up then, which clt serialises),
 * and they launch one kernel with grids that grow and differ between them,
 * which PoCL's own kernel cache gets wrong unless clt keeps the programs of
 * live contexts apart (src/instance.c).
 *
 * CMocka's checks are not thread-safe (they longjmp): workers record their
 * first failure as text and the main thread fails the test with it. */
#define _POSIX_C_SOURCE 200809L
#include "conv_cases.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct worker {
    pthread_t thread;
    pthread_barrier_t *start;
    int id, iters, threads;
    const char *cache_dir;
    clt_context_t ctx;
    uint64_t rng;
    int checked;     /* results compared with the reference */
    bool no_device;  /* no usable OpenCL device: nothing to test */
    char error[600]; /* the first failure; "" when none */
} worker;

static bool failed(worker *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool failed(worker *w, const char *fmt, ...)
{
    if (!w->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->error, sizeof w->error, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool ok(worker *w, clt_status st, const char *what)
{
    if (st == CLT_STATUS_SUCCESS)
        return true;
    return failed(w, "%s: %s: %s", what, clt_status_name(st), clt_context_last_error(w->ctx));
}

/* A device copy of n elements of `bytes` each (host NULL: NaN garbage). */
static cl_mem upload(worker *w, const void *host, size_t n, size_t bytes)
{
    void *garbage = NULL;
    if (!host) {
        garbage = malloc(n * bytes);
        if (!garbage)
            return NULL;
        for (size_t i = 0; i < n * bytes / sizeof(float); i++)
            ((float *)garbage)[i] = NAN;
        host = garbage;
    }
    cl_int err;
    cl_mem m =
        clCreateBuffer(clt_context_cl_context(w->ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       n * bytes, (void *)host, &err);
    free(garbage);
    if (err != CL_SUCCESS) {
        failed(w, "clCreateBuffer(%zu bytes): %d", n * bytes, (int)err);
        return NULL;
    }
    return m;
}

/* Reads n floats of m from float index `at`. */
static bool download_at(worker *w, cl_mem m, size_t at, float *host, size_t n)
{
    cl_int err = clEnqueueReadBuffer(clt_context_queue(w->ctx), m, CL_TRUE, at * sizeof *host,
                                     n * sizeof *host, host, 0, NULL, NULL);
    return err == CL_SUCCESS || failed(w, "clEnqueueReadBuffer: %d", (int)err);
}

static bool download(worker *w, cl_mem m, void *host, size_t bytes)
{
    return download_at(w, m, 0, host, bytes / sizeof(float));
}

/* Reads n floats of m and compares them with want (|err| <= atol + rtol |want|). */
static bool expect(worker *w, const char *what, cl_mem m, const double *want, size_t n, double atol,
                   double rtol)
{
    float *got = malloc(n * sizeof *got);
    bool good = got && download(w, m, got, n * sizeof *got);
    for (size_t i = 0; good && i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i])))
            good = failed(w, "%s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], want[i]);
    free(got);
    w->checked += good;
    return good;
}

static void release(cl_mem *m, int n)
{
    for (int i = 0; i < n; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
}

/* ---- convolution ---- */

static const ref_conv conv_cases[] = {
    /* n  c  h  w  k  r  s  ph pw sh sw dh dw g */
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1}, /* 3x3 same: Winograd too */
    {2, 4, 5, 5, 6, 1, 1, 0, 0, 1, 1, 1, 1, 2}, /* 1x1 grouped: GEMM_1X1 too */
    {1, 3, 9, 8, 5, 3, 3, 1, 1, 2, 2, 1, 1, 1}, /* strided */
    {2, 4, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4}, /* depthwise */
    {1, 2, 8, 8, 3, 3, 3, 2, 2, 1, 1, 2, 2, 1}, /* dilated */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

/* Host data and references of one convolution case. */
typedef struct conv_data {
    size_t nx, nw, ny, nk;
    float *x, *w, *bias, *dy;
    double *y, *dx, *dw, *dbias;
} conv_data;

static bool conv_data_make(worker *w, const ref_conv *r, int relu, conv_data *t)
{
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    t->nx = (size_t)r->n * r->c * r->h * r->w;
    t->nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    t->ny = (size_t)r->n * r->k * p * q;
    t->nk = (size_t)r->k;
    t->x = malloc(t->nx * sizeof(float));
    t->w = malloc(t->nw * sizeof(float));
    t->bias = malloc(t->nk * sizeof(float));
    t->dy = malloc(t->ny * sizeof(float));
    t->y = malloc(t->ny * sizeof(double));
    t->dx = malloc(t->nx * sizeof(double));
    t->dw = malloc(t->nw * sizeof(double));
    t->dbias = malloc(t->nk * sizeof(double));
    if (!t->x || !t->w || !t->bias || !t->dy || !t->y || !t->dx || !t->dw || !t->dbias)
        return failed(w, "out of host memory");
    /* integers: every algorithm but Winograd is exact */
    tu_fill_int(t->x, t->nx, -3, 3, &w->rng);
    tu_fill_int(t->w, t->nw, -2, 2, &w->rng);
    tu_fill_int(t->bias, t->nk, -4, 4, &w->rng);
    tu_fill_int(t->dy, t->ny, -3, 3, &w->rng);
    ref_conv2d_forward(r, t->x, t->w, t->bias, relu, t->y);
    ref_conv2d_backward_data(r, t->dy, t->w, t->dx);
    ref_conv2d_backward_weights(r, t->x, t->dy, t->dw, t->dbias);
    return true;
}

static void conv_data_free(conv_data *t)
{
    free(t->x);
    free(t->w);
    free(t->bias);
    free(t->dy);
    free(t->y);
    free(t->dx);
    free(t->dw);
    free(t->dbias);
}

/* Runs the passes of case r that `algo` supports and checks them. */
static bool conv_run(worker *w, const ref_conv *r, clt_conv_algo algo, const conv_data *t, int relu)
{
    clt_conv2d_desc d = cc_desc(r);
    double atol = 1e-4 * 9 * (r->c + r->k) *
                  fmax(cc_rounding_on(w->ctx, &d, CLT_CONV_FORWARD, algo),
                       cc_rounding_on(w->ctx, &d, CLT_CONV_BACKWARD_DATA, algo));
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    enum { X, W, B, DY, Y, DX, DW, DB, NBUF };
    cl_mem m[NBUF] = {0};
    m[X] = upload(w, t->x, t->nx, sizeof(float));
    m[W] = upload(w, t->w, t->nw, sizeof(float));
    m[B] = upload(w, t->bias, t->nk, sizeof(float));
    m[DY] = upload(w, t->dy, t->ny, sizeof(float));
    m[Y] = upload(w, NULL, t->ny, sizeof(float));
    m[DX] = upload(w, NULL, t->nx, sizeof(float));
    m[DW] = upload(w, NULL, t->nw, sizeof(float));
    m[DB] = upload(w, NULL, t->nk, sizeof(float));
    bool good = !w->error[0];
    for (int op = CLT_CONV_FORWARD; good && op <= CLT_CONV_BACKWARD_WEIGHTS; op++) {
        clt_status st = clt_conv2d_check(w->ctx, &d, (clt_conv_op)op, algo);
        if (st == CLT_STATUS_NOT_SUPPORTED)
            continue;
        good = ok(w, st, what);
        if (good && op == CLT_CONV_FORWARD)
            good = ok(w,
                      clt_conv2d_forward(w->ctx, &d, algo, (clt_buf){m[X], 0}, (clt_buf){m[W], 0},
                                         (clt_buf){m[B], 0},
                                         relu ? CLT_ACTIVATION_RELU : CLT_ACTIVATION_NONE,
                                         (clt_buf){m[Y], 0}, NULL, 0),
                      what) &&
                   expect(w, what, m[Y], t->y, t->ny, atol, 1e-6);
        if (good && op == CLT_CONV_BACKWARD_DATA)
            good = ok(w,
                      clt_conv2d_backward_data(w->ctx, &d, algo, (clt_buf){m[DY], 0},
                                               (clt_buf){m[W], 0}, (clt_buf){m[DX], 0}, NULL, 0),
                      what) &&
                   expect(w, what, m[DX], t->dx, t->nx, atol, 1e-6);
        if (good && op == CLT_CONV_BACKWARD_WEIGHTS)
            good = ok(w,
                      clt_conv2d_backward_weights(w->ctx, &d, algo, (clt_buf){m[X], 0},
                                                  (clt_buf){m[DY], 0}, (clt_buf){m[DW], 0},
                                                  (clt_buf){m[DB], 0}, NULL, 0),
                      what) &&
                   expect(w, what, m[DW], t->dw, t->nw, 0, 0) &&
                   expect(w, what, m[DB], t->dbias, t->nk, 0, 0);
    }
    release(m, NBUF);
    return good;
}

static bool conv_iteration(worker *w, int iter)
{
    static const clt_conv_algo algos[] = CC_ALGOS;
    const ref_conv *r = &conv_cases[(w->id + iter) % N_CONV_CASES];
    int relu = (w->id + iter) % 2;
    conv_data t = {0};
    bool good = conv_data_make(w, r, relu, &t);
    for (size_t a = 0; good && a < sizeof algos / sizeof algos[0]; a++)
        good = conv_run(w, r, algos[a], &t, relu);
    conv_data_free(&t);
    return good;
}

/* ---- pooling ---- */

static const ref_pool pool_cases[] = {
    /* n c h w max kh kw sh sw ph pw ceil include_pad */
    {2, 3, 7, 6, 1, 3, 3, 2, 2, 1, 1, 0, 0},
    {1, 4, 8, 9, 0, 2, 3, 2, 1, 1, 1, 1, 1},
    {2, 2, 5, 5, 0, 3, 3, 1, 1, 1, 1, 0, 0},
    {1, 3, 9, 7, 1, 2, 2, 2, 2, 0, 0, 1, 0},
};
#define N_POOL_CASES ((int)(sizeof pool_cases / sizeof pool_cases[0]))

static bool pool_iteration(worker *w, int iter)
{
    const ref_pool *p = &pool_cases[(w->id + iter) % N_POOL_CASES];
    clt_pool2d_desc d = {.n = p->n,
                         .c = p->c,
                         .h = p->h,
                         .w = p->w,
                         .mode = p->max ? CLT_POOL_MAX : CLT_POOL_AVG,
                         .kernel_h = p->kh,
                         .kernel_w = p->kw,
                         .stride_h = p->sh,
                         .stride_w = p->sw,
                         .pad_h = p->ph,
                         .pad_w = p->pw,
                         .ceil_mode = p->ceil_mode,
                         .count_include_pad = p->include_pad};
    clt_shape s;
    if (!ok(w, clt_pool2d_output_shape(&d, &s), "clt_pool2d_output_shape"))
        return false;
    size_t nx = (size_t)p->n * p->c * p->h * p->w, ny = (size_t)s.n * s.c * s.h * s.w;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    double *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx);
    int *arg = malloc(ny * sizeof *arg), *got_arg = malloc(ny * sizeof *got_arg);
    enum { X, DY, Y, ARG, DX, NBUF };
    cl_mem m[NBUF] = {0};
    bool good = x && dy && y && dx && arg && got_arg;
    if (good) {
        tu_fill_int(x, nx, -5, 5, &w->rng);
        tu_fill_int(dy, ny, -3, 3, &w->rng);
        ref_pool2d_forward(p, x, y, arg);
        ref_pool2d_backward(p, dy, arg, dx);
        m[X] = upload(w, x, nx, sizeof(float));
        m[DY] = upload(w, dy, ny, sizeof(float));
        m[Y] = upload(w, NULL, ny, sizeof(float));
        m[ARG] = upload(w, NULL, ny, sizeof(cl_int));
        m[DX] = upload(w, NULL, nx, sizeof(float));
        good = !w->error[0];
    } else {
        failed(w, "out of host memory");
    }
    clt_buf argmax = p->max ? (clt_buf){m[ARG], 0} : (clt_buf){NULL, 0};
    double tol = p->max ? 0 : 1e-6; /* averages divide */
    good = good &&
           ok(w, clt_pool2d_forward(w->ctx, &d, (clt_buf){m[X], 0}, (clt_buf){m[Y], 0}, argmax),
              "clt_pool2d_forward") &&
           expect(w, "pool y", m[Y], y, ny, tol, tol);
    if (good && p->max) {
        good = download(w, m[ARG], got_arg, ny * sizeof *got_arg);
        for (size_t i = 0; good && i < ny; i++)
            if (got_arg[i] != arg[i])
                good = failed(w, "argmax[%zu]: got %d, want %d", i, got_arg[i], arg[i]);
    }
    good = good &&
           ok(w, clt_pool2d_backward(w->ctx, &d, (clt_buf){m[DY], 0}, argmax, (clt_buf){m[DX], 0}),
              "clt_pool2d_backward") &&
           expect(w, "pool dx", m[DX], dx, nx, tol, tol);
    release(m, NBUF);
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(arg);
    free(got_arg);
    return good;
}

/* Creates the worker's context, one worker after another in id order, so
 * that worker i has PoCL instance i (instance.c) in every run: each run then
 * builds the same program variants for the same work, and a warm PoCL cache
 * holds them all (a build would show PoCL's compiler leaks to
 * LeakSanitizer). Every worker returns together, after the last one. */
static bool create_in_turn(worker *w)
{
    clt_context_options opt = {.cache_dir = w->cache_dir};
    clt_status st = CLT_STATUS_SUCCESS;
    for (int k = 0; k < w->threads; k++) {
        if (k == w->id)
            st = clt_context_create(&opt, &w->ctx);
        pthread_barrier_wait(w->start);
    }
    return ok(w, st, "clt_context_create");
}

static void *work(void *arg)
{
    worker *w = arg;
    if (!create_in_turn(w))
        return NULL;
    for (int i = 0; i < w->iters; i++)
        if (!conv_iteration(w, i) || !pool_iteration(w, i))
            break;
    clt_context_destroy(w->ctx);
    return NULL;
}

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : fallback;
}

/* Cache entries (*.bin) in dir. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 4 && !strcmp(e->d_name + len - 4, ".bin");
    }
    closedir(d);
    return n;
}

/* An empty directory for this run's binary cache. */
static void fresh_cache_dir(char *out, size_t cap)
{
    const char *base = getenv("CLT_TEST_TMP");
    if (base)
        mkdir(base, 0755);
    snprintf(out, cap, "%s/threads-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

/* Runs fn on n workers that share a start barrier and a cache directory,
 * then fails the test with the first error any of them recorded. */
static void run_workers(worker *w, int n, int iters, const char *dir, void *(*fn)(void *))
{
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.start = &start, .id = i, .iters = iters, .threads = n, .cache_dir = dir};
        w[i].rng = 0x1234567ull + 7919ull * (uint64_t)i;
        assert_int_equal(pthread_create(&w[i].thread, NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < n; i++)
        if (w[i].error[0]) {
            char msg[700];
            snprintf(msg, sizeof msg, "thread %d: %s", i, w[i].error);
            free(w);
            fail_msg("%s", msg);
        }
}

/* ---- the process's first contexts, made at once ---- */

/* The ICD loader and PoCL set themselves up on the process's first OpenCL
 * calls; clt must not let several threads make those at once (context.c).
 * This test runs first, so that its threads' contexts are those calls. */
static void *first_context_work(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    clt_status st = clt_context_create(NULL, &w->ctx);
    if (st == CLT_STATUS_DEVICE_NOT_FOUND) {
        int count = 0; /* the setup is over by now: is there really none? */
        clt_device_info info[8];
        w->no_device = clt_devices_list(info, 8, &count) == CLT_STATUS_SUCCESS && count == 0;
    }
    if (w->no_device || !ok(w, st, "clt_context_create"))
        return NULL;
    double want[16];
    for (int i = 0; i < 16; i++)
        want[i] = 2.5;
    cl_mem m = upload(w, NULL, 16, sizeof(float));
    if (m && ok(w, clt_fill(w->ctx, (clt_buf){m, 0}, 16, 2.5f), "clt_fill"))
        expect(w, "fill", m, want, 16, 0, 0);
    release(&m, 1);
    clt_context_destroy(w->ctx);
    return NULL;
}

static void test_first_contexts_in_parallel(void **state)
{
    (void)state;
    int n = env_int("CLT_THREADS", 4);
    worker *w = calloc((size_t)n, sizeof *w);
    assert_non_null(w);
    run_workers(w, n, 1, NULL, first_context_work);
    bool none = w[0].no_device;
    for (int i = 0; i < n; i++)
        assert_int_equal(w[i].checked, none ? 0 : 1);
    free(w);
    if (none)
        skip();
}

static bool have_device(void)
{
    clt_context_t probe = NULL;
    if (tu_context(&probe) != 0)
        return false;
    clt_context_destroy(probe);
    return true;
}

static void test_contexts_in_parallel(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    char dir[512];
    fresh_cache_dir(dir, sizeof dir);
    int n = env_int("CLT_THREADS", 4), iters = env_int("CLT_THREADS_ITERS", 3);
    worker *w = calloc((size_t)n, sizeof *w);
    assert_non_null(w);
    run_workers(w, n, iters, dir, work);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        assert_true(w[i].checked > 0);
        checked += w[i].checked;
    }
    free(w);
    print_message("%d threads x %d iterations: %d results equal to the host reference\n", n, iters,
                  checked);

    /* the cache the threads filled together holds only sound entries: as
     * many contexts, alive at once, load every program the threads built from
     * it (and build the others). On PoCL each live context has programs of
     * its own (instance.c), so together they hit each entry once. */
    int entries = count_entries(dir);
    assert_true(entries > 0);
    clt_context_t *ctx = calloc((size_t)n, sizeof *ctx);
    assert_non_null(ctx);
    clt_context_options opt = {.cache_dir = dir};
    int hits = 0;
    bool pocl = false;
    for (int i = 0; i < n; i++) {
        TU_OK(NULL, clt_context_create(&opt, &ctx[i]));
        clt_load_stats s;
        TU_OK(ctx[i], clt_context_load_kernels(ctx[i], &s));
        assert_int_equal(s.cache_hits + s.cache_misses, s.programs);
        clt_device_info info;
        TU_OK(ctx[i], clt_context_device_info(ctx[i], &info));
        pocl = strstr(info.platform_name, "Portable Computing Language") != NULL;
        if (!pocl) /* the first also stores what it built: the rest hit all */
            assert_int_equal(s.cache_hits, i == 0 ? entries : s.programs);
        hits += s.cache_hits;
    }
    if (pocl)
        assert_int_equal(hits, entries);
    for (int i = 0; i < n; i++)
        clt_context_destroy(ctx[i]);
    free(ctx);
}

/* ---- one kernel, grids that grow and differ between the threads ---- */

enum { FILL_STEP = 4096, FILL_ROUNDS = 100 };

/* Round r fills the first fill_size(w, r) floats with r + 1: a grid wider
 * than any before it, in this thread and the others. */
static size_t fill_size(const worker *w, int r)
{
    return (size_t)FILL_STEP * (size_t)(w->id + 1 + w->threads * r);
}

/* Reads y[i] and checks it. */
static bool expect_at(worker *w, cl_mem m, size_t i, float want, int r)
{
    float got;
    if (!download_at(w, m, i, &got, 1))
        return false;
    return got == want ||
           failed(w, "round %d: y[%zu] = %g, want %g", r, i, (double)got, (double)want);
}

static void *fill_work(void *arg)
{
    worker *w = arg;
    size_t most = fill_size(w, FILL_ROUNDS - 1);
    bool good = create_in_turn(w);
    /* left uninitialised: PoCL then allocates it at the first launch, which
     * keeps the threads' first launches in flight together more often */
    cl_int err = CL_SUCCESS;
    cl_mem m = good ? clCreateBuffer(clt_context_cl_context(w->ctx), CL_MEM_READ_WRITE,
                                     most * sizeof(float), NULL, &err)
                    : NULL;
    good = good && (err == CL_SUCCESS || failed(w, "clCreateBuffer: %d", (int)err));
    for (int r = 0; r < FILL_ROUNDS; r++) {
        /* each round's launches, wider than any before, start together; every
         * thread reaches every barrier, failed or not */
        pthread_barrier_wait(w->start);
        size_t n = fill_size(w, r);
        good = good && m &&
               ok(w, clt_fill(w->ctx, (clt_buf){m, 0}, n, (float)(r + 1)), "clt_fill") &&
               expect_at(w, m, n - 1, (float)(r + 1), r);
        w->checked += good;
    }
    float *got = good ? malloc(most * sizeof *got) : NULL;
    good = got && download(w, m, got, most * sizeof *got);
    for (size_t i = 0; good && i < most; i++) /* all of the last round's fill */
        if (got[i] != (float)FILL_ROUNDS)
            good = failed(w, "after round %d: y[%zu] = %g", FILL_ROUNDS - 1, i, (double)got[i]);
    if (m)
        clReleaseMemObject(m);
    free(got);
    clt_context_destroy(w->ctx);
    return NULL;
}

/* n contexts alive at once (as the threads' will be) each fill a few floats,
 * which puts every thread's program in the cache: loading it is then quick
 * and alike for all, and the threads' first launches overlap. */
static void warm_fill(const char *dir, int n)
{
    clt_context_options opt = {.cache_dir = dir};
    clt_context_t *ctx = calloc((size_t)n, sizeof *ctx);
    assert_non_null(ctx);
    for (int i = 0; i < n; i++) {
        TU_OK(NULL, clt_context_create(&opt, &ctx[i]));
        cl_int err;
        cl_mem m =
            clCreateBuffer(clt_context_cl_context(ctx[i]), CL_MEM_READ_WRITE, 64, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        TU_OK(ctx[i], clt_fill(ctx[i], (clt_buf){m, 0}, 16, 0.0f));
        TU_OK(ctx[i], clt_finish(ctx[i]));
        clReleaseMemObject(m);
    }
    for (int i = 0; i < n; i++)
        clt_context_destroy(ctx[i]);
    free(ctx);
}

static void test_growing_launches_in_parallel(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    char dir[512];
    fresh_cache_dir(dir, sizeof dir);
    int n = env_int("CLT_THREADS", 4);
    warm_fill(dir, n);
    worker *w = calloc((size_t)n, sizeof *w);
    assert_non_null(w);
    run_workers(w, n, FILL_ROUNDS, dir, fill_work);
    for (int i = 0; i < n; i++)
        assert_int_equal(w[i].checked, FILL_ROUNDS);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: its threads make the process's first OpenCL calls */
        cmocka_unit_test(test_first_contexts_in_parallel),
        cmocka_unit_test(test_growing_launches_in_parallel),
        cmocka_unit_test(test_contexts_in_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
