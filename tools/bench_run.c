/* cltool bench: timing and verification of one shape's algorithms.
 *
 * Each row is warmed up (the first run builds kernels), then timed until
 * min_time has passed (at least 3, at most max_runs runs), each run ended by
 * clFinish. Results are verified at sampled output points against a
 * double-precision host computation; the error is max |got - ref| over max
 * |ref| on those points. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "peer_onednn.h"

#include <clblast_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_s(void);
double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- device tensors ---- */

typedef struct tensor {
    float *host;
    size_t n;
    cl_mem mem;
} tensor;

static uint64_t rng = 88172645463325252ull;

static float uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (2.0 / 16777216.0) - 1.0);
}

/* A tensor of n floats: random when `fill`, else device memory only. */
static int tensor_new(clt_context_t ctx, size_t n, bool fill, tensor *t)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->host = malloc((n ? n : 1) * sizeof(float));
    if (!t->host)
        return EXIT_RUNTIME;
    for (size_t i = 0; fill && i < n; i++)
        t->host[i] = uniform();
    cl_int err;
    t->mem = clCreateBuffer(clt_context_cl_context(ctx),
                            CL_MEM_READ_WRITE | (fill ? CL_MEM_COPY_HOST_PTR : 0),
                            (n ? n : 1) * sizeof(float), fill ? t->host : NULL, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "cltool bench: allocating %zu floats failed (%d)\n", n, (int)err);
        free(t->host);
        t->host = NULL;
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static void tensor_free(tensor *t)
{
    if (t->mem)
        clReleaseMemObject(t->mem);
    free(t->host);
    memset(t, 0, sizeof *t);
}

static int tensor_read(clt_context_t ctx, tensor *t)
{
    cl_int err = clEnqueueReadBuffer(clt_context_queue(ctx), t->mem, CL_TRUE, 0,
                                     t->n * sizeof(float), t->host, 0, NULL, NULL);
    return err == CL_SUCCESS ? EXIT_OK : EXIT_RUNTIME;
}

static clt_buf B(const tensor *t)
{
    return (clt_buf){t->mem, 0};
}

/* ---- what one run does ---- */

typedef struct problem {
    bench_op op;
    const bench_shape *s;
    clt_conv_algo algo;
    int variant;           /* peer, or pooling's backward pass */
    tensor a, b, out, idx; /* conv: (x|dy, w|dy) -> out; pool: x -> out (+idx) */
    int p, q;
    onednn_peer *onednn;
} problem;

enum { VARIANT_CLT = 0, VARIANT_PEER = 1, VARIANT_BACKWARD = 2, VARIANT_ONEDNN = 3 };

static clt_status run_conv(clt_context_t ctx, problem *pb)
{
    const clt_conv2d_desc *d = &pb->s->conv;
    clt_buf none = {NULL, 0};
    if (pb->variant == VARIANT_PEER) {
        cl_command_queue q = clt_context_queue(ctx);
        CLBlastStatusCode c = CLBlastSconvgemm(
            CLBlastKernelModeCrossCorrelation, (size_t)d->c, (size_t)d->h, (size_t)d->w,
            (size_t)d->kernel_h, (size_t)d->kernel_w, (size_t)d->pad_h, (size_t)d->pad_w,
            (size_t)d->stride_h, (size_t)d->stride_w, (size_t)d->dilation_h, (size_t)d->dilation_w,
            (size_t)d->k, (size_t)d->n, pb->a.mem, 0, pb->b.mem, 0, pb->out.mem, 0, &q, NULL);
        return c == CLBlastSuccess ? CLT_STATUS_SUCCESS : CLT_STATUS_BLAS_ERROR;
    }
    switch (pb->op) {
    case OP_CONV:
        return clt_conv2d_forward(ctx, d, pb->algo, B(&pb->a), B(&pb->b), none, CLT_ACTIVATION_NONE,
                                  B(&pb->out), NULL, 0);
    case OP_CONV_BWD_DATA: /* a = dy, b = w */
        return clt_conv2d_backward_data(ctx, d, pb->algo, B(&pb->a), B(&pb->b), B(&pb->out), NULL,
                                        0);
    default: /* a = x, b = dy */
        return clt_conv2d_backward_weights(ctx, d, pb->algo, B(&pb->a), B(&pb->b), B(&pb->out),
                                           none, NULL, 0);
    }
}

static clt_status run_pool(clt_context_t ctx, problem *pb)
{
    const clt_pool2d_desc *d = &pb->s->pool;
    clt_buf idx = d->mode == CLT_POOL_MAX ? B(&pb->idx) : (clt_buf){NULL, 0};
    if (pb->variant == VARIANT_BACKWARD) /* a = dy, b = x-shaped dx */
        return clt_pool2d_backward(ctx, d, B(&pb->a), idx, B(&pb->out));
    return clt_pool2d_forward(ctx, d, B(&pb->a), B(&pb->out), idx);
}

static clt_status run_gemm(clt_context_t ctx, problem *pb)
{
    const bench_shape *s = pb->s;
    if (pb->variant == VARIANT_PEER) {
        cl_command_queue q = clt_context_queue(ctx);
        CLBlastStatusCode c =
            CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                         (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f, pb->a.mem, 0, (size_t)s->k,
                         pb->b.mem, 0, (size_t)s->n, 0.0f, pb->out.mem, 0, (size_t)s->n, &q, NULL);
        return c == CLBlastSuccess ? CLT_STATUS_SUCCESS : CLT_STATUS_BLAS_ERROR;
    }
    return clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f,
                    B(&pb->a), (size_t)s->k, B(&pb->b), (size_t)s->n, 0.0f, B(&pb->out),
                    (size_t)s->n);
}

static clt_status run_once(clt_context_t ctx, problem *pb)
{
    if (pb->variant == VARIANT_ONEDNN)
        return onednn_run(pb->onednn) == 0 ? CLT_STATUS_SUCCESS : CLT_STATUS_INTERNAL;
    clt_status st = pb->op == OP_POOL   ? run_pool(ctx, pb)
                    : pb->op == OP_GEMM ? run_gemm(ctx, pb)
                                        : run_conv(ctx, pb);
    return st == CLT_STATUS_SUCCESS ? clt_finish(ctx) : st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int measure(clt_context_t ctx, const bench_opts *o, problem *pb, bench_row *row)
{
    double times[1024];
    int max_runs = o->max_runs < 1024 ? o->max_runs : 1024;
    for (int w = 0; w < 2; w++) { /* warm-up: builds kernels, fills caches */
        clt_status st = run_once(ctx, pb);
        if (st != CLT_STATUS_SUCCESS)
            return fail(ctx, st, row->algo);
    }
    double spent = 0;
    int runs = 0;
    while (runs < max_runs && (runs < 3 || spent < o->min_time_s)) {
        double t0 = now_s();
        clt_status st = run_once(ctx, pb);
        double t = now_s() - t0;
        if (st != CLT_STATUS_SUCCESS)
            return fail(ctx, st, row->algo);
        times[runs++] = t;
        spent += t;
    }
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    row->runs = runs;
    row->min_ms = times[0] * 1e3;
    row->median_ms =
        (runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2])) * 1e3;
    row->gflops = row->flops / (row->median_ms * 1e-3) * 1e-9;
    return EXIT_OK;
}

/* ---- host references at one output point ---- */

static double conv_x(const clt_conv2d_desc *d, const float *x, int n, int c, int h, int w)
{
    if (h < 0 || h >= d->h || w < 0 || w >= d->w)
        return 0;
    return x[(((size_t)n * d->c + c) * d->h + h) * d->w + w];
}

/* out index i of the op, computed from the definitions */
static double conv_ref(const problem *pb, size_t i)
{
    const clt_conv2d_desc *d = &pb->s->conv;
    int P = pb->p, Q = pb->q, cg = d->c / d->groups, kg = d->k / d->groups;
    double acc = 0;
    if (pb->op == OP_CONV) {
        int q = (int)(i % Q), p = (int)(i / Q % P), k = (int)(i / ((size_t)P * Q) % d->k);
        int n = (int)(i / ((size_t)P * Q * d->k)), g = k / kg;
        for (int c = 0; c < cg; c++)
            for (int r = 0; r < d->kernel_h; r++)
                for (int s = 0; s < d->kernel_w; s++)
                    acc += conv_x(d, pb->a.host, n, g * cg + c,
                                  p * d->stride_h - d->pad_h + r * d->dilation_h,
                                  q * d->stride_w - d->pad_w + s * d->dilation_w) *
                           pb->b.host[(((size_t)k * cg + c) * d->kernel_h + r) * d->kernel_w + s];
        return acc;
    }
    if (pb->op == OP_CONV_BWD_DATA) {
        int w = (int)(i % d->w), h = (int)(i / d->w % d->h);
        int c = (int)(i / ((size_t)d->h * d->w) % d->c),
            n = (int)(i / ((size_t)d->h * d->w * d->c));
        int g = c / cg, ci = c - g * cg;
        for (int k = g * kg; k < (g + 1) * kg; k++)
            for (int r = 0; r < d->kernel_h; r++)
                for (int s = 0; s < d->kernel_w; s++) {
                    int ph = h + d->pad_h - r * d->dilation_h,
                        qw = w + d->pad_w - s * d->dilation_w;
                    if (ph < 0 || qw < 0 || ph % d->stride_h || qw % d->stride_w)
                        continue;
                    int p = ph / d->stride_h, q = qw / d->stride_w;
                    if (p < P && q < Q)
                        acc +=
                            (double)pb->a.host[(((size_t)n * d->k + k) * P + p) * Q + q] *
                            pb->b.host[(((size_t)k * cg + ci) * d->kernel_h + r) * d->kernel_w + s];
                }
        return acc;
    }
    int s = (int)(i % d->kernel_w), r = (int)(i / d->kernel_w % d->kernel_h);
    int c = (int)(i / ((size_t)d->kernel_w * d->kernel_h) % cg);
    int k = (int)(i / ((size_t)d->kernel_w * d->kernel_h * cg)), g = k / kg;
    for (int n = 0; n < d->n; n++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++)
                acc += conv_x(d, pb->a.host, n, g * cg + c,
                              p * d->stride_h - d->pad_h + r * d->dilation_h,
                              q * d->stride_w - d->pad_w + s * d->dilation_w) *
                       pb->b.host[(((size_t)n * d->k + k) * P + p) * Q + q];
    return acc;
}

/* Pooling forward at output i (PyTorch's rules), or backward at input i. */
static double pool_ref(const problem *pb, size_t i)
{
    const clt_pool2d_desc *d = &pb->s->pool;
    int P = pb->p, Q = pb->q;
    if (pb->variant == VARIANT_BACKWARD) { /* dx[i] = sum of dy where idx points here */
        size_t plane = i / ((size_t)d->h * d->w);
        int hw = (int)(i % ((size_t)d->h * d->w));
        double acc = 0;
        for (int o = 0; o < P * Q; o++) {
            size_t oi = plane * P * Q + (size_t)o;
            if (d->mode == CLT_POOL_MAX) {
                if (((const cl_int *)pb->idx.host)[oi] == hw)
                    acc += pb->a.host[oi];
                continue;
            }
            int p = o / Q, q = o % Q, h = hw / d->w, w = hw % d->w;
            int h0 = p * d->stride_h - d->pad_h, w0 = q * d->stride_w - d->pad_w;
            int h1 = h0 + d->kernel_h < d->h + d->pad_h ? h0 + d->kernel_h : d->h + d->pad_h;
            int w1 = w0 + d->kernel_w < d->w + d->pad_w ? w0 + d->kernel_w : d->w + d->pad_w;
            int div = (h1 - h0) * (w1 - w0); /* count_include_pad (the default) */
            if (h >= h0 && h < h1 && w >= w0 && w < w1)
                acc += pb->a.host[oi] / div;
        }
        return acc;
    }
    size_t plane = i / ((size_t)P * Q);
    int p = (int)(i / Q % P), q = (int)(i % Q);
    const float *x = pb->a.host + plane * d->h * d->w;
    double best = -INFINITY, sum = 0;
    int h0 = p * d->stride_h - d->pad_h, w0 = q * d->stride_w - d->pad_w, cells = 0;
    for (int r = 0; r < d->kernel_h; r++)
        for (int s = 0; s < d->kernel_w; s++) {
            int h = h0 + r, w = w0 + s;
            if (h >= d->h + d->pad_h || w >= d->w + d->pad_w)
                continue;
            cells++;
            if (h < 0 || w < 0 || h >= d->h || w >= d->w)
                continue;
            best = fmax(best, x[h * d->w + w]);
            sum += x[h * d->w + w];
        }
    return d->mode == CLT_POOL_MAX ? best : sum / cells;
}

static double gemm_ref(const problem *pb, size_t i)
{
    const bench_shape *s = pb->s;
    size_t r = i / (size_t)s->n, c = i % (size_t)s->n;
    double acc = 0;
    for (int k = 0; k < s->k; k++)
        acc += (double)pb->a.host[r * s->k + k] * pb->b.host[(size_t)k * s->n + c];
    return acc;
}

static int verify(clt_context_t ctx, const bench_opts *o, problem *pb, bench_row *row)
{
    if (pb->variant == VARIANT_ONEDNN ? onednn_output(pb->onednn, pb->out.host) != 0
                                      : tensor_read(ctx, &pb->out) != EXIT_OK)
        return EXIT_RUNTIME;
    double max_err = 0, max_ref = 1e-30;
    uint64_t state = 12345;
    for (int k = 0; k < o->samples; k++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t i = (size_t)(state >> 20) % pb->out.n;
        double ref = pb->op == OP_POOL   ? pool_ref(pb, i)
                     : pb->op == OP_GEMM ? gemm_ref(pb, i)
                                         : conv_ref(pb, i);
        max_err = fmax(max_err, fabs(ref - pb->out.host[i]));
        max_ref = fmax(max_ref, fabs(ref));
    }
    row->max_rel_err = max_err / max_ref;
    return EXIT_OK;
}

/* ---- rows ---- */

static bool wanted(const bench_opts *o, const char *name)
{
    if (!o->algos)
        return true;
    size_t n = strlen(name);
    for (const char *p = o->algos; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

static int add_row(clt_context_t ctx, const bench_opts *o, problem *pb, const char *name,
                   bench_row *rows, int cap, int *count)
{
    if (!wanted(o, name) || *count >= cap)
        return EXIT_OK;
    bench_row *row = &rows[*count];
    memset(row, 0, sizeof *row);
    row->shape = pb->s;
    snprintf(row->algo, sizeof row->algo, "%s", name);
    row->peer = pb->variant == VARIANT_PEER || pb->variant == VARIANT_ONEDNN;
    row->flops = bench_flops(pb->op, pb->s);
    if (isatty(2))
        fprintf(stderr, "\r\033[K  %s: %s ...", pb->s->name, name);
    int rc = measure(ctx, o, pb, row);
    if (rc == EXIT_OK)
        rc = verify(ctx, o, pb, row);
    if (rc == EXIT_OK)
        (*count)++;
    return rc;
}

/* oneDNN's row, when asked for and oneDNN takes the problem. */
static int onednn_row(clt_context_t ctx, const bench_opts *o, problem *pb, bench_row *rows, int cap,
                      int *count)
{
    if (!o->peer_onednn || !(pb->onednn = onednn_prepare(pb->op, pb->s, pb->a.host, pb->b.host)))
        return EXIT_OK;
    pb->variant = VARIANT_ONEDNN;
    int rc = add_row(ctx, o, pb, "onednn", rows, cap, count);
    onednn_free(pb->onednn);
    pb->onednn = NULL;
    return rc;
}

static int conv_rows(clt_context_t ctx, const bench_opts *o, problem *pb, bench_row *rows, int cap,
                     int *count)
{
    const clt_conv2d_desc *d = &pb->s->conv;
    clt_conv_op op = pb->op == OP_CONV            ? CLT_CONV_FORWARD
                     : pb->op == OP_CONV_BWD_DATA ? CLT_CONV_BACKWARD_DATA
                                                  : CLT_CONV_BACKWARD_WEIGHTS;
    int first = *count, rc = EXIT_OK;
    const clt_conv_algo order[] = {CLT_CONV_ALGO_DIRECT,        CLT_CONV_ALGO_IM2COL_GEMM,
                                   CLT_CONV_ALGO_GEMM_1X1,      CLT_CONV_ALGO_WINOGRAD_F2X3,
                                   CLT_CONV_ALGO_WINOGRAD_F4X3, CLT_CONV_ALGO_AUTO};
    for (size_t a = 0; a < sizeof order / sizeof order[0] && rc == EXIT_OK; a++) {
        if (clt_conv2d_check(ctx, d, op, order[a]) != CLT_STATUS_SUCCESS)
            continue;
        pb->algo = order[a];
        pb->variant = VARIANT_CLT;
        int before = *count;
        rc = add_row(ctx, o, pb, clt_conv_algo_name(order[a]), rows, cap, count);
        clt_conv_algo chosen;
        int measured = 0;
        if (*count > before && order[a] == CLT_CONV_ALGO_AUTO &&
            clt_conv2d_auto_algo(ctx, d, op, &chosen, &measured) == CLT_STATUS_SUCCESS)
            snprintf(rows[before].note, sizeof rows[before].note, "%s%s",
                     clt_conv_algo_name(chosen), measured ? ", tuned" : "");
    }
    if (rc == EXIT_OK && pb->op == OP_CONV && d->groups == 1) {
        pb->variant = VARIANT_PEER;
        rc = add_row(ctx, o, pb, "clblast_convgemm", rows, cap, count);
    }
    if (rc == EXIT_OK)
        rc = onednn_row(ctx, o, pb, rows, cap, count);
    /* speedup over direct, measured in the same run */
    for (int i = first; i < *count && !strcmp(rows[first].algo, "direct"); i++)
        rows[i].speedup = rows[first].median_ms / rows[i].median_ms;
    return rc;
}

/* Sets up the tensors of a shape and measures its rows. */
int bench_shape_run(clt_context_t ctx, const bench_opts *o, const bench_shape *s, bench_row *rows,
                    int cap, int *count)
{
    problem pb;
    memset(&pb, 0, sizeof pb);
    pb.op = o->op;
    pb.s = s;
    int rc = EXIT_OK;
    if (o->op == OP_GEMM) {
        size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k;
        rc = tensor_new(ctx, m * k, true, &pb.a) || tensor_new(ctx, k * n, true, &pb.b) ||
             tensor_new(ctx, m * n, false, &pb.out);
        if (rc == EXIT_OK)
            rc = add_row(ctx, o, &pb, "clt", rows, cap, count);
        pb.variant = VARIANT_PEER;
        if (rc == EXIT_OK)
            rc = add_row(ctx, o, &pb, "clblast", rows, cap, count);
        if (rc == EXIT_OK)
            rc = onednn_row(ctx, o, &pb, rows, cap, count);
    } else if (o->op == OP_POOL) {
        clt_shape ys;
        const clt_pool2d_desc *d = &s->pool;
        clt_pool2d_output_shape(d, &ys);
        pb.p = ys.h;
        pb.q = ys.w;
        size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)ys.n * ys.c * ys.h * ys.w;
        rc = tensor_new(ctx, nx, true, &pb.a) || tensor_new(ctx, ny, false, &pb.out) ||
             tensor_new(ctx, ny, false, &pb.idx); /* int32 indices fit a float's bytes */
        if (rc == EXIT_OK)
            rc = add_row(ctx, o, &pb, "forward", rows, cap, count);
        if (rc == EXIT_OK && tensor_read(ctx, &pb.idx) == EXIT_OK) { /* backward: dy -> dx */
            tensor_free(&pb.a);
            tensor_free(&pb.out);
            rc = tensor_new(ctx, ny, true, &pb.a) || tensor_new(ctx, nx, false, &pb.out);
            pb.variant = VARIANT_BACKWARD;
            if (rc == EXIT_OK)
                rc = add_row(ctx, o, &pb, "backward", rows, cap, count);
        }
    } else {
        const clt_conv2d_desc *d = &s->conv;
        clt_shape ys;
        clt_conv2d_output_shape(d, &ys);
        pb.p = ys.h;
        pb.q = ys.w;
        size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)ys.n * ys.c * ys.h * ys.w;
        size_t nw = (size_t)d->k * (d->c / d->groups) * d->kernel_h * d->kernel_w;
        size_t na = o->op == OP_CONV_BWD_DATA ? ny : nx;
        size_t nb = o->op == OP_CONV ? nw : o->op == OP_CONV_BWD_DATA ? nw : ny;
        size_t nout = o->op == OP_CONV ? ny : o->op == OP_CONV_BWD_DATA ? nx : nw;
        rc = tensor_new(ctx, na, true, &pb.a) || tensor_new(ctx, nb, true, &pb.b) ||
             tensor_new(ctx, nout, false, &pb.out);
        if (rc == EXIT_OK)
            rc = conv_rows(ctx, o, &pb, rows, cap, count);
    }
    tensor_free(&pb.a);
    tensor_free(&pb.b);
    tensor_free(&pb.out);
    tensor_free(&pb.idx);
    return rc ? EXIT_RUNTIME : EXIT_OK;
}

double bench_flops(bench_op op, const bench_shape *s)
{
    if (op == OP_GEMM)
        return 2.0 * s->m * s->n * s->k;
    if (op == OP_POOL) { /* one operation per window element read */
        clt_shape y;
        if (clt_pool2d_output_shape(&s->pool, &y) != CLT_STATUS_SUCCESS)
            return 0;
        return (double)y.n * y.c * y.h * y.w * s->pool.kernel_h * s->pool.kernel_w;
    }
    const clt_conv2d_desc *d = &s->conv;
    clt_shape y;
    if (clt_conv2d_output_shape(d, &y) != CLT_STATUS_SUCCESS)
        return 0;
    return 2.0 * d->n * d->k * y.h * y.w * (double)(d->c / d->groups) * d->kernel_h * d->kernel_w;
}
