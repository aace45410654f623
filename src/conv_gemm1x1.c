/* GEMM_1X1: a 1x1 kernel with stride 1 and no padding is a matrix product
 * on x as it lies in memory: y_n (K x HW) = W (K x C) x_n (C x HW), one
 * strided-batched GEMM over the images per group, no im2col. Backward data:
 * dx_n = W^T dy_n likewise; backward weights: dW = sum_n dy_n x_n^T (a GEMM
 * sum, batched over the groups). */
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

/* out_n,g = op(W_g) in_n,g for every image n and group g: one GEMM per
 * group whose columns are the images' pixels side by side (segments of HW,
 * so that 7x7 and 14x14 images fill whole tiles; kernels without segments
 * take it as a strided batch over the images), batched over the groups.
 * in and out hold in_ch and out_ch channels of HW pixels per image. */
static clt_status weights_times_images(clt_context_t ctx, const clt__conv_args *a, clt_transpose t,
                                       clt_buf in, int in_ch, clt_buf out, int out_ch)
{
    const clt_conv2d_desc *d = a->d;
    size_t hw = (size_t)d->h * d->w;
    size_t kin = (size_t)(in_ch / d->groups), mout = (size_t)(out_ch / d->groups);
    clt__gemm_desc gd = {
        .ta = t,
        .tb = CLT_NO_TRANS,
        .m = mout,
        .n = (size_t)d->n * hw,
        .k = kin,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = a->w.mem, /* W_g is (K/g) x (C/g) whichever way it is used */
        .a_off = a->w.offset,
        .lda = t ? mout : kin,
        .a_stride = mout * kin,
        .b = in.mem,
        .b_off = in.offset,
        .ldb = hw,
        .b_stride = kin * hw,
        .c = out.mem,
        .c_off = out.offset,
        .ldc = hw,
        .c_stride = mout * hw,
        .batch = (size_t)d->groups,
        .seg = hw,
        .b_seg = (size_t)in_ch * hw,
        .c_seg = (size_t)out_ch * hw,
    };
    return clt__gemm_run(ctx, &gd);
}

static clt_status forward(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    if (clt__conv_igemm_applies(ctx, d))
        return clt__conv_igemm_forward(ctx, a);
    size_t hw = (size_t)d->h * d->w;
    CLT__CHECK(weights_times_images(ctx, a, CLT_NO_TRANS, a->x, d->c, a->y, d->k));
    if (a->bias.mem || a->act != CLT_ACTIVATION_NONE)
        CLT__CHECK(clt__conv_epilogue(ctx, d, (int)hw, 0, d->n, a->y.mem, a->y.offset, hw,
                                      (size_t)d->k * hw, a->bias, a->act, a->y));
    return CLT_STATUS_SUCCESS;
}

static clt_status backward_data(clt_context_t ctx, const clt__conv_args *a)
{
    return weights_times_images(ctx, a, CLT_TRANS, a->dy, a->d->k, a->dx, a->d->c);
}

static clt_status backward_weights(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t hw = (size_t)d->h * d->w;
    size_t cg = (size_t)(d->c / d->groups), kg = (size_t)(d->k / d->groups);
    clt__gemm_desc gd = {
        .ta = CLT_NO_TRANS,
        .tb = CLT_TRANS,
        .m = kg,
        .n = cg,
        .k = hw,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = a->dy.mem,
        .a_off = a->dy.offset,
        .lda = hw,
        .a_stride = kg * hw,
        .b = a->x.mem,
        .b_off = a->x.offset,
        .ldb = hw,
        .b_stride = cg * hw,
        .c = a->dw.mem,
        .c_off = a->dw.offset,
        .ldc = cg,
        .c_stride = kg * cg,
        .batch = (size_t)d->groups,
    };
    /* one product per image, summed */
    CLT__CHECK(clt__gemm_sum(ctx, &gd, (size_t)d->n, (size_t)d->k * hw, (size_t)d->c * hw));
    return clt__conv_bias_grad(ctx, a);
}

const clt__conv_impl clt__conv_gemm1x1 = {
    .algo = CLT_CONV_ALGO_GEMM_1X1,
    .supports = supports,
    .forward = forward,
    .backward_data = backward_data,
    .backward_weights = backward_weights,
};
