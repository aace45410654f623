/* WINOGRAD_F2X3 and WINOGRAD_F4X3: 3x3, stride 1, dilation 1, groups 1,
 * any padding; output tiles of m x m (2 or 4) from input tiles of a x a
 * (a = m + 2). The filter transform can be done once
 * (clt_conv2d_weights_create); per chunk of images: input transform, a^2
 * batched GEMMs, output transform. Backward data is the forward convolution
 * of dy with the filters flipped and transposed, padded by 2 - pad (so
 * pad <= 2). */
#include "conv_impl.h"

#include <stdio.h>

/* What tells the two apart: tile size and kernels (cl/winograd.cl,
 * cl/winograd4.cl). GPUs take one filter or tile per work-item. CPUs take
 * the _rows transforms: a row of filters per work-item, and a tile row
 * (F(2,3)) or `lanes` consecutive tiles in vector lanes (F(4,3)) per
 * work-item, each writing or reading contiguous runs (PoCL, F(4,3) at c256
 * 14x14 N=4: 45 GFLOP/s with the GPU-shaped transforms, 180 with these). */
typedef struct wino {
    int m, lanes; /* output tile size; tiles per CPU work-item (0: a row) */
    const char *program;
    const char *filter[2], *input[2], *output[2]; /* [is_cpu] */
} wino;

static const wino F2 = {2,
                        0,
                        "winograd",
                        {"winograd_filter", "winograd_filter_rows"},
                        {"winograd_input", "winograd_input_rows"},
                        {"winograd_output", "winograd_output_rows"}};
static const wino F4 = {4,
                        8,
                        "winograd4",
                        {"winograd4_filter", "winograd4_filter_rows"},
                        {"winograd4_input", "winograd4_input_rows"},
                        {"winograd4_output", "winograd4_output_rows"}};

/* The _rows transforms' local size: one work-item per group, or PoCL runs
 * the group's items as vector lanes, whose stores scatter across rows. */
static const size_t ONE[3] = {1, 1, 1};

/* The grid of a tile transform over `ch` channels of nb images: GPUs one
 * work-item per (tile, channel), CPUs per (tile row or lanes, channel). */
static void tile_grid(const wino *v, bool cpu, int nb, int tp, int tq, int ch, size_t g[3])
{
    size_t t = (size_t)nb * tp * tq;
    g[0] = !cpu ? t : v->lanes ? (t + (size_t)v->lanes - 1) / (size_t)v->lanes : (size_t)tp;
    g[1] = (size_t)ch;
    g[2] = cpu && !v->lanes ? (size_t)nb : 1;
}

static size_t positions(const wino *v)
{
    return (size_t)(v->m + 2) * (v->m + 2);
}

static bool supports(const clt_conv2d_desc *d, clt_conv_op op, char *why, size_t cap)
{
    if (d->kernel_h != 3 || d->kernel_w != 3 || d->stride_h != 1 || d->stride_w != 1 ||
        d->dilation_h != 1 || d->dilation_w != 1 || d->groups != 1) {
        snprintf(why, cap,
                 "needs a 3x3 kernel, stride 1, dilation 1 and groups 1 (have kernel %dx%d, "
                 "stride %dx%d, dilation %dx%d, groups %d)",
                 d->kernel_h, d->kernel_w, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                 d->groups);
        return false;
    }
    if (op == CLT_CONV_BACKWARD_DATA && (d->pad_h > 2 || d->pad_w > 2)) {
        snprintf(why, cap, "backward data needs pad <= 2 (have %dx%d)", d->pad_h, d->pad_w);
        return false;
    }
    return true;
}

static void tiles(const wino *v, const clt_conv2d_desc *d, int *p, int *q, int *tp, int *tq)
{
    clt__conv_out_hw(d, p, q);
    *tp = (*p + v->m - 1) / v->m;
    *tq = (*q + v->m - 1) / v->m;
}

static size_t u_floats(const wino *v, const clt_conv2d_desc *d)
{
    return positions(v) * (size_t)d->k * d->c;
}

/* U (unless prepared) + V (a^2 C T) + M (a^2 K T), T the chunk's tiles. */
static size_t forward_workspace(const wino *v, const clt_conv2d_desc *d, int images)
{
    int p, q, tp, tq;
    tiles(v, d, &p, &q, &tp, &tq);
    size_t t = (size_t)images * tp * tq;
    return (u_floats(v, d) + positions(v) * t * ((size_t)d->c + d->k)) * sizeof(float);
}

/* The forward convolution whose output is d's backward-data dx. */
static clt_conv2d_desc transposed(const clt_conv2d_desc *d)
{
    clt_conv2d_desc t = *d;
    clt__conv_out_hw(d, &t.h, &t.w);
    t.c = d->k;
    t.k = d->c;
    t.pad_h = 2 - d->pad_h;
    t.pad_w = 2 - d->pad_w;
    return t;
}

/* Backward data: the transposed forward's, then the flipped filters. */
static size_t workspace(const wino *v, const clt_conv2d_desc *d, clt_conv_op op, int images)
{
    if (op != CLT_CONV_BACKWARD_DATA)
        return forward_workspace(v, d, images);
    clt_conv2d_desc t = transposed(d);
    return forward_workspace(v, &t, images) + 9 * (size_t)d->k * d->c * sizeof(float);
}

/* U of the kn filters k0... (a^2 kn C floats at out): the transform of
 * a filter tensor of kn output channels. */
static clt_status prepare_rows(const wino *v, clt_context_t ctx, const clt_conv2d_desc *d,
                               clt_buf w, size_t k0, size_t kn, clt_buf out)
{
    size_t global[2] = {(size_t)d->c, kn}, rows[1] = {kn};
    bool cpu = ctx->is_cpu;
    return CLT_LAUNCH(ctx, v->program, v->filter[cpu], cpu ? 1 : 2, cpu ? rows : global,
                      cpu ? ONE : NULL, CLT_ARG_MEM(w.mem), CLT_ARG_INT(w.offset + k0 * d->c * 9),
                      CLT_ARG_MEM(out.mem), CLT_ARG_INT(out.offset), CLT_ARG_INT(kn),
                      CLT_ARG_INT(d->c));
}

static clt_status prepare(const wino *v, clt_context_t ctx, const clt_conv2d_desc *d, clt_buf w,
                          clt_buf out)
{
    return prepare_rows(v, ctx, d, w, 0, (size_t)d->k, out);
}

/* Output channels per filter transform and GEMM. On CPUs, filters
 * transformed per call whose U outgrows a quarter of the last-level cache
 * are taken a slice of K at a time, so that U goes from the transform to
 * the GEMM through the cache: written whole, U went to memory and back
 * (c512: 37.7 MB, 43% of a c512 7x7 layer's time on PoCL). F(4,3) on
 * PoCL, N=4: c256 14x14 (two slices) median 141-148 -> 189 GFLOP/s, c512
 * 7x7 (five) best of 50 calls 120-149 -> 146-158; slices of an eighth to
 * half the cache measured alike, one tile of rows each half as fast (a
 * launch per slice). Not where the images take several passes: each would
 * transform the filters again. */
static size_t k_slice(const wino *v, clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t k = (size_t)d->k, row = positions(v) * d->c * sizeof(float);
    size_t limit = (size_t)(ctx->cache_bytes / 4), mr = (size_t)ctx->gemm.mr;
    if (!ctx->is_cpu || a->w_prepared || a->chunk < d->n || k * row <= limit)
        return k;
    size_t slice = limit / row / mr * mr; /* whole tiles of rows */
    return slice > mr ? slice : mr;
}

static clt_status transform_input(const wino *v, clt_context_t ctx, const clt__conv_args *a, int n0,
                                  int nb, size_t v_off, int tp, int tq)
{
    const clt_conv2d_desc *d = a->d;
    bool cpu = ctx->is_cpu;
    size_t grid[3];
    tile_grid(v, cpu, nb, tp, tq, d->c, grid);
    return CLT_LAUNCH(ctx, v->program, v->input[cpu], 3, grid, cpu ? ONE : NULL,
                      CLT_ARG_MEM(a->x.mem),
                      CLT_ARG_INT(a->x.offset + (size_t)n0 * d->c * d->h * d->w),
                      CLT_ARG_MEM(a->ws), CLT_ARG_INT(v_off), CLT_ARG_INT(nb), CLT_ARG_INT(d->c),
                      CLT_ARG_INT(d->h), CLT_ARG_INT(d->w), CLT_ARG_INT(d->pad_h),
                      CLT_ARG_INT(d->pad_w), CLT_ARG_INT(tp), CLT_ARG_INT(tq));
}

static clt_status transform_output(const wino *v, clt_context_t ctx, const clt__conv_args *a,
                                   int n0, int nb, size_t m_off, int tp, int tq)
{
    const clt_conv2d_desc *d = a->d;
    bool cpu = ctx->is_cpu;
    size_t grid[3];
    tile_grid(v, cpu, nb, tp, tq, d->k, grid);
    cl_mem bias = a->bias.mem ? a->bias.mem : a->y.mem;
    return CLT_LAUNCH(ctx, v->program, v->output[cpu], 3, grid, cpu ? ONE : NULL,
                      CLT_ARG_MEM(a->ws), CLT_ARG_INT(m_off), CLT_ARG_MEM(a->y.mem),
                      CLT_ARG_INT(a->y.offset + (size_t)n0 * d->k * a->p * a->q), CLT_ARG_MEM(bias),
                      CLT_ARG_INT(a->bias.offset), CLT_ARG_INT(a->bias.mem != NULL),
                      CLT_ARG_INT(a->act == CLT_ACTIVATION_RELU), CLT_ARG_INT(nb),
                      CLT_ARG_INT(d->k), CLT_ARG_INT(a->p), CLT_ARG_INT(a->q), CLT_ARG_INT(tp),
                      CLT_ARG_INT(tq));
}

static clt_status forward(const wino *v, clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    int p, q, tp, tq;
    tiles(v, d, &p, &q, &tp, &tq);
    size_t np = positions(v), kk = (size_t)d->k, cc = (size_t)d->c;
    size_t slice = k_slice(v, ctx, a);
    bool sliced = slice < kk; /* U of each slice transformed just before its GEMM */
    clt_buf u = a->w_prepared ? a->w : (clt_buf){a->ws, 0};
    if (!a->w_prepared && !sliced)
        CLT__CHECK(prepare(v, ctx, d, a->w, u));
    for (int n0 = 0; n0 < d->n; n0 += a->chunk) {
        int nb = d->n - n0 < a->chunk ? d->n - n0 : a->chunk;
        size_t t = (size_t)nb * tp * tq;
        size_t v_off = u_floats(v, d), m_off = v_off + np * cc * t;
        CLT__CHECK(transform_input(v, ctx, a, n0, nb, v_off, tp, tq));
        for (size_t k0 = 0; k0 < kk; k0 += slice) {
            size_t kn = kk - k0 < slice ? kk - k0 : slice;
            if (sliced)
                CLT__CHECK(prepare_rows(v, ctx, d, a->w, k0, kn, u));
            clt__gemm_desc g = {
                .ta = CLT_NO_TRANS,
                .tb = CLT_NO_TRANS,
                .m = kn,
                .n = t,
                .k = cc,
                .alpha = 1.0f,
                .beta = 0.0f,
                .a = u.mem,
                .a_off = u.offset + (sliced ? 0 : k0 * cc),
                .lda = cc,
                .a_stride = (sliced ? kn : kk) * cc,
                .b = a->ws,
                .b_off = v_off,
                .ldb = t,
                .b_stride = cc * t,
                .c = a->ws,
                .c_off = m_off + k0 * t,
                .ldc = t,
                .c_stride = kk * t,
                .batch = np,
            };
            CLT__CHECK(clt__gemm_run(ctx, &g));
        }
        CLT__CHECK(transform_output(v, ctx, a, n0, nb, m_off, tp, tq));
    }
    return CLT_STATUS_SUCCESS;
}

static clt_status backward_data(const wino *v, clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    clt_conv2d_desc t = transposed(d);
    size_t wt_off = forward_workspace(v, &t, a->chunk) / sizeof(float);
    size_t global[3] = {9, (size_t)d->c, (size_t)d->k};
    CLT__CHECK(CLT_LAUNCH(ctx, "conv", "conv_flip_weights", 3, global, NULL, CLT_ARG_MEM(a->w.mem),
                          CLT_ARG_INT(a->w.offset), CLT_ARG_MEM(a->ws), CLT_ARG_INT(wt_off),
                          CLT_ARG_INT(d->k), CLT_ARG_INT(d->c), CLT_ARG_INT(9)));
    clt__conv_args f = {.d = &t,
                        .x = a->dy,
                        .w = {a->ws, wt_off},
                        .y = a->dx,
                        .act = CLT_ACTIVATION_NONE,
                        .ws = a->ws,
                        .ws_bytes = a->ws_bytes,
                        .chunk = a->chunk};
    clt__conv_out_hw(&t, &f.p, &f.q);
    return forward(v, ctx, &f);
}

/* The clt__conv_impl of one variant: its members bound to `var`. */
#define WINOGRAD_IMPL(name, var, algo_id)                                                          \
    static size_t name##_workspace(const clt_conv2d_desc *d, clt_conv_op op, int images)           \
    {                                                                                              \
        return workspace(&var, d, op, images);                                                     \
    }                                                                                              \
    static clt_status name##_forward(clt_context_t ctx, const clt__conv_args *a)                   \
    {                                                                                              \
        return forward(&var, ctx, a);                                                              \
    }                                                                                              \
    static clt_status name##_backward_data(clt_context_t ctx, const clt__conv_args *a)             \
    {                                                                                              \
        return backward_data(&var, ctx, a);                                                        \
    }                                                                                              \
    static size_t name##_prepared_size(const clt_conv2d_desc *d)                                   \
    {                                                                                              \
        return u_floats(&var, d);                                                                  \
    }                                                                                              \
    static clt_status name##_prepare(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf w,       \
                                     clt_buf out)                                                  \
    {                                                                                              \
        return prepare(&var, ctx, d, w, out);                                                      \
    }                                                                                              \
    const clt__conv_impl name = {.algo = algo_id,                                                  \
                                 .supports = supports,                                             \
                                 .workspace = name##_workspace,                                    \
                                 .forward = name##_forward,                                        \
                                 .backward_data = name##_backward_data,                            \
                                 .prepared_size = name##_prepared_size,                            \
                                 .prepare = name##_prepare};

WINOGRAD_IMPL(clt__conv_winograd, F2, CLT_CONV_ALGO_WINOGRAD_F2X3)
WINOGRAD_IMPL(clt__conv_winograd4, F4, CLT_CONV_ALGO_WINOGRAD_F4X3)
