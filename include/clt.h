/*
 * clt.h - the whole public contract of clt, a portable OpenCL compute runtime
 * for convolutional networks (fp32, NCHW) on any OpenCL 1.2 device.
 *
 * Conventions
 *  - Every call that can fail returns clt_status; CLT_STATUS_SUCCESS is 0.
 *    OpenCL errors keep their cl_int value (CLT_STATUS_CL_*); clt's own codes
 *    live in a separate band (-3000 and below). clt_context_last_error()
 *    says why a call on a context failed, naming the argument and values.
 *  - The library never aborts, exits or prints. Diagnostics go to the log
 *    callback given in clt_context_options (levels filtered by CLT_LOG).
 *  - Tensors are caller-owned cl_mem buffers of float, NCHW, addressed as
 *    clt_buf {mem, offset}; offsets count elements, not bytes.
 *  - Work is enqueued on the context's in-order queue (the caller's, with
 *    clt_context_create_from_queue); clt_finish() waits for it.
 *  - Every argument is validated before anything is enqueued: a call refused
 *    (NULL handles or buffers, sizes out of range or overflowing, buffers
 *    too small or of another OpenCL context, outputs aliasing inputs,
 *    workspaces too small, algorithms that cannot take the parameters)
 *    enqueues nothing and leaves the caller's buffers as they were. The
 *    context stays usable after any failure; one that comes from the OpenCL
 *    runtime midway (out of resources, a failed kernel build) may leave
 *    outputs partly written.
 *  - Kernels index with 32-bit ints: every tensor, and every buffer's offset
 *    plus extent, stays below 2^31 elements (CLT_STATUS_SIZE_OVERFLOW).
 *
 * Thread safety: a context, and everything made with it (prepared weights),
 * may be used by one thread at a time: calls on one context must not
 * overlap (an application sharing one serialises its calls). Different
 * contexts are independent and may be used at the same time from different
 * threads, on the same device or not; they may share one binary cache
 * directory, as may several processes. (On PoCL, whose kernel cache mixes
 * up one program's launches from two contexts, each context alive at the
 * same time as others builds and caches its own copy of the programs, once.)
 * Functions that take no context (clt_status_string, clt_devices_list,
 * clt_conv2d_output_shape, ...) are safe from any thread;
 * clt_context_last_error(NULL) is per thread. The log callback runs on the
 * thread that made the call. clt reads its environment variables
 * (CLT_DEVICE, CLT_CACHE, CLT_CACHE_DIR, CLT_LOG, CLT_BUILD_OPTIONS) when a
 * context is created; the application must not change them from another
 * thread meanwhile.
 */
#ifndef CLT_H
#define CLT_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CLT_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLT_API __attribute__((visibility("default")))
#else
#define CLT_API
#endif

#define CLT_VERSION_MAJOR 0
#define CLT_VERSION_MINOR 1
#define CLT_VERSION_PATCH 0
#define CLT_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status                                                                   */
/* ------------------------------------------------------------------------ */

/* X(name, value, description): OpenCL's codes, then clt's own band. */
#define CLT_STATUS_MAP(X)                                                                          \
    X(SUCCESS, 0, "success")                                                                       \
    X(CL_DEVICE_NOT_FOUND, -1, "OpenCL: device not found")                                         \
    X(CL_DEVICE_NOT_AVAILABLE, -2, "OpenCL: device not available")                                 \
    X(CL_COMPILER_NOT_AVAILABLE, -3, "OpenCL: compiler not available")                             \
    X(CL_MEM_OBJECT_ALLOCATION_FAILURE, -4, "OpenCL: memory object allocation failure")            \
    X(CL_OUT_OF_RESOURCES, -5, "OpenCL: out of resources")                                         \
    X(CL_OUT_OF_HOST_MEMORY, -6, "OpenCL: out of host memory")                                     \
    X(CL_PROFILING_INFO_NOT_AVAILABLE, -7, "OpenCL: profiling info not available")                 \
    X(CL_MEM_COPY_OVERLAP, -8, "OpenCL: memory copy overlap")                                      \
    X(CL_IMAGE_FORMAT_MISMATCH, -9, "OpenCL: image format mismatch")                               \
    X(CL_IMAGE_FORMAT_NOT_SUPPORTED, -10, "OpenCL: image format not supported")                    \
    X(CL_BUILD_PROGRAM_FAILURE, -11, "OpenCL: build program failure")                              \
    X(CL_MAP_FAILURE, -12, "OpenCL: map failure")                                                  \
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET, -13, "OpenCL: misaligned sub-buffer offset")                \
    X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST, -14, "OpenCL: exec status error in wait list") \
    X(CL_COMPILE_PROGRAM_FAILURE, -15, "OpenCL: compile program failure")                          \
    X(CL_LINKER_NOT_AVAILABLE, -16, "OpenCL: linker not available")                                \
    X(CL_LINK_PROGRAM_FAILURE, -17, "OpenCL: link program failure")                                \
    X(CL_DEVICE_PARTITION_FAILED, -18, "OpenCL: device partition failed")                          \
    X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, -19, "OpenCL: kernel arg info not available")              \
    X(CL_INVALID_VALUE, -30, "OpenCL: invalid value")                                              \
    X(CL_INVALID_DEVICE_TYPE, -31, "OpenCL: invalid device type")                                  \
    X(CL_INVALID_PLATFORM, -32, "OpenCL: invalid platform")                                        \
    X(CL_INVALID_DEVICE, -33, "OpenCL: invalid device")                                            \
    X(CL_INVALID_CONTEXT, -34, "OpenCL: invalid context")                                          \
    X(CL_INVALID_QUEUE_PROPERTIES, -35, "OpenCL: invalid queue properties")                        \
    X(CL_INVALID_COMMAND_QUEUE, -36, "OpenCL: invalid command queue")                              \
    X(CL_INVALID_HOST_PTR, -37, "OpenCL: invalid host pointer")                                    \
    X(CL_INVALID_MEM_OBJECT, -38, "OpenCL: invalid memory object")                                 \
    X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, -39, "OpenCL: invalid image format descriptor")          \
    X(CL_INVALID_IMAGE_SIZE, -40, "OpenCL: invalid image size")                                    \
    X(CL_INVALID_SAMPLER, -41, "OpenCL: invalid sampler")                                          \
    X(CL_INVALID_BINARY, -42, "OpenCL: invalid binary")                                            \
    X(CL_INVALID_BUILD_OPTIONS, -43, "OpenCL: invalid build options")                              \
    X(CL_INVALID_PROGRAM, -44, "OpenCL: invalid program")                                          \
    X(CL_INVALID_PROGRAM_EXECUTABLE, -45, "OpenCL: invalid program executable")                    \
    X(CL_INVALID_KERNEL_NAME, -46, "OpenCL: invalid kernel name")                                  \
    X(CL_INVALID_KERNEL_DEFINITION, -47, "OpenCL: invalid kernel definition")                      \
    X(CL_INVALID_KERNEL, -48, "OpenCL: invalid kernel")                                            \
    X(CL_INVALID_ARG_INDEX, -49, "OpenCL: invalid argument index")                                 \
    X(CL_INVALID_ARG_VALUE, -50, "OpenCL: invalid argument value")                                 \
    X(CL_INVALID_ARG_SIZE, -51, "OpenCL: invalid argument size")                                   \
    X(CL_INVALID_KERNEL_ARGS, -52, "OpenCL: invalid kernel arguments")                             \
    X(CL_INVALID_WORK_DIMENSION, -53, "OpenCL: invalid work dimension")                            \
    X(CL_INVALID_WORK_GROUP_SIZE, -54, "OpenCL: invalid work-group size")                          \
    X(CL_INVALID_WORK_ITEM_SIZE, -55, "OpenCL: invalid work-item size")                            \
    X(CL_INVALID_GLOBAL_OFFSET, -56, "OpenCL: invalid global offset")                              \
    X(CL_INVALID_EVENT_WAIT_LIST, -57, "OpenCL: invalid event wait list")                          \
    X(CL_INVALID_EVENT, -58, "OpenCL: invalid event")                                              \
    X(CL_INVALID_OPERATION, -59, "OpenCL: invalid operation")                                      \
    X(CL_INVALID_GL_OBJECT, -60, "OpenCL: invalid GL object")                                      \
    X(CL_INVALID_BUFFER_SIZE, -61, "OpenCL: invalid buffer size")                                  \
    X(CL_INVALID_MIP_LEVEL, -62, "OpenCL: invalid mip level")                                      \
    X(CL_INVALID_GLOBAL_WORK_SIZE, -63, "OpenCL: invalid global work size")                        \
    X(CL_INVALID_PROPERTY, -64, "OpenCL: invalid property")                                        \
    X(CL_INVALID_IMAGE_DESCRIPTOR, -65, "OpenCL: invalid image descriptor")                        \
    X(CL_INVALID_COMPILER_OPTIONS, -66, "OpenCL: invalid compiler options")                        \
    X(CL_INVALID_LINKER_OPTIONS, -67, "OpenCL: invalid linker options")                            \
    X(CL_INVALID_DEVICE_PARTITION_COUNT, -68, "OpenCL: invalid device partition count")            \
    X(CL_PLATFORM_NOT_FOUND_KHR, -1001, "OpenCL: no platform found (ICD loader)")                  \
    X(NULL_ARGUMENT, -3001, "a required handle or pointer is NULL")                                \
    X(INVALID_VALUE, -3002, "an argument is out of range")                                         \
    X(INVALID_SHAPE, -3003, "tensor shapes are invalid or inconsistent")                           \
    X(SIZE_OVERFLOW, -3004, "sizes overflow the supported range")                                  \
    X(BUFFER_TOO_SMALL, -3005, "a buffer is smaller than its shape and offset need")               \
    X(WORKSPACE_TOO_SMALL, -3006, "the workspace is smaller than the operation needs")             \
    X(NOT_SUPPORTED, -3007, "this combination is not supported")                                   \
    X(DEVICE_NOT_FOUND, -3008, "no OpenCL device matches the selector")                            \
    X(BUILD_FAILED, -3009, "kernel build failed (the log is in clt_context_last_error)")           \
    X(OUT_OF_HOST_MEMORY, -3010, "host memory allocation failed")                                  \
    X(CONTEXT_MISMATCH, -3011, "a buffer or queue belongs to another OpenCL context")              \
    X(BLAS_ERROR, -3012, "CLBlast reported an error")                                              \
    X(IO_ERROR, -3013, "a file could not be read or written")                                      \
    X(INVALID_FORMAT, -3014, "data is malformed")                                                  \
    X(INTERNAL, -3015, "internal error")

typedef enum clt_status {
#define CLT_STATUS_ENUM_(name, value, text) CLT_STATUS_##name = value,
    CLT_STATUS_MAP(CLT_STATUS_ENUM_)
#undef CLT_STATUS_ENUM_
} clt_status;

/* A sentence describing the status; never NULL ("unknown status" if unknown). */
CLT_API const char *clt_status_string(clt_status s);
/* The enumerator's name, e.g. "CLT_STATUS_NOT_SUPPORTED"; never NULL. */
CLT_API const char *clt_status_name(clt_status s);

/* ------------------------------------------------------------------------ */
/* Devices and contexts                                                     */
/* ------------------------------------------------------------------------ */

typedef struct clt_context *clt_context_t;

/* One OpenCL device as clt sees it. */
typedef struct clt_device_info {
    int platform_index, device_index; /* the "P:D" selector form */
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    char platform_name[128];
    char name[128];
    char vendor[128];
    char driver_version[128];
    char device_version[128];   /* "OpenCL 3.0 ..." */
    char opencl_c_version[128]; /* "OpenCL C 1.2 ..." */
    unsigned compute_units;
    cl_ulong global_mem_bytes;
    cl_ulong local_mem_bytes;
    size_t max_work_group_size;
    int usable;        /* 1 if clt can run here */
    char why_not[128]; /* when usable is 0: the reason */
} clt_device_info;

/* Lists every device of every platform. Writes up to `capacity` entries to
 * `out` (may be NULL when capacity is 0) and the total number to *count.
 * Returns CLT_STATUS_SUCCESS with *count 0 when there is no platform. */
CLT_API clt_status clt_devices_list(clt_device_info *out, int capacity, int *count);

/* "CPU", "GPU", "ACCELERATOR" or "OTHER". */
CLT_API const char *clt_device_type_name(cl_device_type type);

typedef enum clt_log_level {
    CLT_LOG_ERROR = 1,
    CLT_LOG_WARN = 2,
    CLT_LOG_INFO = 3,
    CLT_LOG_DEBUG = 4
} clt_log_level;

typedef void (*clt_log_fn)(clt_log_level level, const char *message, void *user);

typedef enum clt_cache_mode {
    CLT_CACHE_DEFAULT = 0, /* from CLT_CACHE ("off" disables), else on */
    CLT_CACHE_ON = 1,
    CLT_CACHE_OFF = 2
} clt_cache_mode;

/* Options for clt_context_create; a zeroed struct (or NULL) means defaults. */
typedef struct clt_context_options {
    /* Device selector: "cpu", "gpu", "P:D" (platform and device index) or a
     * case-insensitive substring of the device name. NULL: CLT_DEVICE, else
     * the first GPU, else the first CPU. */
    const char *device;
    /* Extra OpenCL build options, appended after CLT_BUILD_OPTIONS. */
    const char *build_options;
    /* Binary cache directory. NULL: CLT_CACHE_DIR, else $XDG_CACHE_HOME/clt,
     * else ~/.cache/clt. */
    const char *cache_dir;
    clt_cache_mode cache;
    /* Log callback (NULL: no logging). Levels above CLT_LOG (error, warn,
     * info, debug or 1-4; default warn) are not delivered. */
    clt_log_fn log;
    void *log_user;
} clt_context_options;

/* Creates a context, an OpenCL context and an in-order queue on the selected
 * device. A selector that matches nothing returns CLT_STATUS_DEVICE_NOT_FOUND;
 * clt_context_last_error(NULL) then lists the devices that exist. An
 * options->cache outside clt_cache_mode, or a cache path of 1024 bytes or
 * more, returns CLT_STATUS_INVALID_VALUE. A cache directory that cannot be
 * created or written is not an error: programs are then built each time. */
CLT_API clt_status clt_context_create(const clt_context_options *opt, clt_context_t *out);

/* Wraps an application's in-order queue. clt retains the queue, its context
 * and device while the clt context lives, releases only what it retained, and
 * never releases the caller's references. opt may be NULL; its device field
 * is ignored. Out-of-order queues are refused (CLT_STATUS_NOT_SUPPORTED). */
CLT_API clt_status clt_context_create_from_queue(cl_command_queue queue,
                                                 const clt_context_options *opt,
                                                 clt_context_t *out);

/* Releases everything the context made or retained. NULL is ignored. */
CLT_API void clt_context_destroy(clt_context_t ctx);

/* Why the last failed call on ctx failed (a sentence naming the argument and
 * values, or a kernel build log); "" after success. With ctx NULL, the reason
 * the last failed call without a context (clt_context_create*, shape
 * queries) in this thread failed. Valid until the next call on the context. */
CLT_API const char *clt_context_last_error(clt_context_t ctx);

/* The OpenCL objects in use (not retained for the caller). */
CLT_API cl_context clt_context_cl_context(clt_context_t ctx);
CLT_API cl_command_queue clt_context_queue(clt_context_t ctx);
CLT_API clt_status clt_context_device_info(clt_context_t ctx, clt_device_info *out);

/* Waits until all work clt enqueued on the context's queue is done. */
CLT_API clt_status clt_finish(clt_context_t ctx);

/* What loading clt's kernels cost. */
typedef struct clt_load_stats {
    double load_ms;   /* wall time of the load */
    int programs;     /* kernel programs loaded */
    int cache_hits;   /* programs read from the binary cache */
    int cache_misses; /* programs compiled from source */
    int cache_enabled;
} clt_load_stats;

/* Builds (or loads from the cache) every kernel program of clt now, rather
 * than at first use, and reports the cost. stats may be NULL. */
CLT_API clt_status clt_context_load_kernels(clt_context_t ctx, clt_load_stats *stats);

/* The binary cache directory in use ("" when the cache is off). */
CLT_API const char *clt_context_cache_dir(clt_context_t ctx);

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */
/* ------------------------------------------------------------------------ */

/* A float array in a cl_mem, starting `offset` elements into it. */
typedef struct clt_buf {
    cl_mem mem;
    size_t offset;
} clt_buf;

/* ------------------------------------------------------------------------ */
/* GEMM                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum clt_transpose { CLT_NO_TRANS = 0, CLT_TRANS = 1 } clt_transpose;

/* C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k, op(B) is
 * k x n, C is m x n; lda, ldb, ldc are the row pitches of A, B, C as stored
 * (lda >= k without transpose, >= m with). Everything is validated before
 * anything is enqueued, buffer sizes included; each operand's offset plus
 * extent stays below 2^31 floats (CLBlast's kernels index with int). C must
 * not overlap A or B. With beta == 0, C need not hold numbers beforehand. */
CLT_API clt_status clt_gemm(clt_context_t ctx, clt_transpose trans_a, clt_transpose trans_b,
                            size_t m, size_t n, size_t k, float alpha, clt_buf a, size_t lda,
                            clt_buf b, size_t ldb, float beta, clt_buf c, size_t ldc);

/* ------------------------------------------------------------------------ */
/* Tensors and convolution                                                  */
/* ------------------------------------------------------------------------ */

typedef struct clt_shape {
    int n, c, h, w;
} clt_shape;

/* A 2-D convolution (cross-correlation, as in deep learning frameworks):
 * x is N x C x H x W, the filter K x (C/groups) x kernel_h x kernel_w, the
 * output N x K x P x Q with P = (H + 2 pad_h - dilation_h (kernel_h - 1) - 1)
 * / stride_h + 1 (likewise Q). Every field must be set: strides, dilations
 * and groups are >= 1, pads >= 0. Depthwise: groups == C == K, or K a
 * multiple of C for channel multipliers. */
typedef struct clt_conv2d_desc {
    int n, c, h, w;
    int k;
    int kernel_h, kernel_w;
    int pad_h, pad_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int groups;
} clt_conv2d_desc;

typedef enum clt_conv_algo {
    CLT_CONV_ALGO_AUTO = 0,      /* the measured or predicted fastest below */
    CLT_CONV_ALGO_DIRECT,        /* any parameters, no workspace */
    CLT_CONV_ALGO_IM2COL_GEMM,   /* batched im2col + one GEMM per group */
    CLT_CONV_ALGO_GEMM_1X1,      /* 1x1, stride 1, pad 0: GEMM on x as is */
    CLT_CONV_ALGO_WINOGRAD_F2X3, /* 3x3, stride 1, dilation 1, groups 1 */
    CLT_CONV_ALGO_WINOGRAD_F4X3, /* the same with 4x4 output tiles: 2.25 multiplies per
                                    output instead of 4, a few times the rounding error */
    CLT_CONV_ALGO_COUNT
} clt_conv_algo;

/* Which pass of the convolution a query is about. */
typedef enum clt_conv_op {
    CLT_CONV_FORWARD = 0,
    CLT_CONV_BACKWARD_DATA,
    CLT_CONV_BACKWARD_WEIGHTS
} clt_conv_op;

typedef enum clt_activation {
    CLT_ACTIVATION_NONE = 0,
    CLT_ACTIVATION_RELU = 1 /* fused after the bias: y = max(0, conv + bias) */
} clt_activation;

/* "auto", "direct", "im2col", "gemm1x1", "winograd"; NULL when out of range. */
CLT_API const char *clt_conv_algo_name(clt_conv_algo algo);
/* The algorithm called `name` (as above); CLT_STATUS_INVALID_VALUE if none. */
CLT_API clt_status clt_conv_algo_from_name(const char *name, clt_conv_algo *out);

/* Validates d and writes the output shape (*y only on success). Fails with
 * CLT_STATUS_NULL_ARGUMENT (d or y NULL), CLT_STATUS_INVALID_VALUE (a field
 * out of range), CLT_STATUS_INVALID_SHAPE (groups not dividing c and k, or
 * the dilated kernel larger than the padded input) or
 * CLT_STATUS_SIZE_OVERFLOW (h + 2 pad_h or w + 2 pad_w, or the elements of
 * x, w, y or the im2col matrix C kernel_h kernel_w N P Q, past 2^31 - 1).
 * On failure the reason is in clt_context_last_error(NULL). */
CLT_API clt_status clt_conv2d_output_shape(const clt_conv2d_desc *d, clt_shape *y);

/* Validate-only: can `algo` run pass `op` of d on this context's device?
 * Checks d as clt_conv2d_output_shape does, op and algo against their
 * enums (CLT_STATUS_INVALID_VALUE), then returns CLT_STATUS_NOT_SUPPORTED
 * (with the reason) when the algorithm cannot take these parameters, or
 * CLT_STATUS_SIZE_OVERFLOW when the workspace it needs for one image would
 * exceed 2^31 floats. Enqueues nothing; buffers are checked by the call. */
CLT_API clt_status clt_conv2d_check(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                    clt_conv_algo algo);

/* Bytes of workspace `algo` wants for pass `op` of d (0 if none). An
 * operation given less, but at least what one image needs (the size for d
 * with n = 1), works in chunks of the batch. */
CLT_API clt_status clt_conv2d_workspace_size(clt_context_t ctx, const clt_conv2d_desc *d,
                                             clt_conv_op op, clt_conv_algo algo, size_t *bytes);

/* y = act(conv(x, w) + bias). bias (K floats) is optional: {NULL, 0} for
 * none. workspace may be NULL (clt then uses a buffer of its own, kept in
 * the context) or a buffer of workspace_bytes, used from its start; that
 * range must not overlap any operand (CLT_STATUS_INVALID_VALUE). The same
 * holds for the workspaces of the backward passes. */
CLT_API clt_status clt_conv2d_forward(clt_context_t ctx, const clt_conv2d_desc *d,
                                      clt_conv_algo algo, clt_buf x, clt_buf w, clt_buf bias,
                                      clt_activation act, clt_buf y, cl_mem workspace,
                                      size_t workspace_bytes);

/* Weights transformed once for an algorithm (Winograd's G g G^T, packed
 * layouts) and reused across forward calls with the same descriptor. */
typedef struct clt_conv2d_weights *clt_conv2d_weights_t;

/* Transforms w for (d, algo); AUTO resolves the algorithm now. The handle
 * owns its device memory; w may change or go afterwards. */
CLT_API clt_status clt_conv2d_weights_create(clt_context_t ctx, const clt_conv2d_desc *d,
                                             clt_conv_algo algo, clt_buf w,
                                             clt_conv2d_weights_t *out);
CLT_API void clt_conv2d_weights_destroy(clt_conv2d_weights_t pw);
/* The algorithm the prepared weights are for. */
CLT_API clt_conv_algo clt_conv2d_weights_algo(clt_conv2d_weights_t pw);

/* As clt_conv2d_forward, with prepared weights; d must equal the descriptor
 * they were prepared for. */
CLT_API clt_status clt_conv2d_forward_prepared(clt_context_t ctx, const clt_conv2d_desc *d,
                                               clt_conv2d_weights_t pw, clt_buf x, clt_buf bias,
                                               clt_activation act, clt_buf y, cl_mem workspace,
                                               size_t workspace_bytes);

/* dx = the gradient of the loss with respect to x, given dy for y =
 * conv(x, w): col2im(W^T dY) in effect. dx is overwritten. Supported by
 * DIRECT, IM2COL_GEMM, GEMM_1X1 and both WINOGRADs (pad <= 2). */
CLT_API clt_status clt_conv2d_backward_data(clt_context_t ctx, const clt_conv2d_desc *d,
                                            clt_conv_algo algo, clt_buf dy, clt_buf w, clt_buf dx,
                                            cl_mem workspace, size_t workspace_bytes);

/* dw = dY X_mat^T summed over the batch; dbias (optional, K floats) = dy
 * summed over N, P and Q. Both are overwritten. Supported by DIRECT,
 * IM2COL_GEMM and GEMM_1X1. */
CLT_API clt_status clt_conv2d_backward_weights(clt_context_t ctx, const clt_conv2d_desc *d,
                                               clt_conv_algo algo, clt_buf x, clt_buf dy,
                                               clt_buf dw, clt_buf dbias, cl_mem workspace,
                                               size_t workspace_bytes);

/* One algorithm's result in clt_conv2d_find. */
typedef struct clt_conv_algo_perf {
    clt_conv_algo algo;
    clt_status status;      /* CLT_STATUS_SUCCESS, or why it could not run */
    double time_ms;         /* median of the timed runs */
    size_t workspace_bytes; /* what the run used (clt_conv2d_workspace_size) */
    double max_rel_err;     /* max |out - out_direct| / max |out_direct| */
} clt_conv_algo_perf;

/* Measures every algorithm that can run pass `op` of d, on random data in
 * buffers of its own, and writes up to `capacity` results to `results`
 * (may be NULL), fastest first, failures last; *count gets how many there
 * are. The fastest is recorded in the context's perf-db, which AUTO
 * consults and which persists beside the binary cache (one file per
 * device, driver and clt version). Blocks until done. */
CLT_API clt_status clt_conv2d_find(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                   clt_conv_algo_perf *results, int capacity, int *count);

/* The algorithm AUTO runs for pass `op` of d: the perf-db's measured choice
 * when there is one (*measured = 1), else the heuristic's (*measured = 0).
 * measured may be NULL. */
CLT_API clt_status clt_conv2d_auto_algo(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                                        clt_conv_algo *algo, int *measured);

/* The perf-db file in use ("" when the binary cache is off: the perf-db then
 * lives in memory only). */
CLT_API const char *clt_context_perfdb_path(clt_context_t ctx);

/* Batched im2col: x (N x C x H x W) -> col, a (C kernel_h kernel_w) x
 * (N P Q) row-major matrix; row (c, r, s), column (n, p, q); padding reads
 * as zero. */
CLT_API clt_status clt_im2col(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf x, clt_buf col);

/* Batched col2im, im2col's adjoint: x (overwritten) = the sum over the
 * patches of col of the entries that im2col would have copied from each
 * element. Overlapping patches accumulate in a fixed order (no atomics). */
CLT_API clt_status clt_col2im(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf col, clt_buf x);

/* ------------------------------------------------------------------------ */
/* Element-wise                                                             */
/* ------------------------------------------------------------------------ */

/* y[i] = value for i in [0, n). */
CLT_API clt_status clt_fill(clt_context_t ctx, clt_buf y, size_t n, float value);

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum clt_pool_mode { CLT_POOL_MAX = 0, CLT_POOL_AVG = 1 } clt_pool_mode;

/* 2-D pooling over each (n, c) plane, with PyTorch's semantics exactly
 * (nn.MaxPool2d / nn.AvgPool2d / F.max_pool2d(return_indices=True), dilation
 * 1, no divisor override). Fill with a designated initialiser; fields left 0
 * take the defaults noted. */
typedef struct clt_pool2d_desc {
    int n, c, h, w; /* input N x C x H x W, each >= 1 */
    clt_pool_mode mode;
    int kernel_h, kernel_w; /* window size, each >= 1 */
    int stride_h, stride_w; /* >= 0; 0 means the kernel size (PyTorch's default) */
    int pad_h, pad_w;       /* implicit padding, 0 <= pad <= kernel/2 as PyTorch requires */
    /* 0 or 1. With 1 the output size rounds up (PyTorch's rule): the last
     * window may run past the padded input but must start inside the input
     * or its left padding. */
    int ceil_mode;
    /* 0 or 1, average only. 1: divide by the window clipped to the padded
     * input [-pad, size + pad); 0: by the number of input elements in it. */
    int count_include_pad;
} clt_pool2d_desc;

/* The output shape of pooling with descriptor d:
 *   out = floor((in + 2*pad - kernel) / stride) + 1           (ceil_mode 0)
 *   out = ceil((in + 2*pad - kernel) / stride) + 1, less one when
 *         (out - 1) * stride >= in + pad                       (ceil_mode 1)
 * with y->n = d->n, y->c = d->c. Validates d completely: a NULL d or y
 * (CLT_STATUS_NULL_ARGUMENT), input sizes < 1 or an output < 1
 * (CLT_STATUS_INVALID_SHAPE), a bad mode, kernel < 1, stride < 0, pad < 0 or
 * > kernel/2, or flags other than 0 and 1 (CLT_STATUS_INVALID_VALUE), sizes
 * past 32-bit indexing (CLT_STATUS_SIZE_OVERFLOW). Takes no context: the
 * reason for a failure is in clt_context_last_error(NULL) (this thread's);
 * success clears it. *y is written only on success. */
CLT_API clt_status clt_pool2d_output_shape(const clt_pool2d_desc *d, clt_shape *y);

/* Pooling forward: y = pool(x).
 *  d       the descriptor (validated as by clt_pool2d_output_shape).
 *  x       input, N*C*H*W floats from x.offset.
 *  y       output, N*C*OH*OW floats (the output shape), fully overwritten.
 *  argmax  max mode: required; N*C*OH*OW int32 (cl_int) values, argmax.offset
 *          counting int32 elements. Each gets the flat index h*W + w, in the
 *          unpadded input plane of its (n, c), of the maximum its window
 *          chose, as PyTorch's return_indices gives: padding never wins; ties
 *          go to the first maximum in row-major window order; a NaN wins
 *          over every number and, with several NaNs, the last one in the
 *          window does (PyTorch's `v > max || isnan(v)`), so NaN propagates
 *          to y. Average mode: argmax is ignored (neither read nor written nor
 *          validated); pass {NULL, 0}.
 * y and argmax must not overlap x or each other. */
CLT_API clt_status clt_pool2d_forward(clt_context_t ctx, const clt_pool2d_desc *d, clt_buf x,
                                      clt_buf y, clt_buf argmax);

/* Pooling backward: dx = the gradient of the loss with respect to x, given
 * dy, its gradient with respect to y.
 *  d       the descriptor used forward.
 *  dy      N*C*OH*OW floats.
 *  argmax  max mode: required, what clt_pool2d_forward wrote for the same d
 *          (N*C*OH*OW int32; an index outside its own window contributes
 *          nothing). Average mode: ignored; pass {NULL, 0}.
 *  dx      N*C*H*W floats, fully overwritten (not accumulated into).
 * Max: each dx element is the sum of the dy of the windows whose argmax names
 * it. Average: the sum of dy / divisor over the windows that cover it, the
 * divisor as forward. Overlapping windows (stride < kernel) are summed in a
 * fixed order, without atomics: results are identical run to run. dx must not
 * overlap dy or argmax. */
CLT_API clt_status clt_pool2d_backward(clt_context_t ctx, const clt_pool2d_desc *d, clt_buf dy,
                                       clt_buf argmax, clt_buf dx);
/* Training-step ops: bias, ReLU, linear, losses, SGD                       */
/* ------------------------------------------------------------------------ */
/*
 * Common rules for this section:
 *  - Sizes are >= 1, and every buffer's offset plus extent stays below 2^31
 *    elements (kernels index with 32-bit ints); CLT_STATUS_INVALID_VALUE or
 *    CLT_STATUS_SIZE_OVERFLOW otherwise.
 *  - Optional buffers are passed as {NULL, 0}.
 *  - Outputs are overwritten (never accumulated into) and need not hold
 *    numbers beforehand, except where a call says it updates in place.
 *  - An output may not share memory with an input unless the call says so
 *    (CLT_STATUS_INVALID_VALUE); "may equal" means the very same array (same
 *    cl_mem and offset), never a partial overlap.
 *  - Every reduction sums in a fixed order: results are bit-identical from
 *    run to run on a given device.
 */

/* y[i, ch, p] += bias[ch] over an N x C x HW tensor (e.g. NCHW with HW =
 * H * W, or a batch x features matrix with hw = 1).
 *   n, c, hw  the tensor's dimensions, each >= 1
 *   y         n * c * hw floats, updated in place
 *   bias      c floats; must not overlap y */
CLT_API clt_status clt_bias_add(clt_context_t ctx, int n, int c, int hw, clt_buf y, clt_buf bias);

/* dbias[ch] = sum over i and p of dy[i, ch, p]: the gradient of clt_bias_add
 * (and of a convolution's bias: dY summed over N, H and W).
 *   n, c, hw  dy's dimensions, each >= 1
 *   dy        n * c * hw floats
 *   dbias     c floats, overwritten; must not overlap dy */
CLT_API clt_status clt_bias_backward(clt_context_t ctx, int n, int c, int hw, clt_buf dy,
                                     clt_buf dbias);

/* y = max(0, x) element-wise (NaN stays NaN).
 *   count  number of elements, >= 1
 *   x      count floats
 *   y      count floats, overwritten; may equal x (in place) */
CLT_API clt_status clt_relu_forward(clt_context_t ctx, size_t count, clt_buf x, clt_buf y);

/* dx = dy where y > 0, else 0 (the gradient at 0 is taken as 0).
 *   count  number of elements, >= 1
 *   y      count floats: the forward output of clt_relu_forward
 *   dy     count floats: the gradient of the loss with respect to y
 *   dx     count floats, overwritten; may equal dy or y (in place) */
CLT_API clt_status clt_relu_backward(clt_context_t ctx, size_t count, clt_buf y, clt_buf dy,
                                     clt_buf dx);

/* Fully connected layer in PyTorch's layout: y = x w^T + b, all row-major.
 *   batch, in, out  dimensions, each >= 1
 *   x  batch x in floats (rows are samples)
 *   w  out x in floats (as torch.nn.Linear.weight)
 *   b  out floats, or {NULL, 0} for no bias
 *   y  batch x out floats, overwritten; must not overlap x, w or b */
CLT_API clt_status clt_linear_forward(clt_context_t ctx, int batch, int in, int out, clt_buf x,
                                      clt_buf w, clt_buf b, clt_buf y);

/* Gradients of clt_linear_forward. Each output is optional ({NULL, 0} skips
 * it) but at least one must be given; each is overwritten.
 *   batch, in, out  dimensions as in the forward call, each >= 1
 *   x   batch x in floats: the forward input; read only for dw (may be
 *       {NULL, 0} when dw is not requested)
 *   w   out x in floats: the weights; read only for dx (may be {NULL, 0}
 *       when dx is not requested)
 *   dy  batch x out floats: the gradient with respect to y
 *   dx  batch x in floats: dx = dy w
 *   dw  out x in floats: dw = dy^T x
 *   db  out floats: db[j] = sum over the batch of dy[i, j]
 * Outputs must not overlap each other, dy, or an input they or the others
 * read (w for dx, x for dw). */
CLT_API clt_status clt_linear_backward(clt_context_t ctx, int batch, int in, int out, clt_buf x,
                                       clt_buf w, clt_buf dy, clt_buf dx, clt_buf dw, clt_buf db);

/* Softmax cross-entropy with integer class labels, averaged over the batch
 * (PyTorch's F.cross_entropy with reduction "mean"):
 *   loss[0] = mean over i of (logsumexp(logits[i, :]) - logits[i, labels[i]])
 * computed stably (the row maximum is subtracted before exp).
 *   batch, classes  dimensions, each >= 1
 *   logits  batch x classes floats
 *   labels  batch int32 values (cl_int, offset counts ints). A label outside
 *           [0, classes) is never used as an index: its row's loss is NaN,
 *           so loss[0] becomes NaN (and clt_softmax_cross_entropy_backward
 *           gives that row a zero gradient). Checking labels on the host
 *           would need a read back, which this call does not do.
 *   loss    1 float, overwritten; must not overlap the other buffers
 *   probs   batch x classes floats receiving softmax(logits) row by row, or
 *           {NULL, 0}; may equal logits (in place), must not overlap labels
 * Uses the context's internal scratch memory (batch floats). */
CLT_API clt_status clt_softmax_cross_entropy_forward(clt_context_t ctx, int batch, int classes,
                                                     clt_buf logits, clt_buf labels, clt_buf loss,
                                                     clt_buf probs);

/* Gradient of clt_softmax_cross_entropy_forward's loss:
 *   dlogits[i, j] = (softmax(logits[i, :])[j] - (j == labels[i])) / batch
 * A row whose label is outside [0, classes) gets zeros.
 *   batch, classes  dimensions, each >= 1
 *   logits   batch x classes floats
 *   labels   batch int32 values (cl_int)
 *   dlogits  batch x classes floats, overwritten; may equal logits (in
 *            place), must not overlap labels */
CLT_API clt_status clt_softmax_cross_entropy_backward(clt_context_t ctx, int batch, int classes,
                                                      clt_buf logits, clt_buf labels,
                                                      clt_buf dlogits);

/* Mean squared error: loss[0] = mean over i of (pred[i] - target[i])^2.
 *   count   number of elements, >= 1
 *   pred    count floats
 *   target  count floats
 *   loss    1 float, overwritten; must not overlap pred or target
 * Uses the context's internal scratch memory (count / 256 floats). */
CLT_API clt_status clt_mse_loss_forward(clt_context_t ctx, size_t count, clt_buf pred,
                                        clt_buf target, clt_buf loss);

/* Gradient of clt_mse_loss_forward: dpred[i] = 2 (pred[i] - target[i]) / count.
 *   count   number of elements, >= 1
 *   pred    count floats
 *   target  count floats
 *   dpred   count floats, overwritten; may equal pred or target (in place) */
CLT_API clt_status clt_mse_loss_backward(clt_context_t ctx, size_t count, clt_buf pred,
                                         clt_buf target, clt_buf dpred);

/* One step of PyTorch's torch.optim.SGD with momentum (dampening 0, Nesterov
 * off), element-wise and in place:
 *   g = grad + weight_decay * param;  v = momentum * v + g;  param -= lr * v
 *   count         number of elements, >= 1
 *   param         count floats, updated in place
 *   grad          count floats, read only
 *   velocity      count floats, updated in place: the momentum buffer. It
 *                 must be all zeros before the first step (PyTorch starts
 *                 its buffer at g, which equals momentum * 0 + g); with
 *                 momentum 0 it is not read, only written (v = g).
 *   lr            learning rate, finite and >= 0
 *   momentum      finite and >= 0
 *   weight_decay  L2 penalty, finite and >= 0 (0: param is not added)
 * param, grad and velocity must not overlap one another. */
CLT_API clt_status clt_sgd_momentum_update(clt_context_t ctx, size_t count, clt_buf param,
                                           clt_buf grad, clt_buf velocity, float lr, float momentum,
                                           float weight_decay);

#ifdef __cplusplus
}
#endif
#endif /* CLT_H */
