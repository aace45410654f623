#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_context(clt_context_t *ctx)
{
    clt_status st = clt_context_create(NULL, ctx);
    if (st == CLT_STATUS_SUCCESS)
        return 0;
    print_message("no OpenCL device: %s: %s\n", clt_status_name(st), clt_context_last_error(NULL));
    *ctx = NULL;
    return -1;
}

int tu_group_setup(void **state)
{
    clt_context_t ctx = NULL;
    tu_context(&ctx);
    *state = ctx;
    return 0;
}

int tu_group_teardown(void **state)
{
    clt_context_destroy(*state);
    return 0;
}

clt_context_t tu_ctx(void **state)
{
    if (!*state) {
        print_message("skipped: no usable OpenCL device (see the group setup message)\n");
        skip();
    }
    return *state;
}

tu_buf tu_buf_new(clt_context_t ctx, const float *host, size_t n)
{
    tu_buf b = {0};
    size_t total = n + 2 * TU_CANARY;
    float *tmp = malloc(total * sizeof *tmp);
    assert_non_null(tmp);
    for (size_t i = 0; i < total; i++)
        tmp[i] = TU_CANARY_VALUE;
    if (host)
        memcpy(tmp + TU_CANARY, host, n * sizeof *tmp);
    else
        for (size_t i = 0; i < n; i++) /* garbage, NaNs included */
            tmp[TU_CANARY + i] = (i % 7 == 3) ? NAN : (float)(i * 7919 % 1000) - 500.0f;
    cl_int err;
    b.mem = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                           total * sizeof *tmp, tmp, &err);
    free(tmp);
    assert_int_equal(err, CL_SUCCESS);
    b.n = n;
    b.b = (clt_buf){b.mem, TU_CANARY};
    return b;
}

static void read_all(clt_context_t ctx, tu_buf b, float *all)
{
    cl_int err = clEnqueueReadBuffer(clt_context_queue(ctx), b.mem, CL_TRUE, 0,
                                     (b.n + 2 * TU_CANARY) * sizeof(float), all, 0, NULL, NULL);
    assert_int_equal(err, CL_SUCCESS);
}

void tu_buf_read(clt_context_t ctx, tu_buf b, float *host)
{
    float *all = malloc((b.n + 2 * TU_CANARY) * sizeof *all);
    assert_non_null(all);
    read_all(ctx, b, all);
    memcpy(host, all + TU_CANARY, b.n * sizeof *host);
    free(all);
}

void tu_buf_write(clt_context_t ctx, tu_buf b, const float *host)
{
    cl_int err =
        clEnqueueWriteBuffer(clt_context_queue(ctx), b.mem, CL_TRUE, TU_CANARY * sizeof(float),
                             b.n * sizeof(float), host, 0, NULL, NULL);
    assert_int_equal(err, CL_SUCCESS);
}

void tu_check_canary(clt_context_t ctx, tu_buf b)
{
    size_t total = b.n + 2 * TU_CANARY;
    float *all = malloc(total * sizeof *all);
    assert_non_null(all);
    read_all(ctx, b, all);
    for (size_t i = 0; i < total; i++) {
        if (i == TU_CANARY)
            i += b.n;
        if (i < total && all[i] != TU_CANARY_VALUE) {
            free(all);
            fail_msg("canary overwritten at %s+%zu", i < TU_CANARY ? "start" : "end",
                     i < TU_CANARY ? i : i - TU_CANARY - b.n);
        }
    }
    free(all);
}

float *tu_buf_read_new(clt_context_t ctx, tu_buf b)
{
    float *host = malloc((b.n ? b.n : 1) * sizeof *host);
    assert_non_null(host);
    tu_buf_read(ctx, b, host);
    return host;
}

void tu_expect(clt_context_t ctx, const char *what, tu_buf b, const double *want, double atol,
               double rtol)
{
    float *got = tu_buf_read_new(ctx, b);
    tu_compare(what, got, want, b.n, atol, rtol, NULL);
    free(got);
    tu_check_canary(ctx, b);
}

cl_mem tu_raw_new(clt_context_t ctx, size_t n, float value)
{
    float *host = malloc(n * sizeof *host);
    assert_non_null(host);
    for (size_t i = 0; i < n; i++)
        host[i] = value;
    cl_int err;
    cl_mem m = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              n * sizeof *host, host, &err);
    free(host);
    assert_int_equal(err, CL_SUCCESS);
    return m;
}

void tu_raw_expect(clt_context_t ctx, cl_mem mem, size_t n, float value)
{
    float *host = malloc(n * sizeof *host);
    assert_non_null(host);
    cl_int err = clEnqueueReadBuffer(clt_context_queue(ctx), mem, CL_TRUE, 0, n * sizeof *host,
                                     host, 0, NULL, NULL);
    assert_int_equal(err, CL_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (host[i] != value) {
            float got = host[i];
            free(host);
            fail_msg("element %zu changed: %.9g, was %.9g", i, (double)got, (double)value);
        }
    free(host);
}

void tu_buf_free(tu_buf b)
{
    if (b.mem)
        clReleaseMemObject(b.mem);
}

uint32_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (uint32_t)(x >> 32);
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)(tu_rand(s) >> 8) / (float)(1u << 24);
}

void tu_fill_int(float *x, size_t n, int lo, int hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (int)(tu_rand(s) % (uint32_t)(hi - lo + 1)));
}

double tu_compare(const char *what, const float *got, const double *want, size_t n, double atol,
                  double rtol, double *max_rel)
{
    double worst = 0, worst_rel = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%zu]: got %.9g, want %.9g (|err| %.3g > %.3g + %.3g*|want|)", what, i,
                     (double)got[i], want[i], err, atol, rtol);
        if (err > worst)
            worst = err;
        double rel = err / (fabs(want[i]) > 1e-30 ? fabs(want[i]) : 1e-30);
        if (fabs(want[i]) > atol && rel > worst_rel)
            worst_rel = rel;
    }
    if (max_rel)
        *max_rel = worst_rel;
    return worst;
}
