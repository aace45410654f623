/* One way to enqueue a kernel: typed arguments, sizes rounded and clamped. */
#include "internal.h"

static size_t round_up(size_t x, size_t m)
{
    return m ? (x + m - 1) / m * m : x;
}

clt_status clt__launch(clt_context_t ctx, const char *program, const char *kernel, cl_uint dims,
                       const size_t *global, const size_t *local, int nargs, const clt__arg *args)
{
    cl_kernel k = NULL;
    CLT__CHECK(clt__kernel_get(ctx, program, kernel, &k));
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return clt__fail(ctx, (clt_status)err, "%s:%s argument %d: %s", program, kernel, i,
                             clt_status_string((clt_status)err));
    }
    for (cl_uint d = 0; d < dims; d++)
        if (global[d] == 0)
            return CLT_STATUS_SUCCESS; /* nothing to do */
    size_t g[3], l[3];
    if (local) {
        /* The product of the local sizes must fit the kernel's limit. */
        size_t max_wg = 1;
        clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max_wg, &max_wg,
                                 NULL);
        size_t total = 1;
        for (cl_uint d = 0; d < dims; d++) {
            l[d] = local[d] ? local[d] : 1;
            while (total * l[d] > max_wg && l[d] > 1)
                l[d] /= 2;
            total *= l[d];
            g[d] = round_up(global[d], l[d]);
        }
    } else {
        for (cl_uint d = 0; d < dims; d++)
            g[d] = global[d];
    }
    cl_int err =
        clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, g, local ? l : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clt__fail(ctx, (clt_status)err, "enqueueing %s:%s: %s", program, kernel,
                         clt_status_string((clt_status)err));
    return CLT_STATUS_SUCCESS;
}
