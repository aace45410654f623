/* Helpers shared by the CMocka suites: contexts, buffers, canaries,
 * comparisons with combined absolute and relative tolerance. */
#ifndef CLT_TESTUTIL_H
#define CLT_TESTUTIL_H

#include "clt.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

/* Creates the suite's context (CLT_DEVICE honoured). Returns 0, or -1 when
 * no device exists: the caller then skips with the reason printed. */
int tu_context(clt_context_t *ctx);
/* Group setup/teardown storing a context in *state; tests skip() without one. */
int tu_group_setup(void **state);
int tu_group_teardown(void **state);
/* The context of the group, or skip() with the reason. */
clt_context_t tu_ctx(void **state);

/* Canaries: every device buffer made by tu_buf has CANARY floats before and
 * after the payload, filled with a pattern that tu_check_canary verifies. */
#define TU_CANARY 64
#define TU_CANARY_VALUE (-12345.5f)

typedef struct tu_buf {
    cl_mem mem;
    size_t n;  /* payload floats */
    clt_buf b; /* payload view: offset TU_CANARY */
} tu_buf;

/* A device buffer holding `host` (n floats; NULL fills with garbage). */
tu_buf tu_buf_new(clt_context_t ctx, const float *host, size_t n);
void tu_buf_read(clt_context_t ctx, tu_buf b, float *host);
/* Overwrites the payload with `host` (b.n floats); canaries stay. */
void tu_buf_write(clt_context_t ctx, tu_buf b, const float *host);
void tu_buf_free(tu_buf b);
/* Fails the test when a canary float changed. */
void tu_check_canary(clt_context_t ctx, tu_buf b);
/* A malloc'd copy of the payload (b.n floats); the caller frees it. */
float *tu_buf_read_new(clt_context_t ctx, tu_buf b);
/* Reads b, compares it with want (see tu_compare) and checks its canaries. */
void tu_expect(clt_context_t ctx, const char *what, tu_buf b, const double *want, double atol,
               double rtol);

/* A buffer of exactly n floats, all `value`, without canaries: for tests of
 * size checks, where a canary region would hide an overrun. */
cl_mem tu_raw_new(clt_context_t ctx, size_t n, float value);
/* Fails unless all n floats of `mem` still equal `value`. */
void tu_raw_expect(clt_context_t ctx, cl_mem mem, size_t n, float value);

/* Deterministic random numbers (xorshift). */
uint32_t tu_rand(uint64_t *state);
/* Uniform in [lo, hi). */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state);
/* Integers in [lo, hi]: products and sums stay exact in float. */
void tu_fill_int(float *x, size_t n, int lo, int hi, uint64_t *state);

/* Compares got with want elementwise: |got - want| <= atol + rtol * |want|.
 * Fails the test naming the first bad index. Returns the max abs error;
 * *max_rel (may be NULL) gets the max relative error. */
double tu_compare(const char *what, const float *got, const double *want, size_t n, double atol,
                  double rtol, double *max_rel);

/* Fails with the status, its name and the context's message unless ok. */
#define TU_OK(ctx, expr)                                                                           \
    do {                                                                                           \
        clt_status st_ = (expr);                                                                   \
        if (st_ != CLT_STATUS_SUCCESS)                                                             \
            fail_msg("%s -> %s: %s", #expr, clt_status_name(st_), clt_context_last_error(ctx));    \
    } while (0)

/* Expects a given failure status and a non-empty reason. */
#define TU_FAILS(ctx, expected, expr)                                                              \
    do {                                                                                           \
        clt_status st_ = (expr);                                                                   \
        if (st_ != (expected))                                                                     \
            fail_msg("%s -> %s, expected %s (%s)", #expr, clt_status_name(st_),                    \
                     clt_status_name(expected), clt_context_last_error(ctx));                      \
        assert_true(clt_context_last_error(ctx)[0] != '\0');                                       \
    } while (0)

#endif
