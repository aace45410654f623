/* Bias and ReLU. */
#include "internal.h"

#include <limits.h>

/* n * c * hw elements, or a failure naming the dimensions. */
static clt_status nchw_count(clt_context_t ctx, int n, int c, int hw, size_t *count)
{
    CLT__CHECK(clt__check_dim(ctx, n, "n"));
    CLT__CHECK(clt__check_dim(ctx, c, "c"));
    CLT__CHECK(clt__check_dim(ctx, hw, "hw"));
    size_t nc;
    if (!clt__mul_ok((size_t)n, (size_t)c, &nc) || !clt__mul_ok(nc, (size_t)hw, count) ||
        *count > INT_MAX)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "n = %d x c = %d x hw = %d elements exceed the 32-bit index range", n, c,
                         hw);
    return CLT_STATUS_SUCCESS;
}

/* ---- bias ---- */

clt_status clt__bias_add_run(clt_context_t ctx, int n, int c, int hw, clt_buf y, clt_buf bias)
{
    size_t global[2] = {(size_t)hw, (size_t)n * (size_t)c};
    return CLT_LAUNCH(ctx, "nn", "bias_add", 2, global, NULL, CLT_ARG_MEM(y.mem),
                      CLT_ARG_INT(y.offset), CLT_ARG_MEM(bias.mem), CLT_ARG_INT(bias.offset),
                      CLT_ARG_INT(c), CLT_ARG_INT(hw), CLT_ARG_INT(global[1]));
}

clt_status clt__bias_backward_run(clt_context_t ctx, int n, int c, int hw, clt_buf dy,
                                  clt_buf dbias)
{
    size_t planes = (size_t)n * c, global = (size_t)c;
    cl_mem sums;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, planes * sizeof(float), &sums));
    CLT__CHECK(CLT_LAUNCH(ctx, "nn", "bias_plane_sums", 1, &planes, NULL, CLT_ARG_MEM(dy.mem),
                          CLT_ARG_INT(dy.offset), CLT_ARG_MEM(sums), CLT_ARG_INT(planes),
                          CLT_ARG_INT(hw)));
    return CLT_LAUNCH(ctx, "nn", "bias_backward", 1, &global, NULL, CLT_ARG_MEM(sums),
                      CLT_ARG_MEM(dbias.mem), CLT_ARG_INT(dbias.offset), CLT_ARG_INT(n),
                      CLT_ARG_INT(c));
}

/* The tensor and bias of a bias op: shapes, buffers and no overlap. */
static clt_status check_bias_args(clt_context_t ctx, int n, int c, int hw, clt_buf t,
                                  const char *t_name, clt_buf bias, const char *bias_name)
{
    size_t count;
    CLT__CHECK(nchw_count(ctx, n, c, hw, &count));
    CLT__CHECK(clt__check_tensor(ctx, t, count, sizeof(float), t_name));
    CLT__CHECK(clt__check_tensor(ctx, bias, (size_t)c, sizeof(float), bias_name));
    if (clt__overlap(t, count, sizeof(float), bias, (size_t)c, sizeof(float)))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "%s overlaps %s in the same buffer",
                         bias_name, t_name);
    return CLT_STATUS_SUCCESS;
}

clt_status clt_bias_add(clt_context_t ctx, int n, int c, int hw, clt_buf y, clt_buf bias)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_bias_args(ctx, n, c, hw, y, "y", bias, "bias"));
    return clt__bias_add_run(ctx, n, c, hw, y, bias);
}

clt_status clt_bias_backward(clt_context_t ctx, int n, int c, int hw, clt_buf dy, clt_buf dbias)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_bias_args(ctx, n, c, hw, dy, "dy", dbias, "dbias"));
    return clt__bias_backward_run(ctx, n, c, hw, dy, dbias);
}

/* ---- ReLU ---- */

clt_status clt_relu_forward(clt_context_t ctx, size_t count, clt_buf x, clt_buf y)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(clt__check_count(ctx, count));
    CLT__CHECK(clt__check_tensor(ctx, x, count, sizeof(float), "x"));
    CLT__CHECK(clt__check_tensor(ctx, y, count, sizeof(float), "y"));
    CLT__CHECK(clt__check_inplace(ctx, y, x, count, "y", "x"));
    return CLT_LAUNCH(ctx, "nn", "relu_forward", 1, &count, NULL, CLT_ARG_MEM(x.mem),
                      CLT_ARG_INT(x.offset), CLT_ARG_MEM(y.mem), CLT_ARG_INT(y.offset),
                      CLT_ARG_INT(count));
}

clt_status clt_relu_backward(clt_context_t ctx, size_t count, clt_buf y, clt_buf dy, clt_buf dx)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(clt__check_count(ctx, count));
    CLT__CHECK(clt__check_tensor(ctx, y, count, sizeof(float), "y"));
    CLT__CHECK(clt__check_tensor(ctx, dy, count, sizeof(float), "dy"));
    CLT__CHECK(clt__check_tensor(ctx, dx, count, sizeof(float), "dx"));
    CLT__CHECK(clt__check_inplace(ctx, dx, dy, count, "dx", "dy"));
    CLT__CHECK(clt__check_inplace(ctx, dx, y, count, "dx", "y"));
    return CLT_LAUNCH(ctx, "nn", "relu_backward", 1, &count, NULL, CLT_ARG_MEM(y.mem),
                      CLT_ARG_INT(y.offset), CLT_ARG_MEM(dy.mem), CLT_ARG_INT(dy.offset),
                      CLT_ARG_MEM(dx.mem), CLT_ARG_INT(dx.offset), CLT_ARG_INT(count));
}
