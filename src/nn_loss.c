/* Losses: softmax cross-entropy with integer labels, and mean squared error.
 * Each mean is two fixed-order stages (per-row or per-chunk sums, then one
 * work-item adding them in index order), so the loss is the same bits run to
 * run without atomics. The stage-one values live in the AUX scratch slot:
 * these are top-level calls, never made by an op that holds that slot. */
#include "internal.h"

/* Elements per first-stage work-item of the MSE sum. A constant, not a
 * device property, so that every device sums in the same order. */
#define MSE_CHUNK 256

/* loss[0] = sum(values[0..n)) / divisor, in index order. */
static clt_status mean_in_order(clt_context_t ctx, cl_mem values, size_t n, double divisor,
                                clt_buf loss)
{
    size_t one = 1;
    return CLT_LAUNCH(ctx, "nn", "mean_in_order", 1, &one, NULL, CLT_ARG_MEM(values),
                      CLT_ARG_INT(n), CLT_ARG_FLOAT(divisor), CLT_ARG_MEM(loss.mem),
                      CLT_ARG_INT(loss.offset));
}

/* The loss scalar must not share memory with any input. */
static clt_status check_loss_apart(clt_context_t ctx, clt_buf loss, clt_buf in, size_t count,
                                   size_t elem_bytes, const char *in_name)
{
    if (clt__overlap(loss, 1, sizeof(float), in, count, elem_bytes))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "loss overlaps %s in the same buffer",
                         in_name);
    return CLT_STATUS_SUCCESS;
}

/* ---- softmax cross-entropy ---- */

/* Shapes, logits, labels, and an output that is the logits or apart from
 * them and from the labels. */
static clt_status check_ce(clt_context_t ctx, int batch, int classes, clt_buf logits,
                           clt_buf labels, clt_buf out, const char *out_name, size_t *count)
{
    CLT__CHECK(clt__check_dim(ctx, batch, "batch"));
    CLT__CHECK(clt__check_dim(ctx, classes, "classes"));
    if (!clt__mul_ok((size_t)batch, (size_t)classes, count))
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW, "batch = %d x classes = %d overflows",
                         batch, classes);
    CLT__CHECK(clt__check_tensor(ctx, logits, *count, sizeof(float), "logits"));
    CLT__CHECK(clt__check_tensor(ctx, labels, (size_t)batch, sizeof(cl_int), "labels"));
    if (!out.mem)
        return CLT_STATUS_SUCCESS;
    CLT__CHECK(clt__check_tensor(ctx, out, *count, sizeof(float), out_name));
    CLT__CHECK(clt__check_inplace(ctx, out, logits, *count, out_name, "logits"));
    if (clt__overlap(out, *count, sizeof(float), labels, (size_t)batch, sizeof(cl_int)))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "%s overlaps labels in the same buffer",
                         out_name);
    return CLT_STATUS_SUCCESS;
}

clt_status clt_softmax_cross_entropy_forward(clt_context_t ctx, int batch, int classes,
                                             clt_buf logits, clt_buf labels, clt_buf loss,
                                             clt_buf probs)
{
    CLT__CHECK_CTX(ctx);
    size_t count;
    CLT__CHECK(check_ce(ctx, batch, classes, logits, labels, probs, "probs", &count));
    CLT__CHECK(clt__check_tensor(ctx, loss, 1, sizeof(float), "loss"));
    CLT__CHECK(check_loss_apart(ctx, loss, logits, count, sizeof(float), "logits"));
    CLT__CHECK(check_loss_apart(ctx, loss, labels, (size_t)batch, sizeof(cl_int), "labels"));
    CLT__CHECK(check_loss_apart(ctx, loss, probs, count, sizeof(float), "probs"));

    cl_mem rows = NULL;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, (size_t)batch * sizeof(float), &rows));
    /* without probs the kernel gets a buffer it never writes, not NULL,
     * which some drivers mishandle */
    cl_mem probs_mem = probs.mem ? probs.mem : rows;
    size_t global = (size_t)batch;
    CLT__CHECK(CLT_LAUNCH(ctx, "nn", "softmax_ce_rows", 1, &global, NULL, CLT_ARG_MEM(logits.mem),
                          CLT_ARG_INT(logits.offset), CLT_ARG_MEM(labels.mem),
                          CLT_ARG_INT(labels.offset), CLT_ARG_MEM(rows), CLT_ARG_MEM(probs_mem),
                          CLT_ARG_INT(probs.offset), CLT_ARG_INT(probs.mem != NULL),
                          CLT_ARG_INT(batch), CLT_ARG_INT(classes)));
    return mean_in_order(ctx, rows, (size_t)batch, (double)batch, loss);
}

clt_status clt_softmax_cross_entropy_backward(clt_context_t ctx, int batch, int classes,
                                              clt_buf logits, clt_buf labels, clt_buf dlogits)
{
    CLT__CHECK_CTX(ctx);
    if (!dlogits.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "dlogits: the cl_mem is NULL");
    size_t count;
    CLT__CHECK(check_ce(ctx, batch, classes, logits, labels, dlogits, "dlogits", &count));
    size_t global = (size_t)batch;
    return CLT_LAUNCH(ctx, "nn", "softmax_ce_backward", 1, &global, NULL, CLT_ARG_MEM(logits.mem),
                      CLT_ARG_INT(logits.offset), CLT_ARG_MEM(labels.mem),
                      CLT_ARG_INT(labels.offset), CLT_ARG_MEM(dlogits.mem),
                      CLT_ARG_INT(dlogits.offset), CLT_ARG_INT(batch), CLT_ARG_INT(classes));
}

/* ---- mean squared error ---- */

static clt_status check_mse_inputs(clt_context_t ctx, size_t count, clt_buf pred, clt_buf target)
{
    CLT__CHECK(clt__check_count(ctx, count));
    CLT__CHECK(clt__check_tensor(ctx, pred, count, sizeof(float), "pred"));
    return clt__check_tensor(ctx, target, count, sizeof(float), "target");
}

clt_status clt_mse_loss_forward(clt_context_t ctx, size_t count, clt_buf pred, clt_buf target,
                                clt_buf loss)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_mse_inputs(ctx, count, pred, target));
    CLT__CHECK(clt__check_tensor(ctx, loss, 1, sizeof(float), "loss"));
    CLT__CHECK(check_loss_apart(ctx, loss, pred, count, sizeof(float), "pred"));
    CLT__CHECK(check_loss_apart(ctx, loss, target, count, sizeof(float), "target"));

    size_t chunks = (count + MSE_CHUNK - 1) / MSE_CHUNK;
    cl_mem partial = NULL;
    CLT__CHECK(clt__scratch(ctx, CLT__SCRATCH_AUX, chunks * sizeof(float), &partial));
    CLT__CHECK(CLT_LAUNCH(ctx, "nn", "sq_diff_partial", 1, &chunks, NULL, CLT_ARG_MEM(pred.mem),
                          CLT_ARG_INT(pred.offset), CLT_ARG_MEM(target.mem),
                          CLT_ARG_INT(target.offset), CLT_ARG_MEM(partial), CLT_ARG_INT(count),
                          CLT_ARG_INT(MSE_CHUNK)));
    return mean_in_order(ctx, partial, chunks, (double)count, loss);
}

clt_status clt_mse_loss_backward(clt_context_t ctx, size_t count, clt_buf pred, clt_buf target,
                                 clt_buf dpred)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(check_mse_inputs(ctx, count, pred, target));
    CLT__CHECK(clt__check_tensor(ctx, dpred, count, sizeof(float), "dpred"));
    CLT__CHECK(clt__check_inplace(ctx, dpred, pred, count, "dpred", "pred"));
    CLT__CHECK(clt__check_inplace(ctx, dpred, target, count, "dpred", "target"));
    return CLT_LAUNCH(ctx, "nn", "mse_backward", 1, &count, NULL, CLT_ARG_MEM(pred.mem),
                      CLT_ARG_INT(pred.offset), CLT_ARG_MEM(target.mem), CLT_ARG_INT(target.offset),
                      CLT_ARG_MEM(dpred.mem), CLT_ARG_INT(dpred.offset), CLT_ARG_INT(count),
                      CLT_ARG_FLOAT(2.0 / (double)count));
}
