/* Implicit-GEMM forward convolution for GPUs (cl/conv_igemm.cl): the whole
 * batch as one K x (N P Q) product whose column matrix is read straight
 * from x, with bias and ReLU in the store. It stands in for the explicit
 * im2col + GEMM (+ epilogue) and for the per-image batched 1x1 GEMMs, which
 * write and re-read the column matrix or leave small images' GEMMs short of
 * work. */
#include "conv_impl.h"

#include <stdlib.h>
#include <string.h>

#define IG_LOCAL 16 /* the kernel's reqd_work_group_size, per dimension */
#define IG_TILE 128 /* its output tile, per dimension */

/* Whether the device runs the kernel with its 16 x 16 work-group (asked of
 * the compiled kernel once per context). */
static bool kernel_fits(clt_context_t ctx)
{
    if (ctx->igemm_ok < 0) {
        cl_kernel k;
        size_t wg = 0;
        cl_ulong local = 0;
        ctx->igemm_ok =
            clt__kernel_get(ctx, "conv_igemm", "conv_igemm", &k) == CLT_STATUS_SUCCESS &&
            clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg,
                                     NULL) == CL_SUCCESS &&
            clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local,
                                     NULL) == CL_SUCCESS &&
            wg >= IG_LOCAL * IG_LOCAL && local <= ctx->info.local_mem_bytes;
    }
    return ctx->igemm_ok > 0;
}

/* Where it beat the explicit paths on the H100 (ResNet-50, N = 32): short
 * reductions (C R S <= 256: conv1's 7x7 1.7x im2col) and 1x1 layers with
 * many outputs per input channel (1.2-1.4x the batched GEMMs). Its inner
 * loop is slower than CLBlast's tuned GEMM, so long reductions (3x3 with
 * 128+ channels, 1x1 with 512+ and few outputs) stay with the explicit
 * paths: there it ran 0.4-0.9x. */
static bool worth_it(const clt_conv2d_desc *d)
{
    int crs = d->c * d->kernel_h * d->kernel_w;
    if (d->kernel_h == 1 && d->kernel_w == 1)
        return (d->c <= 256 && d->k >= 128) || d->k > 2 * d->c;
    return crs <= 256;
}

void clt__conv_igemm_init(clt_context_t ctx)
{
    /* CLT_IGEMM=0: never; 1: wherever it can run; otherwise where it wins */
    const char *env = getenv("CLT_IGEMM");
    ctx->igemm_use = env && !strcmp(env, "0") ? 0 : env && !strcmp(env, "1") ? 1 : -1;
    ctx->igemm_ok = -1;
}

bool clt__conv_igemm_applies(clt_context_t ctx, const clt_conv2d_desc *d)
{
    if (ctx->is_cpu || ctx->igemm_use == 0 || d->groups != 1 ||
        (ctx->igemm_use < 0 && !worth_it(d)))
        return false;
    /* the table packs the row and column offsets of a filter tap in 16 bits */
    if ((d->kernel_h - 1) * d->dilation_h >= 32768 || (d->kernel_w - 1) * d->dilation_w >= 65536)
        return false;
    return kernel_fits(ctx);
}

clt_status clt__conv_igemm_forward(clt_context_t ctx, const clt__conv_args *a)
{
    const clt_conv2d_desc *d = a->d;
    size_t crs = (size_t)d->c * d->kernel_h * d->kernel_w, npq = (size_t)d->n * a->p * a->q;
    cl_mem tbl;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, crs * 2 * sizeof(cl_int), &tbl));
    CLT__CHECK(CLT_LAUNCH(ctx, "conv_igemm", "conv_igemm_table", 1, &crs, NULL, CLT_ARG_MEM(tbl),
                          CLT_ARG_INT(crs), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w),
                          CLT_ARG_INT(d->kernel_h), CLT_ARG_INT(d->kernel_w),
                          CLT_ARG_INT(d->dilation_h), CLT_ARG_INT(d->dilation_w)));
    size_t global[2] = {(npq + IG_TILE - 1) / IG_TILE * IG_LOCAL,
                        ((size_t)d->k + IG_TILE - 1) / IG_TILE * IG_LOCAL};
    const size_t local[2] = {IG_LOCAL, IG_LOCAL};
    return CLT_LAUNCH(ctx, "conv_igemm", "conv_igemm", 2, global, local, CLT_ARG_MEM(a->x.mem),
                      CLT_ARG_INT(a->x.offset), CLT_ARG_MEM(a->w.mem), CLT_ARG_INT(a->w.offset),
                      CLT_ARG_MEM(tbl), CLT_ARG_MEM(a->bias.mem), CLT_ARG_INT(a->bias.offset),
                      CLT_ARG_INT(a->bias.mem != NULL), CLT_ARG_INT(a->act == CLT_ACTIVATION_RELU),
                      CLT_ARG_MEM(a->y.mem), CLT_ARG_INT(a->y.offset), CLT_ARG_INT(d->n),
                      CLT_ARG_INT(d->c), CLT_ARG_INT(d->h), CLT_ARG_INT(d->w), CLT_ARG_INT(d->k),
                      CLT_ARG_INT(crs), CLT_ARG_INT(a->p), CLT_ARG_INT(a->q),
                      CLT_ARG_INT(d->stride_h), CLT_ARG_INT(d->stride_w), CLT_ARG_INT(d->pad_h),
                      CLT_ARG_INT(d->pad_w));
}
