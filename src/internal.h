/* Internal declarations shared by clt's source files (not installed). */
#ifndef CLT_INTERNAL_H
#define CLT_INTERNAL_H

#include "clt.h"

#include <stdarg.h>
#include <stdbool.h>

#define CLT__ERRMAX 8192
#define CLT__MAX_KERNELS 96

/* Internal temporary buffers, one per layer of use, so that a callee never
 * reallocates a buffer its caller has handed it. */
typedef enum clt__scratch_slot {
    CLT__SCRATCH_OP = 0, /* an operation's workspace when the caller gives none */
    CLT__SCRATCH_GEMM,   /* packing buffers inside clt__gemm_run */
    CLT__SCRATCH_AUX,    /* small per-operation temporaries (weight transforms, ...) */
    CLT__SCRATCH_SLOTS
} clt__scratch_slot;

typedef struct clt__perfdb_entry clt__perfdb_entry; /* perfdb.c */
/* clt's own GEMM kernels (gemm_cpu.c), set up at context creation. */
typedef struct clt__gemm_cfg {
    bool own; /* clt__gemm_run uses them: CLT_GEMM, else on CPU devices */
    int vw, mr, nv, kc,
        nb;    /* vector width, tile rows, vectors per tile row, k chunk, panels per block */
    int items; /* work-items to aim for, so that every core stays busy */
    int cores; /* compute units */
} clt__gemm_cfg;

typedef struct clt__kernel_slot {
    const char *program; /* name of the cl/ source, e.g. "im2col" */
    const char *name;    /* kernel function */
    cl_kernel kernel;
} clt__kernel_slot;

struct clt_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    clt_device_info info;
    bool is_cpu;
    int instance;         /* programs of instance n > 0 differ (instance.c) */
    bool instance_held;   /* instance is taken from the process-wide pool */
    int igemm_ok;         /* -1 not yet asked; else whether conv_igemm runs here */
    int igemm_use;        /* CLT_IGEMM at creation: 0 never, 1 always, -1 where it wins */
    cl_ulong cache_bytes; /* CL_DEVICE_GLOBAL_MEM_CACHE_SIZE */

    char *build_options; /* CLT_BUILD_OPTIONS + options->build_options */
    char cache_dir[1024];
    bool cache_enabled;

    cl_program *programs; /* one per embedded source, built lazily */
    int cache_hits, cache_misses;
    clt__kernel_slot kernels[CLT__MAX_KERNELS];
    int n_kernels;

    clt__gemm_cfg gemm;

    cl_mem scratch[CLT__SCRATCH_SLOTS]; /* internal workspaces, see clt__scratch */
    size_t scratch_bytes[CLT__SCRATCH_SLOTS];

    clt__perfdb_entry *perfdb; /* measured algorithm choices, loaded at first use */
    int perfdb_count, perfdb_cap;
    bool perfdb_loaded;
    char perfdb_path[1100];

    clt_log_fn log;
    void *log_user;
    int log_level;

    char error[CLT__ERRMAX];
};

/* ---- errors ---- */

/* Records why a call failed (printf-style) and returns status. ctx may be NULL. */
clt_status clt__fail(clt_context_t ctx, clt_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Clears the context's last error at the start of a public call. */
void clt__clear_error(clt_context_t ctx);
/* Maps an OpenCL error to a status and records what was being done. */
clt_status clt__cl_fail(clt_context_t ctx, cl_int err, const char *what);
void clt__log(clt_context_t ctx, clt_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Jump to cleanup with `st` set when an expression yields a failure. */
#define CLT__TRY(expr)                                                                             \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != CLT_STATUS_SUCCESS)                                                              \
            goto cleanup;                                                                          \
    } while (0)

/* Return the failure of an expression to the caller at once. */
#define CLT__CHECK(expr)                                                                           \
    do {                                                                                           \
        clt_status st_ = (expr);                                                                   \
        if (st_ != CLT_STATUS_SUCCESS)                                                             \
            return st_;                                                                            \
    } while (0)

/* ---- validation helpers (validate.c) ---- */

/* ctx must be non-NULL (a NULL ctx cannot carry a message). */
#define CLT__CHECK_CTX(ctx)                                                                        \
    do {                                                                                           \
        if (!(ctx))                                                                                \
            return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "ctx is NULL");                       \
        clt__clear_error(ctx);                                                                     \
    } while (0)

/* out = a * b, false on size_t overflow. */
bool clt__mul_ok(size_t a, size_t b, size_t *out);
/* Checks that `buf` names a buffer of this context holding at least
 * `elements` floats from its offset. `what` names the argument. */
clt_status clt__check_buf(clt_context_t ctx, clt_buf buf, size_t elements, const char *what);
/* Same for a buffer of `elem_bytes`-sized elements (int32 indices, ...). */
clt_status clt__check_buf_bytes(clt_context_t ctx, clt_buf buf, size_t elements, size_t elem_bytes,
                                const char *what);
/* Kernels index with 32-bit ints: element counts must stay below 2^31. */
clt_status clt__check_int_range(clt_context_t ctx, size_t elements, const char *what);

/* clt__check_buf_bytes plus the int range kernels index with (offset +
 * elements below 2^31). */
clt_status clt__check_tensor(clt_context_t ctx, clt_buf buf, size_t elements, size_t elem_bytes,
                             const char *what);
/* Whether two buffer ranges share any byte (false when either mem is NULL).
 * Sizes are in elements of the given byte widths; call after the buffers
 * were checked, so that the byte ranges cannot overflow. */
bool clt__overlap(clt_buf a, size_t a_elements, size_t a_bytes, clt_buf b, size_t b_elements,
                  size_t b_bytes);
/* Fails with CLT_STATUS_INVALID_VALUE unless value >= 1; `what` names it. */
clt_status clt__check_dim(clt_context_t ctx, int value, const char *what);
/* Fails with CLT_STATUS_INVALID_VALUE when an element count is 0. */
clt_status clt__check_count(clt_context_t ctx, size_t count);
/* Two element-wise operands of `count` floats may be the same array (in
 * place) or disjoint; a partial overlap would make work-items race. */
clt_status clt__check_inplace(clt_context_t ctx, clt_buf out, clt_buf in, size_t count,
                              const char *out_name, const char *in_name);

/* One tensor operand of a call, for the checks below. */
typedef struct clt__tensor_arg {
    const char *name;
    clt_buf buf;
    size_t elems, elem_bytes;
    bool output;   /* must not overlap any other operand */
    bool optional; /* may be absent ({NULL, 0}) */
} clt__tensor_arg;

/* Fails with CLT_STATUS_INVALID_VALUE, naming both, if out overlaps in. */
clt_status clt__check_disjoint(clt_context_t ctx, const clt__tensor_arg *out,
                               const clt__tensor_arg *in);
/* clt__check_tensor on each operand present, and no output overlapping
 * any other operand. */
clt_status clt__check_tensors(clt_context_t ctx, const clt__tensor_arg *t, int n);

/* ---- programs and kernels (program.c, cache.c) ---- */

typedef struct clt__source {
    const char *name; /* file stem */
    const unsigned char *data;
    size_t size;
} clt__source;

/* The embedded cl/ files (generated at build time). common.h is separate. */
extern const clt__source clt__sources[];
extern const int clt__source_count;
extern const clt__source clt__common_source;

/* Writes a program's own #define lines (snprintf-style return). */
typedef int (*clt__defines_fn)(clt_context_t ctx, char *out, size_t cap);

/* Builds or loads program `name` for the context. */
clt_status clt__program_get(clt_context_t ctx, const char *name, cl_program *out);
/* The kernel `kernel` of program `program`, created once per context. */
clt_status clt__kernel_get(clt_context_t ctx, const char *program, const char *kernel,
                           cl_kernel *out);
void clt__programs_release(clt_context_t ctx);

/* A process-wide instance number for a context on PoCL (0 elsewhere), given
 * back when the context is destroyed; see instance.c for why. */
void clt__instance_take(clt_context_t ctx);
void clt__instance_give(clt_context_t ctx);
void clt__perfdb_release(clt_context_t ctx);

/* Test hook: replaces the source of one program (NULL restores the embedded
 * one). Used by the suite to prove that build logs surface. It is the one
 * piece of process-wide mutable state in clt and is not thread-safe: only
 * for single-threaded tests, never called by the library itself. */
void clt__override_source(const char *name, const char *source);

/* Binary cache (cache.c). The key covers everything that can change the
 * binary; entries are verified before use and written atomically. */
clt_status clt__cache_dir_resolve(const clt_context_options *opt, char *out, size_t cap,
                                  bool *enabled);
/* Returns a malloc'd binary or NULL when absent or not trustworthy. */
unsigned char *clt__cache_load(clt_context_t ctx, const char *key, size_t *size);
void clt__cache_store(clt_context_t ctx, const char *key, const unsigned char *bin, size_t size);
/* strerror, thread-safely, into buf. */
const char *clt__errno_text(int err, char *buf, size_t cap);
/* Creates the cache directory (and its parents); 0 on success. */
int clt__cache_mkdir(clt_context_t ctx);
/* 128-bit hash of a string as 32 hex characters (+NUL). */
void clt__hash_hex(const void *data, size_t size, char out[33]);

/* ---- launching (launch.c) ---- */

typedef struct clt__arg {
    size_t size;
    const void *value;
} clt__arg;

#define CLT_ARG_MEM(m) ((clt__arg){sizeof(cl_mem), &(m)})
#define CLT_ARG_INT(i) ((clt__arg){sizeof(cl_int), &(cl_int){(cl_int)(i)}})
#define CLT_ARG_FLOAT(f) ((clt__arg){sizeof(cl_float), &(cl_float){(cl_float)(f)}})

/* Enqueues program:kernel over `dims` dimensions with `global` work items
 * (rounded up to the local size; kernels bounds-check). `local` may be NULL
 * (the runtime chooses); a given local size is clamped to what the kernel
 * and device allow. */
clt_status clt__launch(clt_context_t ctx, const char *program, const char *kernel, cl_uint dims,
                       const size_t *global, const size_t *local, int nargs, const clt__arg *args);

#define CLT_LAUNCH(ctx, program, kernel, dims, global, local, ...)                                 \
    clt__launch((ctx), (program), (kernel), (dims), (global), (local),                             \
                (int)(sizeof((clt__arg[]){__VA_ARGS__}) / sizeof(clt__arg)),                       \
                (clt__arg[]){__VA_ARGS__})

/* An internal temporary buffer of at least `bytes` in `slot` (grown on
 * demand, owned by the context). Reuse across calls is safe since the queue
 * is in order; growing releases the old buffer, which OpenCL keeps alive
 * until the commands already enqueued on it are done. */
clt_status clt__scratch(clt_context_t ctx, clt__scratch_slot slot, size_t bytes, cl_mem *out);

/* ---- GEMM (gemm.c): every matrix product in clt goes through here ---- */

/* A row-major strided-batched GEMM; batch 1 is a plain GEMM. Offsets and
 * strides count floats. Arguments are trusted: callers validate.
 * Segmented columns (seg > 0, op(B) untransposed, n a multiple of seg): the
 * n columns of B and C come in runs of seg, run r of B at + r * b_seg and
 * of C at + r * c_seg (a convolution's images side by side as one
 * product, so that small images fill whole tiles, and C is stored into
 * NCHW as it lies); b_seg or c_seg = seg: that operand is contiguous. */
typedef struct clt__gemm_desc {
    clt_transpose ta, tb;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a;
    size_t a_off, lda, a_stride;
    cl_mem b;
    size_t b_off, ldb, b_stride;
    cl_mem c;
    size_t c_off, ldc, c_stride;
    size_t batch;
    size_t seg, b_seg, c_seg;
} clt__gemm_desc;

/* Runs the product with clt's own kernels where ctx->gemm.own says so and
 * the problem fits their 32-bit indexing, else with CLBlast. */
clt_status clt__gemm_run(clt_context_t ctx, const clt__gemm_desc *g);
/* Whether g's segments run as one product (clt's own kernels); elsewhere
 * clt__gemm_run takes them as a strided batch over the runs. */
bool clt__gemm_takes_segments(clt_context_t ctx, const clt__gemm_desc *g);

/* C_b = alpha * sum over t < terms of op(A_b,t) op(B_b,t) + beta * C_b for
 * each batch item b of g (C's c_stride apart), A_b,t at g->a_off +
 * b a_stride + t a_term, B likewise: a sum of products into one C, cut into
 * slices run side by side where C alone would leave a GPU idle (gemm_sum.c). */
clt_status clt__gemm_sum(clt_context_t ctx, const clt__gemm_desc *g, size_t terms, size_t a_term,
                         size_t b_term);
/* c_b[i, j] = alpha * (the sum over p < parts of part[b, p, i, j], in order)
 * + beta * c_b[i, j] for b < batch: the partials, m x n each, are contiguous;
 * c_b at c_off + b c_stride with rows ldc apart. */
clt_status clt__sum_parts(clt_context_t ctx, cl_mem part, size_t parts, size_t m, size_t n,
                          size_t batch, cl_mem c, size_t c_off, size_t ldc, size_t c_stride,
                          float alpha, float beta);

/* Reads CLT_IGEMM for the implicit-GEMM forward kernel (conv_igemm.c). */
void clt__conv_igemm_init(clt_context_t ctx);

/* ---- nn ops (nn.c) ---- */

/* Enqueue y[n,c,hw] += bias[c] and dbias[c] = sum of dy[n,c,hw] over n and hw
 * (overwritten) without validation, for callers that checked the shapes and
 * buffers themselves (linear, convolution backward). Deterministic. */
clt_status clt__bias_add_run(clt_context_t ctx, int n, int c, int hw, clt_buf y, clt_buf bias);
clt_status clt__bias_backward_run(clt_context_t ctx, int n, int c, int hw, clt_buf dy,
                                  clt_buf dbias);
/* clt's own GEMM kernels (gemm_cpu.c, cl/gemm.cl). */
/* Reads CLT_GEMM and picks the tile for the device (at context creation). */
clt_status clt__gemm_cpu_init(clt_context_t ctx);
/* The tile as #defines for cl/gemm.cl (a clt__defines_fn). */
int clt__gemm_cpu_defines(clt_context_t ctx, char *out, size_t cap);
/* Those and the weight gradient's tile for cl/conv_cpu.cl (conv_cpu.c). */
int clt__conv_cpu_defines(clt_context_t ctx, char *out, size_t cap);
/* Whether every index of the product fits the kernels' 32-bit ints. */
bool clt__gemm_cpu_fits(clt_context_t ctx, const clt__gemm_desc *g);
clt_status clt__gemm_cpu_run(clt_context_t ctx, const clt__gemm_desc *g);

#endif
