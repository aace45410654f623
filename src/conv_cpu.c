/* DIRECT's path on CPU devices (cl/conv_cpu.cl): forward at any stride;
 * at stride 1 backward data as the forward of the transposed convolution
 * (dy padded by dil (R - 1) - pad, weights flipped and transposed per
 * group) and the weight gradient (groups 1) as partial sums over chunks of
 * the batch, added in order. */
#include "conv_impl.h"

#include <stdint.h>
#include <stdio.h>

/* Partial weight gradients: at most 64 MiB of them. */
#define PART_FLOATS ((size_t)1 << 24)

/* Input rows a band's copy may hold: ~96 KiB keeps it in L2 beside the
 * weights (measured on ResNet-50's 3x3 layers, 48-192 KiB alike). */
#define BAND_BYTES (96 * 1024)

/* A convolution as conv_cpu_tiles sees it. */
typedef struct geom {
    int n, c, h, w, k, r, s, pad_h, pad_w, sh, sw, dil_h, dil_w, groups, p, q;
} geom;

typedef struct plan {
    int band, kpw;
    size_t items[3];
    size_t region; /* floats of scratch per work-item */
} plan;

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* The width of a band's rows (WP in cl/conv_cpu.cl) and the input rows it
 * holds beyond its output rows, per stride phase. */
static size_t band_width(const geom *gm)
{
    return (size_t)gm->q + (size_t)((gm->s - 1) * gm->dil_w / gm->sw);
}

static size_t band_halo(const geom *gm)
{
    return (size_t)((gm->r - 1) * gm->dil_h / gm->sh);
}

/* The weight gradient's tile: CC_MK output channels x CC_MC (c, r, s)
 * accumulators, plus CC_MK vectors of dy and one of x, within the register
 * file (16 vector registers below AVX-512, 32 there). */
static int bw_mk(const clt__gemm_cfg *cfg)
{
    return cfg->vw >= 16 ? 6 : 4;
}

static int bw_mc(const clt__gemm_cfg *cfg)
{
    return cfg->vw >= 16 ? 4 : 2;
}

int clt__conv_cpu_defines(clt_context_t ctx, char *out, size_t cap)
{
    int n = clt__gemm_cpu_defines(ctx, out, cap);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int more = snprintf(out + n, cap - (size_t)n, "#define CC_MK %d\n#define CC_MC %d\n",
                        bw_mk(&ctx->gemm), bw_mc(&ctx->gemm));
    return more < 0 ? more : n + more;
}

/* Bands as tall as BAND_BYTES allows, cut further until there are about
 * cfg->items work-items; only then output channels split (each such
 * work-item copies the same band). */
static bool make_plan(const clt__gemm_cfg *cfg, const geom *gm, plan *pl)
{
    /* per output row, a row of each of the sh sw phases of the input */
    size_t cg = (size_t)(gm->c / gm->groups), phases = (size_t)gm->sh * gm->sw;
    size_t wp = band_width(gm), halo = band_halo(gm);
    size_t row_bytes = cg * phases * wp * sizeof(float);
    size_t fit = BAND_BYTES / (row_bytes ? row_bytes : 1);
    size_t band = fit > halo ? fit - halo : 1, images = (size_t)gm->n * gm->groups;
    size_t want = (size_t)cfg->items, per_image = ceil_div(want, images);
    if (per_image > 1 && ceil_div((size_t)gm->p, band) < per_image)
        band = ceil_div((size_t)gm->p, per_image);
    band = band < (size_t)gm->p ? band : (size_t)gm->p;
    pl->band = (int)band;
    pl->items[0] = ceil_div((size_t)gm->p, band);
    pl->items[2] = images;
    size_t kpanels = ceil_div((size_t)(gm->k / gm->groups), (size_t)cfg->mr);
    size_t kgroups = ceil_div(want, pl->items[0] * images);
    kgroups = kgroups < kpanels ? kgroups : kpanels;
    pl->kpw = (int)ceil_div(kpanels, kgroups ? kgroups : 1);
    pl->items[1] = ceil_div(kpanels, (size_t)pl->kpw);
    /* the copy, the slack the tile's loads may reach past it (a tile width
       plus the kernel's reach past the band's last position), the offsets */
    pl->region = cg * phases * (band + halo) * wp + (size_t)(cfg->vw * cfg->nv) +
                 (wp - (size_t)gm->q) + cg * gm->r * gm->s;
    size_t total = pl->items[0] * pl->items[1] * pl->items[2];
    return total <= INT32_MAX / pl->region;
}

static geom forward_geom(const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    return (geom){.n = d->n,
                  .c = d->c,
                  .h = d->h,
                  .w = d->w,
                  .k = d->k,
                  .r = d->kernel_h,
                  .s = d->kernel_w,
                  .pad_h = d->pad_h,
                  .pad_w = d->pad_w,
                  .sh = d->stride_h,
                  .sw = d->stride_w,
                  .dil_h = d->dilation_h,
                  .dil_w = d->dilation_w,
                  .groups = d->groups,
                  .p = a->p,
                  .q = a->q};
}

/* dx as a convolution of dy (stride 1 only): K input and C output channels. */
static geom transposed_geom(const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    return (geom){.n = d->n,
                  .c = d->k,
                  .h = a->p,
                  .w = a->q,
                  .k = d->c,
                  .r = d->kernel_h,
                  .s = d->kernel_w,
                  .pad_h = d->dilation_h * (d->kernel_h - 1) - d->pad_h,
                  .pad_w = d->dilation_w * (d->kernel_w - 1) - d->pad_w,
                  .sh = 1,
                  .sw = 1,
                  .dil_h = d->dilation_h,
                  .dil_w = d->dilation_w,
                  .groups = d->groups,
                  .p = d->h,
                  .q = d->w};
}

bool clt__conv_cpu_applies(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op, int p,
                           int q)
{
    bool strided = d->stride_h != 1 || d->stride_w != 1;
    if (!ctx->is_cpu || (strided && op != CLT_CONV_FORWARD) || op == CLT_CONV_BACKWARD_WEIGHTS)
        return false;
    clt__conv_args a = {.d = d, .p = p, .q = q};
    geom gm = op == CLT_CONV_FORWARD ? forward_geom(&a) : transposed_geom(&a);
    plan pl;
    return make_plan(&ctx->gemm, &gm, &pl);
}

static clt_status run(clt_context_t ctx, const geom *gm, clt_buf x, clt_buf w, clt_buf bias,
                      bool relu, clt_buf y)
{
    plan pl;
    make_plan(&ctx->gemm, gm, &pl);
    cl_mem scratch = NULL;
    size_t floats = pl.items[0] * pl.items[1] * pl.items[2] * pl.region;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_GEMM, floats * sizeof(float), &scratch));
    const size_t one[3] = {1, 1, 1};
    cl_mem bias_mem = bias.mem ? bias.mem : y.mem;
    return CLT_LAUNCH(
        ctx, "conv_cpu", "conv_cpu_tiles", 3, pl.items, one, CLT_ARG_MEM(x.mem),
        CLT_ARG_INT(x.offset), CLT_ARG_MEM(w.mem), CLT_ARG_INT(w.offset), CLT_ARG_MEM(bias_mem),
        CLT_ARG_INT(bias.offset), CLT_ARG_INT(bias.mem != NULL), CLT_ARG_INT(relu),
        CLT_ARG_MEM(y.mem), CLT_ARG_INT(y.offset), CLT_ARG_INT(gm->c), CLT_ARG_INT(gm->h),
        CLT_ARG_INT(gm->w), CLT_ARG_INT(gm->k), CLT_ARG_INT(gm->r), CLT_ARG_INT(gm->s),
        CLT_ARG_INT(gm->pad_h), CLT_ARG_INT(gm->pad_w), CLT_ARG_INT(gm->sh), CLT_ARG_INT(gm->sw),
        CLT_ARG_INT(gm->dil_h), CLT_ARG_INT(gm->dil_w), CLT_ARG_INT(gm->groups), CLT_ARG_INT(gm->p),
        CLT_ARG_INT(gm->q), CLT_ARG_INT(pl.band), CLT_ARG_INT(pl.kpw), CLT_ARG_MEM(scratch),
        CLT_ARG_INT(pl.region));
}

clt_status clt__conv_cpu_forward(clt_context_t ctx, const clt__conv_args *a)
{
    geom gm = forward_geom(a);
    return run(ctx, &gm, a->x, a->w, a->bias, a->act == CLT_ACTIVATION_RELU, a->y);
}

clt_status clt__conv_cpu_backward_data(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t elems = clt__conv_w_elems(d);
    cl_mem wf = NULL;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, elems * sizeof(float), &wf));
    const size_t global[1] = {elems}, local[1] = {64};
    CLT__CHECK(CLT_LAUNCH(ctx, "conv_cpu", "conv_cpu_flip", 1, global, local, CLT_ARG_MEM(a->w.mem),
                          CLT_ARG_INT(a->w.offset), CLT_ARG_MEM(wf), CLT_ARG_INT(d->c / d->groups),
                          CLT_ARG_INT(d->k / d->groups), CLT_ARG_INT(d->groups),
                          CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w)));
    geom gm = transposed_geom(a);
    clt_buf none = {NULL, 0};
    return run(ctx, &gm, a->dy, (clt_buf){wf, 0}, none, false, a->dx);
}

/* How the weight gradient is cut: chunks of the batch (each its own
 * partial dW) side by side, then blocks of output channels; within a
 * work-item, units (an image's band of output rows) upb at a time. */
typedef struct bw_plan {
    int band, upb, kpw, ipw;
    size_t items[3];
    size_t region, parts;
} bw_plan;

/* What upb units may take, x and dy together: ~256 KiB, in L2 beside the
 * partial sums (measured on n64 c16 14x14 k32 3x3). */
#define UNITS_BYTES (256 * 1024)

static bool make_bw_plan(const clt__gemm_cfg *cfg, const geom *gm, bw_plan *pl)
{
    size_t dwf = (size_t)gm->k * gm->c * gm->r * gm->s, want = (size_t)cfg->items;
    size_t chunks = PART_FLOATS / dwf;
    chunks = chunks < want ? chunks : want;
    chunks = chunks < (size_t)gm->n ? chunks : (size_t)gm->n;
    if (!chunks)
        return false;
    pl->ipw = (int)ceil_div((size_t)gm->n, chunks);
    pl->parts = ceil_div((size_t)gm->n, (size_t)pl->ipw);
    size_t mk = (size_t)bw_mk(cfg), kblocks = ceil_div((size_t)gm->k, mk);
    size_t kgroups = ceil_div(want, pl->parts);
    kgroups = kgroups < kblocks ? kgroups : kblocks;
    pl->kpw = (int)ceil_div(kblocks, kgroups);
    pl->items[0] = ceil_div(kblocks, (size_t)pl->kpw);
    pl->items[1] = pl->parts;
    pl->items[2] = 1;
    /* a unit's floats per row of the band: x's channels and dy's */
    size_t wp = band_width(gm), halo = band_halo(gm); /* stride 1 here */
    size_t row = ((size_t)gm->c + pl->kpw * mk) * wp;
    size_t fit = UNITS_BYTES / sizeof(float) / row;
    size_t band = fit > halo ? fit - halo : 1;
    band = band < (size_t)gm->p ? band : (size_t)gm->p;
    size_t units = (size_t)pl->ipw * ceil_div((size_t)gm->p, band);
    size_t upb = UNITS_BYTES / sizeof(float) / (row * (band + halo));
    upb = upb < 1 ? 1 : upb < units ? upb : units;
    pl->band = (int)band;
    pl->upb = (int)upb;
    size_t vw = (size_t)cfg->vw, plane = upb * (band + halo) * wp;
    size_t slack = vw + halo * wp + (wp - (size_t)gm->q);
    pl->region = (size_t)gm->c * plane + slack + (size_t)pl->kpw * mk * ceil_div(plane, vw) * vw;
    return pl->items[0] * pl->parts <= INT32_MAX / pl->region && pl->parts * dwf <= INT32_MAX;
}

bool clt__conv_cpu_weights_applies(clt_context_t ctx, const clt_conv2d_desc *d, int p, int q)
{
    if (!ctx->is_cpu || d->stride_h != 1 || d->stride_w != 1 || d->groups != 1)
        return false;
    clt__conv_args a = {.d = d, .p = p, .q = q};
    geom gm = forward_geom(&a);
    bw_plan pl;
    return make_bw_plan(&ctx->gemm, &gm, &pl);
}

clt_status clt__conv_cpu_backward_weights(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    geom gm = forward_geom(a);
    bw_plan pl;
    make_bw_plan(&ctx->gemm, &gm, &pl);
    size_t dwf = clt__conv_w_elems(d);
    cl_mem scratch = NULL, part = NULL;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_GEMM,
                            pl.items[0] * pl.items[1] * pl.region * sizeof(float), &scratch));
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, pl.parts * dwf * sizeof(float), &part));
    const size_t one[3] = {1, 1, 1};
    CLT__CHECK(CLT_LAUNCH(ctx, "conv_cpu", "conv_cpu_bwd_weights", 2, pl.items, one,
                          CLT_ARG_MEM(a->x.mem), CLT_ARG_INT(a->x.offset), CLT_ARG_MEM(a->dy.mem),
                          CLT_ARG_INT(a->dy.offset), CLT_ARG_MEM(part), CLT_ARG_INT(d->n),
                          CLT_ARG_INT(d->c), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w),
                          CLT_ARG_INT(d->k), CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w),
                          CLT_ARG_INT(d->pad_h), CLT_ARG_INT(d->pad_w), CLT_ARG_INT(d->dilation_h),
                          CLT_ARG_INT(d->dilation_w), CLT_ARG_INT(a->p), CLT_ARG_INT(a->q),
                          CLT_ARG_INT(pl.band), CLT_ARG_INT(pl.upb), CLT_ARG_INT(pl.kpw),
                          CLT_ARG_INT(pl.ipw), CLT_ARG_MEM(scratch), CLT_ARG_INT(pl.region)));
    size_t crs = dwf / (size_t)d->k;
    CLT__CHECK(clt__sum_parts(ctx, part, pl.parts, (size_t)d->k, crs, 1, a->dw.mem, a->dw.offset,
                              crs, 0, 1.0f, 0.0f));
    return clt__conv_bias_grad(ctx, a);
}
