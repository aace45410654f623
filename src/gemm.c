/* GEMM: validation of the public call, and the choice between clt's own
 * kernels (gemm_cpu.c) and CLBlast for every product clt computes. */
#include "internal.h"

#include <clblast_c.h>

/* CLBlast keeps process-wide caches of compiled routines. Before 1.6.1, a
 * CLBlast built as C++14 or later fails a call (kUnexpectedError) when two
 * threads compile the same routine at once (CLBlast issue #486), which clt's
 * thread model (contexts used from several threads at once) allows: there,
 * calls into CLBlast take one process-wide lock. They only enqueue work
 * (and compile once), so little is serialised. */
#if CLBLAST_VERSION_MAJOR * 10000 + CLBLAST_VERSION_MINOR * 100 + CLBLAST_VERSION_PATCH < 10601
#if defined(_WIN32)
#include <windows.h>
static SRWLOCK clblast_lock = SRWLOCK_INIT;
static void clblast_enter(void)
{
    AcquireSRWLockExclusive(&clblast_lock);
}
static void clblast_leave(void)
{
    ReleaseSRWLockExclusive(&clblast_lock);
}
#else
#include <pthread.h>
static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;
static void clblast_enter(void)
{
    pthread_mutex_lock(&clblast_lock);
}
static void clblast_leave(void)
{
    pthread_mutex_unlock(&clblast_lock);
}
#endif
#else
static void clblast_enter(void)
{
}
static void clblast_leave(void)
{
}
#endif

static clt_status clblast_status(clt_context_t ctx, CLBlastStatusCode code, const char *what)
{
    if (code == CLBlastSuccess)
        return CLT_STATUS_SUCCESS;
    if (code > -100) /* CLBlast passes OpenCL's codes through */
        return clt__fail(ctx, (clt_status)code, "%s: %s", what,
                         clt_status_string((clt_status)code));
    return clt__fail(ctx, CLT_STATUS_BLAS_ERROR, "%s: CLBlast status %d", what, (int)code);
}

static CLBlastTranspose blas_trans(clt_transpose t)
{
    return t == CLT_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

static clt_status clblast_run(clt_context_t ctx, const clt__gemm_desc *g)
{
    CLBlastStatusCode code;
    clblast_enter();
    if (g->batch <= 1)
        code = CLBlastSgemm(CLBlastLayoutRowMajor, blas_trans(g->ta), blas_trans(g->tb), g->m, g->n,
                            g->k, g->alpha, g->a, g->a_off, g->lda, g->b, g->b_off, g->ldb, g->beta,
                            g->c, g->c_off, g->ldc, &ctx->queue, NULL);
    else
        code = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, blas_trans(g->ta), blas_trans(g->tb), g->m, g->n, g->k, g->alpha,
            g->a, g->a_off, g->lda, g->a_stride, g->b, g->b_off, g->ldb, g->b_stride, g->beta, g->c,
            g->c_off, g->ldc, g->c_stride, g->batch, &ctx->queue, NULL);
    clblast_leave();
    return clblast_status(ctx, code, "CLBlast SGEMM");
}

/* A segmented product as one strided-batched product over the runs per
 * batch item, for kernels that take no segments (CLBlast's). */
static clt_status run_by_segments(clt_context_t ctx, const clt__gemm_desc *g)
{
    for (size_t b = 0; b < g->batch; b++) {
        clt__gemm_desc runs = *g;
        runs.n = g->seg;
        runs.a_off = g->a_off + b * g->a_stride;
        runs.a_stride = 0; /* one A for all runs */
        runs.b_off = g->b_off + b * g->b_stride;
        runs.b_stride = g->b_seg;
        runs.c_off = g->c_off + b * g->c_stride;
        runs.c_stride = g->c_seg;
        runs.batch = g->n / g->seg;
        runs.seg = 0;
        CLT__CHECK(clt__gemm_run(ctx, &runs));
    }
    return CLT_STATUS_SUCCESS;
}

bool clt__gemm_takes_segments(clt_context_t ctx, const clt__gemm_desc *g)
{
    return ctx->gemm.own && clt__gemm_cpu_fits(ctx, g);
}

clt_status clt__gemm_run(clt_context_t ctx, const clt__gemm_desc *g)
{
    clt__gemm_desc one = *g;
    if (one.batch == 0) /* as for CLBlast below: a plain GEMM */
        one.batch = 1;
    if (one.seg >= one.n) /* one run: unsegmented */
        one.seg = 0;
    if (clt__gemm_takes_segments(ctx, &one)) /* clt's own kernels, segmented or not */
        return clt__gemm_cpu_run(ctx, &one);
    if (one.seg)
        return run_by_segments(ctx, &one);
    return clblast_run(ctx, &one);
}

/* Elements a row-major rows x cols matrix with row pitch ld spans. */
static bool matrix_extent(size_t rows, size_t cols, size_t ld, size_t *out)
{
    size_t body;
    if (!clt__mul_ok(rows - 1, ld, &body) || body > SIZE_MAX - cols)
        return false;
    *out = body + cols;
    return true;
}

static clt_status check_operand(clt_context_t ctx, const char *name, clt_buf buf, size_t rows,
                                size_t cols, size_t ld, size_t *extent)
{
    if (ld < cols)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "ld%s = %zu is smaller than the %zu columns %s holds as stored", name, ld,
                         cols, name);
    if (!matrix_extent(rows, cols, ld, extent))
        return clt__fail(ctx, CLT_STATUS_SIZE_OVERFLOW, "%s: %zu rows x ld %zu overflows", name,
                         rows, ld);
    char what[8] = {name[0], '\0'};
    /* CLBlast hands offsets and sizes to its kernels as int */
    return clt__check_tensor(ctx, buf, *extent, sizeof(float), what);
}

clt_status clt_gemm(clt_context_t ctx, clt_transpose trans_a, clt_transpose trans_b, size_t m,
                    size_t n, size_t k, float alpha, clt_buf a, size_t lda, clt_buf b, size_t ldb,
                    float beta, clt_buf c, size_t ldc)
{
    CLT__CHECK_CTX(ctx);
    if ((trans_a != CLT_NO_TRANS && trans_a != CLT_TRANS) ||
        (trans_b != CLT_NO_TRANS && trans_b != CLT_TRANS))
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "trans_a = %d, trans_b = %d: each must be CLT_NO_TRANS or CLT_TRANS",
                         (int)trans_a, (int)trans_b);
    if (m == 0 || n == 0 || k == 0)
        return clt__fail(ctx, CLT_STATUS_INVALID_VALUE,
                         "m = %zu, n = %zu, k = %zu: all must be >= 1", m, n, k);
    size_t ea, eb, ec;
    bool ta = trans_a == CLT_TRANS, tb = trans_b == CLT_TRANS;
    CLT__CHECK(check_operand(ctx, "A", a, ta ? k : m, ta ? m : k, lda, &ea));
    CLT__CHECK(check_operand(ctx, "B", b, tb ? n : k, tb ? k : n, ldb, &eb));
    CLT__CHECK(check_operand(ctx, "C", c, m, n, ldc, &ec));
    const size_t f = sizeof(float);
    CLT__CHECK(clt__check_disjoint(ctx, &(clt__tensor_arg){"C", c, ec, f, true, false},
                                   &(clt__tensor_arg){"A", a, ea, f, false, false}));
    CLT__CHECK(clt__check_disjoint(ctx, &(clt__tensor_arg){"C", c, ec, f, true, false},
                                   &(clt__tensor_arg){"B", b, eb, f, false, false}));
    clt__gemm_desc g = {.ta = trans_a,
                        .tb = trans_b,
                        .m = m,
                        .n = n,
                        .k = k,
                        .alpha = alpha,
                        .beta = beta,
                        .a = a.mem,
                        .a_off = a.offset,
                        .lda = lda,
                        .b = b.mem,
                        .b_off = b.offset,
                        .ldb = ldb,
                        .c = c.mem,
                        .c_off = c.offset,
                        .ldc = ldc,
                        .batch = 1};
    return clt__gemm_run(ctx, &g);
}
