/* clt_conv2d_find: measure every algorithm on the caller's shape, rank
 * them, and remember the fastest in the perf-db. Built on the public calls,
 * so it measures exactly what applications run. */
#include "conv_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMED_RUNS_MIN 3
#define TIMED_RUNS_MAX 10
#define TIME_BUDGET_S 0.3 /* per algorithm, after the warm-up */

typedef struct find_bufs {
    cl_mem in0, in1, out;
    size_t n_in0, n_in1, n_out;
    float *host; /* n_out floats: an algorithm's output */
    double *ref; /* n_out: DIRECT's output */
} find_bufs;

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clt_status random_buffer(clt_context_t ctx, size_t n, bool fill, cl_mem *out)
{
    float *h = malloc(n * sizeof *h);
    if (!h)
        return clt__fail(ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "find: %zu floats", n);
    uint32_t s = 2463534242u;
    for (size_t i = 0; fill && i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        h[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
    cl_int err;
    *out = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | (fill ? CL_MEM_COPY_HOST_PTR : 0),
                          n * sizeof(float), fill ? h : NULL, &err);
    free(h);
    return err == CL_SUCCESS ? CLT_STATUS_SUCCESS : clt__cl_fail(ctx, err, "find: clCreateBuffer");
}

static clt_status run(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                      clt_conv_algo algo, const find_bufs *b)
{
    clt_buf in0 = {b->in0, 0}, in1 = {b->in1, 0}, out = {b->out, 0}, none = {NULL, 0};
    clt_status st = op == CLT_CONV_FORWARD ? clt_conv2d_forward(ctx, d, algo, in0, in1, none,
                                                                CLT_ACTIVATION_NONE, out, NULL, 0)
                    : op == CLT_CONV_BACKWARD_DATA
                        ? clt_conv2d_backward_data(ctx, d, algo, in0, in1, out, NULL, 0)
                        : clt_conv2d_backward_weights(ctx, d, algo, in0, in1, out, none, NULL, 0);
    return st == CLT_STATUS_SUCCESS ? clt_finish(ctx) : st;
}

static clt_status read_out(clt_context_t ctx, const find_bufs *b)
{
    cl_int err = clEnqueueReadBuffer(ctx->queue, b->out, CL_TRUE, 0, b->n_out * sizeof(float),
                                     b->host, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLT_STATUS_SUCCESS : clt__cl_fail(ctx, err, "find: reading");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times one algorithm and compares its output with DIRECT's. */
static void measure(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op, const find_bufs *b,
                    clt_conv_algo_perf *p)
{
    p->status = clt_conv2d_check(ctx, d, op, p->algo);
    if (p->status == CLT_STATUS_SUCCESS)
        p->status = clt_conv2d_workspace_size(ctx, d, op, p->algo, &p->workspace_bytes);
    if (p->status == CLT_STATUS_SUCCESS)
        p->status = run(ctx, d, op, p->algo, b); /* warm-up: builds kernels */
    double times[TIMED_RUNS_MAX], spent = 0;
    int runs = 0;
    while (p->status == CLT_STATUS_SUCCESS && runs < TIMED_RUNS_MAX &&
           (runs < TIMED_RUNS_MIN || spent < TIME_BUDGET_S)) {
        double t0 = now_s();
        p->status = run(ctx, d, op, p->algo, b);
        times[runs] = now_s() - t0;
        spent += times[runs++];
    }
    if (p->status == CLT_STATUS_SUCCESS)
        p->status = read_out(ctx, b);
    if (p->status != CLT_STATUS_SUCCESS) {
        p->time_ms = INFINITY;
        return;
    }
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    p->time_ms = times[runs / 2] * 1e3;
    double err = 0, top = 1e-30;
    for (size_t i = 0; i < b->n_out; i++) {
        err = fmax(err, fabs(b->host[i] - b->ref[i]));
        top = fmax(top, fabs(b->ref[i]));
    }
    p->max_rel_err = err / top;
}

static int cmp_perf(const void *a, const void *b)
{
    const clt_conv_algo_perf *x = a, *y = b;
    bool fx = x->status != CLT_STATUS_SUCCESS, fy = y->status != CLT_STATUS_SUCCESS;
    if (fx != fy)
        return fx - fy;
    return (x->time_ms > y->time_ms) - (x->time_ms < y->time_ms);
}

static clt_status setup(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op, find_bufs *b)
{
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    size_t nx = clt__conv_x_elems(d), nw = clt__conv_w_elems(d), ny = clt__conv_y_elems(d, p, q);
    b->n_in0 = op == CLT_CONV_BACKWARD_DATA ? ny : nx;
    b->n_in1 = op == CLT_CONV_BACKWARD_WEIGHTS ? ny : nw;
    b->n_out = op == CLT_CONV_FORWARD ? ny : op == CLT_CONV_BACKWARD_DATA ? nx : nw;
    b->host = malloc(b->n_out * sizeof *b->host);
    b->ref = malloc(b->n_out * sizeof *b->ref);
    if (!b->host || !b->ref)
        return clt__fail(ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "find: %zu outputs", b->n_out);
    CLT__CHECK(random_buffer(ctx, b->n_in0, true, &b->in0));
    CLT__CHECK(random_buffer(ctx, b->n_in1, true, &b->in1));
    CLT__CHECK(random_buffer(ctx, b->n_out, false, &b->out));
    /* DIRECT takes every shape: its output is the yardstick */
    CLT__CHECK(run(ctx, d, op, CLT_CONV_ALGO_DIRECT, b));
    CLT__CHECK(read_out(ctx, b));
    for (size_t i = 0; i < b->n_out; i++)
        b->ref[i] = b->host[i];
    return CLT_STATUS_SUCCESS;
}

clt_status clt_conv2d_find(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                           clt_conv_algo_perf *results, int capacity, int *count)
{
    CLT__CHECK_CTX(ctx);
    if (!count || capacity < 0 || (capacity > 0 && !results))
        return clt__fail(ctx, !count ? CLT_STATUS_NULL_ARGUMENT : CLT_STATUS_INVALID_VALUE,
                         "count must be given, and results when capacity (%d) > 0", capacity);
    *count = 0;
    CLT__CHECK(clt_conv2d_check(ctx, d, op, CLT_CONV_ALGO_DIRECT));
    clt_conv2d_desc desc = *d;
    find_bufs b;
    memset(&b, 0, sizeof b);
    clt_conv_algo_perf perf[CLT_CONV_ALGO_COUNT - 1];
    int n = 0;
    clt_status st = setup(ctx, &desc, op, &b);
    for (int a = CLT_CONV_ALGO_AUTO + 1; st == CLT_STATUS_SUCCESS && a < CLT_CONV_ALGO_COUNT; a++) {
        memset(&perf[n], 0, sizeof perf[n]);
        perf[n].algo = (clt_conv_algo)a;
        measure(ctx, &desc, op, &b, &perf[n++]);
    }
    if (st == CLT_STATUS_SUCCESS) {
        qsort(perf, (size_t)n, sizeof perf[0], cmp_perf);
        clt__perfdb_record(ctx, op, &desc, perf[0].algo, perf[0].time_ms);
        for (int i = 0; i < n && i < capacity; i++)
            results[i] = perf[i];
        *count = n;
        clt__clear_error(ctx); /* the refusals measured are not this call's failure */
    }
    cl_mem mems[] = {b.in0, b.in1, b.out};
    for (int i = 0; i < 3; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    free(b.host);
    free(b.ref);
    return st;
}
