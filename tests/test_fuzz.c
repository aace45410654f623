/* Fuzzing the descriptors and arguments of the public calls.
 *
 * Part one pushes random parameter sets through validation: convolution
 * descriptors through clt_conv2d_output_shape, clt_conv2d_check and
 * clt_conv2d_workspace_size for every algorithm and pass, pooling
 * descriptors through clt_pool2d_output_shape, and clt_gemm's argument
 * combinations. Fields come from a mix of plausible values, boundaries
 * (0, -1, 1, 2, 3, INT_MAX, INT_MIN, ...) and random 32-bit numbers. Every
 * call must return without crashing (the CI runs this under ASan + UBSan and
 * valgrind), every rejection must carry a reason, and acceptance must agree
 * with an independent host-side rule written here from clt.h's contract:
 * the output-size formulas give >= 1, every product fits, the algorithm
 * takes the parameters. A rejection's status must be one that a violated
 * rule calls for (several rules may be broken at once).
 *
 * Part two executes a few hundred valid small parameter sets on the device
 * (convolution forward and both backward passes, pooling forward and
 * backward) and compares them with tests/ref.c.
 *
 * Deterministic by default; CLT_FUZZ_SEED changes the seed, CLT_FUZZ_ITERS
 * the number of descriptors per family (default 100000), CLT_FUZZ_RUNS the
 * number executed (default ITERS * 3 / 1000). */
#define _POSIX_C_SOURCE 200809L
#include "conv_cases.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20240611;
static int iters = 100000, runs = 300;

static int group_setup(void **state)
{
    const char *s = getenv("CLT_FUZZ_SEED"), *it = getenv("CLT_FUZZ_ITERS");
    const char *r = getenv("CLT_FUZZ_RUNS");
    if (s && *s)
        seed = strtoull(s, NULL, 0);
    if (it && atoi(it) > 0)
        iters = atoi(it);
    runs = r && atoi(r) > 0 ? atoi(r) : iters * 3 / 1000 > 10 ? iters * 3 / 1000 : 10;
    print_message("fuzz: seed %" PRIu64 " (CLT_FUZZ_SEED), %d parameter sets per family "
                  "(CLT_FUZZ_ITERS), %d executed (CLT_FUZZ_RUNS)\n",
                  seed, iters, runs);
    return tu_group_setup(state);
}

/* ------------------------------------------------------------------------ */
/* Values and verdicts                                                      */
/* ------------------------------------------------------------------------ */

static const int specials[] = {0,           -1,          1,           2,       3,
                               4,           -2,          INT_MAX,     INT_MIN, INT_MAX - 1,
                               INT_MIN + 1, INT_MAX / 2, INT_MAX / 3, 46341,   65535,
                               65536,       1 << 20,     1 << 24,     1000,    -65536};
#define N_SPECIALS ((uint32_t)(sizeof specials / sizeof specials[0]))

static uint32_t below(uint64_t *s, uint32_t n)
{
    return tu_rand(s) % n;
}

static int in_range(uint64_t *s, int lo, int hi)
{
    return lo + (int)below(s, (uint32_t)(hi - lo + 1));
}

/* A boundary, a medium or any 32-bit value. */
static int wild(uint64_t *s)
{
    uint32_t r = below(s, N_SPECIALS + 4);
    if (r < N_SPECIALS)
        return specials[r];
    if (r == N_SPECIALS)
        return (int32_t)tu_rand(s);
    return in_range(s, 0, 5000);
}

/* a * b saturating: sizes are only ever compared with 2^31 or so. */
static uint64_t mul(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The statuses a call may fail with: one bit per violated rule. */
typedef struct verdict {
    unsigned allowed;
    int rules, bad_fields; /* rules broken; how many of them are a field's range */
    char fields[400];      /* "name = value;" of each field out of its range */
} verdict;

static unsigned bit(clt_status st)
{
    switch (st) {
    case CLT_STATUS_NULL_ARGUMENT:
        return 1u << 0;
    case CLT_STATUS_INVALID_VALUE:
        return 1u << 1;
    case CLT_STATUS_INVALID_SHAPE:
        return 1u << 2;
    case CLT_STATUS_SIZE_OVERFLOW:
        return 1u << 3;
    case CLT_STATUS_BUFFER_TOO_SMALL:
        return 1u << 4;
    case CLT_STATUS_NOT_SUPPORTED:
        return 1u << 5;
    case CLT_STATUS_CONTEXT_MISMATCH:
        return 1u << 6;
    default:
        return 1u << 7;
    }
}

static void violates(verdict *v, clt_status st)
{
    v->allowed |= bit(st);
    v->rules++;
}

/* A field out of its range: the status, and the "name = value" the message
 * must contain. */
static void bad_field_u(verdict *v, clt_status st, const char *name, unsigned long long value)
{
    violates(v, st);
    v->bad_fields++;
    size_t used = strlen(v->fields);
    snprintf(v->fields + used, sizeof v->fields - used, "%s = %llu;", name, value);
}

static void bad_field(verdict *v, clt_status st, const char *name, long long value)
{
    violates(v, st);
    v->bad_fields++;
    size_t used = strlen(v->fields);
    snprintf(v->fields + used, sizeof v->fields - used, "%s = %lld;", name, value);
}

/* Whether msg names one of the bad fields with its value. */
static bool names_a_field(const char *msg, const char *fields)
{
    char one[64];
    for (const char *f = fields; *f;) {
        const char *end = strchr(f, ';');
        size_t n = (size_t)(end - f) < sizeof one - 1 ? (size_t)(end - f) : sizeof one - 1;
        memcpy(one, f, n);
        one[n] = '\0';
        if (strstr(msg, one))
            return true;
        f = end + 1;
    }
    return false;
}

/* Fails unless st agrees with v and a rejection says why. */
static void judge(const verdict *v, clt_status st, const char *msg, const char *call,
                  const char *what)
{
    if (!v->allowed && st != CLT_STATUS_SUCCESS)
        fail_msg("%s rejected a valid %s: %s: %s", call, what, clt_status_name(st), msg);
    if (v->allowed && st == CLT_STATUS_SUCCESS)
        fail_msg("%s accepted an invalid %s (allowed failures 0x%x)", call, what, v->allowed);
    if (st == CLT_STATUS_SUCCESS) {
        if (msg[0])
            fail_msg("%s succeeded but left the message \"%s\"", call, msg);
        return;
    }
    if (!(v->allowed & bit(st)))
        fail_msg("%s: %s for %s, but no rule it breaks calls for that (0x%x): %s", call,
                 clt_status_name(st), what, v->allowed, msg);
    if (!msg[0])
        fail_msg("%s: %s for %s without a reason", call, clt_status_name(st), what);
    /* when only fields are out of range, the reason names one, with its value */
    if (v->bad_fields && v->bad_fields == v->rules && !names_a_field(msg, v->fields))
        fail_msg("%s: the reason \"%s\" names none of \"%s\"", call, msg, v->fields);
}

/* ------------------------------------------------------------------------ */
/* Convolution descriptors                                                  */
/* ------------------------------------------------------------------------ */

#define CONV_FIELDS 14
static const char *const conv_names[CONV_FIELDS] = {
    "n",     "c",     "h",        "w",        "k",          "kernel_h",   "kernel_w",
    "pad_h", "pad_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "groups"};

static int *conv_field(clt_conv2d_desc *d, int i)
{
    int *f[CONV_FIELDS] = {&d->n,        &d->c,          &d->h,          &d->w,     &d->k,
                           &d->kernel_h, &d->kernel_w,   &d->pad_h,      &d->pad_w, &d->stride_h,
                           &d->stride_w, &d->dilation_h, &d->dilation_w, &d->groups};
    return f[i];
}

/* A plausible descriptor (not always valid: the kernel may outgrow the
 * input). */
static clt_conv2d_desc conv_plausible(uint64_t *s)
{
    int g = (int)(below(s, 3) == 0 ? 1 + below(s, 4) : 1);
    clt_conv2d_desc d = {.n = in_range(s, 1, 4),
                         .c = g * in_range(s, 1, 8),
                         .h = in_range(s, 1, 64),
                         .w = in_range(s, 1, 64),
                         .k = g * in_range(s, 1, 8),
                         .kernel_h = in_range(s, 1, 7),
                         .kernel_w = in_range(s, 1, 7),
                         .pad_h = in_range(s, 0, 3),
                         .pad_w = in_range(s, 0, 3),
                         .stride_h = in_range(s, 1, 3),
                         .stride_w = in_range(s, 1, 3),
                         .dilation_h = in_range(s, 1, 3),
                         .dilation_w = in_range(s, 1, 3),
                         .groups = g};
    if (below(s, 3) == 0) { /* the shapes the fast algorithms take */
        int k = below(s, 2) ? 3 : 1;
        d.kernel_h = d.kernel_w = k;
        d.stride_h = d.stride_w = d.dilation_h = d.dilation_w = 1;
        d.pad_h = d.pad_w = k == 1 ? 0 : in_range(s, 0, 3);
    }
    return d;
}

/* Plausible, plausible with a few fields replaced by wild values, or wild. */
static clt_conv2d_desc conv_random(uint64_t *s)
{
    clt_conv2d_desc d = conv_plausible(s);
    uint32_t mode = below(s, 10);
    if (mode < 4)
        return d;
    int mutations = mode < 8 ? 1 + (int)below(s, 3) : CONV_FIELDS;
    for (int i = 0; i < mutations; i++) {
        int f = mode < 8 ? (int)below(s, CONV_FIELDS) : i;
        if (mode < 8 || below(s, 2))
            *conv_field(&d, f) = wild(s);
    }
    return d;
}

/* Host-side geometry of a descriptor whose fields are in range. */
typedef struct conv_geom {
    long long p, q;
    uint64_t x, w, y, col;
} conv_geom;

/* The rules of clt.h for a descriptor, independent of clt's code. */
static verdict conv_rules(const clt_conv2d_desc *d, conv_geom *g)
{
    verdict v = {0};
    clt_conv2d_desc copy = *d;
    for (int i = 0; i < CONV_FIELDS; i++) {
        int min = (i == 7 || i == 8) ? 0 : 1; /* pads may be 0 */
        int value = *conv_field(&copy, i);
        if (value < min)
            bad_field(&v, CLT_STATUS_INVALID_VALUE, conv_names[i], value);
    }
    if (v.allowed)
        return v;
    if (d->c % d->groups || d->k % d->groups)
        bad_field(&v, CLT_STATUS_INVALID_SHAPE, "groups", d->groups);
    /* the dilated kernel must fit the padded input */
    long long eh = (long long)d->dilation_h * (d->kernel_h - 1) + 1;
    long long ew = (long long)d->dilation_w * (d->kernel_w - 1) + 1;
    long long ph = d->h + 2LL * d->pad_h, pw = d->w + 2LL * d->pad_w;
    if (eh > ph || ew > pw) {
        violates(&v, CLT_STATUS_INVALID_SHAPE);
        return v;
    }
    if (ph > INT_MAX || pw > INT_MAX) /* positions in the padded input are ints */
        violates(&v, CLT_STATUS_SIZE_OVERFLOW);
    g->p = (ph - eh) / d->stride_h + 1;
    g->q = (pw - ew) / d->stride_w + 1;
    g->x = mul(mul(mul((uint64_t)d->n, (uint64_t)d->c), (uint64_t)d->h), (uint64_t)d->w);
    g->w = mul(mul(mul((uint64_t)d->k, (uint64_t)(d->c / d->groups)), (uint64_t)d->kernel_h),
               (uint64_t)d->kernel_w);
    g->y = mul(mul(mul((uint64_t)d->n, (uint64_t)d->k), (uint64_t)g->p), (uint64_t)g->q);
    g->col = mul(mul(mul((uint64_t)d->c, (uint64_t)d->kernel_h), (uint64_t)d->kernel_w),
                 mul(mul((uint64_t)d->n, (uint64_t)g->p), (uint64_t)g->q));
    if (g->x > INT_MAX || g->w > INT_MAX || g->y > INT_MAX || g->col > INT_MAX)
        violates(&v, CLT_STATUS_SIZE_OVERFLOW);
    return v;
}

/* Winograd F(m,3)'s workspace for one image, in floats, from the algorithm
 * (a = m + 2): transformed filters U (a^2 K C), input tiles V (a^2 C T) and
 * products M (a^2 K T) over T = ceil(P/m) ceil(Q/m) tiles. Backward data runs
 * the forward convolution of dy (P x Q, padded by 2 - pad, so its output is
 * H x W) with K and C swapped, plus the flipped filters (9 K C). */
static uint64_t winograd_floats(const clt_conv2d_desc *d, const conv_geom *g, clt_conv_op op, int m)
{
    uint64_t kc = mul((uint64_t)d->k, (uint64_t)d->c), ck = add((uint64_t)d->c, (uint64_t)d->k);
    long long oh = op == CLT_CONV_BACKWARD_DATA ? d->h : g->p;
    long long ow = op == CLT_CONV_BACKWARD_DATA ? d->w : g->q;
    uint64_t a2 = (uint64_t)(m + 2) * (uint64_t)(m + 2);
    uint64_t t = mul((uint64_t)(oh + m - 1) / (uint64_t)m, (uint64_t)(ow + m - 1) / (uint64_t)m);
    uint64_t floats = add(mul(a2, kc), mul(mul(a2, t), ck));
    return op == CLT_CONV_BACKWARD_DATA ? add(floats, mul(9, kc)) : floats;
}

/* The rules for running pass op of a valid descriptor with algo. */
static verdict algo_rules(const clt_conv2d_desc *d, const conv_geom *g, clt_conv_op op,
                          clt_conv_algo algo)
{
    verdict v = {0};
    bool one = d->kernel_h == 1 && d->kernel_w == 1 && d->stride_h == 1 && d->stride_w == 1 &&
               d->pad_h == 0 && d->pad_w == 0;
    bool three = d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 && d->stride_w == 1 &&
                 d->dilation_h == 1 && d->dilation_w == 1 && d->groups == 1;
    if (algo == CLT_CONV_ALGO_GEMM_1X1 && !one)
        violates(&v, CLT_STATUS_NOT_SUPPORTED);
    if (algo == CLT_CONV_ALGO_WINOGRAD_F2X3 || algo == CLT_CONV_ALGO_WINOGRAD_F4X3) {
        if (!three || op == CLT_CONV_BACKWARD_WEIGHTS ||
            (op == CLT_CONV_BACKWARD_DATA && (d->pad_h > 2 || d->pad_w > 2)))
            violates(&v, CLT_STATUS_NOT_SUPPORTED);
        else if (winograd_floats(d, g, op, algo == CLT_CONV_ALGO_WINOGRAD_F4X3 ? 4 : 2) >
                 INT_MAX) /* the workspace is indexed with int */
            violates(&v, CLT_STATUS_SIZE_OVERFLOW);
    }
    return v;
}

static void describe_conv(const clt_conv2d_desc *d, char *out, size_t cap)
{
    snprintf(out, cap,
             "conv desc {n %d c %d h %d w %d k %d kernel %d x %d pad %d,%d stride %d,%d dil %d,%d "
             "groups %d}",
             d->n, d->c, d->h, d->w, d->k, d->kernel_h, d->kernel_w, d->pad_h, d->pad_w,
             d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->groups);
}

typedef struct tally {
    long sets, accepted, calls;
    long by_status[8];
} tally;

static void count(tally *t, clt_status st)
{
    t->calls++;
    for (int b = 0; b < 8; b++)
        if (bit(st) == 1u << b && st != CLT_STATUS_SUCCESS)
            t->by_status[b]++;
}

static void print_tally(const char *family, const tally *t)
{
    print_message("%s: %ld parameter sets, %ld accepted, %ld calls; rejections: null %ld, "
                  "value %ld, shape %ld, overflow %ld, too small %ld, not supported %ld, "
                  "context %ld\n",
                  family, t->sets, t->accepted, t->calls, t->by_status[0], t->by_status[1],
                  t->by_status[2], t->by_status[3], t->by_status[4], t->by_status[5],
                  t->by_status[6]);
}

/* The output shape query: agreement, the shape itself, no write on failure. */
static bool fuzz_conv_shape(const clt_conv2d_desc *d, const verdict *v, const conv_geom *g,
                            const char *what, tally *t)
{
    clt_shape y = {-7, -7, -7, -7};
    clt_status st = clt_conv2d_output_shape(d, &y);
    count(t, st);
    judge(v, st, clt_context_last_error(NULL), "clt_conv2d_output_shape", what);
    if (st != CLT_STATUS_SUCCESS) {
        assert_true(y.n == -7 && y.c == -7 && y.h == -7 && y.w == -7);
        return false;
    }
    if (y.n != d->n || y.c != d->k || y.h != g->p || y.w != g->q)
        fail_msg("%s: shape %d x %d x %d x %d, want %d x %d x %lld x %lld", what, y.n, y.c, y.h,
                 y.w, d->n, d->k, g->p, g->q);
    if (g->p < 1000 && g->q < 1000 && d->h < 1000 && d->w < 1000 && d->pad_h < 1000 &&
        d->pad_w < 1000 && d->dilation_h < 1000 && d->dilation_w < 1000 && d->kernel_h < 1000 &&
        d->kernel_w < 1000) { /* small enough for the reference's int formula */
        ref_conv r = {d->n,        d->c,          d->h,          d->w,     d->k,
                      d->kernel_h, d->kernel_w,   d->pad_h,      d->pad_w, d->stride_h,
                      d->stride_w, d->dilation_h, d->dilation_w, d->groups};
        int p, q;
        ref_conv_out_hw(&r, &p, &q);
        assert_int_equal(p, y.h);
        assert_int_equal(q, y.w);
    }
    return true;
}

/* Sanity of a workspace answer for an accepted (op, algo). */
static void check_workspace(const clt_conv2d_desc *d, const conv_geom *g, clt_conv_op op,
                            clt_conv_algo algo, size_t bytes, const char *what)
{
    uint64_t one; /* floats one image needs */
    if (algo == CLT_CONV_ALGO_DIRECT || algo == CLT_CONV_ALGO_GEMM_1X1)
        one = 0;
    else if (algo == CLT_CONV_ALGO_IM2COL_GEMM)
        one = mul(mul(mul((uint64_t)d->c, (uint64_t)d->kernel_h), (uint64_t)d->kernel_w),
                  mul((uint64_t)g->p, (uint64_t)g->q));
    else if (algo == CLT_CONV_ALGO_WINOGRAD_F2X3 || algo == CLT_CONV_ALGO_WINOGRAD_F4X3)
        one = winograd_floats(d, g, op, algo == CLT_CONV_ALGO_WINOGRAD_F4X3 ? 4 : 2);
    else
        return; /* AUTO: whichever it picks */
    uint64_t need = one * sizeof(float), cap = (uint64_t)512 << 20;
    if (bytes < need || bytes > (need > cap ? need : cap) || (one == 0 && bytes != 0))
        fail_msg("%s: %s pass %d wants %zu bytes of workspace; one image needs %" PRIu64, what,
                 clt_conv_algo_name(algo), (int)op, bytes, need);
}

static void fuzz_conv_algos(clt_context_t ctx, uint64_t *s, const clt_conv2d_desc *d,
                            const verdict *dv, const conv_geom *g, const char *what, tally *t)
{
    for (int op = -1; op <= 3; op++)
        for (int a = -1; a <= CLT_CONV_ALGO_COUNT; a++) {
            bool op_ok = op >= 0 && op <= 2, algo_ok = a >= 0 && a < CLT_CONV_ALGO_COUNT;
            if ((!op_ok || !algo_ok) && below(s, 8) != 0)
                continue; /* enums out of range: a sample is enough */
            verdict v = *dv;
            if (!op_ok || !algo_ok)
                violates(&v, CLT_STATUS_INVALID_VALUE);
            if (!dv->allowed && op_ok && algo_ok)
                v = algo_rules(d, g, (clt_conv_op)op, (clt_conv_algo)a);
            clt_status st = clt_conv2d_check(ctx, d, (clt_conv_op)op, (clt_conv_algo)a);
            count(t, st);
            judge(&v, st, clt_context_last_error(ctx), "clt_conv2d_check", what);
            if (st == CLT_STATUS_NOT_SUPPORTED &&
                !strstr(clt_context_last_error(ctx), clt_conv_algo_name((clt_conv_algo)a)))
                fail_msg("%s: the reason \"%s\" does not name the algorithm", what,
                         clt_context_last_error(ctx));
            size_t bytes = 12345;
            clt_status ws =
                clt_conv2d_workspace_size(ctx, d, (clt_conv_op)op, (clt_conv_algo)a, &bytes);
            count(t, ws);
            if (ws != st)
                fail_msg("%s, op %d, algo %d: check said %s, workspace_size %s", what, op, a,
                         clt_status_name(st), clt_status_name(ws));
            if (ws == CLT_STATUS_SUCCESS)
                check_workspace(d, g, (clt_conv_op)op, (clt_conv_algo)a, bytes, what);
            else
                assert_int_equal(bytes, 12345);
        }
}

static void test_conv_descriptors(void **state)
{
    clt_context_t ctx = *state; /* NULL without a device: shape queries only */
    if (!ctx)
        print_message("no device: clt_conv2d_check and workspace_size are not fuzzed\n");
    uint64_t s = seed;
    tally shape = {0}, algo = {0};
    for (int i = 0; i < iters; i++) {
        clt_conv2d_desc d = conv_random(&s);
        char what[300];
        describe_conv(&d, what, sizeof what);
        conv_geom g = {0};
        verdict v = conv_rules(&d, &g);
        shape.sets++;
        shape.accepted += fuzz_conv_shape(&d, &v, &g, what, &shape);
        if (ctx) {
            algo.sets++;
            fuzz_conv_algos(ctx, &s, &d, &v, &g, what, &algo);
        }
    }
    algo.accepted = algo.calls - algo.by_status[0] - algo.by_status[1] - algo.by_status[2] -
                    algo.by_status[3] - algo.by_status[4] - algo.by_status[5] - algo.by_status[6] -
                    algo.by_status[7];
    print_tally("conv output_shape", &shape);
    if (ctx)
        print_tally("conv check + workspace_size (calls accepted)", &algo);
    /* the NULL pointers, once */
    clt_conv2d_desc ok = {1, 1, 3, 3, 1, 3, 3, 0, 0, 1, 1, 1, 1, 1};
    size_t bytes;
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_conv2d_output_shape(NULL, &(clt_shape){0}));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_conv2d_output_shape(&ok, NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_check(NULL, &ok, CLT_CONV_FORWARD, CLT_CONV_ALGO_DIRECT));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_conv2d_workspace_size(NULL, &ok, CLT_CONV_FORWARD, CLT_CONV_ALGO_DIRECT, &bytes));
    if (ctx) {
        TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
                 clt_conv2d_check(ctx, NULL, CLT_CONV_FORWARD, CLT_CONV_ALGO_DIRECT));
        TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT,
                 clt_conv2d_workspace_size(ctx, &ok, CLT_CONV_FORWARD, CLT_CONV_ALGO_DIRECT, NULL));
    }
}

/* ------------------------------------------------------------------------ */
/* Pooling descriptors                                                      */
/* ------------------------------------------------------------------------ */

#define POOL_INTS 12
static const char *const pool_names[POOL_INTS] = {
    "n",        "c",        "h",     "w",     "kernel_h",  "kernel_w",
    "stride_h", "stride_w", "pad_h", "pad_w", "ceil_mode", "count_include_pad"};

static int *pool_field(clt_pool2d_desc *d, int i)
{
    int *f[POOL_INTS] = {&d->n,        &d->c,        &d->h,         &d->w,
                         &d->kernel_h, &d->kernel_w, &d->stride_h,  &d->stride_w,
                         &d->pad_h,    &d->pad_w,    &d->ceil_mode, &d->count_include_pad};
    return f[i];
}

static clt_pool2d_desc pool_plausible(uint64_t *s)
{
    clt_pool2d_desc d = {.n = in_range(s, 1, 3),
                         .c = in_range(s, 1, 4),
                         .h = in_range(s, 1, 12),
                         .w = in_range(s, 1, 12),
                         .mode = below(s, 2) ? CLT_POOL_MAX : CLT_POOL_AVG,
                         .kernel_h = in_range(s, 1, 5),
                         .kernel_w = in_range(s, 1, 5),
                         .stride_h = in_range(s, 0, 3),
                         .stride_w = in_range(s, 0, 3),
                         .ceil_mode = (int)below(s, 2),
                         .count_include_pad = (int)below(s, 2)};
    d.pad_h = in_range(s, 0, d.kernel_h / 2);
    d.pad_w = in_range(s, 0, d.kernel_w / 2);
    return d;
}

static clt_pool2d_desc pool_random(uint64_t *s)
{
    clt_pool2d_desc d = pool_plausible(s);
    uint32_t mode = below(s, 10);
    if (mode < 4)
        return d;
    int mutations = mode < 8 ? 1 + (int)below(s, 3) : POOL_INTS + 1;
    for (int i = 0; i < mutations; i++) {
        int f = mode < 8 ? (int)below(s, POOL_INTS + 1) : i;
        if (mode >= 8 && below(s, 2))
            continue;
        if (f == POOL_INTS)
            d.mode = (clt_pool_mode)wild(s);
        else
            *pool_field(&d, f) = wild(s);
    }
    return d;
}

/* PyTorch's output size along one axis, in double (exact for these sizes). */
static long long pool_out(int in, int k, int stride, int pad, int ceil_mode)
{
    double q = ((double)in + 2.0 * pad - k) / stride;
    long long out = (long long)(ceil_mode ? ceil(q) : floor(q)) + 1;
    if (ceil_mode && (double)(out - 1) * stride >= (double)in + pad)
        out--;
    return out;
}

/* One axis: kernel, stride, pad ranges, then the output size. */
static void pool_axis(verdict *v, char axis, int in, int k, int s, int p, int ceil_mode,
                      long long *out)
{
    char name[16];
    *out = 0;
    snprintf(name, sizeof name, "kernel_%c", axis);
    if (k < 1)
        bad_field(v, CLT_STATUS_INVALID_VALUE, name, k);
    snprintf(name, sizeof name, "stride_%c", axis);
    if (s < 0)
        bad_field(v, CLT_STATUS_INVALID_VALUE, name, s);
    snprintf(name, sizeof name, "pad_%c", axis);
    if (p < 0 || (k >= 1 && p > k / 2))
        bad_field(v, CLT_STATUS_INVALID_VALUE, name, p);
    if (k < 1 || s < 0 || p < 0 || p > k / 2 || in < 1)
        return;
    int stride = s ? s : k;
    /* window bounds are computed in int (clt.h: sizes past 32-bit indexing) */
    if (2 * ((long long)in + 2LL * p) + k + stride > INT_MAX)
        violates(v, CLT_STATUS_SIZE_OVERFLOW);
    *out = pool_out(in, k, stride, p, ceil_mode);
    if (*out < 1)
        violates(v, CLT_STATUS_INVALID_SHAPE);
}

static verdict pool_rules(const clt_pool2d_desc *d, long long *oh, long long *ow)
{
    verdict v = {0};
    clt_pool2d_desc copy = *d;
    for (int i = 0; i < 4; i++)
        if (*pool_field(&copy, i) < 1)
            bad_field(&v, CLT_STATUS_INVALID_SHAPE, pool_names[i], *pool_field(&copy, i));
    if (d->mode != CLT_POOL_MAX && d->mode != CLT_POOL_AVG)
        bad_field(&v, CLT_STATUS_INVALID_VALUE, "mode", (int)d->mode);
    for (int i = 10; i < 12; i++)
        if (*pool_field(&copy, i) != 0 && *pool_field(&copy, i) != 1)
            bad_field(&v, CLT_STATUS_INVALID_VALUE, pool_names[i], *pool_field(&copy, i));
    int ceil_mode = d->ceil_mode == 1;
    pool_axis(&v, 'h', d->h, d->kernel_h, d->stride_h, d->pad_h, ceil_mode, oh);
    pool_axis(&v, 'w', d->w, d->kernel_w, d->stride_w, d->pad_w, ceil_mode, ow);
    if (d->kernel_h >= 1 && d->kernel_w >= 1 &&
        (long long)d->kernel_h * d->kernel_w > INT_MAX) /* window areas are ints */
        violates(&v, CLT_STATUS_SIZE_OVERFLOW);
    if (v.allowed)
        return v;
    uint64_t nc = mul((uint64_t)d->n, (uint64_t)d->c);
    if (mul(mul(nc, (uint64_t)d->h), (uint64_t)d->w) > INT_MAX ||
        mul(mul(nc, (uint64_t)*oh), (uint64_t)*ow) > INT_MAX)
        violates(&v, CLT_STATUS_SIZE_OVERFLOW);
    return v;
}

static void test_pool_descriptors(void **state)
{
    (void)state;
    uint64_t s = seed ^ 0x9e3779b97f4a7c15ull;
    tally t = {0};
    for (int i = 0; i < iters; i++) {
        clt_pool2d_desc d = pool_random(&s);
        char what[300];
        snprintf(what, sizeof what,
                 "pool desc {n %d c %d h %d w %d mode %d kernel %d x %d stride %d,%d pad %d,%d "
                 "ceil %d include_pad %d}",
                 d.n, d.c, d.h, d.w, (int)d.mode, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w,
                 d.pad_h, d.pad_w, d.ceil_mode, d.count_include_pad);
        long long oh = 0, ow = 0;
        verdict v = pool_rules(&d, &oh, &ow);
        clt_shape y = {-7, -7, -7, -7};
        clt_status st = clt_pool2d_output_shape(&d, &y);
        t.sets++;
        count(&t, st);
        judge(&v, st, clt_context_last_error(NULL), "clt_pool2d_output_shape", what);
        if (st != CLT_STATUS_SUCCESS) {
            assert_true(y.n == -7 && y.c == -7 && y.h == -7 && y.w == -7);
            continue;
        }
        t.accepted++;
        if (y.n != d.n || y.c != d.c || y.h != oh || y.w != ow)
            fail_msg("%s: shape %d x %d x %d x %d, want %lld x %lld", what, y.n, y.c, y.h, y.w, oh,
                     ow);
        if (d.h < 100000 && d.w < 100000) { /* the reference's own formula, in int */
            int sh = d.stride_h ? d.stride_h : d.kernel_h,
                sw = d.stride_w ? d.stride_w : d.kernel_w;
            assert_int_equal(ref_pool_out_size(d.h, d.kernel_h, sh, d.pad_h, d.ceil_mode), y.h);
            assert_int_equal(ref_pool_out_size(d.w, d.kernel_w, sw, d.pad_w, d.ceil_mode), y.w);
        }
    }
    print_tally("pool output_shape", &t);
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_output_shape(NULL, &(clt_shape){0}));
}

/* ------------------------------------------------------------------------ */
/* GEMM arguments                                                           */
/* ------------------------------------------------------------------------ */

#define GEMM_BUF 96

/* Device buffers with host mirrors: what they must hold. */
typedef struct gemm_bufs {
    cl_mem mem[3];
    float host[3][GEMM_BUF];
    cl_context other;
    cl_mem foreign;
    uint64_t rng;
} gemm_bufs;

static size_t gemm_dim(uint64_t *s)
{
    static const size_t huge[] = {SIZE_MAX,
                                  SIZE_MAX / 2,
                                  (size_t)1 << 31,
                                  (size_t)1 << 32,
                                  ((size_t)1 << 32) + 1,
                                  (size_t)INT_MAX,
                                  (size_t)1 << 62,
                                  100};
    uint32_t r = below(s, 10);
    if (r == 0)
        return 0;
    if (r == 1)
        return huge[below(s, 8)];
    return (size_t)in_range(s, 1, 6);
}

static size_t gemm_offset(uint64_t *s)
{
    static const size_t huge[] = {SIZE_MAX,        SIZE_MAX - 1, SIZE_MAX / 4, (size_t)1 << 62,
                                  (size_t)INT_MAX, GEMM_BUF,     GEMM_BUF - 1};
    return below(s, 12) == 0 ? huge[below(s, 7)] : (size_t)in_range(s, 0, 40);
}

/* One operand: a buffer (usually its own), its offset. */
static clt_buf gemm_operand(uint64_t *s, const gemm_bufs *b, int own, int *which)
{
    uint32_t r = below(s, 14);
    *which = r < 10 ? own : r < 12 ? (int)below(s, 3) : r == 12 ? -1 /* NULL */ : 3 /* foreign */;
    cl_mem m = *which < 0 ? NULL : *which == 3 ? b->foreign : b->mem[*which];
    return (clt_buf){m, gemm_offset(s)};
}

typedef struct gemm_call {
    int ta, tb;
    size_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    clt_buf a, b, c;
    int wa, wb, wc; /* which buffer: 0-2 ours, -1 NULL, 3 foreign */
} gemm_call;

/* The rules for one operand (rows x cols, pitch ld) of clt_gemm. */
static void gemm_operand_rules(verdict *v, const char *ld_name, clt_buf buf, int which, size_t rows,
                               size_t cols, size_t ld, uint64_t *extent)
{
    *extent = 0;
    if (ld < cols) {
        bad_field_u(v, CLT_STATUS_INVALID_VALUE, ld_name, ld);
        return;
    }
    /* (rows - 1) ld + cols elements, and their end, must fit 64 bits */
    bool fits = rows - 1 == 0 || ld <= UINT64_MAX / (rows - 1);
    uint64_t body = fits ? (uint64_t)(rows - 1) * ld : 0;
    if (!fits || body > UINT64_MAX - cols) {
        violates(v, CLT_STATUS_SIZE_OVERFLOW);
        return;
    }
    *extent = body + cols;
    if (which < 0) {
        violates(v, CLT_STATUS_NULL_ARGUMENT);
        return;
    }
    if (which == 3) {
        violates(v, CLT_STATUS_CONTEXT_MISMATCH);
        return;
    }
    if (*extent > UINT64_MAX - buf.offset || buf.offset + *extent > UINT64_MAX / sizeof(float)) {
        violates(v, CLT_STATUS_SIZE_OVERFLOW);
        return;
    }
    uint64_t end = buf.offset + *extent;
    if (end > GEMM_BUF)
        violates(v, CLT_STATUS_BUFFER_TOO_SMALL);
    if (end > INT_MAX) /* CLBlast's kernels index with int */
        violates(v, CLT_STATUS_SIZE_OVERFLOW);
}

static bool ranges_overlap(clt_buf x, uint64_t nx, int wx, clt_buf y, uint64_t ny, int wy)
{
    return wx == wy && wx >= 0 && x.offset < y.offset + ny && y.offset < x.offset + nx;
}

static verdict gemm_rules(const gemm_call *g, uint64_t *ea, uint64_t *eb, uint64_t *ec)
{
    verdict v = {0};
    *ea = *eb = *ec = 0;
    if ((g->ta != 0 && g->ta != 1) || (g->tb != 0 && g->tb != 1))
        violates(&v, CLT_STATUS_INVALID_VALUE);
    if (g->m == 0 || g->n == 0 || g->k == 0)
        violates(&v, CLT_STATUS_INVALID_VALUE);
    if (v.allowed)
        return v;
    gemm_operand_rules(&v, "ldA", g->a, g->wa, g->ta ? g->k : g->m, g->ta ? g->m : g->k, g->lda,
                       ea);
    gemm_operand_rules(&v, "ldB", g->b, g->wb, g->tb ? g->n : g->k, g->tb ? g->k : g->n, g->ldb,
                       eb);
    gemm_operand_rules(&v, "ldC", g->c, g->wc, g->m, g->n, g->ldc, ec);
    if (!v.allowed && (ranges_overlap(g->c, *ec, g->wc, g->a, *ea, g->wa) ||
                       ranges_overlap(g->c, *ec, g->wc, g->b, *eb, g->wb)))
        violates(&v, CLT_STATUS_INVALID_VALUE);
    return v;
}

static gemm_call gemm_random(uint64_t *s, const gemm_bufs *b)
{
    static const float scalars[] = {1, 2, 0, -1, 0.5f};
    gemm_call g;
    g.ta = below(s, 12) == 0 ? wild(s) : (int)below(s, 2);
    g.tb = below(s, 12) == 0 ? wild(s) : (int)below(s, 2);
    g.m = gemm_dim(s);
    g.n = gemm_dim(s);
    g.k = gemm_dim(s);
    /* pitches: usually the tight one, sometimes more, less or absurd */
    size_t cols_a = g.ta == 1 ? g.m : g.k, cols_b = g.tb == 1 ? g.k : g.n;
    size_t *ld[3] = {&g.lda, &g.ldb, &g.ldc}, cols[3] = {cols_a, cols_b, g.n};
    for (int i = 0; i < 3; i++) {
        uint32_t r = below(s, 8);
        *ld[i] = r < 5    ? cols[i]
                 : r == 5 ? cols[i] + below(s, 3)
                 : r == 6 ? cols[i] - 1
                          : gemm_dim(s);
    }
    g.alpha = scalars[below(s, 5)];
    g.beta = scalars[below(s, 5)];
    g.a = gemm_operand(s, b, 0, &g.wa);
    g.b = gemm_operand(s, b, 1, &g.wb);
    g.c = gemm_operand(s, b, 2, &g.wc);
    return g;
}

/* Reads every buffer and compares it with its mirror. */
static void gemm_expect_mirrors(clt_context_t ctx, const gemm_bufs *b, const char *after)
{
    for (int i = 0; i < 3; i++) {
        float got[GEMM_BUF];
        assert_int_equal(clEnqueueReadBuffer(clt_context_queue(ctx), b->mem[i], CL_TRUE, 0,
                                             sizeof got, got, 0, NULL, NULL),
                         CL_SUCCESS);
        for (int j = 0; j < GEMM_BUF; j++)
            if (got[j] != b->host[i][j]) /* by value: a product may give -0 */
                fail_msg("buffer %d [%d] is %.9g, must be %.9g after %s", i, j, (double)got[j],
                         (double)b->host[i][j], after);
    }
}

static void gemm_bufs_make(clt_context_t ctx, gemm_bufs *b, uint64_t *s)
{
    cl_int err;
    b->rng = *s;
    for (int i = 0; i < 3; i++) {
        tu_fill_int(b->host[i], GEMM_BUF, -3, 3, s);
        b->mem[i] =
            clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                           sizeof b->host[i], b->host[i], &err);
        assert_int_equal(err, CL_SUCCESS);
    }
    clt_device_info info;
    TU_OK(ctx, clt_context_device_info(ctx, &info));
    b->other = clCreateContext(NULL, 1, &info.device, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    b->foreign = clCreateBuffer(b->other, CL_MEM_READ_WRITE, 4096, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
}

static void gemm_bufs_free(gemm_bufs *b)
{
    for (int i = 0; i < 3; i++)
        clReleaseMemObject(b->mem[i]);
    clReleaseMemObject(b->foreign);
    clReleaseContext(b->other);
}

/* An accepted call ran: C's mirror gets the reference result, and every
 * buffer must now equal its mirror. */
static void gemm_apply(clt_context_t ctx, gemm_bufs *b, const gemm_call *g, const char *what)
{
    float *c = b->host[g->wc] + g->c.offset;
    double out[GEMM_BUF];
    ref_gemm(g->ta, g->tb, g->m, g->n, g->k, g->alpha, b->host[g->wa] + g->a.offset, g->lda,
             b->host[g->wb] + g->b.offset, g->ldb, g->beta, c, out, g->ldc);
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++)
            c[i * g->ldc + j] = (float)out[i * g->ldc + j]; /* small multiples of 1/4: exact */
    gemm_expect_mirrors(ctx, b, what);
    /* fresh integers, so that products stay exact call after call */
    tu_fill_int(b->host[g->wc], GEMM_BUF, -3, 3, &b->rng);
    assert_int_equal(clEnqueueWriteBuffer(clt_context_queue(ctx), b->mem[g->wc], CL_TRUE, 0,
                                          sizeof b->host[g->wc], b->host[g->wc], 0, NULL, NULL),
                     CL_SUCCESS);
}

static void test_gemm_arguments(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = seed ^ 0x5851f42d4c957f2dull;
    gemm_bufs b;
    gemm_bufs_make(ctx, &b, &s);
    tally t = {0};
    int n = iters / 5;
    for (int i = 0; i < n; i++) {
        gemm_call g = gemm_random(&s, &b);
        char what[400];
        snprintf(what, sizeof what,
                 "gemm {trans %d,%d m %zu n %zu k %zu ld %zu,%zu,%zu a %d+%zu b %d+%zu c %d+%zu}",
                 g.ta, g.tb, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.wa, g.a.offset, g.wb, g.b.offset,
                 g.wc, g.c.offset);
        uint64_t ea, eb, ec;
        verdict v = gemm_rules(&g, &ea, &eb, &ec);
        clt_status st = clt_gemm(ctx, (clt_transpose)g.ta, (clt_transpose)g.tb, g.m, g.n, g.k,
                                 g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
        t.sets++;
        count(&t, st);
        judge(&v, st, clt_context_last_error(ctx), "clt_gemm", what);
        if (st == CLT_STATUS_SUCCESS) {
            t.accepted++;
            gemm_apply(ctx, &b, &g, what);
        }
    }
    gemm_expect_mirrors(ctx, &b, "the rejected calls"); /* none wrote anything */
    print_tally("gemm", &t);
    gemm_bufs_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Valid small parameter sets, executed                                     */
/* ------------------------------------------------------------------------ */

/* A small valid convolution, sizes down to 1 and pads as large as 3. */
static ref_conv small_conv(uint64_t *s)
{
    for (;;) {
        int g = (int)(below(s, 3) == 0 ? 1 + below(s, 3) : 1);
        ref_conv r = {in_range(s, 1, 2),     g * in_range(s, 1, 3),
                      in_range(s, 1, 9),     in_range(s, 1, 9),
                      g * in_range(s, 1, 3), in_range(s, 1, 4),
                      in_range(s, 1, 4),     in_range(s, 0, 3),
                      in_range(s, 0, 3),     in_range(s, 1, 3),
                      in_range(s, 1, 3),     in_range(s, 1, 2),
                      in_range(s, 1, 2),     g};
        if (below(s, 3) == 0) { /* Winograd's and GEMM_1X1's ground */
            r.r = r.s = below(s, 2) ? 3 : 1;
            r.stride_h = r.stride_w = r.dil_h = r.dil_w = 1;
            r.groups = r.r == 3 ? 1 : r.groups;
            r.c = r.r == 3 ? in_range(s, 1, 4) : r.c;
            r.k = r.r == 3 ? in_range(s, 1, 4) : r.k;
            r.pad_h = r.r == 1 ? 0 : in_range(s, 0, 2);
            r.pad_w = r.r == 1 ? 0 : in_range(s, 0, 2);
        }
        if (r.dil_h * (r.r - 1) + 1 <= r.h + 2 * r.pad_h &&
            r.dil_w * (r.s - 1) + 1 <= r.w + 2 * r.pad_w)
            return r;
    }
}

/* Runs one pass with `algo` on garbage-filled outputs with canaries, or
 * with AUTO when the algorithm declines (which check must agree with). */
static void run_conv_pass(clt_context_t ctx, const ref_conv *r, clt_conv_op op, clt_conv_algo algo,
                          uint64_t *s, int *executed)
{
    clt_conv2d_desc d = cc_desc(r);
    int p, q;
    ref_conv_out_hw(r, &p, &q);
    size_t nx = (size_t)r->n * r->c * r->h * r->w,
           nw = (size_t)r->k * (r->c / r->groups) * r->r * r->s;
    size_t ny = (size_t)r->n * r->k * p * q, nk = (size_t)r->k;
    if (clt_conv2d_check(ctx, &d, op, algo) == CLT_STATUS_NOT_SUPPORTED)
        algo = CLT_CONV_ALGO_AUTO;
    char what[200];
    cc_describe(r, algo, what, sizeof what);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *dy = malloc(ny * sizeof *dy);
    float *bias = malloc(nk * sizeof *bias);
    double *want = malloc((nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny)) * sizeof *want);
    double *dbias = malloc(nk * sizeof *dbias);
    assert_true(x && w && dy && bias && want && dbias);
    tu_fill_int(x, nx, -3, 3, s);
    tu_fill_int(w, nw, -2, 2, s);
    tu_fill_int(dy, ny, -3, 3, s);
    tu_fill_int(bias, nk, -4, 4, s);
    /* a caller's workspace of one image's worth makes the batch run in chunks */
    cl_mem ws = NULL;
    size_t ws_bytes = 0;
    if (below(s, 3) == 0) {
        clt_conv2d_desc one = d;
        one.n = 1;
        TU_OK(ctx, clt_conv2d_workspace_size(ctx, &one, op, algo, &ws_bytes));
        if (ws_bytes) {
            cl_int err;
            ws = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, ws_bytes, NULL,
                                &err);
            assert_int_equal(err, CL_SUCCESS);
        }
    }
    double wino = algo == CLT_CONV_ALGO_AUTO ? 8 : cc_rounding(algo);
    double atol = 1e-4 * 9 * (r->c + r->k) * wino; /* integers are exact but through Winograd */
    tu_buf bx = tu_buf_new(ctx, x, nx), bw = tu_buf_new(ctx, w, nw), bdy = tu_buf_new(ctx, dy, ny);
    tu_buf bb = tu_buf_new(ctx, bias, nk);
    if (op == CLT_CONV_FORWARD) {
        int relu = (int)below(s, 2), with_bias = (int)below(s, 2);
        tu_buf y = tu_buf_new(ctx, NULL, ny);
        TU_OK(ctx, clt_conv2d_forward(ctx, &d, algo, bx.b, bw.b, with_bias ? bb.b : (clt_buf){0},
                                      relu ? CLT_ACTIVATION_RELU : CLT_ACTIVATION_NONE, y.b, ws,
                                      ws_bytes));
        ref_conv2d_forward(r, x, w, with_bias ? bias : NULL, relu, want);
        tu_expect(ctx, what, y, want, atol, 1e-6);
        tu_buf_free(y);
    } else if (op == CLT_CONV_BACKWARD_DATA) {
        tu_buf dx = tu_buf_new(ctx, NULL, nx);
        TU_OK(ctx, clt_conv2d_backward_data(ctx, &d, algo, bdy.b, bw.b, dx.b, ws, ws_bytes));
        ref_conv2d_backward_data(r, dy, w, want);
        tu_expect(ctx, what, dx, want, atol, 1e-6);
        tu_buf_free(dx);
    } else {
        tu_buf dw = tu_buf_new(ctx, NULL, nw), db = tu_buf_new(ctx, NULL, nk);
        TU_OK(ctx,
              clt_conv2d_backward_weights(ctx, &d, algo, bx.b, bdy.b, dw.b, db.b, ws, ws_bytes));
        ref_conv2d_backward_weights(r, x, dy, want, dbias);
        tu_expect(ctx, what, dw, want, 0, 0);
        tu_expect(ctx, what, db, dbias, 0, 0);
        tu_buf_free(dw);
        tu_buf_free(db);
    }
    (*executed)++;
    if (ws)
        clReleaseMemObject(ws);
    tu_buf_free(bx);
    tu_buf_free(bw);
    tu_buf_free(bdy);
    tu_buf_free(bb);
    free(x);
    free(w);
    free(dy);
    free(bias);
    free(want);
    free(dbias);
}

static void test_conv_executed(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    static const clt_conv_algo algos[] = CC_ALGOS;
    uint64_t s = seed ^ 0x2545f4914f6cdd1dull;
    int executed = 0;
    for (int i = 0; i < runs; i++) {
        ref_conv r = small_conv(&s);
        for (int op = CLT_CONV_FORWARD; op <= CLT_CONV_BACKWARD_WEIGHTS; op++)
            run_conv_pass(ctx, &r, (clt_conv_op)op, algos[(i + op) % 5], &s, &executed);
    }
    print_message("conv: %d valid small parameter sets, %d passes equal to the reference\n", runs,
                  executed);
}

static void test_pool_executed(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = seed ^ 0x94d049bb133111ebull;
    int executed = 0;
    for (int i = 0; i < runs; i++) {
        clt_pool2d_desc d = pool_plausible(&s);
        clt_shape y;
        if (clt_pool2d_output_shape(&d, &y) != CLT_STATUS_SUCCESS)
            continue; /* e.g. a kernel larger than the padded input */
        ref_pool p = {d.n,
                      d.c,
                      d.h,
                      d.w,
                      d.mode == CLT_POOL_MAX,
                      d.kernel_h,
                      d.kernel_w,
                      d.stride_h ? d.stride_h : d.kernel_h,
                      d.stride_w ? d.stride_w : d.kernel_w,
                      d.pad_h,
                      d.pad_w,
                      d.ceil_mode,
                      d.count_include_pad};
        size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)y.n * y.c * y.h * y.w;
        float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
        double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
        int *arg = malloc(ny * sizeof *arg);
        assert_true(x && dy && want_y && want_dx && arg);
        tu_fill_int(x, nx, -5, 5, &s);
        tu_fill_int(dy, ny, -3, 3, &s);
        ref_pool2d_forward(&p, x, want_y, arg);
        ref_pool2d_backward(&p, dy, arg, want_dx);
        tu_buf bx = tu_buf_new(ctx, x, nx), by = tu_buf_new(ctx, NULL, ny);
        tu_buf bdy = tu_buf_new(ctx, dy, ny), bdx = tu_buf_new(ctx, NULL, nx);
        tu_buf barg = tu_buf_new(ctx, NULL, ny); /* int32s: canaries as floats */
        clt_buf argmax = p.max ? barg.b : (clt_buf){0};
        double tol = p.max ? 0 : 1e-6;
        TU_OK(ctx, clt_pool2d_forward(ctx, &d, bx.b, by.b, argmax));
        tu_expect(ctx, "pool forward", by, want_y, tol, tol);
        if (p.max) {
            int *got = malloc(ny * sizeof *got);
            assert_non_null(got);
            assert_int_equal(clEnqueueReadBuffer(clt_context_queue(ctx), barg.mem, CL_TRUE,
                                                 TU_CANARY * sizeof(float), ny * sizeof *got, got,
                                                 0, NULL, NULL),
                             CL_SUCCESS);
            for (size_t j = 0; j < ny; j++)
                if (got[j] != arg[j])
                    fail_msg("pool argmax[%zu]: got %d, want %d", j, got[j], arg[j]);
            free(got);
            tu_check_canary(ctx, barg);
        }
        TU_OK(ctx, clt_pool2d_backward(ctx, &d, bdy.b, argmax, bdx.b));
        tu_expect(ctx, "pool backward", bdx, want_dx, tol, tol);
        executed += 2;
        tu_buf_free(bx);
        tu_buf_free(by);
        tu_buf_free(bdy);
        tu_buf_free(bdx);
        tu_buf_free(barg);
        free(x);
        free(dy);
        free(want_y);
        free(want_dx);
        free(arg);
    }
    print_message("pool: %d passes equal to the reference\n", executed);
}

int main(void)
{
    /* PoCL compiles a work-group function for every new local size; the
     * random shapes here would make hundreds of them on a cold kernel cache
     * (minutes). Unspecialised ones serve every size (an explicit setting
     * wins). */
    setenv("POCL_WORK_GROUP_SPECIALIZATION", "0", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_descriptors), cmocka_unit_test(test_pool_descriptors),
        cmocka_unit_test(test_gemm_arguments),   cmocka_unit_test(test_conv_executed),
        cmocka_unit_test(test_pool_executed),
    };
    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
