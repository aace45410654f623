/* DIRECT: any parameters, no workspace. On CPUs clt's GEMM tile over a
 * padded copy of the input (conv_cpu.c): forward at any stride, the
 * backward passes at stride 1; elsewhere, and on GPUs, one work-item per
 * output element. */
#include "conv_impl.h"

static clt_status forward(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    if (clt__conv_cpu_applies(ctx, d, CLT_CONV_FORWARD, a->p, a->q))
        return clt__conv_cpu_forward(ctx, a);
    size_t elems[3] = {(size_t)a->p * a->q, (size_t)d->k, (size_t)d->n};
    cl_mem bias = a->bias.mem ? a->bias.mem : a->y.mem;
    return CLT_LAUNCH(ctx, "conv_direct", "conv_direct", 3, elems, NULL, CLT_ARG_MEM(a->x.mem),
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

/* Backward kernels share the geometry arguments after their buffers. */
static clt_status backward(clt_context_t ctx, const clt__conv_args *a, const char *kernel,
                           const size_t *global, clt_buf in0, clt_buf in1, clt_buf out)
{
    const clt_conv2d_desc *d = a->d;
    return CLT_LAUNCH(ctx, "conv_direct", kernel, 3, global, NULL, CLT_ARG_MEM(in0.mem),
                      CLT_ARG_INT(in0.offset), CLT_ARG_MEM(in1.mem), CLT_ARG_INT(in1.offset),
                      CLT_ARG_MEM(out.mem), CLT_ARG_INT(out.offset), CLT_ARG_INT(d->n),
                      CLT_ARG_INT(d->c), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w), CLT_ARG_INT(d->k),
                      CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w), CLT_ARG_INT(d->pad_h),
                      CLT_ARG_INT(d->pad_w), CLT_ARG_INT(d->stride_h), CLT_ARG_INT(d->stride_w),
                      CLT_ARG_INT(d->dilation_h), CLT_ARG_INT(d->dilation_w),
                      CLT_ARG_INT(d->groups), CLT_ARG_INT(a->p), CLT_ARG_INT(a->q));
}

static clt_status backward_data(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    if (clt__conv_cpu_applies(ctx, d, CLT_CONV_BACKWARD_DATA, a->p, a->q))
        return clt__conv_cpu_backward_data(ctx, a);
    size_t global[3] = {(size_t)d->h * d->w, (size_t)d->c, (size_t)d->n};
    return backward(ctx, a, "conv_direct_bwd_data", global, a->dy, a->w, a->dx);
}

static clt_status backward_weights(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    if (clt__conv_cpu_weights_applies(ctx, d, a->p, a->q))
        return clt__conv_cpu_backward_weights(ctx, a);
    size_t global[3] = {(size_t)d->kernel_h * d->kernel_w, (size_t)(d->c / d->groups),
                        (size_t)d->k};
    CLT__CHECK(backward(ctx, a, "conv_direct_bwd_weights", global, a->x, a->dy, a->dw));
    return clt__conv_bias_grad(ctx, a);
}

const clt__conv_impl clt__conv_direct = {
    .algo = CLT_CONV_ALGO_DIRECT,

    .forward = forward,
    .backward_data = backward_data,
    .backward_weights = backward_weights,
};
