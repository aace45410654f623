/* IM2COL_GEMM: the whole batch (in chunks that fit the workspace) becomes
 * one (C R S) x (N P Q) matrix; one strided-batched GEMM over the groups
 * multiplies it by the K x (C/g R S) filter rows; the epilogue moves the
 * K x (N P Q) result into NCHW, adding bias and ReLU. */
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

static size_t col_rows(const clt_conv2d_desc *d)
{
    return (size_t)d->c * d->kernel_h * d->kernel_w;
}

/* col: (C R S) x (nb P Q); result: K x (nb P Q) unless nb == 1, where the
 * GEMM writes y directly. */
static size_t workspace(const clt_conv2d_desc *d, clt_conv_op op, int images)
{
    (void)op;
    int p, q;
    clt__conv_out_hw(d, &p, &q);
    size_t cols = (size_t)images * p * q;
    size_t floats = col_rows(d) * cols + (images > 1 ? (size_t)d->k * cols : 0);
    return floats * sizeof(float);
}

static clt_status forward(clt_context_t ctx, const clt__conv_fwd *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t pq = (size_t)a->p * a->q;
    size_t cg_rs = col_rows(d) / d->groups, kg = (size_t)(d->k / d->groups);
    for (int n0 = 0; n0 < d->n; n0 += a->chunk) {
        int nb = d->n - n0 < a->chunk ? d->n - n0 : a->chunk;
        size_t cols = (size_t)nb * pq;
        CLT__CHECK(clt__im2col(ctx, d, a->x, n0, nb, a->ws, 0));
        /* nb == 1: the K x PQ product is image n0 of y as it stands */
        bool direct = nb == 1;
        cl_mem out = direct ? a->y.mem : a->ws;
        size_t out_off = direct ? a->y.offset + (size_t)n0 * d->k * pq : col_rows(d) * cols;
        clt__gemm_desc g = {
            .ta = CLT_NO_TRANS,
            .tb = CLT_NO_TRANS,
            .m = kg,
            .n = cols,
            .k = cg_rs,
            .alpha = 1.0f,
            .beta = 0.0f,
            .a = a->w.mem,
            .a_off = a->w.offset,
            .lda = cg_rs,
            .a_stride = kg * cg_rs,
            .b = a->ws,
            .b_off = 0,
            .ldb = cols,
            .b_stride = cg_rs * cols,
            .c = out,
            .c_off = out_off,
            .ldc = cols,
            .c_stride = kg * cols,
            .batch = (size_t)d->groups,
        };
        CLT__CHECK(clt__gemm_run(ctx, &g));
        if (!direct || a->bias.mem || a->act != CLT_ACTIVATION_NONE)
            CLT__CHECK(clt__conv_epilogue(ctx, d, (int)pq, n0, nb, out, out_off, cols, pq, a->bias,
                                          a->act, a->y));
    }
    return CLT_STATUS_SUCCESS;
}

const clt__conv_impl clt__conv_im2col = {
    .algo = CLT_CONV_ALGO_IM2COL_GEMM,
    .supports = supports,
    .workspace = workspace,
    .forward = forward,
};
