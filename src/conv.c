/* Convolution: descriptor validation, output shapes, workspace, algorithm
 * choice and dispatch. The algorithms live in conv_*.c, one per file, and
 * are listed once in the table below. */
#include "conv_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const clt__conv_impl *const algos[] = {
    &clt__conv_direct,   &clt__conv_im2col,    &clt__conv_gemm1x1,
    &clt__conv_winograd, &clt__conv_winograd4,
};
#define N_ALGOS (sizeof algos / sizeof algos[0])

static const char *const algo_names[CLT_CONV_ALGO_COUNT] = {
    [CLT_CONV_ALGO_AUTO] = "auto",
    [CLT_CONV_ALGO_DIRECT] = "direct",
    [CLT_CONV_ALGO_IM2COL_GEMM] = "im2col",
    [CLT_CONV_ALGO_GEMM_1X1] = "gemm1x1",
    [CLT_CONV_ALGO_WINOGRAD_F2X3] = "winograd",
    [CLT_CONV_ALGO_WINOGRAD_F4X3] = "winograd4",
};

/* Default cap on an operation's workspace when clt chooses it: larger
 * batches run in chunks. */
#define WORKSPACE_LIMIT ((size_t)512 << 20)
/* Kernels index the workspace with int: no pass may use more than this. */
#define WORKSPACE_INDEX_LIMIT ((size_t)INT32_MAX * sizeof(float))

const char *clt_conv_algo_name(clt_conv_algo algo)
{
    return (unsigned)algo < CLT_CONV_ALGO_COUNT ? algo_names[algo] : NULL;
}

clt_status clt_conv_algo_from_name(const char *name, clt_conv_algo *out)
{
    if (!name || !out)
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "name or out is NULL");
    for (int a = 0; a < CLT_CONV_ALGO_COUNT; a++)
        if (!strcmp(name, algo_names[a])) {
            *out = (clt_conv_algo)a;
            return CLT_STATUS_SUCCESS;
        }
    return clt__fail(
        NULL, CLT_STATUS_INVALID_VALUE,
        "unknown algorithm \"%s\" (auto, direct, im2col, gemm1x1, winograd, winograd4)", name);
}

/* The optional members of an algorithm, with their defaults. */
static bool supports(const clt__conv_impl *impl, const clt_conv2d_desc *d, clt_conv_op op,
                     char *why, size_t cap)
{
    return !impl->supports || impl->supports(d, op, why, cap);
}

static size_t workspace(const clt__conv_impl *impl, const clt_conv2d_desc *d, clt_conv_op op,
                        int images)
{
    return impl->workspace ? impl->workspace(d, op, images) : 0;
}

static const clt__conv_impl *impl_of(clt_conv_algo algo)
{
    for (size_t i = 0; i < N_ALGOS; i++)
        if (algos[i]->algo == algo)
            return algos[i];
    return NULL;
}

/* ---- shapes ---- */

void clt__conv_out_hw(const clt_conv2d_desc *d, int *p, int *q)
{
    long long eh = (long long)d->dilation_h * (d->kernel_h - 1) + 1;
    long long ew = (long long)d->dilation_w * (d->kernel_w - 1) + 1;
    *p = (int)(((long long)d->h + 2LL * d->pad_h - eh) / d->stride_h + 1);
    *q = (int)(((long long)d->w + 2LL * d->pad_w - ew) / d->stride_w + 1);
}

size_t clt__conv_x_elems(const clt_conv2d_desc *d)
{
    return (size_t)d->n * (size_t)d->c * (size_t)d->h * (size_t)d->w;
}

size_t clt__conv_w_elems(const clt_conv2d_desc *d)
{
    return (size_t)d->k * (size_t)(d->c / d->groups) * (size_t)d->kernel_h * (size_t)d->kernel_w;
}

size_t clt__conv_y_elems(const clt_conv2d_desc *d, int p, int q)
{
    return (size_t)d->n * (size_t)d->k * (size_t)p * (size_t)q;
}

/* Every field in range, every size representable. ctx may be NULL. */
static clt_status validate_desc(clt_context_t ctx, const clt_conv2d_desc *d)
{
    if (!d)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "desc is NULL");
    const struct {
        const char *name;
        int value, min;
    } fields[] = {
        {"n", d->n, 1},
        {"c", d->c, 1},
        {"h", d->h, 1},
        {"w", d->w, 1},
        {"k", d->k, 1},
        {"kernel_h", d->kernel_h, 1},
        {"kernel_w", d->kernel_w, 1},
        {"pad_h", d->pad_h, 0},
        {"pad_w", d->pad_w, 0},
        {"stride_h", d->stride_h, 1},
        {"stride_w", d->stride_w, 1},
        {"dilation_h", d->dilation_h, 1},
        {"dilation_w", d->dilation_w, 1},
        {"groups", d->groups, 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value < fields[i].min)
            return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "%s = %d: must be >= %d",
                             fields[i].name, fields[i].value, fields[i].min);
    if (d->c % d->groups || d->k % d->groups)
        return clt__fail(ctx, CLT_STATUS_INVALID_SHAPE,
                         "groups = %d must divide both c = %d and k = %d", d->groups, d->c, d->k);
    long long eh = (long long)d->dilation_h * (d->kernel_h - 1) + 1;
    long long ew = (long long)d->dilation_w * (d->kernel_w - 1) + 1;
    long long ph = (long long)d->h + 2LL * d->pad_h, pw = (long long)d->w + 2LL * d->pad_w;
    if (eh > ph || ew > pw)
        return clt__fail(ctx, CLT_STATUS_INVALID_SHAPE,
                         "the dilated kernel (%lld x %lld) is larger than the padded input (%lld x "
                         "%lld)",
                         eh, ew, ph, pw);
    /* kernels compute positions in the padded input with int; this bound
     * also keeps the output size, (ph - eh) / stride + 1, within int */
    if (ph > INT32_MAX || pw > INT32_MAX)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "the padded input (h + 2 pad_h = %lld, w + 2 pad_w = %lld) exceeds "
                         "32-bit integers (max %d)",
                         ph, pw, (int)INT32_MAX);
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    /* every tensor, and every product a kernel forms, must index with int */
    double elems[] = {(double)d->n * d->c * d->h * d->w,
                      (double)d->k * (d->c / d->groups) * d->kernel_h * d->kernel_w,
                      (double)d->n * d->k * p * q,
                      (double)d->c * d->kernel_h * d->kernel_w * d->n * p * q};
    const char *what[] = {"x", "w", "y", "the im2col matrix"};
    for (int i = 0; i < 4; i++)
        if (elems[i] > (double)INT32_MAX)
            return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                             "%s would hold %.0f elements; clt's kernels index with 32-bit "
                             "integers (max %d)",
                             what[i], elems[i], (int)INT32_MAX);
    return CLT_STATUS_SUCCESS;
}

clt_status clt_conv2d_output_shape(const clt_conv2d_desc *d, clt_shape *y)
{
    clt__clear_error(NULL);
    if (!y)
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "y (the output shape) is NULL");
    CLT__CHECK(validate_desc(NULL, d));
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    *y = (clt_shape){d->n, d->k, p, q};
    return CLT_STATUS_SUCCESS;
}

/* ---- algorithm choice ---- */

/* On PoCL, DIRECT's GEMM tile over a padded copy of the input (conv_cpu.c)
 * beat the (then implicit) im2col GEMM where each output's reduction is short:
 * forward 1.6-2.3x at C R S 144 (n64 c16 14x14 k32 3x3), 1.3-1.5x at 576
 * (n4 c64 56x56), 1.0-1.2x at 1152, 0.8-1.0x at 2304, 0.65x at 4608; at
 * stride 2, ResNet-50's 7x7 first layer (147) 1.9x but 0.6-1.1x on its
 * 3x3/2 layers (1152-4608); backward data (K R S) 1.6x at 288, 0.9-1.0x at
 * 576, 0.8x at 1152; weight gradient 2.5x at 9 (n64 c1 28x28 k16), 1.4-2.2x
 * at 144, 0.6x at 576 (n4 c64 56x56). */
static bool direct_cpu_wins(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op, int p,
                            int q)
{
    int rs = d->kernel_h * d->kernel_w, cg = d->c / d->groups, kg = d->k / d->groups;
    bool strided = d->stride_h != 1 || d->stride_w != 1;
    if (rs == 1)
        return false; /* GEMM_1X1, or a strided 1x1 layer: a subsample and a GEMM */
    if (op == CLT_CONV_BACKWARD_WEIGHTS)
        return cg * rs <= 256 && clt__conv_cpu_weights_applies(ctx, d, p, q);
    if (op == CLT_CONV_BACKWARD_DATA)
        return kg * rs <= 288 && clt__conv_cpu_applies(ctx, d, op, p, q);
    return cg * rs <= (strided ? 576 : 1152) && clt__conv_cpu_applies(ctx, d, op, p, q);
}

/* The choice without measurements (bench on PoCL and the H100, 2026-11):
 * 1x1 as plain GEMM (weight gradients of small images as one im2col GEMM);
 * by DIRECT depthwise layers, tiny dot products forward where a column
 * matrix would be built, and on CPUs stride-1 layers with short reductions
 * (direct_cpu_wins); Winograd F(4,3) for 3x3 forward and backward data with
 * enough channels (and on CPUs enough tiles); im2col + GEMM elsewhere. */
static clt_conv_algo heuristic(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op)
{
    char why[8];
    int cg = d->c / d->groups, out_p, out_q;
    clt__conv_out_hw(d, &out_p, &out_q);
    bool depthwise = cg == 1 && d->groups > 1;
    if (clt__conv_gemm1x1.supports(d, op, why, sizeof why)) {
        /* on the H100 the per-image GEMMs of wide 1x1 layers lost to one
           im2col GEMM over the batch (1.1-1.5x forward, C >= 512, K >= 256) */
        if (!ctx->is_cpu && op == CLT_CONV_FORWARD && d->groups == 1 && d->c >= 512 && d->k >= 256)
            return CLT_CONV_ALGO_IM2COL_GEMM;
        /* a weight gradient summed over per-image GEMMs of P Q steps each
           lost to one GEMM over the batch at 7x7 (H100 1.3-1.4x, PoCL
           1.1-1.4x) and was ahead from 14x14 on */
        if (op == CLT_CONV_BACKWARD_WEIGHTS && out_p * out_q < 100)
            return CLT_CONV_ALGO_IM2COL_GEMM;
        return CLT_CONV_ALGO_GEMM_1X1;
    }
    /* building a column matrix doesn't pay for tiny dot products */
    if (depthwise || (op == CLT_CONV_FORWARD && cg * d->kernel_h * d->kernel_w < 16))
        return CLT_CONV_ALGO_DIRECT;
    /* F(4,3), with max errors of 4-8e-6 of the largest output: on the H100
       (ResNet-50's 3x3 layers, N = 32) 1.2-1.5x F(2,3) and 1.8-2.9x im2col
       forward, 1.2-1.5x and 1.2-3.6x backward data; on PoCL (N = 4) 1.3-2.4x
       the best of DIRECT and im2col forward at 64-256 channels (56x56 to
       14x14), 1.0-1.2x at c512 7x7, 1.5-2.2x and 0.9x backward data, but
       0.5-0.7x DIRECT at 16 -> 32 channels; on AVX-512 PoCL at c512 7x7,
       16 tiles of 4 x 4 (N 4), 0.4-0.7x im2col forward and backward data:
       the filter transform, a^2 K C floats written and read, outweighs a
       GEMM that is only 16 columns wide */
    int wide = ctx->is_cpu ? 64 : 16;
    long tiles = (long)d->n * ((out_p + 3) / 4) * ((out_q + 3) / 4);
    if (op != CLT_CONV_BACKWARD_WEIGHTS && clt__conv_winograd4.supports(d, op, why, sizeof why) &&
        d->c >= wide && d->k >= wide && (!ctx->is_cpu || tiles >= 64))
        return CLT_CONV_ALGO_WINOGRAD_F4X3;
    if (direct_cpu_wins(ctx, d, op, out_p, out_q))
        return CLT_CONV_ALGO_DIRECT;
    return CLT_CONV_ALGO_IM2COL_GEMM;
}

static bool implements(const clt__conv_impl *impl, clt_conv_op op)
{
    return op == CLT_CONV_FORWARD         ? impl->forward != NULL
           : op == CLT_CONV_BACKWARD_DATA ? impl->backward_data != NULL
                                          : impl->backward_weights != NULL;
}

/* Whether AUTO may pick algo for this pass. */
static bool runnable(clt_conv_algo algo, const clt_conv2d_desc *d, clt_conv_op op)
{
    const clt__conv_impl *impl = impl_of(algo);
    char why[8];
    return impl && implements(impl, op) && supports(impl, d, op, why, sizeof why) &&
           workspace(impl, d, op, 1) <= WORKSPACE_INDEX_LIMIT;
}

/* The perf-db's measured choice if it still applies, else the heuristic's;
   a pick that cannot run (an image's workspace past 32-bit indexing, say)
   gives way to im2col, then to direct, which needs none. */
static clt_conv_algo choose_auto(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                 bool *measured)
{
    clt_conv_algo algo;
    *measured = clt__perfdb_lookup(ctx, op, d, &algo) && runnable(algo, d, op);
    if (*measured)
        return algo;
    const clt_conv_algo picks[] = {heuristic(ctx, d, op), CLT_CONV_ALGO_IM2COL_GEMM,
                                   CLT_CONV_ALGO_DIRECT};
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++)
        if (runnable(picks[i], d, op))
            return picks[i];
    return picks[0]; /* resolve() says why it cannot run */
}

/* Validates the descriptor, op and algorithm and resolves AUTO. */
static clt_status resolve(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                          clt_conv_algo algo, const clt__conv_impl **out)
{
    CLT__CHECK(validate_desc(ctx, d));
    if ((unsigned)op > CLT_CONV_BACKWARD_WEIGHTS)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "op = %d is not a clt_conv_op", (int)op);
    if ((unsigned)algo >= CLT_CONV_ALGO_COUNT)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "algo = %d is not a clt_conv_algo",
                         (int)algo);
    bool measured;
    if (algo == CLT_CONV_ALGO_AUTO)
        algo = choose_auto(ctx, d, op, &measured);
    const clt__conv_impl *impl = impl_of(algo);
    char why[256] = "";
    bool pass = impl && implements(impl, op);
    if (impl && !pass)
        snprintf(why, sizeof why, "this pass is not implemented by the algorithm");
    if (!impl || !pass || !supports(impl, d, op, why, sizeof why))
        return clt__fail(ctx, CLT_STATUS_NOT_SUPPORTED, "algorithm %s cannot run this %s: %s",
                         clt_conv_algo_name(algo),
                         op == CLT_CONV_FORWARD         ? "forward convolution"
                         : op == CLT_CONV_BACKWARD_DATA ? "backward-data pass"
                                                        : "backward-weights pass",
                         impl ? why : "not implemented");
    size_t one = workspace(impl, d, op, 1);
    if (one > WORKSPACE_INDEX_LIMIT)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "algorithm %s needs %zu bytes of workspace for one image; its kernels "
                         "index the workspace with 32-bit integers (max %zu bytes)",
                         clt_conv_algo_name(algo), one, WORKSPACE_INDEX_LIMIT);
    *out = impl;
    return CLT_STATUS_SUCCESS;
}

clt_status clt_conv2d_auto_algo(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                clt_conv_algo *algo, int *measured)
{
    CLT__CHECK_CTX(ctx);
    if (!algo)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "algo is NULL");
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, op, CLT_CONV_ALGO_AUTO, &impl));
    bool m;
    *algo = choose_auto(ctx, d, op, &m);
    if (measured)
        *measured = m;
    return CLT_STATUS_SUCCESS;
}

clt_status clt_conv2d_check(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                            clt_conv_algo algo)
{
    CLT__CHECK_CTX(ctx);
    const clt__conv_impl *impl;
    return resolve(ctx, d, op, algo, &impl);
}

static size_t hot_workspace(const clt__conv_impl *impl, const clt_conv2d_desc *d, clt_conv_op op,
                            int images)
{
    return impl->hot_workspace ? impl->hot_workspace(d, op, images)
                               : workspace(impl, d, op, images);
}

typedef size_t (*size_fn)(const clt__conv_impl *, const clt_conv2d_desc *, clt_conv_op, int);

/* The most images per pass whose size(images) fits in `bytes` (0 if none). */
static int most_images(const clt__conv_impl *impl, const clt_conv2d_desc *d, clt_conv_op op,
                       size_t bytes, size_fn size)
{
    if (size(impl, d, op, d->n) <= bytes)
        return d->n;
    int lo = 0, hi = d->n; /* size(lo) fits, size(hi) does not */
    if (size(impl, d, op, 1) > bytes)
        return 0;
    lo = 1;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (size(impl, d, op, mid) <= bytes)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The most images per pass whose workspace fits in `bytes` (0 if none). */
static int chunk_for(const clt__conv_impl *impl, const clt_conv2d_desc *d, clt_conv_op op,
                     size_t bytes)
{
    return most_images(impl, d, op, bytes < WORKSPACE_INDEX_LIMIT ? bytes : WORKSPACE_INDEX_LIMIT,
                       workspace);
}

/* On CPUs a chunk of images whose column matrix stays in the last-level
 * cache beats one pass over the batch (PoCL, 2026-11: 15-45% on small
 * layers, even on large ones); GPUs take the batch whole. The limit is on
 * what grows with the chunk and is read back hot: a part all chunks share
 * (Winograd's filters, 36 K C floats for F(4,3)) is read again by every
 * chunk, and counting it cut F(4,3) at c256 14x14 (9.4 MB of filters) to
 * one image per chunk; im2col's K x (nb P Q) matrix, which clt's CPU GEMM
 * leaves unused, counted, cut c256 56x56 -> k512 stride 2 to one image per
 * pass (the whole batch: 1.18x). 0: no limit. */
static size_t hot_limit(clt_context_t ctx, const clt__conv_impl *impl, const clt_conv2d_desc *d,
                        clt_conv_op op)
{
    if (!ctx->is_cpu || ctx->cache_bytes < ((cl_ulong)1 << 20))
        return 0;
    size_t shared = hot_workspace(impl, d, op, 0), limit = (size_t)(ctx->cache_bytes / 8);
    if (limit >= WORKSPACE_LIMIT || shared > WORKSPACE_LIMIT - limit)
        return 0;
    return shared + limit;
}

static size_t default_workspace(clt_context_t ctx, const clt__conv_impl *impl,
                                const clt_conv2d_desc *d, clt_conv_op op)
{
    int nb = chunk_for(impl, d, op, WORKSPACE_LIMIT);
    size_t hot = hot_limit(ctx, impl, d, op);
    if (hot) {
        int fit = most_images(impl, d, op, hot, hot_workspace);
        nb = fit < nb ? fit : nb;
    }
    return workspace(impl, d, op, nb > 0 ? nb : 1);
}

clt_status clt_conv2d_workspace_size(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                     clt_conv_algo algo, size_t *bytes)
{
    CLT__CHECK_CTX(ctx);
    if (!bytes)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "bytes is NULL");
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, op, algo, &impl));
    *bytes = default_workspace(ctx, impl, d, op);
    return CLT_STATUS_SUCCESS;
}

/* Checks the caller's workspace, or takes the context's own, and sets the
 * chunk of images per pass. */
static clt_status setup_workspace(clt_context_t ctx, const clt__conv_impl *impl,
                                  const clt_conv2d_desc *d, clt_conv_op op, cl_mem ws,
                                  size_t ws_bytes, clt__conv_args *a)
{
    size_t one = workspace(impl, d, op, 1);
    if (!ws) {
        if (ws_bytes)
            return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT,
                             "workspace is NULL but workspace_bytes = %zu", ws_bytes);
        ws_bytes = default_workspace(ctx, impl, d, op);
        if (ws_bytes)
            CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_OP, ws_bytes, &ws));
    } else {
        CLT__CHECK(clt__check_buf_bytes(ctx, (clt_buf){ws, 0}, ws_bytes, 1, "workspace"));
        if (ws_bytes < one)
            return clt__fail(ctx, CLT_STATUS_WORKSPACE_TOO_SMALL,
                             "workspace_bytes = %zu; algorithm %s needs at least %zu (one image; "
                             "%zu for the whole batch)",
                             ws_bytes, clt_conv_algo_name(impl->algo), one,
                             workspace(impl, d, op, d->n));
    }
    a->ws = ws;
    a->ws_bytes = ws_bytes;
    a->chunk = one == 0 ? d->n : chunk_for(impl, d, op, ws_bytes);
    return CLT_STATUS_SUCCESS;
}

/* The operands of pass `op` into t (4 at most); returns how many. */
static int operands(clt_conv_op op, const clt__conv_args *a, size_t w_elems, clt__tensor_arg *t)
{
    const clt_conv2d_desc *d = a->d;
    size_t nx = clt__conv_x_elems(d), ny = clt__conv_y_elems(d, a->p, a->q), nk = (size_t)d->k;
    const size_t f = sizeof(float);
    if (op == CLT_CONV_FORWARD) {
        t[0] = (clt__tensor_arg){"x", a->x, nx, f, false, false};
        t[1] = (clt__tensor_arg){"w", a->w, w_elems, f, false, false};
        t[2] = (clt__tensor_arg){"bias", a->bias, nk, f, false, true};
        t[3] = (clt__tensor_arg){"y", a->y, ny, f, true, false};
        return 4;
    }
    if (op == CLT_CONV_BACKWARD_DATA) {
        t[0] = (clt__tensor_arg){"dy", a->dy, ny, f, false, false};
        t[1] = (clt__tensor_arg){"w", a->w, w_elems, f, false, false};
        t[2] = (clt__tensor_arg){"dx", a->dx, nx, f, true, false};
        return 3;
    }
    t[0] = (clt__tensor_arg){"x", a->x, nx, f, false, false};
    t[1] = (clt__tensor_arg){"dy", a->dy, ny, f, false, false};
    t[2] = (clt__tensor_arg){"dw", a->dw, w_elems, f, true, false};
    t[3] = (clt__tensor_arg){"dbias", a->dbias, nk, f, true, true};
    return 4;
}

/* The tensors, and a caller's workspace apart from all of them: the
 * algorithms scribble on it. */
static clt_status check_args(clt_context_t ctx, clt_conv_op op, const clt__conv_args *a,
                             size_t w_elems, cl_mem ws, size_t ws_bytes)
{
    if (op == CLT_CONV_FORWARD && a->act != CLT_ACTIVATION_NONE && a->act != CLT_ACTIVATION_RELU)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "act = %d is not a clt_activation",
                         (int)a->act);
    clt__tensor_arg t[4];
    int n = operands(op, a, w_elems, t);
    CLT__CHECK(clt__check_tensors(ctx, t, n));
    const clt__tensor_arg wa = {"workspace", {ws, 0}, ws_bytes, 1, true, true};
    for (int i = 0; i < n && ws; i++)
        CLT__CHECK(clt__check_disjoint(ctx, &wa, &t[i]));
    return CLT_STATUS_SUCCESS;
}

/* Checks the tensors, sets up the workspace and runs the algorithm. */
static clt_status run(clt_context_t ctx, const clt__conv_impl *impl, clt_conv_op op,
                      clt__conv_args *a, size_t w_elems, cl_mem ws, size_t ws_bytes)
{
    clt__conv_out_hw(a->d, &a->p, &a->q);
    CLT__CHECK(check_args(ctx, op, a, w_elems, ws, ws_bytes));
    CLT__CHECK(setup_workspace(ctx, impl, a->d, op, ws, ws_bytes, a));
    switch (op) {
    case CLT_CONV_FORWARD:
        return impl->forward(ctx, a);
    case CLT_CONV_BACKWARD_DATA:
        return impl->backward_data(ctx, a);
    default:
        return impl->backward_weights(ctx, a);
    }
}

clt_status clt_conv2d_forward(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                              clt_buf x, clt_buf w, clt_buf bias, clt_activation act, clt_buf y,
                              cl_mem workspace, size_t workspace_bytes)
{
    CLT__CHECK_CTX(ctx);
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, CLT_CONV_FORWARD, algo, &impl));
    clt__conv_args a = {.d = d, .x = x, .w = w, .bias = bias, .y = y, .act = act};
    return run(ctx, impl, CLT_CONV_FORWARD, &a, clt__conv_w_elems(d), workspace, workspace_bytes);
}

clt_status clt_conv2d_backward_data(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_algo algo,
                                    clt_buf dy, clt_buf w, clt_buf dx, cl_mem workspace,
                                    size_t workspace_bytes)
{
    CLT__CHECK_CTX(ctx);
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, CLT_CONV_BACKWARD_DATA, algo, &impl));
    clt__conv_args a = {.d = d, .dy = dy, .w = w, .dx = dx};
    return run(ctx, impl, CLT_CONV_BACKWARD_DATA, &a, clt__conv_w_elems(d), workspace,
               workspace_bytes);
}

clt_status clt_conv2d_backward_weights(clt_context_t ctx, const clt_conv2d_desc *d,
                                       clt_conv_algo algo, clt_buf x, clt_buf dy, clt_buf dw,
                                       clt_buf dbias, cl_mem workspace, size_t workspace_bytes)
{
    CLT__CHECK_CTX(ctx);
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, CLT_CONV_BACKWARD_WEIGHTS, algo, &impl));
    clt__conv_args a = {.d = d, .x = x, .dy = dy, .dw = dw, .dbias = dbias};
    return run(ctx, impl, CLT_CONV_BACKWARD_WEIGHTS, &a, clt__conv_w_elems(d), workspace,
               workspace_bytes);
}

/* ---- prepared weights ---- */

struct clt_conv2d_weights {
    clt_conv2d_desc desc;
    const clt__conv_impl *impl;
    cl_context cl;
    cl_mem mem;
    size_t elems;
    bool transformed; /* false: a plain copy of w */
};

clt_status clt_conv2d_weights_create(clt_context_t ctx, const clt_conv2d_desc *d,
                                     clt_conv_algo algo, clt_buf w, clt_conv2d_weights_t *out)
{
    CLT__CHECK_CTX(ctx);
    if (!out)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "out is NULL");
    *out = NULL;
    const clt__conv_impl *impl;
    CLT__CHECK(resolve(ctx, d, CLT_CONV_FORWARD, algo, &impl));
    size_t n_w = clt__conv_w_elems(d);
    CLT__CHECK(clt__check_tensor(ctx, w, n_w, sizeof(float), "w"));
    struct clt_conv2d_weights *pw = calloc(1, sizeof *pw);
    if (!pw)
        return clt__fail(ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "allocating prepared weights");
    pw->desc = *d;
    pw->impl = impl;
    pw->cl = ctx->cl;
    pw->transformed = impl->prepare != NULL;
    pw->elems = pw->transformed ? impl->prepared_size(d) : n_w;
    clt_status st = CLT_STATUS_SUCCESS;
    cl_int err = CL_SUCCESS;
    pw->mem = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, pw->elems * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS) {
        st = clt__cl_fail(ctx, err, "allocating prepared weights");
        goto cleanup;
    }
    if (pw->transformed) {
        CLT__TRY(impl->prepare(ctx, d, w, (clt_buf){pw->mem, 0}));
    } else {
        err = clEnqueueCopyBuffer(ctx->queue, w.mem, pw->mem, w.offset * sizeof(float), 0,
                                  n_w * sizeof(float), 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = clt__cl_fail(ctx, err, "copying weights");
            goto cleanup;
        }
    }
    *out = pw;
    return CLT_STATUS_SUCCESS;
cleanup:
    clt_conv2d_weights_destroy(pw);
    return st;
}

void clt_conv2d_weights_destroy(clt_conv2d_weights_t pw)
{
    if (!pw)
        return;
    if (pw->mem)
        clReleaseMemObject(pw->mem);
    free(pw);
}

clt_conv_algo clt_conv2d_weights_algo(clt_conv2d_weights_t pw)
{
    return pw ? pw->impl->algo : CLT_CONV_ALGO_AUTO;
}

clt_status clt_conv2d_forward_prepared(clt_context_t ctx, const clt_conv2d_desc *d,
                                       clt_conv2d_weights_t pw, clt_buf x, clt_buf bias,
                                       clt_activation act, clt_buf y, cl_mem workspace,
                                       size_t workspace_bytes)
{
    CLT__CHECK_CTX(ctx);
    if (!pw)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "prepared weights are NULL");
    CLT__CHECK(validate_desc(ctx, d));
    if (memcmp(d, &pw->desc, sizeof *d) != 0)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "desc differs from the one the weights were prepared for");
    if (pw->cl != ctx->cl)
        return clt__fail(ctx, CLT_STATUS_CONTEXT_MISMATCH,
                         "the weights were prepared in another OpenCL context");
    clt__conv_args a = {.d = d,
                        .x = x,
                        .w = {pw->mem, 0},
                        .bias = bias,
                        .y = y,
                        .act = act,
                        .w_prepared = pw->transformed};
    return run(ctx, pw->impl, CLT_CONV_FORWARD, &a, pw->elems, workspace, workspace_bytes);
}

/* ---- shared building blocks ---- */

clt_status clt_im2col(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf x, clt_buf col)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(validate_desc(ctx, d));
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    size_t ncol = (size_t)d->c * d->kernel_h * d->kernel_w * d->n * p * q;
    const clt__tensor_arg t[] = {{"x", x, clt__conv_x_elems(d), sizeof(float), false, false},
                                 {"col", col, ncol, sizeof(float), true, false}};
    CLT__CHECK(clt__check_tensors(ctx, t, 2));
    return clt__im2col(ctx, d, x, 0, d->n, col.mem, col.offset);
}

clt_status clt__im2col(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf x, int n0, int nb,
                       cl_mem col, size_t col_off)
{
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    /* CPUs stream whole output rows; GPUs want one element per work-item */
    size_t rows[3] = {(size_t)p, (size_t)d->c, (size_t)nb};
    size_t elems[3] = {(size_t)nb * p * q, (size_t)d->c, 1};
    return CLT_LAUNCH(ctx, "im2col", ctx->is_cpu ? "im2col_rows" : "im2col", 3,
                      ctx->is_cpu ? rows : elems, NULL, CLT_ARG_MEM(x.mem),
                      CLT_ARG_INT(x.offset + (size_t)n0 * d->c * d->h * d->w), CLT_ARG_MEM(col),
                      CLT_ARG_INT(col_off), CLT_ARG_INT(nb), CLT_ARG_INT(d->c), CLT_ARG_INT(d->h),
                      CLT_ARG_INT(d->w), CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w),
                      CLT_ARG_INT(d->pad_h), CLT_ARG_INT(d->pad_w), CLT_ARG_INT(d->stride_h),
                      CLT_ARG_INT(d->stride_w), CLT_ARG_INT(d->dilation_h),
                      CLT_ARG_INT(d->dilation_w), CLT_ARG_INT(p), CLT_ARG_INT(q));
}

clt_status clt__conv_epilogue(clt_context_t ctx, const clt_conv2d_desc *d, int pq, int n0, int nb,
                              cl_mem src, size_t src_off, size_t k_stride, size_t n_stride,
                              clt_buf bias, clt_activation act, clt_buf y)
{
    size_t global[3] = {(size_t)pq, (size_t)d->k, (size_t)nb};
    cl_mem bias_mem = bias.mem ? bias.mem : y.mem; /* any valid buffer when unused */
    return CLT_LAUNCH(ctx, "conv", "conv_epilogue", 3, global, NULL, CLT_ARG_MEM(src),
                      CLT_ARG_INT(src_off), CLT_ARG_INT(k_stride), CLT_ARG_INT(n_stride),
                      CLT_ARG_MEM(y.mem), CLT_ARG_INT(y.offset + (size_t)n0 * d->k * pq),
                      CLT_ARG_MEM(bias_mem), CLT_ARG_INT(bias.offset),
                      CLT_ARG_INT(bias.mem != NULL), CLT_ARG_INT(act == CLT_ACTIVATION_RELU),
                      CLT_ARG_INT(d->k), CLT_ARG_INT(pq), CLT_ARG_INT(nb));
}

clt_status clt__conv_gather(clt_context_t ctx, const clt_conv2d_desc *d, int pq, int n0, int nb,
                            clt_buf y, cl_mem dst, size_t dst_off)
{
    size_t global[3] = {(size_t)pq, (size_t)d->k, (size_t)nb};
    return CLT_LAUNCH(ctx, "conv", "conv_gather", 3, global, NULL, CLT_ARG_MEM(y.mem),
                      CLT_ARG_INT(y.offset + (size_t)n0 * d->k * pq), CLT_ARG_MEM(dst),
                      CLT_ARG_INT(dst_off), CLT_ARG_INT(d->k), CLT_ARG_INT(pq), CLT_ARG_INT(nb));
}

clt_status clt__col2im(clt_context_t ctx, const clt_conv2d_desc *d, cl_mem col, size_t col_off,
                       int n0, int nb, clt_buf x)
{
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    /* CPUs add whole rows; GPUs gather one element per work-item */
    size_t rows[3] = {(size_t)d->h, (size_t)d->c, (size_t)nb};
    size_t elems[3] = {(size_t)d->h * d->w, (size_t)d->c, (size_t)nb};
    return CLT_LAUNCH(ctx, "im2col", ctx->is_cpu ? "col2im_rows" : "col2im", 3,
                      ctx->is_cpu ? rows : elems, NULL, CLT_ARG_MEM(col), CLT_ARG_INT(col_off),
                      CLT_ARG_MEM(x.mem), CLT_ARG_INT(x.offset + (size_t)n0 * d->c * d->h * d->w),
                      CLT_ARG_INT(nb), CLT_ARG_INT(d->c), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w),
                      CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w), CLT_ARG_INT(d->pad_h),
                      CLT_ARG_INT(d->pad_w), CLT_ARG_INT(d->stride_h), CLT_ARG_INT(d->stride_w),
                      CLT_ARG_INT(d->dilation_h), CLT_ARG_INT(d->dilation_w), CLT_ARG_INT(p),
                      CLT_ARG_INT(q));
}

clt_status clt_col2im(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf col, clt_buf x)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(validate_desc(ctx, d));
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    size_t ncol = (size_t)d->c * d->kernel_h * d->kernel_w * d->n * p * q;
    const clt__tensor_arg t[] = {{"col", col, ncol, sizeof(float), false, false},
                                 {"x", x, clt__conv_x_elems(d), sizeof(float), true, false}};
    CLT__CHECK(clt__check_tensors(ctx, t, 2));
    return clt__col2im(ctx, d, col.mem, col.offset, 0, d->n, x);
}

clt_status clt__conv_bias_grad(clt_context_t ctx, const clt__conv_args *a)
{
    if (!a->dbias.mem)
        return CLT_STATUS_SUCCESS;
    return clt__bias_backward_run(ctx, a->d->n, a->d->k, a->p * a->q, a->dy, a->dbias);
}
