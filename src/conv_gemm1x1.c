/* GEMM_1X1: a 1x1 kernel with stride 1 and no padding is a matrix product
 * on x as it lies in memory: y_n (K x HW) = W (K x C) x_n (C x HW), one
 * strided-batched GEMM over the images per group, no im2col. Backward data:
 * dx_n = W^T dy_n likewise; backward weights: dW = sum_n dy_n x_n^T, one
 * GEMM per image (batched over the groups) accumulating into dW. */
#include "conv_impl.h"

#include <stdio.h>

static bool supports(const clt_conv2d_desc *d, clt_conv_op op, char *why, size_t cap)
{
    if (d->kernel_h != 1 || d->kernel_w != 1 || d->stride_h != 1 || d->stride_w != 1 ||
        d->pad_h != 0 || d->pad_w != 0) {
        snprintf(why, cap,
                 "needs a 1x1 kernel, stride 1 and no padding (have kernel %dx%d, stride %dx%d, "
                 "pad %dx%d)",
                 d->kernel_h, d->kernel_w, d->stride_h, d->stride_w, d->pad_h, d->pad_w);
        return false;
    }
    (void)op;
    return true;
}

static size_t workspace(const clt_conv2d_desc *d, clt_conv_op op, int images)
{
    (void)d;
    (void)op;
    (void)images;
    return 0;
}

static clt_status forward(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t hw = (size_t)d->h * d->w;
    size_t cg = (size_t)(d->c / d->groups), kg = (size_t)(d->k / d->groups);
    for (int g = 0; g < d->groups; g++) {
        clt__gemm_desc gd = {
            .ta = CLT_NO_TRANS,
            .tb = CLT_NO_TRANS,
            .m = kg,
            .n = hw,
            .k = cg,
            .alpha = 1.0f,
            .beta = 0.0f,
            .a = a->w.mem,
            .a_off = a->w.offset + g * kg * cg,
            .lda = cg,
            .a_stride = 0,
            .b = a->x.mem,
            .b_off = a->x.offset + g * cg * hw,
            .ldb = hw,
            .b_stride = (size_t)d->c * hw,
            .c = a->y.mem,
            .c_off = a->y.offset + g * kg * hw,
            .ldc = hw,
            .c_stride = (size_t)d->k * hw,
            .batch = (size_t)d->n,
        };
        CLT__CHECK(clt__gemm_run(ctx, &gd));
    }
    if (a->bias.mem || a->act != CLT_ACTIVATION_NONE)
        CLT__CHECK(clt__conv_epilogue(ctx, d, (int)hw, 0, d->n, a->y.mem, a->y.offset, hw,
                                      (size_t)d->k * hw, a->bias, a->act, a->y));
    return CLT_STATUS_SUCCESS;
}

static clt_status backward_data(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t hw = (size_t)d->h * d->w;
    size_t cg = (size_t)(d->c / d->groups), kg = (size_t)(d->k / d->groups);
    for (int g = 0; g < d->groups; g++) {
        clt__gemm_desc gd = {
            .ta = CLT_TRANS,
            .tb = CLT_NO_TRANS,
            .m = cg,
            .n = hw,
            .k = kg,
            .alpha = 1.0f,
            .beta = 0.0f,
            .a = a->w.mem,
            .a_off = a->w.offset + g * kg * cg,
            .lda = cg,
            .a_stride = 0,
            .b = a->dy.mem,
            .b_off = a->dy.offset + g * kg * hw,
            .ldb = hw,
            .b_stride = (size_t)d->k * hw,
            .c = a->dx.mem,
            .c_off = a->dx.offset + g * cg * hw,
            .ldc = hw,
            .c_stride = (size_t)d->c * hw,
            .batch = (size_t)d->n,
        };
        CLT__CHECK(clt__gemm_run(ctx, &gd));
    }
    return CLT_STATUS_SUCCESS;
}

static clt_status backward_weights(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t hw = (size_t)d->h * d->w;
    size_t cg = (size_t)(d->c / d->groups), kg = (size_t)(d->k / d->groups);
    for (int n = 0; n < d->n; n++) {
        clt__gemm_desc gd = {
            .ta = CLT_NO_TRANS,
            .tb = CLT_TRANS,
            .m = kg,
            .n = cg,
            .k = hw,
            .alpha = 1.0f,
            .beta = n == 0 ? 0.0f : 1.0f,
            .a = a->dy.mem,
            .a_off = a->dy.offset + (size_t)n * d->k * hw,
            .lda = hw,
            .a_stride = kg * hw,
            .b = a->x.mem,
            .b_off = a->x.offset + (size_t)n * d->c * hw,
            .ldb = hw,
            .b_stride = cg * hw,
            .c = a->dw.mem,
            .c_off = a->dw.offset,
            .ldc = cg,
            .c_stride = kg * cg,
            .batch = (size_t)d->groups,
        };
        CLT__CHECK(clt__gemm_run(ctx, &gd));
    }
    return clt__conv_bias_grad(ctx, a);
}

const clt__conv_impl clt__conv_gemm1x1 = {
    .algo = CLT_CONV_ALGO_GEMM_1X1,
    .supports = supports,
    .workspace = workspace,
    .forward = forward,
    .backward_data = backward_data,
    .backward_weights = backward_weights,
};
