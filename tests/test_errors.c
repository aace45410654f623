/* Failed calls leave no trace. For every public op, a representative set of
 * bad calls (NULL context, descriptor and buffers; zero, negative and huge
 * sizes; offsets near SIZE_MAX; buffers too small or from another OpenCL
 * context; enums out of range; aliasing outputs; workspaces too small,
 * foreign or overlapping an operand) must each return its own status with a
 * reason, and leave every output buffer, canaries included, bit for bit as
 * it was (garbage with NaNs). The same context then runs the call correctly,
 * checked against the host reference. */
#include "conv_cases.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A second OpenCL context on the same device, and a large buffer in it. */
static cl_context other;
static cl_mem foreign_mem;

static int setup(void **state)
{
    tu_group_setup(state);
    clt_context_t ctx = *state;
    if (!ctx)
        return 0;
    clt_device_info info;
    if (clt_context_device_info(ctx, &info) != CLT_STATUS_SUCCESS)
        return -1;
    cl_int err;
    other = clCreateContext(NULL, 1, &info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return -1;
    foreign_mem = clCreateBuffer(other, CL_MEM_READ_WRITE, (size_t)1 << 20, NULL, &err);
    return err == CL_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    if (foreign_mem)
        clReleaseMemObject(foreign_mem);
    if (other)
        clReleaseContext(other);
    return tu_group_teardown(state);
}

static const clt_buf none = {NULL, 0};
#define FOREIGN ((clt_buf){foreign_mem, 0})

/* ---- watching outputs ---- */

typedef struct watch {
    clt_context_t ctx;
    int n;
    tu_buf bufs[6];
    void *before[6];
} watch;

/* The whole buffer, canaries included. */
static void *read_whole(clt_context_t ctx, tu_buf b)
{
    size_t bytes = (b.n + 2 * TU_CANARY) * sizeof(float);
    void *h = malloc(bytes);
    assert_non_null(h);
    assert_int_equal(
        clEnqueueReadBuffer(clt_context_queue(ctx), b.mem, CL_TRUE, 0, bytes, h, 0, NULL, NULL),
        CL_SUCCESS);
    return h;
}

static void watch_add(watch *w, tu_buf b)
{
    w->bufs[w->n] = b;
    w->before[w->n++] = read_whole(w->ctx, b);
}

static void watch_check(watch *w, const char *after)
{
    for (int i = 0; i < w->n; i++) {
        void *now = read_whole(w->ctx, w->bufs[i]);
        int same = !memcmp(now, w->before[i], (w->bufs[i].n + 2 * TU_CANARY) * sizeof(float));
        free(now);
        if (!same)
            fail_msg("%s changed watched output %d", after, i);
    }
}

static void watch_end(watch *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->before[i]);
    w->n = 0;
}

/* Clears this thread's context-less message (a successful shape query). */
static void clear_tls(void)
{
    clt_shape s;
    clt_conv2d_desc d = {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    assert_int_equal(clt_conv2d_output_shape(&d, &s), CLT_STATUS_SUCCESS);
    assert_string_equal(clt_context_last_error(NULL), "");
}

static void bad(watch *w, clt_status want, clt_status got, clt_context_t msg_ctx, const char *call)
{
    const char *msg = clt_context_last_error(msg_ctx);
    if (got != want)
        fail_msg("%s -> %s, expected %s (%s)", call, clt_status_name(got), clt_status_name(want),
                 msg);
    if (!msg[0])
        fail_msg("%s -> %s without a reason", call, clt_status_name(got));
    watch_check(w, call);
}

/* A bad call: its status, a reason, and the watched outputs untouched. */
#define BAD(w, want, call) bad((w), (want), (call), (w)->ctx, #call)
/* The same with a NULL context: the reason is this thread's. */
#define BAD_NO_CTX(w, call) (clear_tls(), bad((w), CLT_STATUS_NULL_ARGUMENT, (call), NULL, #call))

/* An offset whose byte address overflows size_t, and one at the very end. */
#define HUGE_OFF (SIZE_MAX - 1)
static clt_buf at_end(tu_buf b)
{
    return (clt_buf){b.mem, b.n + 2 * TU_CANARY - 1};
}

static tu_buf ints(clt_context_t ctx, size_t n, int lo, int hi, uint64_t *s, float **host)
{
    *host = malloc(n * sizeof **host);
    assert_non_null(*host);
    tu_fill_int(*host, n, lo, hi, s);
    return tu_buf_new(ctx, *host, n);
}

/* ---- GEMM ---- */

static void test_gemm(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 1;
    float *ha, *hb;
    tu_buf a = ints(ctx, 6, -3, 3, &s, &ha), b = ints(ctx, 12, -3, 3, &s, &hb); /* 2x3, 3x4 */
    tu_buf c = tu_buf_new(ctx, NULL, 8);
    watch w = {.ctx = ctx};
    watch_add(&w, c);
    watch_add(&w, a);
    const clt_transpose N = CLT_NO_TRANS;
    BAD_NO_CTX(&w, clt_gemm(NULL, N, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_gemm(ctx, (clt_transpose)7, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_gemm(ctx, N, N, 0, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_gemm(ctx, N, N, 2, 4, 3, 1, a.b, 2, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_gemm(ctx, N, N, 2, 4, 3, 1, none, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_gemm(ctx, N, N, 2, 4, 3, 1, FOREIGN, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_gemm(ctx, N, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, at_end(c), 4));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_gemm(ctx, N, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, (clt_buf){c.mem, HUGE_OFF}, 4));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_gemm(ctx, N, N, SIZE_MAX, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_gemm(ctx, N, N, (size_t)1 << 31, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* C over A */
        clt_gemm(ctx, N, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, (clt_buf){a.mem, a.b.offset + 2}, 4));
    watch_end(&w);
    TU_OK(ctx, clt_gemm(ctx, N, N, 2, 4, 3, 1, a.b, 3, b.b, 4, 0, c.b, 4));
    double want[8];
    ref_gemm(0, 0, 2, 4, 3, 1, ha, 3, hb, 4, 0, NULL, want, 4);
    tu_expect(ctx, "C", c, want, 0, 0);
    tu_buf_free(a);
    tu_buf_free(b);
    tu_buf_free(c);
    free(ha);
    free(hb);
}

/* ---- convolution ---- */

/* 2 x 3 x 6 x 5, 4 filters 3x3, pad 1: Winograd's and everyone's ground. */
static const ref_conv conv_r = {2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};

typedef struct conv_fx {
    clt_conv2d_desc d;
    size_t nx, nw, ny;
    float *hx, *hw, *hdy, *hb;
    tu_buf x, w, dy, bias;
} conv_fx;

static conv_fx conv_make(clt_context_t ctx)
{
    conv_fx f = {.d = cc_desc(&conv_r)};
    int p, q;
    ref_conv_out_hw(&conv_r, &p, &q);
    f.nx = (size_t)conv_r.n * conv_r.c * conv_r.h * conv_r.w;
    f.nw = (size_t)conv_r.k * conv_r.c * 9;
    f.ny = (size_t)conv_r.n * conv_r.k * p * q;
    uint64_t s = 2;
    f.x = ints(ctx, f.nx, -3, 3, &s, &f.hx);
    f.w = ints(ctx, f.nw, -2, 2, &s, &f.hw);
    f.dy = ints(ctx, f.ny, -3, 3, &s, &f.hdy);
    f.bias = ints(ctx, (size_t)conv_r.k, -4, 4, &s, &f.hb);
    return f;
}

static void conv_free(conv_fx *f)
{
    tu_buf_free(f->x);
    tu_buf_free(f->w);
    tu_buf_free(f->dy);
    tu_buf_free(f->bias);
    free(f->hx);
    free(f->hw);
    free(f->hdy);
    free(f->hb);
}

/* The workspace one image of pass op with algo needs, as a buffer of
 * exactly that many bytes (or of `bytes` when not 0). */
static cl_mem workspace(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                        clt_conv_algo algo, size_t *bytes)
{
    clt_conv2d_desc one = *d;
    one.n = 1;
    TU_OK(ctx, clt_conv2d_workspace_size(ctx, &one, op, algo, bytes));
    assert_true(*bytes > 0);
    cl_int err;
    cl_mem m = clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, *bytes, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    return m;
}

static void test_conv_forward(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    conv_fx f = conv_make(ctx);
    tu_buf y = tu_buf_new(ctx, NULL, f.ny);
    const clt_conv_algo D = CLT_CONV_ALGO_DIRECT, I = CLT_CONV_ALGO_IM2COL_GEMM;
    const clt_activation A = CLT_ACTIVATION_RELU;
    size_t one = 0;
    cl_mem ws = workspace(ctx, &f.d, CLT_CONV_FORWARD, I, &one);
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    BAD_NO_CTX(&w, clt_conv2d_forward(NULL, &f.d, D, f.x.b, f.w.b, f.bias.b, A, y.b, NULL, 0));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_forward(ctx, NULL, D, f.x.b, f.w.b, f.bias.b, A, y.b, NULL, 0));
    struct {
        int *field, value;
        clt_status want;
    } fields[] = {
        {&f.d.h, INT_MAX, CLT_STATUS_SIZE_OVERFLOW},
        {&f.d.n, INT_MAX, CLT_STATUS_SIZE_OVERFLOW},
        {&f.d.pad_w, INT_MAX, CLT_STATUS_SIZE_OVERFLOW},
        {&f.d.pad_h, INT_MIN, CLT_STATUS_INVALID_VALUE},
        {&f.d.k, 0, CLT_STATUS_INVALID_VALUE},
        {&f.d.stride_w, -1, CLT_STATUS_INVALID_VALUE},
        {&f.d.groups, 2, CLT_STATUS_INVALID_SHAPE},
        {&f.d.kernel_w, 8, CLT_STATUS_INVALID_SHAPE},
        {&f.d.dilation_h, INT_MAX, CLT_STATUS_INVALID_SHAPE},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int saved = *fields[i].field;
        *fields[i].field = fields[i].value;
        BAD(&w, fields[i].want,
            clt_conv2d_forward(ctx, &f.d, D, f.x.b, f.w.b, f.bias.b, A, y.b, NULL, 0));
        *fields[i].field = saved;
    }
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_conv2d_forward(ctx, &f.d, (clt_conv_algo)99, f.x.b, f.w.b, f.bias.b, A, y.b, NULL, 0));
    BAD(&w, CLT_STATUS_NOT_SUPPORTED,
        clt_conv2d_forward(ctx, &f.d, CLT_CONV_ALGO_GEMM_1X1, f.x.b, f.w.b, f.bias.b, A, y.b, NULL,
                           0));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_conv2d_forward(ctx, &f.d, D, f.x.b, f.w.b, f.bias.b, (clt_activation)5, y.b, NULL, 0));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_forward(ctx, &f.d, D, none, f.w.b, f.bias.b, A, y.b, NULL, 0));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_conv2d_forward(ctx, &f.d, D, f.x.b, FOREIGN, f.bias.b, A, y.b, NULL, 0));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_conv2d_forward(ctx, &f.d, D, f.x.b, f.w.b, f.bias.b, A, at_end(y), NULL, 0));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_conv2d_forward(ctx, &f.d, D, (clt_buf){f.x.mem, HUGE_OFF}, f.w.b, f.bias.b, A, y.b,
                           NULL, 0));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, /* offset * 4 overflows */
        clt_conv2d_forward(ctx, &f.d, D, f.x.b, f.w.b, (clt_buf){f.bias.mem, SIZE_MAX / 4}, A, y.b,
                           NULL, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* y over x */
        clt_conv2d_forward(ctx, &f.d, D, f.x.b, f.w.b, f.bias.b, A, f.x.b, NULL, 0));
    BAD(&w, CLT_STATUS_WORKSPACE_TOO_SMALL,
        clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, y.b, ws, one - 4));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, y.b, NULL, one));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, y.b, foreign_mem, one));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, /* claims more than the buffer holds */
        clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, y.b, ws, one + 4));
    tu_buf mixed = tu_buf_new(ctx, NULL, f.ny + one / sizeof(float));
    watch_add(&w, mixed);
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* the workspace runs over y */
        clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, mixed.b, mixed.mem, one));
    watch_end(&w);
    tu_buf_free(mixed);
    /* a workspace of one image: the batch runs in chunks */
    TU_OK(ctx, clt_conv2d_forward(ctx, &f.d, I, f.x.b, f.w.b, f.bias.b, A, y.b, ws, one));
    double *want = malloc(f.ny * sizeof *want);
    assert_non_null(want);
    ref_conv2d_forward(&conv_r, f.hx, f.hw, f.hb, 1, want);
    tu_expect(ctx, "y", y, want, 0, 0);
    free(want);
    clReleaseMemObject(ws);
    tu_buf_free(y);
    conv_free(&f);
}

static void test_conv_prepared(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    conv_fx f = conv_make(ctx);
    tu_buf y = tu_buf_new(ctx, NULL, f.ny);
    const clt_conv_algo W = CLT_CONV_ALGO_WINOGRAD_F2X3;
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    clt_conv2d_weights_t pw = (clt_conv2d_weights_t)&w; /* must become NULL on failure */
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_conv2d_weights_create(ctx, &f.d, W, f.w.b, NULL));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, clt_conv2d_weights_create(ctx, &f.d, W, at_end(f.w), &pw));
    assert_null(pw);
    pw = (clt_conv2d_weights_t)&w;
    BAD(&w, CLT_STATUS_NOT_SUPPORTED,
        clt_conv2d_weights_create(ctx, &f.d, CLT_CONV_ALGO_GEMM_1X1, f.w.b, &pw));
    assert_null(pw);
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_conv2d_weights_create(ctx, &f.d, W, FOREIGN, &pw));
    /* weights prepared in another context */
    clt_context_t ctx2 = NULL;
    TU_OK(NULL, clt_context_create(NULL, &ctx2));
    tu_buf w2 = tu_buf_new(ctx2, f.hw, f.nw);
    clt_conv2d_weights_t pw2 = NULL;
    TU_OK(ctx2, clt_conv2d_weights_create(ctx2, &f.d, W, w2.b, &pw2));
    TU_OK(ctx, clt_conv2d_weights_create(ctx, &f.d, W, f.w.b, &pw));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_conv2d_forward_prepared(ctx, &f.d, pw2, f.x.b, none, CLT_ACTIVATION_NONE, y.b, NULL,
                                    0));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_forward_prepared(ctx, &f.d, NULL, f.x.b, none, CLT_ACTIVATION_NONE, y.b, NULL,
                                    0));
    clt_conv2d_desc other_d = f.d;
    other_d.pad_w = 0;
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_conv2d_forward_prepared(ctx, &other_d, pw, f.x.b, none, CLT_ACTIVATION_NONE, y.b, NULL,
                                    0));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_conv2d_forward_prepared(ctx, &f.d, pw, f.x.b, none, CLT_ACTIVATION_NONE, at_end(y),
                                    NULL, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_conv2d_forward_prepared(ctx, &f.d, pw, f.x.b, none, (clt_activation)-1, y.b, NULL, 0));
    watch_end(&w);
    clt_conv2d_weights_destroy(pw2);
    tu_buf_free(w2);
    clt_context_destroy(ctx2);
    TU_OK(ctx, clt_conv2d_forward_prepared(ctx, &f.d, pw, f.x.b, none, CLT_ACTIVATION_NONE, y.b,
                                           NULL, 0));
    double *want = malloc(f.ny * sizeof *want);
    assert_non_null(want);
    ref_conv2d_forward(&conv_r, f.hx, f.hw, NULL, 0, want);
    tu_expect(ctx, "y", y, want, 1e-3, 1e-6); /* Winograd's fractions */
    free(want);
    clt_conv2d_weights_destroy(pw);
    clt_conv2d_weights_destroy(NULL);
    assert_int_equal(clt_conv2d_weights_algo(NULL), CLT_CONV_ALGO_AUTO);
    tu_buf_free(y);
    conv_free(&f);
}

static void test_conv_backward_data(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    conv_fx f = conv_make(ctx);
    tu_buf dx = tu_buf_new(ctx, NULL, f.nx);
    const clt_conv_algo W = CLT_CONV_ALGO_WINOGRAD_F2X3;
    size_t one = 0;
    cl_mem ws = workspace(ctx, &f.d, CLT_CONV_BACKWARD_DATA, W, &one);
    watch w = {.ctx = ctx};
    watch_add(&w, dx);
    watch_add(&w, f.dy);
    BAD_NO_CTX(&w, clt_conv2d_backward_data(NULL, &f.d, W, f.dy.b, f.w.b, dx.b, NULL, 0));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_conv2d_backward_data(ctx, &f.d, W, none, f.w.b, dx.b, NULL, 0));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_conv2d_backward_data(ctx, &f.d, W, f.dy.b, f.w.b, FOREIGN, NULL, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dx over dy */
        clt_conv2d_backward_data(ctx, &f.d, W, f.dy.b, f.w.b, f.dy.b, NULL, 0));
    BAD(&w, CLT_STATUS_WORKSPACE_TOO_SMALL,
        clt_conv2d_backward_data(ctx, &f.d, W, f.dy.b, f.w.b, dx.b, ws, one / 2));
    tu_buf mixed = tu_buf_new(ctx, NULL, f.nx + one / sizeof(float));
    watch_add(&w, mixed);
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* the workspace runs over dx */
        clt_conv2d_backward_data(ctx, &f.d, W, f.dy.b, f.w.b, mixed.b, mixed.mem, one));
    clt_conv2d_desc wide = f.d;
    wide.pad_h = 3;
    BAD(&w, CLT_STATUS_NOT_SUPPORTED,
        clt_conv2d_backward_data(ctx, &wide, W, f.dy.b, f.w.b, dx.b, NULL, 0));
    watch_end(&w);
    tu_buf_free(mixed);
    TU_OK(ctx, clt_conv2d_backward_data(ctx, &f.d, W, f.dy.b, f.w.b, dx.b, ws, one));
    double *want = malloc(f.nx * sizeof *want);
    assert_non_null(want);
    ref_conv2d_backward_data(&conv_r, f.hdy, f.hw, want);
    tu_expect(ctx, "dx", dx, want, 1e-3, 1e-6);
    free(want);
    clReleaseMemObject(ws);
    tu_buf_free(dx);
    conv_free(&f);
}

static void test_conv_backward_weights(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    conv_fx f = conv_make(ctx);
    tu_buf dw = tu_buf_new(ctx, NULL, f.nw), db = tu_buf_new(ctx, NULL, (size_t)conv_r.k);
    const clt_conv_algo I = CLT_CONV_ALGO_IM2COL_GEMM;
    size_t one = 0;
    cl_mem ws = workspace(ctx, &f.d, CLT_CONV_BACKWARD_WEIGHTS, I, &one);
    watch w = {.ctx = ctx};
    watch_add(&w, dw);
    watch_add(&w, db);
    BAD_NO_CTX(&w, clt_conv2d_backward_weights(NULL, &f.d, I, f.x.b, f.dy.b, dw.b, db.b, NULL, 0));
    BAD(&w, CLT_STATUS_NOT_SUPPORTED,
        clt_conv2d_backward_weights(ctx, &f.d, CLT_CONV_ALGO_WINOGRAD_F2X3, f.x.b, f.dy.b, dw.b,
                                    db.b, NULL, 0));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_conv2d_backward_weights(ctx, &f.d, I, f.x.b, f.dy.b, dw.b, at_end(db), NULL, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dbias inside dw */
        clt_conv2d_backward_weights(ctx, &f.d, I, f.x.b, f.dy.b, dw.b,
                                    (clt_buf){dw.mem, dw.b.offset + 1}, NULL, 0));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_conv2d_backward_weights(ctx, &f.d, I, FOREIGN, f.dy.b, dw.b, db.b, NULL, 0));
    BAD(&w, CLT_STATUS_WORKSPACE_TOO_SMALL,
        clt_conv2d_backward_weights(ctx, &f.d, I, f.x.b, f.dy.b, dw.b, db.b, ws, 4));
    tu_buf mixed = tu_buf_new(ctx, NULL, f.nw + one / sizeof(float));
    watch_add(&w, mixed);
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* the workspace runs over dw */
        clt_conv2d_backward_weights(ctx, &f.d, I, f.x.b, f.dy.b, mixed.b, db.b, mixed.mem, one));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_conv2d_backward_weights(ctx, &f.d, (clt_conv_algo)-3, f.x.b, f.dy.b, dw.b, db.b, NULL,
                                    0));
    watch_end(&w);
    tu_buf_free(mixed);
    TU_OK(ctx, clt_conv2d_backward_weights(ctx, &f.d, I, f.x.b, f.dy.b, dw.b, db.b, ws, one));
    double *want = malloc(f.nw * sizeof *want), want_db[4];
    assert_non_null(want);
    ref_conv2d_backward_weights(&conv_r, f.hx, f.hdy, want, want_db);
    tu_expect(ctx, "dw", dw, want, 0, 0);
    tu_expect(ctx, "dbias", db, want_db, 0, 0);
    free(want);
    clReleaseMemObject(ws);
    tu_buf_free(dw);
    tu_buf_free(db);
    conv_free(&f);
}

static void test_im2col_col2im(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    conv_fx f = conv_make(ctx);
    int p, q;
    ref_conv_out_hw(&conv_r, &p, &q);
    size_t ncol = (size_t)conv_r.c * 9 * conv_r.n * p * q;
    tu_buf col = tu_buf_new(ctx, NULL, ncol), x = tu_buf_new(ctx, NULL, f.nx);
    watch w = {.ctx = ctx};
    watch_add(&w, col);
    watch_add(&w, x);
    BAD_NO_CTX(&w, clt_im2col(NULL, &f.d, f.x.b, col.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_im2col(ctx, NULL, f.x.b, col.b));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, clt_im2col(ctx, &f.d, f.x.b, at_end(col)));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_im2col(ctx, &f.d, FOREIGN, col.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_im2col(ctx, &f.d, col.b, col.b)); /* col over x */
    BAD_NO_CTX(&w, clt_col2im(NULL, &f.d, col.b, x.b));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_col2im(ctx, &f.d, col.b, (clt_buf){x.mem, HUGE_OFF}));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_col2im(ctx, &f.d, none, x.b));
    clt_conv2d_desc bad_d = f.d;
    bad_d.stride_h = 0;
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_col2im(ctx, &bad_d, col.b, x.b));
    watch_end(&w);
    TU_OK(ctx, clt_im2col(ctx, &f.d, f.x.b, col.b));
    double *want_col = malloc(ncol * sizeof *want_col), *want_x = malloc(f.nx * sizeof *want_x);
    float *got_col = malloc(ncol * sizeof *got_col);
    assert_true(want_col && want_x && got_col);
    ref_im2col(&conv_r, f.hx, want_col);
    tu_expect(ctx, "col", col, want_col, 0, 0);
    TU_OK(ctx, clt_col2im(ctx, &f.d, col.b, x.b));
    tu_buf_read(ctx, col, got_col);
    ref_col2im(&conv_r, got_col, want_x);
    tu_expect(ctx, "x", x, want_x, 0, 0);
    free(want_col);
    free(want_x);
    free(got_col);
    tu_buf_free(col);
    tu_buf_free(x);
    conv_free(&f);
}

/* ---- fill ---- */

static void test_fill(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    tu_buf y = tu_buf_new(ctx, NULL, 10);
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    BAD_NO_CTX(&w, clt_fill(NULL, y.b, 10, 1));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_fill(ctx, y.b, 0, 1));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_fill(ctx, y.b, SIZE_MAX, 1));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, clt_fill(ctx, y.b, 11 + TU_CANARY, 1));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_fill(ctx, none, 10, 1));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_fill(ctx, FOREIGN, 10, 1));
    cl_image_format fmt = {CL_R, CL_FLOAT};
    cl_image_desc desc = {
        .image_type = CL_MEM_OBJECT_IMAGE2D, .image_width = 64, .image_height = 4};
    cl_int err;
    cl_mem image =
        clCreateImage(clt_context_cl_context(ctx), CL_MEM_READ_WRITE, &fmt, &desc, NULL, &err);
    if (image) { /* devices without images skip this */
        BAD(&w, CLT_STATUS_CL_INVALID_MEM_OBJECT, clt_fill(ctx, (clt_buf){image, 0}, 10, 1));
        clReleaseMemObject(image);
    }
    watch_end(&w);
    TU_OK(ctx, clt_fill(ctx, y.b, 10, 2.5f));
    double want[10];
    for (int i = 0; i < 10; i++)
        want[i] = 2.5;
    tu_expect(ctx, "y", y, want, 0, 0);
    tu_buf_free(y);
}

/* ---- pooling ---- */

static void test_pool(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    const ref_pool r = {2, 3, 7, 6, 1, 3, 3, 2, 2, 1, 1, 1, 0};
    clt_pool2d_desc d = {.n = 2,
                         .c = 3,
                         .h = 7,
                         .w = 6,
                         .mode = CLT_POOL_MAX,
                         .kernel_h = 3,
                         .kernel_w = 3,
                         .stride_h = 2,
                         .stride_w = 2,
                         .pad_h = 1,
                         .pad_w = 1,
                         .ceil_mode = 1};
    clt_shape s;
    TU_OK(NULL, clt_pool2d_output_shape(&d, &s));
    size_t nx = 2 * 3 * 7 * 6, ny = (size_t)s.n * s.c * s.h * s.w;
    uint64_t seed = 3;
    float *hx, *hdy;
    tu_buf x = ints(ctx, nx, -5, 5, &seed, &hx), dy = ints(ctx, ny, -3, 3, &seed, &hdy);
    tu_buf y = tu_buf_new(ctx, NULL, ny), arg = tu_buf_new(ctx, NULL, ny);
    tu_buf dx = tu_buf_new(ctx, NULL, nx);
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    watch_add(&w, arg);
    watch_add(&w, dx);
    BAD_NO_CTX(&w, clt_pool2d_forward(NULL, &d, x.b, y.b, arg.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, NULL, x.b, y.b, arg.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_forward(ctx, &d, x.b, y.b, none));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, clt_pool2d_forward(ctx, &d, x.b, y.b, at_end(arg)));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_pool2d_forward(ctx, &d, x.b, FOREIGN, arg.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_pool2d_forward(ctx, &d, x.b, y.b, y.b));
    clt_pool2d_desc e = d;
    e.mode = (clt_pool_mode)5;
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_pool2d_forward(ctx, &e, x.b, y.b, arg.b));
    e = d;
    e.pad_w = 2;
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_pool2d_forward(ctx, &e, x.b, y.b, arg.b));
    e = d;
    e.h = INT_MAX;
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_pool2d_forward(ctx, &e, x.b, y.b, arg.b));
    e = d;
    e.kernel_h = 12; /* no window fits: the output would be empty */
    BAD(&w, CLT_STATUS_INVALID_SHAPE, clt_pool2d_forward(ctx, &e, x.b, y.b, arg.b));
    BAD_NO_CTX(&w, clt_pool2d_backward(NULL, &d, dy.b, arg.b, dx.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_pool2d_backward(ctx, &d, dy.b, none, dx.b));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_pool2d_backward(ctx, &d, dy.b, arg.b, (clt_buf){dx.mem, HUGE_OFF}));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dx over dy */
        clt_pool2d_backward(ctx, &d, (clt_buf){dx.mem, dx.b.offset + 3}, arg.b, dx.b));
    watch_end(&w);
    TU_OK(ctx, clt_pool2d_forward(ctx, &d, x.b, y.b, arg.b));
    TU_OK(ctx, clt_pool2d_backward(ctx, &d, dy.b, arg.b, dx.b));
    double *want_y = malloc(ny * sizeof *want_y), *want_dx = malloc(nx * sizeof *want_dx);
    int *want_arg = malloc(ny * sizeof *want_arg);
    assert_true(want_y && want_dx && want_arg);
    ref_pool2d_forward(&r, hx, want_y, want_arg);
    ref_pool2d_backward(&r, hdy, want_arg, want_dx);
    tu_expect(ctx, "y", y, want_y, 0, 0);
    tu_expect(ctx, "dx", dx, want_dx, 0, 0);
    free(want_y);
    free(want_dx);
    free(want_arg);
    free(hx);
    free(hdy);
    tu_buf_free(x);
    tu_buf_free(dy);
    tu_buf_free(y);
    tu_buf_free(arg);
    tu_buf_free(dx);
}

/* ---- training-step ops ---- */

static void test_bias_relu(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 4;
    float *hy, *hb;
    tu_buf y = ints(ctx, 24, -3, 3, &s, &hy), b = ints(ctx, 3, -2, 2, &s, &hb);
    tu_buf db = tu_buf_new(ctx, NULL, 3), r = tu_buf_new(ctx, NULL, 24);
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    watch_add(&w, db);
    watch_add(&w, r);
    BAD_NO_CTX(&w, clt_bias_add(NULL, 2, 3, 4, y.b, b.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_bias_add(ctx, -1, 3, 4, y.b, b.b));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_bias_add(ctx, 2, INT_MAX, 1, y.b, b.b));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_bias_add(ctx, 2, 3, 4, y.b, FOREIGN));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_bias_add(ctx, 2, 3, 4, y.b, y.b));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, clt_bias_backward(ctx, 2, 3, 4, y.b, at_end(db)));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_bias_backward(ctx, 2, 3, 4, y.b, (clt_buf){db.mem, HUGE_OFF}));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_relu_forward(ctx, 0, y.b, r.b));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_relu_forward(ctx, SIZE_MAX, y.b, r.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* partial overlap */
        clt_relu_forward(ctx, 24, y.b, (clt_buf){y.mem, y.b.offset + 1}));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_relu_backward(ctx, 24, y.b, none, r.b));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_relu_backward(ctx, 24, y.b, y.b, FOREIGN));
    watch_end(&w);
    TU_OK(ctx, clt_bias_add(ctx, 2, 3, 4, y.b, b.b));
    double want[24], want_db[3];
    ref_bias_add(2, 3, 4, hy, hb, want);
    tu_expect(ctx, "y", y, want, 0, 0);
    TU_OK(ctx, clt_bias_backward(ctx, 2, 3, 4, y.b, db.b));
    float now[24];
    tu_buf_read(ctx, y, now);
    ref_bias_backward(2, 3, 4, now, want_db);
    tu_expect(ctx, "dbias", db, want_db, 0, 0);
    TU_OK(ctx, clt_relu_forward(ctx, 24, y.b, r.b));
    ref_relu_forward(24, now, want);
    tu_expect(ctx, "relu", r, want, 0, 0);
    free(hy);
    free(hb);
    tu_buf_free(y);
    tu_buf_free(b);
    tu_buf_free(db);
    tu_buf_free(r);
}

static void test_linear(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 5;
    float *hx, *hw, *hb, *hdy; /* batch 2, in 3, out 4 */
    tu_buf x = ints(ctx, 6, -3, 3, &s, &hx), wt = ints(ctx, 12, -2, 2, &s, &hw);
    tu_buf b = ints(ctx, 4, -2, 2, &s, &hb), dy = ints(ctx, 8, -3, 3, &s, &hdy);
    tu_buf y = tu_buf_new(ctx, NULL, 8), dx = tu_buf_new(ctx, NULL, 6);
    tu_buf dw = tu_buf_new(ctx, NULL, 12), db = tu_buf_new(ctx, NULL, 4);
    watch w = {.ctx = ctx};
    watch_add(&w, y);
    watch_add(&w, dx);
    watch_add(&w, dw);
    watch_add(&w, db);
    BAD_NO_CTX(&w, clt_linear_forward(NULL, 2, 3, 4, x.b, wt.b, b.b, y.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_linear_forward(ctx, 0, 3, 4, x.b, wt.b, b.b, y.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_linear_forward(ctx, 2, INT_MIN, 4, x.b, wt.b, b.b, y.b));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_linear_forward(ctx, 2, INT_MAX, 4, x.b, wt.b, b.b, y.b));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_linear_forward(ctx, 2, 3, 4, x.b, FOREIGN, b.b, y.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_linear_forward(ctx, 2, 3, 4, x.b, wt.b, b.b, none));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_linear_forward(ctx, 2, 3, 4, x.b, wt.b, b.b, wt.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_linear_backward(ctx, 2, 3, 4, x.b, wt.b, dy.b, none, none, none));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT,
        clt_linear_backward(ctx, 2, 3, 4, none, wt.b, dy.b, dx.b, dw.b, db.b));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_linear_backward(ctx, 2, 3, 4, x.b, wt.b, dy.b, dx.b, (clt_buf){dw.mem, HUGE_OFF},
                            db.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dw over dx */
        clt_linear_backward(ctx, 2, 3, 4, x.b, wt.b, dy.b, dx.b, dx.b, db.b));
    watch_end(&w);
    TU_OK(ctx, clt_linear_forward(ctx, 2, 3, 4, x.b, wt.b, b.b, y.b));
    TU_OK(ctx, clt_linear_backward(ctx, 2, 3, 4, x.b, wt.b, dy.b, dx.b, dw.b, db.b));
    double want_y[8], want_dx[6], want_dw[12], want_db[4];
    ref_linear_forward(2, 3, 4, hx, hw, hb, want_y);
    ref_linear_backward(2, 3, 4, hx, hw, hdy, want_dx, want_dw, want_db);
    tu_expect(ctx, "y", y, want_y, 0, 0);
    tu_expect(ctx, "dx", dx, want_dx, 0, 0);
    tu_expect(ctx, "dw", dw, want_dw, 0, 0);
    tu_expect(ctx, "db", db, want_db, 0, 0);
    free(hx);
    free(hw);
    free(hb);
    free(hdy);
    tu_buf_free(x);
    tu_buf_free(wt);
    tu_buf_free(b);
    tu_buf_free(dy);
    tu_buf_free(y);
    tu_buf_free(dx);
    tu_buf_free(dw);
    tu_buf_free(db);
}

static void test_losses(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 6;
    float *hz, *ht; /* batch 2, classes 3 */
    tu_buf z = ints(ctx, 6, -3, 3, &s, &hz), t = ints(ctx, 6, -3, 3, &s, &ht);
    const int labels[2] = {2, 0};
    cl_int err;
    cl_mem lab =
        clCreateBuffer(clt_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       sizeof labels, (void *)labels, &err);
    assert_int_equal(err, CL_SUCCESS);
    clt_buf L = {lab, 0};
    tu_buf loss = tu_buf_new(ctx, NULL, 1), probs = tu_buf_new(ctx, NULL, 6);
    tu_buf dz = tu_buf_new(ctx, NULL, 6), mse = tu_buf_new(ctx, NULL, 1);
    tu_buf dp = tu_buf_new(ctx, NULL, 6);
    watch w = {.ctx = ctx};
    watch_add(&w, loss);
    watch_add(&w, probs);
    watch_add(&w, dz);
    watch_add(&w, mse);
    watch_add(&w, dp);
    BAD_NO_CTX(&w, clt_softmax_cross_entropy_forward(NULL, 2, 3, z.b, L, loss.b, probs.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_softmax_cross_entropy_forward(ctx, 2, 0, z.b, L, loss.b, probs.b));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL, /* 3 labels in 2 ints */
        clt_softmax_cross_entropy_forward(ctx, 3, 2, z.b, L, loss.b, probs.b));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_softmax_cross_entropy_forward(ctx, 2, 3, z.b, FOREIGN, loss.b, probs.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* probs partly over the logits */
        clt_softmax_cross_entropy_forward(ctx, 2, 3, z.b, L, loss.b,
                                          (clt_buf){z.mem, z.b.offset + 2}));
    BAD(&w, CLT_STATUS_BUFFER_TOO_SMALL,
        clt_softmax_cross_entropy_forward(ctx, INT_MAX, INT_MAX, z.b, L, loss.b, probs.b));
    BAD(&w, CLT_STATUS_NULL_ARGUMENT, clt_softmax_cross_entropy_backward(ctx, 2, 3, z.b, L, none));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dlogits over the labels */
        clt_softmax_cross_entropy_backward(ctx, 2, 3, z.b, (clt_buf){dp.mem, dp.b.offset + 1},
                                           dp.b));
    BAD_NO_CTX(&w, clt_mse_loss_forward(NULL, 6, z.b, t.b, mse.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_mse_loss_forward(ctx, 0, z.b, t.b, mse.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* loss inside pred */
        clt_mse_loss_forward(ctx, 6, z.b, t.b, (clt_buf){z.mem, z.b.offset + 5}));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW, clt_mse_loss_forward(ctx, SIZE_MAX / 2, z.b, t.b, mse.b));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* dpred partly over target */
        clt_mse_loss_backward(ctx, 6, z.b, t.b, (clt_buf){t.mem, t.b.offset + 3}));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH, clt_mse_loss_backward(ctx, 6, z.b, FOREIGN, dp.b));
    watch_end(&w);
    TU_OK(ctx, clt_softmax_cross_entropy_forward(ctx, 2, 3, z.b, L, loss.b, probs.b));
    TU_OK(ctx, clt_softmax_cross_entropy_backward(ctx, 2, 3, z.b, L, dz.b));
    TU_OK(ctx, clt_mse_loss_forward(ctx, 6, z.b, t.b, mse.b));
    TU_OK(ctx, clt_mse_loss_backward(ctx, 6, z.b, t.b, dp.b));
    double want_probs[6], want_dz[6], want_dp[6];
    double want_loss = ref_softmax_ce_forward(2, 3, hz, labels, want_probs);
    ref_softmax_ce_backward(2, 3, hz, labels, want_dz);
    double want_mse = ref_mse_forward(6, hz, ht);
    ref_mse_backward(6, hz, ht, want_dp);
    tu_expect(ctx, "loss", loss, &want_loss, 1e-6, 1e-5);
    tu_expect(ctx, "probs", probs, want_probs, 1e-6, 1e-5);
    tu_expect(ctx, "dlogits", dz, want_dz, 1e-6, 1e-5);
    tu_expect(ctx, "mse", mse, &want_mse, 0, 1e-6);
    tu_expect(ctx, "dpred", dp, want_dp, 0, 1e-6);
    clReleaseMemObject(lab);
    free(hz);
    free(ht);
    tu_buf_free(z);
    tu_buf_free(t);
    tu_buf_free(loss);
    tu_buf_free(probs);
    tu_buf_free(dz);
    tu_buf_free(mse);
    tu_buf_free(dp);
}

static void test_sgd(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    uint64_t s = 7;
    float *hp, *hg, *hv;
    tu_buf p = ints(ctx, 10, -3, 3, &s, &hp), g = ints(ctx, 10, -3, 3, &s, &hg);
    tu_buf v = ints(ctx, 10, -1, 1, &s, &hv);
    watch w = {.ctx = ctx};
    watch_add(&w, p);
    watch_add(&w, v);
    BAD_NO_CTX(&w, clt_sgd_momentum_update(NULL, 10, p.b, g.b, v.b, 0.5f, 0.5f, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_sgd_momentum_update(ctx, 0, p.b, g.b, v.b, 0.5f, 0.5f, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_sgd_momentum_update(ctx, 10, p.b, g.b, v.b, NAN, 0.5f, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE, clt_sgd_momentum_update(ctx, 10, p.b, g.b, v.b, 0.5f, -1, 0));
    BAD(&w, CLT_STATUS_INVALID_VALUE,
        clt_sgd_momentum_update(ctx, 10, p.b, g.b, v.b, 0.5f, 0.5f, INFINITY));
    BAD(&w, CLT_STATUS_INVALID_VALUE, /* grad is param */
        clt_sgd_momentum_update(ctx, 10, p.b, p.b, v.b, 0.5f, 0.5f, 0));
    BAD(&w, CLT_STATUS_CONTEXT_MISMATCH,
        clt_sgd_momentum_update(ctx, 10, p.b, g.b, FOREIGN, 0.5f, 0.5f, 0));
    BAD(&w, CLT_STATUS_SIZE_OVERFLOW,
        clt_sgd_momentum_update(ctx, 10, p.b, (clt_buf){g.mem, HUGE_OFF}, v.b, 0.5f, 0.5f, 0));
    watch_end(&w);
    TU_OK(ctx, clt_sgd_momentum_update(ctx, 10, p.b, g.b, v.b, 0.5f, 0.5f, 0.25f));
    double param[10], vel[10];
    for (int i = 0; i < 10; i++) {
        param[i] = hp[i];
        vel[i] = hv[i];
    }
    ref_sgd_momentum_step(10, param, hg, vel, 0.5, 0.5, 0.25);
    tu_expect(ctx, "param", p, param, 0, 1e-6);
    tu_expect(ctx, "velocity", v, vel, 0, 1e-6);
    free(hp);
    free(hg);
    free(hv);
    tu_buf_free(p);
    tu_buf_free(g);
    tu_buf_free(v);
}

/* ---- contexts and queries ---- */

static void test_context_calls(void **state)
{
    clt_context_t ctx = tu_ctx(state);
    clt_context_t out = (clt_context_t)state; /* must become NULL on failure */
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_context_create(NULL, NULL));
    clt_context_options bad_cache = {.cache = (clt_cache_mode)7};
    TU_FAILS(NULL, CLT_STATUS_INVALID_VALUE, clt_context_create(&bad_cache, &out));
    assert_null(out);
    assert_non_null(strstr(clt_context_last_error(NULL), "cache = 7"));
    out = (clt_context_t)state;
    TU_FAILS(NULL, CLT_STATUS_INVALID_VALUE,
             clt_context_create_from_queue(clt_context_queue(ctx), &bad_cache, &out));
    assert_null(out);
    clt_context_options nowhere = {.device = "no such device, surely"};
    out = (clt_context_t)state;
    TU_FAILS(NULL, CLT_STATUS_DEVICE_NOT_FOUND, clt_context_create(&nowhere, &out));
    assert_null(out);
    char long_dir[2000];
    memset(long_dir, 'd', sizeof long_dir - 1);
    long_dir[sizeof long_dir - 1] = '\0';
    clt_context_options too_long = {.cache_dir = long_dir, .cache = CLT_CACHE_ON};
    TU_FAILS(NULL, CLT_STATUS_INVALID_VALUE, clt_context_create(&too_long, &out));
    assert_null(out);
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_context_create_from_queue(NULL, NULL, &out));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT,
             clt_context_create_from_queue(clt_context_queue(ctx), NULL, NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_devices_list(NULL, 0, NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_devices_list(NULL, 2, &(int){0}));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_finish(NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_context_load_kernels(NULL, NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_context_device_info(NULL, NULL));
    TU_FAILS(ctx, CLT_STATUS_NULL_ARGUMENT, clt_context_device_info(ctx, NULL));
    TU_FAILS(NULL, CLT_STATUS_NULL_ARGUMENT, clt_conv_algo_from_name(NULL, NULL));
    assert_null(clt_context_cl_context(NULL));
    assert_null(clt_context_queue(NULL));
    assert_string_equal(clt_context_cache_dir(NULL), "");
    assert_null(clt_conv_algo_name((clt_conv_algo)-1));
    assert_string_equal(clt_status_name((clt_status)12345), "CLT_STATUS_UNKNOWN");
    assert_string_equal(clt_status_string((clt_status)-99999), "unknown status");
    clt_context_destroy(NULL);
    /* and the context is as good as new */
    TU_OK(ctx, clt_finish(ctx));
    assert_string_equal(clt_context_last_error(ctx), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_conv_forward),
        cmocka_unit_test(test_conv_prepared),
        cmocka_unit_test(test_conv_backward_data),
        cmocka_unit_test(test_conv_backward_weights),
        cmocka_unit_test(test_im2col_col2im),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_bias_relu),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_context_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
