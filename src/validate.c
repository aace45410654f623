/* Argument checks shared by every public call. */
#include "internal.h"

#include <stdint.h>

bool clt__mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

clt_status clt__check_buf_bytes(clt_context_t ctx, clt_buf buf, size_t elements, size_t elem_bytes,
                                const char *what)
{
    if (!buf.mem)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "%s: the cl_mem is NULL", what);
    cl_context owner = NULL;
    cl_int err = clGetMemObjectInfo(buf.mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
    if (err != CL_SUCCESS)
        return clt__fail(ctx, CLT_STATUS_CL_INVALID_MEM_OBJECT,
                         "%s: not a valid cl_mem (clGetMemObjectInfo: %d)", what, (int)err);
    if (owner != ctx->cl)
        return clt__fail(ctx, CLT_STATUS_CONTEXT_MISMATCH,
                         "%s: the buffer belongs to another OpenCL context", what);
    size_t bytes = 0;
    clGetMemObjectInfo(buf.mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
    size_t need = 0;
    if (elements > SIZE_MAX - buf.offset || !clt__mul_ok(buf.offset + elements, elem_bytes, &need))
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW, "%s: offset %zu + %zu elements overflows",
                         what, buf.offset, elements);
    if (need > bytes)
        return clt__fail(ctx, CLT_STATUS_BUFFER_TOO_SMALL,
                         "%s: needs %zu elements from offset %zu (%zu bytes) but the buffer holds "
                         "%zu bytes",
                         what, elements, buf.offset, need, bytes);
    return CLT_STATUS_SUCCESS;
}

clt_status clt__check_buf(clt_context_t ctx, clt_buf buf, size_t elements, const char *what)
{
    return clt__check_buf_bytes(ctx, buf, elements, sizeof(float), what);
}

clt_status clt__check_int_range(clt_context_t ctx, size_t elements, const char *what)
{
    if (elements > (size_t)INT32_MAX)
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW,
                         "%s: %zu elements; kernels index with 32-bit integers (max %d)", what,
                         elements, (int)INT32_MAX);
    return CLT_STATUS_SUCCESS;
}
