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
    cl_mem_object_type type = CL_MEM_OBJECT_BUFFER;
    clGetMemObjectInfo(buf.mem, CL_MEM_TYPE, sizeof type, &type, NULL);
    if (type != CL_MEM_OBJECT_BUFFER)
        return clt__fail(ctx, CLT_STATUS_CL_INVALID_MEM_OBJECT,
                         "%s: an image (cl_mem_object_type 0x%x), not a buffer", what,
                         (unsigned)type);
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

clt_status clt__check_tensor(clt_context_t ctx, clt_buf buf, size_t elements, size_t elem_bytes,
                             const char *what)
{
    CLT__CHECK(clt__check_buf_bytes(ctx, buf, elements, elem_bytes, what));
    return clt__check_int_range(ctx, buf.offset + elements, what);
}

bool clt__overlap(clt_buf a, size_t a_elements, size_t a_bytes, clt_buf b, size_t b_elements,
                  size_t b_bytes)
{
    if (!a.mem || !b.mem || a.mem != b.mem)
        return false;
    size_t a0 = a.offset * a_bytes, a1 = a0 + a_elements * a_bytes;
    size_t b0 = b.offset * b_bytes, b1 = b0 + b_elements * b_bytes;
    return a0 < b1 && b0 < a1;
}

clt_status clt__check_dim(clt_context_t ctx, int value, const char *what)
{
    if (value < 1)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "%s = %d: must be >= 1", what, value);
    return CLT_STATUS_SUCCESS;
}

clt_status clt__check_count(clt_context_t ctx, size_t count)
{
    if (count == 0)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE, "count = 0: must be >= 1");
    return CLT_STATUS_SUCCESS;
}

clt_status clt__check_inplace(clt_context_t ctx, clt_buf out, clt_buf in, size_t count,
                              const char *out_name, const char *in_name)
{
    if (clt__overlap(out, count, sizeof(float), in, count, sizeof(float)) &&
        out.offset != in.offset)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "%s (offset %zu) partially overlaps %s (offset %zu) over %zu elements; "
                         "they must be the same array or disjoint",
                         out_name, out.offset, in_name, in.offset, count);
    return CLT_STATUS_SUCCESS;
}

clt_status clt__check_disjoint(clt_context_t ctx, const clt__tensor_arg *out,
                               const clt__tensor_arg *in)
{
    if (clt__overlap(out->buf, out->elems, out->elem_bytes, in->buf, in->elems, in->elem_bytes))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "%s overlaps %s in the same buffer; an output must not alias another "
                         "operand",
                         out->name, in->name);
    return CLT_STATUS_SUCCESS;
}

clt_status clt__check_tensors(clt_context_t ctx, const clt__tensor_arg *t, int n)
{
    for (int i = 0; i < n; i++) {
        if (t[i].optional && !t[i].buf.mem)
            continue;
        CLT__CHECK(clt__check_tensor(ctx, t[i].buf, t[i].elems, t[i].elem_bytes, t[i].name));
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n && t[i].output; j++)
            if (j != i)
                CLT__CHECK(clt__check_disjoint(ctx, &t[i], &t[j]));
    return CLT_STATUS_SUCCESS;
}
