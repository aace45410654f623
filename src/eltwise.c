/* Element-wise operations on flat float arrays. */
#include "internal.h"

clt_status clt_fill(clt_context_t ctx, clt_buf y, size_t n, float value)
{
    CLT__CHECK_CTX(ctx);
    if (n == 0)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "n = 0: nothing to fill");
    CLT__CHECK(clt__check_buf(ctx, y, n, "y"));
    CLT__CHECK(clt__check_int_range(ctx, y.offset + n, "y"));
    size_t global = n;
    return CLT_LAUNCH(ctx, "eltwise", "fill", 1, &global, NULL, CLT_ARG_MEM(y.mem),
                      CLT_ARG_INT(y.offset), CLT_ARG_INT(n), CLT_ARG_FLOAT(value));
}
