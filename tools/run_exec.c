/* cltool run: the steps every operation goes through, and the helpers its
 * checks use. Input errors found on the host (files, shapes, parameters)
 * exit 2 before a context is created; those only the library can judge (an
 * algorithm that cannot take the parameters) exit 2 too, before anything is
 * computed. Nothing is written under an output's name unless everything
 * succeeded. */
#include "run.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void report(const run_op *op, const char *fmt, va_list ap)
{
    fprintf(stderr, "cltool run %s: ", op->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
}

int run_error(const run_op *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(op, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

/* As run_error, for failures of the machine rather than of the input. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
runtime_error(const run_op *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(op, fmt, ap);
    va_end(ap);
    return EXIT_RUNTIME;
}

static int need_dims(const run_op *op, const run_tensor *t, int ndim, const char *layout, int *d)
{
    char s[96];
    npy_format_shape(t->a.ndim, t->a.shape, s, sizeof s);
    if (t->a.ndim != ndim)
        return run_error(op, "%s has shape %s: expected %d dimensions (%s)", t->flag, s, ndim,
                         layout);
    for (int i = 0; i < ndim; i++) {
        if (t->a.shape[i] < 1 || t->a.shape[i] > INT_MAX)
            return run_error(op, "%s has shape %s: every dimension must be between 1 and %d",
                             t->flag, s, INT_MAX);
        d[i] = (int)t->a.shape[i];
    }
    return RUN_GO;
}

int run_need_4d(const run_op *op, const run_tensor *t, const char *layout, int d[4])
{
    return need_dims(op, t, 4, layout, d);
}

int run_need_2d(const run_op *op, const run_tensor *t, int d[2])
{
    return need_dims(op, t, 2, "rows, columns", d);
}

void run_set_output(run_tensor *t, npy_dtype dtype, int ndim, const int *shape)
{
    t->used = 1;
    t->a.dtype = dtype;
    t->a.ndim = ndim;
    t->a.count = 1;
    for (int i = 0; i < ndim; i++) {
        t->a.shape[i] = (size_t)shape[i];
        t->a.count *= (size_t)shape[i];
    }
}

clt_buf run_buf(const run_tensor *t)
{
    return (clt_buf){t->mem, 0};
}

static int load_inputs(run_op *op)
{
    for (int i = 0; i < RUN_MAX_IN; i++) {
        run_tensor *t = &op->in[i];
        char err[512];
        if (t->path && npy_load(t->path, t->want, &t->a, err, sizeof err))
            return run_error(op, "%s %s: %s", t->flag, t->path, err);
    }
    return RUN_GO;
}

/* Creates every output's temporary file: a bad output path fails here,
 * before any work. */
static int open_outputs(run_op *op)
{
    for (int i = 0; i < RUN_MAX_OUT; i++) {
        run_tensor *t = &op->out[i];
        if (!t->path)
            continue;
        for (int j = 0; j < i; j++)
            if (op->out[j].path && !strcmp(op->out[j].path, t->path))
                return run_error(op, "%s and %s name the same file, %s", op->out[j].flag, t->flag,
                                 t->path);
        char err[512];
        if (npy_stage_open(&t->stage, t->path, err, sizeof err))
            return run_error(op, "%s %s: %s", t->flag, t->path, err);
    }
    return RUN_GO;
}

/* clt's log goes to stderr (CLT_LOG picks the levels), but for errors:
 * run_execute reports those once, itself. */
static void log_to_stderr(clt_log_level level, const char *message, void *user)
{
    (void)user;
    static const char *names[] = {"", "error", "warning", "info", "debug"};
    if (level != CLT_LOG_ERROR)
        fprintf(stderr, "clt %s: %s\n", names[level >= 1 && level <= 4 ? level : 0], message);
}

static int create_context(const run_op *op, clt_context_t *ctx)
{
    clt_context_options opt = {.device = op->device, .log = log_to_stderr};
    clt_status st = clt_context_create(&opt, ctx);
    if (st == CLT_STATUS_SUCCESS)
        return RUN_GO;
    return runtime_error(op, "cannot create a context: %s\n%s", clt_status_string(st),
                         clt_context_last_error(NULL));
}

static cl_mem device_buffer(clt_context_t ctx, const npy_array *host, size_t count)
{
    if (count > SIZE_MAX / 4)
        return NULL;
    cl_int err;
    size_t bytes = count * 4; /* float32 and int32 alike */
    cl_mem_flags flags = CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0);
    cl_mem m =
        clCreateBuffer(clt_context_cl_context(ctx), flags, bytes, host ? host->data : NULL, &err);
    return err == CL_SUCCESS ? m : NULL;
}

static int upload(clt_context_t ctx, run_op *op)
{
    for (int i = 0; i < RUN_MAX_IN; i++) {
        run_tensor *t = &op->in[i];
        if (t->path && !(t->mem = device_buffer(ctx, &t->a, t->a.count)))
            return runtime_error(op, "cannot allocate %s on the device", t->flag);
    }
    for (int i = 0; i < RUN_MAX_OUT; i++) {
        run_tensor *t = &op->out[i];
        if (t->used && !(t->mem = device_buffer(ctx, NULL, t->a.count)))
            return runtime_error(op, "cannot allocate %s on the device", t->flag);
    }
    return RUN_GO;
}

/* Parameter and shape problems the library found are input errors. */
static int compute_failed(clt_context_t ctx, const run_op *op, clt_status st)
{
    if (st == CLT_STATUS_NOT_SUPPORTED || st == CLT_STATUS_INVALID_VALUE ||
        st == CLT_STATUS_INVALID_SHAPE || st == CLT_STATUS_SIZE_OVERFLOW)
        return run_error(op, "%s", clt_context_last_error(ctx));
    char what[64];
    snprintf(what, sizeof what, "run %s", op->name);
    return fail(ctx, st, what);
}

/* Reads every output back and writes the files given; renames them only
 * once all are written. */
static int write_outputs(clt_context_t ctx, run_op *op)
{
    char err[512];
    for (int i = 0; i < RUN_MAX_OUT; i++) {
        run_tensor *t = &op->out[i];
        if (!t->path)
            continue;
        t->a.data = malloc(t->a.count * 4);
        if (!t->a.data)
            return runtime_error(op, "%s: out of memory", t->flag);
        cl_int e = clEnqueueReadBuffer(clt_context_queue(ctx), t->mem, CL_TRUE, 0, t->a.count * 4,
                                       t->a.data, 0, NULL, NULL);
        if (e != CL_SUCCESS)
            return fail(ctx, (clt_status)e, "reading the result back");
        if (npy_stage_write(&t->stage, &t->a, err, sizeof err))
            return runtime_error(op, "%s: %s", t->flag, err);
    }
    for (int i = 0; i < RUN_MAX_OUT; i++)
        if (op->out[i].path && npy_stage_commit(&op->out[i].stage, err, sizeof err))
            return runtime_error(op, "%s: %s", op->out[i].flag, err);
    return RUN_GO;
}

static void release(run_op *op)
{
    for (int i = 0; i < RUN_MAX_IN; i++) {
        npy_free(&op->in[i].a);
        if (op->in[i].mem)
            clReleaseMemObject(op->in[i].mem);
    }
    for (int i = 0; i < RUN_MAX_OUT; i++) {
        npy_free(&op->out[i].a);
        npy_stage_abort(&op->out[i].stage); /* removes what was not renamed */
        if (op->out[i].mem)
            clReleaseMemObject(op->out[i].mem);
    }
}

int run_execute(run_op *op)
{
    clt_context_t ctx = NULL;
    int rc = load_inputs(op);
    if (rc == RUN_GO)
        rc = op->check(op);
    if (rc == RUN_GO)
        rc = open_outputs(op);
    if (rc == RUN_GO)
        rc = create_context(op, &ctx);
    if (rc == RUN_GO)
        rc = upload(ctx, op);
    if (rc == RUN_GO) {
        clt_status st = op->compute(ctx, op);
        if (st == CLT_STATUS_SUCCESS)
            st = clt_finish(ctx);
        rc = st == CLT_STATUS_SUCCESS ? RUN_GO : compute_failed(ctx, op, st);
    }
    if (rc == RUN_GO)
        rc = write_outputs(ctx, op);
    release(op);
    clt_context_destroy(ctx);
    return rc == RUN_GO ? EXIT_OK : rc;
}
