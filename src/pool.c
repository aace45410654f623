/* 2-D max and average pooling: descriptor validation, output shapes, and the
 * launches of cl/pool.cl. Semantics are PyTorch's (see clt.h). */
#include "internal.h"

#include <stdint.h>

/* A validated descriptor: defaults applied, output size computed. */
typedef struct pool_geom {
    bool max;
    int h, w, oh, ow, kh, kw, sh, sw, ph, pw, include_pad;
    size_t nx, ny; /* elements of x and of y */
} pool_geom;

/* PyTorch's pooling_output_shape for one axis (dilation 1), in 64 bits so
 * that no descriptor can overflow it. */
static int64_t output_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode)
{
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    int64_t floor_div = num >= 0 ? num / s : -((-num + s - 1) / s);
    int64_t out = floor_div + 1;
    /* the last window must start inside the input or its left padding */
    if (ceil_mode && (out - 1) * s >= in + p)
        out--;
    return out;
}

/* Checks one axis ('h' or 'w'), fills *stride (0 -> kernel) and *out. */
static clt_status check_axis(clt_context_t ctx, char axis, int in, int k, int s, int p,
                             bool ceil_mode, int *stride, int *out)
{
    if (k < 1)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "kernel_%c = %d: must be >= 1", axis, k);
    if (s < 0)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "stride_%c = %d: must be >= 1, or 0 for the kernel size", axis, s);
    if (p < 0 || p > k / 2)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "pad_%c = %d: must be between 0 and kernel_%c/2 = %d (PyTorch's rule)",
                         axis, p, axis, k / 2);
    *stride = s ? s : k;
    /* kernels compute window bounds up to about 2 * (in + 2p) + k in int */
    if (2 * ((int64_t)in + 2 * (int64_t)p) + k + *stride > INT32_MAX)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "%c = %d, kernel_%c = %d, stride_%c = %d, pad_%c = %d: window bounds "
                         "overflow 32-bit integers",
                         axis, in, axis, k, axis, *stride, axis, p);
    int64_t o = output_size(in, k, *stride, p, ceil_mode);
    if (o < 1)
        return clt__fail(ctx, CLT_STATUS_INVALID_SHAPE,
                         "%c = %d with kernel_%c = %d, stride_%c = %d, pad_%c = %d, ceil_mode = %d "
                         "gives an output size of %lld; it must be >= 1",
                         axis, in, axis, k, axis, *stride, axis, p, (int)ceil_mode, (long long)o);
    *out = (int)o;
    return CLT_STATUS_SUCCESS;
}

/* n * c * h * w elements, each factor >= 1, within size_t and 32-bit indexing. */
static clt_status count4(clt_context_t ctx, int n, int c, int h, int w, const char *what,
                         size_t *out)
{
    size_t t;
    if (!clt__mul_ok((size_t)n, (size_t)c, &t) || !clt__mul_ok(t, (size_t)h, &t) ||
        !clt__mul_ok(t, (size_t)w, &t))
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW, "%s: %d x %d x %d x %d overflows", what, n,
                         c, h, w);
    *out = t;
    return clt__check_int_range(ctx, t, what);
}

/* Validates everything in d (ctx may be NULL: the reason goes to this
 * thread's error) and derives the geometry. */
static clt_status geom_make(clt_context_t ctx, const clt_pool2d_desc *d, pool_geom *g)
{
    if (!d)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "d (the pooling descriptor) is NULL");
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1)
        return clt__fail(ctx, CLT_STATUS_INVALID_SHAPE,
                         "input n = %d, c = %d, h = %d, w = %d: each must be >= 1", d->n, d->c,
                         d->h, d->w);
    if (d->mode != CLT_POOL_MAX && d->mode != CLT_POOL_AVG)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "mode = %d: must be CLT_POOL_MAX (0) or CLT_POOL_AVG (1)", (int)d->mode);
    if ((d->ceil_mode != 0 && d->ceil_mode != 1) ||
        (d->count_include_pad != 0 && d->count_include_pad != 1))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "ceil_mode = %d, count_include_pad = %d: each must be 0 or 1",
                         d->ceil_mode, d->count_include_pad);
    bool ceil_mode = d->ceil_mode == 1;
    CLT__CHECK(
        check_axis(ctx, 'h', d->h, d->kernel_h, d->stride_h, d->pad_h, ceil_mode, &g->sh, &g->oh));
    CLT__CHECK(
        check_axis(ctx, 'w', d->w, d->kernel_w, d->stride_w, d->pad_w, ceil_mode, &g->sw, &g->ow));
    /* average divisors are window areas, computed in int */
    if ((int64_t)d->kernel_h * d->kernel_w > INT32_MAX)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "kernel_h * kernel_w = %d * %d overflows 32-bit integers", d->kernel_h,
                         d->kernel_w);
    CLT__CHECK(count4(ctx, d->n, d->c, d->h, d->w, "x", &g->nx));
    CLT__CHECK(count4(ctx, d->n, d->c, g->oh, g->ow, "y", &g->ny));
    g->max = d->mode == CLT_POOL_MAX;
    g->h = d->h;
    g->w = d->w;
    g->kh = d->kernel_h;
    g->kw = d->kernel_w;
    g->ph = d->pad_h;
    g->pw = d->pad_w;
    g->include_pad = d->count_include_pad;
    return CLT_STATUS_SUCCESS;
}

clt_status clt_pool2d_output_shape(const clt_pool2d_desc *d, clt_shape *y)
{
    clt__clear_error(NULL);
    if (!y)
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "y (the output shape) is NULL");
    pool_geom g;
    CLT__CHECK(geom_make(NULL, d, &g));
    *y = (clt_shape){d->n, d->c, g.oh, g.ow};
    return CLT_STATUS_SUCCESS;
}

/* 2x2 windows at stride 2, no padding, none past the input: the CPU rows
 * kernels' fast case (cl/pool.cl; 2.5-3x on the training net's layers). */
static bool tiles2x2(const pool_geom *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
           2 * g->oh <= g->h && 2 * g->ow <= g->w;
}

/* Every pooling kernel takes (in, out, idx, total, geometry); idx is unused
 * (NULL) in average mode. GPUs run one work-item per element of `out`; CPUs
 * the "_rows" variant, one work-item per row of it. */
static clt_status launch(clt_context_t ctx, const char *kernel, const char *rows_kernel,
                         const pool_geom *g, bool forward, clt_buf in, clt_buf out, clt_buf idx)
{
    size_t elems = forward ? g->ny : g->nx, width = (size_t)(forward ? g->ow : g->w);
    size_t total = ctx->is_cpu ? elems / width : elems;
    return CLT_LAUNCH(ctx, "pool", ctx->is_cpu ? rows_kernel : kernel, 1, &total, NULL,
                      CLT_ARG_MEM(in.mem), CLT_ARG_INT(in.offset), CLT_ARG_MEM(out.mem),
                      CLT_ARG_INT(out.offset), CLT_ARG_MEM(idx.mem), CLT_ARG_INT(idx.offset),
                      CLT_ARG_INT(total), CLT_ARG_INT(g->h), CLT_ARG_INT(g->w), CLT_ARG_INT(g->oh),
                      CLT_ARG_INT(g->ow), CLT_ARG_INT(g->kh), CLT_ARG_INT(g->kw),
                      CLT_ARG_INT(g->sh), CLT_ARG_INT(g->sw), CLT_ARG_INT(g->ph),
                      CLT_ARG_INT(g->pw), CLT_ARG_INT(g->include_pad));
}

clt_status clt_pool2d_forward(clt_context_t ctx, const clt_pool2d_desc *d, clt_buf x, clt_buf y,
                              clt_buf argmax)
{
    CLT__CHECK_CTX(ctx);
    pool_geom g;
    CLT__CHECK(geom_make(ctx, d, &g));
    const size_t f = sizeof(cl_float), i = sizeof(cl_int);
    const clt__tensor_arg t[] = {
        {"x", x, g.nx, f, false, false},
        {"y", y, g.ny, f, true, false},
        {"argmax (required for max pooling)", argmax, g.ny, i, true, false}};
    CLT__CHECK(clt__check_tensors(ctx, t, g.max ? 3 : 2));
    if (!g.max)
        return launch(ctx, "avg_forward", "avg_forward_rows", &g, true, x, y, (clt_buf){NULL, 0});
    return launch(ctx, "max_forward", tiles2x2(&g) ? "max_forward_2x2" : "max_forward_rows", &g,
                  true, x, y, argmax);
}

clt_status clt_pool2d_backward(clt_context_t ctx, const clt_pool2d_desc *d, clt_buf dy,
                               clt_buf argmax, clt_buf dx)
{
    CLT__CHECK_CTX(ctx);
    pool_geom g;
    CLT__CHECK(geom_make(ctx, d, &g));
    const size_t f = sizeof(cl_float), i = sizeof(cl_int);
    /* argmax holds one index per output: the shape of y */
    const clt__tensor_arg t[] = {
        {"dy", dy, g.ny, f, false, false},
        {"dx", dx, g.nx, f, true, false},
        {"argmax (required for max pooling)", argmax, g.ny, i, false, false}};
    CLT__CHECK(clt__check_tensors(ctx, t, g.max ? 3 : 2));
    if (!g.max)
        return launch(ctx, "avg_backward", "avg_backward_rows", &g, false, dy, dx,
                      (clt_buf){NULL, 0});
    return launch(ctx, "max_backward", tiles2x2(&g) ? "max_backward_2x2" : "max_backward_rows", &g,
                  false, dy, dx, argmax);
}
