/* Fully connected layer in PyTorch's layout: x is batch x in, w is out x in,
 * y = x w^T + b. Both directions are GEMMs plus the bias kernels. */
#include "internal.h"

/* A named float operand of `count` elements; absent when buf.mem is NULL. */
typedef struct operand {
    const char *name;
    clt_buf buf;
    size_t count;
} operand;

/* rows * cols as a size, or a failure naming both. */
static clt_status matrix_count(clt_context_t ctx, int rows, int cols, const char *what,
                               size_t *count)
{
    if (!clt__mul_ok((size_t)rows, (size_t)cols, count))
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW, "%s: %d x %d elements overflow", what, rows,
                         cols);
    return CLT_STATUS_SUCCESS;
}

/* Checks each present operand's buffer. */
static clt_status check_operands(clt_context_t ctx, const operand *ops, int n)
{
    for (int i = 0; i < n; i++)
        if (ops[i].buf.mem)
            CLT__CHECK(
                clt__check_tensor(ctx, ops[i].buf, ops[i].count, sizeof(float), ops[i].name));
    return CLT_STATUS_SUCCESS;
}

/* No output may share memory with an input it or a later product reads, nor
 * with another output. */
static clt_status check_disjoint(clt_context_t ctx, const operand *outs, int n_out,
                                 const operand *ins, int n_in)
{
    for (int i = 0; i < n_out; i++) {
        for (int j = 0; j < n_in + i; j++) {
            const operand *o = j < n_in ? &ins[j] : &outs[j - n_in];
            if (clt__overlap(outs[i].buf, outs[i].count, sizeof(float), o->buf, o->count,
                             sizeof(float)))
                return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                                 "%s overlaps %s in the same buffer; outputs must not alias "
                                 "inputs or each other",
                                 outs[i].name, o->name);
        }
    }
    return CLT_STATUS_SUCCESS;
}

static clt_status check_dims(clt_context_t ctx, int batch, int in, int out)
{
    CLT__CHECK(clt__check_dim(ctx, batch, "batch"));
    CLT__CHECK(clt__check_dim(ctx, in, "in"));
    return clt__check_dim(ctx, out, "out");
}

clt_status clt_linear_forward(clt_context_t ctx, int batch, int in, int out, clt_buf x, clt_buf w,
                              clt_buf b, clt_buf y)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_dims(ctx, batch, in, out));
    size_t nx, nw, ny;
    CLT__CHECK(matrix_count(ctx, batch, in, "x", &nx));
    CLT__CHECK(matrix_count(ctx, out, in, "w", &nw));
    CLT__CHECK(matrix_count(ctx, batch, out, "y", &ny));
    if (!x.mem || !w.mem || !y.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "%s: the cl_mem is NULL",
                         !x.mem   ? "x"
                         : !w.mem ? "w"
                                  : "y");
    const operand ins[] = {{"x", x, nx}, {"w", w, nw}, {"b", b, (size_t)out}};
    const operand outs[] = {{"y", y, ny}};
    CLT__CHECK(check_operands(ctx, ins, 3));
    CLT__CHECK(check_operands(ctx, outs, 1));
    CLT__CHECK(check_disjoint(ctx, outs, 1, ins, 3));

    /* y (batch x out) = x (batch x in) * w^T */
    clt__gemm_desc g = {.ta = CLT_NO_TRANS,
                        .tb = CLT_TRANS,
                        .m = (size_t)batch,
                        .n = (size_t)out,
                        .k = (size_t)in,
                        .alpha = 1.0f,
                        .beta = 0.0f,
                        .a = x.mem,
                        .a_off = x.offset,
                        .lda = (size_t)in,
                        .b = w.mem,
                        .b_off = w.offset,
                        .ldb = (size_t)in,
                        .c = y.mem,
                        .c_off = y.offset,
                        .ldc = (size_t)out,
                        .batch = 1};
    CLT__CHECK(clt__gemm_run(ctx, &g));
    if (b.mem)
        CLT__CHECK(clt__bias_add_run(ctx, batch, out, 1, y, b));
    return CLT_STATUS_SUCCESS;
}

clt_status clt_linear_backward(clt_context_t ctx, int batch, int in, int out, clt_buf x, clt_buf w,
                               clt_buf dy, clt_buf dx, clt_buf dw, clt_buf db)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_dims(ctx, batch, in, out));
    size_t nx, nw, ny;
    CLT__CHECK(matrix_count(ctx, batch, in, "x", &nx));
    CLT__CHECK(matrix_count(ctx, out, in, "w", &nw));
    CLT__CHECK(matrix_count(ctx, batch, out, "dy", &ny));
    if (!dx.mem && !dw.mem && !db.mem)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "dx, dw and db are all absent: nothing to compute");
    if (!dy.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "dy: the cl_mem is NULL");
    if (dx.mem && !w.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "w: the cl_mem is NULL (dx needs w)");
    if (dw.mem && !x.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "x: the cl_mem is NULL (dw needs x)");
    /* x and w are read only for dw and dx respectively */
    const clt_buf none = {NULL, 0};
    const operand ins[] = {
        {"dy", dy, ny}, {"x", dw.mem ? x : none, nx}, {"w", dx.mem ? w : none, nw}};
    const operand outs[] = {{"dx", dx, nx}, {"dw", dw, nw}, {"db", db, (size_t)out}};
    CLT__CHECK(check_operands(ctx, ins, 3));
    CLT__CHECK(check_operands(ctx, outs, 3));
    CLT__CHECK(check_disjoint(ctx, outs, 3, ins, 3));

    if (dx.mem) { /* dx (batch x in) = dy (batch x out) * w (out x in) */
        clt__gemm_desc g = {.ta = CLT_NO_TRANS,
                            .tb = CLT_NO_TRANS,
                            .m = (size_t)batch,
                            .n = (size_t)in,
                            .k = (size_t)out,
                            .alpha = 1.0f,
                            .beta = 0.0f,
                            .a = dy.mem,
                            .a_off = dy.offset,
                            .lda = (size_t)out,
                            .b = w.mem,
                            .b_off = w.offset,
                            .ldb = (size_t)in,
                            .c = dx.mem,
                            .c_off = dx.offset,
                            .ldc = (size_t)in,
                            .batch = 1};
        CLT__CHECK(clt__gemm_run(ctx, &g));
    }
    if (dw.mem) { /* dw (out x in) = dy^T (out x batch) * x (batch x in) */
        clt__gemm_desc g = {.ta = CLT_TRANS,
                            .tb = CLT_NO_TRANS,
                            .m = (size_t)out,
                            .n = (size_t)in,
                            .k = (size_t)batch,
                            .alpha = 1.0f,
                            .beta = 0.0f,
                            .a = dy.mem,
                            .a_off = dy.offset,
                            .lda = (size_t)out,
                            .b = x.mem,
                            .b_off = x.offset,
                            .ldb = (size_t)in,
                            .c = dw.mem,
                            .c_off = dw.offset,
                            .ldc = (size_t)in,
                            .batch = 1};
        CLT__CHECK(clt__gemm_run(ctx, &g));
    }
    if (db.mem) /* column sums of dy: a bias gradient with hw = 1 */
        CLT__CHECK(clt__bias_backward_run(ctx, batch, out, 1, dy, db));
    return CLT_STATUS_SUCCESS;
}
