/* The optimiser step: PyTorch's SGD with momentum, in place on the device. */
#include "internal.h"

#include <math.h>

static clt_status check_hyper(clt_context_t ctx, float value, const char *what)
{
    if (!isfinite(value) || value < 0.0f)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "%s = %g: must be finite and >= 0", what,
                         (double)value);
    return CLT_STATUS_SUCCESS;
}

clt_status clt_sgd_momentum_update(clt_context_t ctx, size_t count, clt_buf param, clt_buf grad,
                                   clt_buf velocity, float lr, float momentum, float weight_decay)
{
    CLT__CHECK_CTX(ctx);
    CLT__CHECK(clt__check_count(ctx, count));
    CLT__CHECK(check_hyper(ctx, lr, "lr"));
    CLT__CHECK(check_hyper(ctx, momentum, "momentum"));
    CLT__CHECK(check_hyper(ctx, weight_decay, "weight_decay"));
    const struct {
        const char *name;
        clt_buf buf;
    } ops[] = {{"param", param}, {"grad", grad}, {"velocity", velocity}};
    for (int i = 0; i < 3; i++)
        CLT__CHECK(clt__check_tensor(ctx, ops[i].buf, count, sizeof(float), ops[i].name));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (clt__overlap(ops[i].buf, count, sizeof(float), ops[j].buf, count, sizeof(float)))
                return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                                 "%s overlaps %s in the same buffer; the three must be apart",
                                 ops[i].name, ops[j].name);
    return CLT_LAUNCH(ctx, "nn", "sgd_momentum", 1, &count, NULL, CLT_ARG_MEM(param.mem),
                      CLT_ARG_INT(param.offset), CLT_ARG_MEM(grad.mem), CLT_ARG_INT(grad.offset),
                      CLT_ARG_MEM(velocity.mem), CLT_ARG_INT(velocity.offset), CLT_ARG_INT(count),
                      CLT_ARG_FLOAT(lr), CLT_ARG_FLOAT(momentum), CLT_ARG_FLOAT(weight_decay));
}
