/* DIRECT: one work-item per output; any parameters, no workspace. */
#include "conv_impl.h"

#include <stdio.h>

static bool supports(const clt_conv2d_desc *d, clt_conv_op op, char *why, size_t cap)
{
    (void)d;
    if (op != CLT_CONV_FORWARD) {
        snprintf(why, cap, "only the forward pass is implemented");
        return false;
    }
    return true;
}

static size_t workspace(const clt_conv2d_desc *d, clt_conv_op op, int images)
{
    (void)d;
    (void)op;
    (void)images;
    return 0;
}

static clt_status forward(clt_context_t ctx, const clt__conv_fwd *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t global[3] = {(size_t)a->p * a->q, (size_t)d->k, (size_t)d->n};
    cl_mem bias = a->bias.mem ? a->bias.mem : a->y.mem;
    return CLT_LAUNCH(ctx, "conv_direct", "conv_direct", 3, global, NULL, CLT_ARG_MEM(a->x.mem),
                      CLT_ARG_INT(a->x.offset), CLT_ARG_MEM(a->w.mem), CLT_ARG_INT(a->w.offset),
                      CLT_ARG_MEM(bias), CLT_ARG_INT(a->bias.offset),
                      CLT_ARG_INT(a->bias.mem != NULL), CLT_ARG_INT(a->act == CLT_ACTIVATION_RELU),
                      CLT_ARG_MEM(a->y.mem), CLT_ARG_INT(a->y.offset), CLT_ARG_INT(d->n),
                      CLT_ARG_INT(d->c), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w), CLT_ARG_INT(d->k),
                      CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w), CLT_ARG_INT(d->pad_h),
                      CLT_ARG_INT(d->pad_w), CLT_ARG_INT(d->stride_h), CLT_ARG_INT(d->stride_w),
                      CLT_ARG_INT(d->dilation_h), CLT_ARG_INT(d->dilation_w),
                      CLT_ARG_INT(d->groups), CLT_ARG_INT(a->p), CLT_ARG_INT(a->q));
}

const clt__conv_impl clt__conv_direct = {
    .algo = CLT_CONV_ALGO_DIRECT,
    .supports = supports,
    .workspace = workspace,
    .forward = forward,
};
