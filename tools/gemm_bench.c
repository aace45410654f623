/* gemm_bench: clt_gemm through clt's own kernels and through CLBlast on the
 * same device in the same run (and oneDNN's sgemm on the host when built
 * with it), over square sizes and the GEMMs of ResNet-50's convolutions at
 * batch 4 as im2col + GEMM runs them (M = out channels, N = 4 * P * Q,
 * K = C * R * S). A measurement, not a test.
 *
 *   gemm_bench [--reps N] [--ta] [--tb] [MxNxK ...]
 *
 * Each implementation gets a warm-up call (kernel builds included), then N
 * timed calls (default 5), the implementations taking turns; the table
 * gives GFLOP/s = 2 M N K / t of the median and of the best call, and the
 * ratios of the medians. With oneDNN, OMP_WAIT_POLICY defaults to passive so that
 * its spinning threads do not steal the cores from PoCL's. */
#define _POSIX_C_SOURCE 200809L
#include "clt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CLT_BENCH_DNNL
#include <dnnl.h>
#endif

#define MAX_REPS 101

typedef struct shape {
    size_t m, n, k;
} shape;

static const shape default_shapes[] = {
    {256, 256, 256},  {512, 512, 512},  {1024, 1024, 1024}, {2048, 2048, 2048}, {64, 12544, 576},
    {64, 12544, 64},  {256, 12544, 64}, {128, 3136, 1152},  {512, 3136, 128},   {256, 784, 2304},
    {1024, 784, 256}, {512, 196, 4608}, {2048, 196, 512},
};

typedef struct timing {
    double median, best; /* seconds */
} timing;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static timing summarise(double *t, int reps)
{
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return (timing){t[reps / 2], t[0]};
}

/* One context with its GEMM path fixed by CLT_GEMM at creation. */
typedef struct runner {
    clt_context_t ctx;
    cl_mem a, b, c;
} runner;

static int runner_open(runner *r, const char *path)
{
    memset(r, 0, sizeof *r);
    setenv("CLT_GEMM", path, 1);
    clt_status st = clt_context_create(NULL, &r->ctx);
    if (st != CLT_STATUS_SUCCESS) {
        fprintf(stderr, "gemm_bench: %s: %s\n", clt_status_name(st), clt_context_last_error(NULL));
        return -1;
    }
    return 0;
}

/* A device buffer of n floats holding `host`, or uninitialised when NULL. */
static cl_mem device_buf(clt_context_t ctx, const float *host, size_t n)
{
    cl_int err = CL_SUCCESS;
    cl_mem_flags flags = CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0);
    cl_mem m =
        clCreateBuffer(clt_context_cl_context(ctx), flags, n * sizeof(float), (void *)host, &err);
    return err == CL_SUCCESS ? m : NULL;
}

static void runner_release(runner *r)
{
    cl_mem *m[] = {&r->a, &r->b, &r->c};
    for (int i = 0; i < 3; i++)
        if (*m[i]) {
            clReleaseMemObject(*m[i]);
            *m[i] = NULL;
        }
}

/* Device copies of the operands of one shape. */
static int runner_upload(runner *r, const shape *s, const float *a, const float *b)
{
    runner_release(r);
    r->a = device_buf(r->ctx, a, s->m * s->k);
    r->b = device_buf(r->ctx, b, s->k * s->n);
    r->c = device_buf(r->ctx, NULL, s->m * s->n); /* any contents: beta is 0 */
    if (r->a && r->b && r->c)
        return 0;
    fprintf(stderr, "gemm_bench: out of device memory\n");
    return -1;
}

/* Seconds one clt_gemm takes to finish; -1 on failure (reported). */
static double run_clt(runner *r, const shape *s, bool ta, bool tb)
{
    double t0 = now_s();
    clt_status st = clt_gemm(r->ctx, ta ? CLT_TRANS : CLT_NO_TRANS, tb ? CLT_TRANS : CLT_NO_TRANS,
                             s->m, s->n, s->k, 1.0f, (clt_buf){r->a, 0}, ta ? s->m : s->k,
                             (clt_buf){r->b, 0}, tb ? s->k : s->n, 0.0f, (clt_buf){r->c, 0}, s->n);
    if (st == CLT_STATUS_SUCCESS)
        st = clt_finish(r->ctx);
    if (st == CLT_STATUS_SUCCESS)
        return now_s() - t0;
    fprintf(stderr, "gemm_bench: %s: %s\n", clt_status_name(st), clt_context_last_error(r->ctx));
    return -1;
}

#ifdef CLT_BENCH_DNNL
static double run_dnnl(const shape *s, bool ta, bool tb, const float *a, const float *b, float *c)
{
    double t0 = now_s();
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', (dnnl_dim_t)s->m, (dnnl_dim_t)s->n, (dnnl_dim_t)s->k,
               1.0f, a, (dnnl_dim_t)(ta ? s->m : s->k), b, (dnnl_dim_t)(tb ? s->k : s->n), 0.0f, c,
               (dnnl_dim_t)s->n);
    return now_s() - t0;
}
#endif

static double gflops(const shape *s, double seconds)
{
    return 2.0 * (double)s->m * (double)s->n * (double)s->k / seconds * 1e-9;
}

/* Times one shape on every implementation and prints its row. They take
 * turns call by call, so that load from elsewhere on the machine falls on
 * all of them alike. */
static int bench_shape(runner *own, runner *blast, const shape *s, bool ta, bool tb, int reps)
{
    size_t na = s->m * s->k, nb = s->k * s->n;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(s->m * s->n * sizeof *c);
    int rc = a && b && c ? 0 : -1;
    for (size_t j = 0; rc == 0 && j < na; j++)
        a[j] = (float)((int)(j % 7) - 3);
    for (size_t j = 0; rc == 0 && j < nb; j++)
        b[j] = (float)((int)(j % 5) - 2);
    if (rc == 0)
        rc = runner_upload(own, s, a, b);
    if (rc == 0)
        rc = runner_upload(blast, s, a, b);
    double t_own[MAX_REPS], t_blast[MAX_REPS], t_dnnl[MAX_REPS] = {0};
    for (int i = -1; rc == 0 && i < reps; i++) { /* -1: warm-up, kernel builds included */
        double x = run_clt(own, s, ta, tb), y = x < 0 ? -1 : run_clt(blast, s, ta, tb);
        rc = x < 0 || y < 0 ? -1 : 0;
#ifdef CLT_BENCH_DNNL
        double z = run_dnnl(s, ta, tb, a, b, c);
#else
        double z = 0;
#endif
        if (i >= 0) {
            t_own[i] = x;
            t_blast[i] = y;
            t_dnnl[i] = z;
        }
    }
    free(a);
    free(b);
    free(c);
    if (rc != 0)
        return rc;
    timing tc = summarise(t_own, reps), tl = summarise(t_blast, reps);
    timing td = summarise(t_dnnl, reps);
    char shape_s[48], clt_s[32], blast_s[32], dnnl_s[32] = "-", vs_dnnl[16] = "-";
#ifdef CLT_BENCH_DNNL
    snprintf(dnnl_s, sizeof dnnl_s, "%6.1f (%6.1f)", gflops(s, td.median), gflops(s, td.best));
    snprintf(vs_dnnl, sizeof vs_dnnl, "%.2f", td.median / tc.median);
#else
    (void)td;
#endif
    snprintf(shape_s, sizeof shape_s, "%zux%zux%zu", s->m, s->n, s->k);
    snprintf(clt_s, sizeof clt_s, "%6.1f (%6.1f)", gflops(s, tc.median), gflops(s, tc.best));
    snprintf(blast_s, sizeof blast_s, "%6.1f (%6.1f)", gflops(s, tl.median), gflops(s, tl.best));
    printf("%-18s %10.3f %16s %16s %16s %9.1f %10s\n", shape_s, tc.median * 1e3, clt_s, blast_s,
           dnnl_s, tl.median / tc.median, vs_dnnl);
    fflush(stdout);
    return 0;
}

static int parse_args(int argc, char **argv, int *reps, bool *ta, bool *tb, shape *shapes,
                      int *count)
{
    *count = 0;
    for (int i = 1; i < argc; i++) {
        shape s;
        char tail;
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            *reps = atoi(argv[++i]);
            if (*reps < 1 || *reps > MAX_REPS)
                return -1;
        } else if (!strcmp(argv[i], "--ta")) {
            *ta = true;
        } else if (!strcmp(argv[i], "--tb")) {
            *tb = true;
        } else if (sscanf(argv[i], "%zux%zux%zu%c", &s.m, &s.n, &s.k, &tail) == 3 && s.m && s.n &&
                   s.k && *count < 64) {
            shapes[(*count)++] = s;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
#ifdef CLT_BENCH_DNNL
    /* OpenMP threads that spin after each sgemm would steal the cores from
     * PoCL's (measured: clt and oneDNN both at a fraction of their speed).
     * libgomp reads this when it loads, so set it and start again. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
#endif
    int reps = 5, count = 0;
    bool ta = false, tb = false;
    shape shapes[64];
    if (parse_args(argc, argv, &reps, &ta, &tb, shapes, &count) != 0) {
        fprintf(stderr, "usage: gemm_bench [--reps N (1..%d)] [--ta] [--tb] [MxNxK ...]\n",
                MAX_REPS);
        return 2;
    }
    if (count == 0) {
        count = (int)(sizeof default_shapes / sizeof default_shapes[0]);
        memcpy(shapes, default_shapes, sizeof default_shapes);
    }
    runner own, blast;
    if (runner_open(&own, "clt") != 0)
        return 1;
    if (runner_open(&blast, "clblast") != 0) {
        clt_context_destroy(own.ctx);
        return 1;
    }
    clt_device_info info;
    clt_context_device_info(own.ctx, &info);
    printf("device: %s (%s), op(A) %s, op(B) %s, median (best) of %d runs, GFLOP/s\n", info.name,
           info.platform_name, ta ? "A^T" : "A", tb ? "B^T" : "B", reps);
    printf("%-18s %10s %16s %16s %16s %9s %10s\n", "M x N x K", "clt ms", "clt", "CLBlast",
           "oneDNN", "clt/CLB", "clt/oneDNN");
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        rc = bench_shape(&own, &blast, &shapes[i], ta, tb, reps);
    runner_release(&own);
    runner_release(&blast);
    clt_context_destroy(own.ctx);
    clt_context_destroy(blast.ctx);
    return rc == 0 ? 0 : 1;
}
