/* clt's own SGEMM, shaped for CPU devices (PoCL): row-major
 * C = alpha * op(A) op(B) + beta * C, strided-batched.
 *
 * Each work-item runs with local size 1 and keeps a GEMM_MR x GEMM_NR block
 * of C in GEMM_MR * GEMM_NV vector accumulators of the device's native
 * width; per k step it loads GEMM_NV vectors of B, broadcasts GEMM_MR values
 * of A and issues GEMM_MR * GEMM_NV fused multiply-adds. No local memory, no
 * barriers: PoCL runs those slowly, and a plain loop is what its compiler
 * turns into the register-blocked code a CPU wants.
 *
 * B is copied, GEMM_KC rows at a time, into a column panel [kc][GEMM_NR]
 * (zero past n, times alpha) in a scratch region private to the work-item,
 * so the hot loop reads it contiguously whatever ldb is, and no other
 * work-item has to wait for it. A is read in place through row and k
 * strides when stored untransposed: each row's cache line then serves the
 * next k steps. Stored transposed, every k step would touch a new line lda
 * floats away (at lda 2048 a sixth of the speed: the lines collide in the
 * caches), so gemm_pack_a first copies it into row panels [k][GEMM_MR].
 *
 * Generated defines (gemm_cpu.c): GEMM_VW (vector width), GEMM_MR (rows
 * per tile), GEMM_NV (vectors per tile row), GEMM_KC (k rows per B chunk). */

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GEMM_VEC GEMM_CAT(float, GEMM_VW)
#define GEMM_VLOAD GEMM_CAT(vload, GEMM_VW)
#define GEMM_VSTORE GEMM_CAT(vstore, GEMM_VW)
#define GEMM_NR (GEMM_VW * GEMM_NV)

/* Row panels of op(A) (m x k; element (i, kk) at a[i * sai + kk * sak]):
 * panel p of batch item bi at ap[(bi * mp + p) * k * GEMM_MR] is [k][GEMM_MR],
 * zero past m. Work-item (kb, pg, bi) copies k rows kb * krows... of panels
 * pg * ppw..., so that it reads runs of ppw * GEMM_MR floats of a row. */
__kernel void gemm_pack_a(const __global float *a, int a_off, int sai, int sak, int a_bs, int m,
                          int k, int batch, int krows, int ppw, __global float *ap)
{
    int kb = get_global_id(0), pg = get_global_id(1), bi = get_global_id(2);
    if (bi >= batch)
        return;
    int mp = (m + GEMM_MR - 1) / GEMM_MR;
    int kend = min(k, (kb + 1) * krows), pend = min(mp, (pg + 1) * ppw);
    a += a_off + bi * a_bs;
    ap += bi * mp * k * GEMM_MR;
    for (int kk = kb * krows; kk < kend; kk++)
        for (int p = pg * ppw; p < pend; p++)
            for (int r = 0; r < GEMM_MR; r++) {
                int i = p * GEMM_MR + r;
                ap[(p * k + kk) * GEMM_MR + r] = i < m ? a[i * sai + kk * sak] : 0.0f;
            }
}

/* C *= beta over m x n of each batch item (for beta other than 0 and 1). */
__kernel void gemm_scale_c(__global float *c, int c_off, int ldc, int c_bs, int m, int n, int batch,
                           float beta)
{
    int j = get_global_id(0), i = get_global_id(1), bi = get_global_id(2);
    if (j < n && i < m && bi < batch)
        c[c_off + bi * c_bs + i * ldc + j] *= beta;
}

/* Copies rows k0..k0+kc-1 of the column panel starting at column j0 of op(B)
 * (element (kk, j) at b[kk * sbk + j * sbj]), times alpha, into pk as
 * [kc][GEMM_NR], zero past n. Scaling here keeps alpha out of the hot loop's
 * registers. */
static void pack_b_chunk(const __global float *b, int sbk, int sbj, int n, int j0, int k0, int kc,
                         float alpha, __global float *pk)
{
    int cols = min(GEMM_NR, n - j0);
    if (sbj == 1 && cols == GEMM_NR) { /* rows of the panel lie contiguous */
        for (int kk = 0; kk < kc; kk++) {
            const __global float *src = b + (k0 + kk) * sbk + j0;
#pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                GEMM_VSTORE(alpha * GEMM_VLOAD(v, src), v, pk + kk * GEMM_NR);
        }
        return;
    }
    if (sbk == 1) { /* B stored transposed: read each column as one run */
        for (int col = 0; col < GEMM_NR; col++) {
            const __global float *src = b + k0 + (j0 + col) * sbj;
            for (int kk = 0; kk < kc; kk++)
                pk[kk * GEMM_NR + col] = col < cols ? alpha * src[kk] : 0.0f;
        }
        return;
    }
    for (int kk = 0; kk < kc; kk++)
        for (int col = 0; col < GEMM_NR; col++)
            pk[kk * GEMM_NR + col] =
                col < cols ? alpha * b[(k0 + kk) * sbk + (j0 + col) * sbj] : 0.0f;
}

/* c = acc, or c += acc when `accumulate`, for `cols` columns of one tile
 * row. c is not read otherwise, so garbage there cannot reach the result.
 * No float scalars here: any live across the hot loop would cost it a
 * register (measured: two accumulators spilled, half the speed). */
static void store_row(__global float *c, const GEMM_VEC *acc, int cols, int accumulate)
{
    if (cols >= GEMM_NR) {
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            GEMM_VSTORE(accumulate ? acc[v] + GEMM_VLOAD(v, c) : acc[v], v, c);
        return;
    }
    for (int v = 0; v < GEMM_NV; v++) {
        float lane[GEMM_VW];
        GEMM_VSTORE(acc[v], 0, lane);
        for (int e = 0; e < GEMM_VW && v * GEMM_VW + e < cols; e++)
            c[v * GEMM_VW + e] = accumulate ? lane[e] + c[v * GEMM_VW + e] : lane[e];
    }
}

/* One tile over one chunk: rows of A at a + r * sai (clamped to the `rows`
 * that exist, so the hot loop needs no test), kc steps of sak; B from pk. */
static void tile(const __global float *a, int sai, int sak, const __global float *pk, int kc,
                 __global float *c, int ldc, int rows, int cols, int accumulate)
{
    const __global float *ar[GEMM_MR];
#pragma unroll
    for (int r = 0; r < GEMM_MR; r++)
        ar[r] = a + min(r, rows - 1) * sai;
    GEMM_VEC acc[GEMM_MR][GEMM_NV];
#pragma unroll
    for (int r = 0; r < GEMM_MR; r++)
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            acc[r][v] = (GEMM_VEC)0.0f;
    int ak = 0;
    for (int kk = 0; kk < kc; kk++) {
        GEMM_VEC bv[GEMM_NV];
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            bv[v] = GEMM_VLOAD(v, pk + kk * GEMM_NR);
#pragma unroll
        for (int r = 0; r < GEMM_MR; r++) {
            GEMM_VEC av = (GEMM_VEC)ar[r][ak];
#pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                acc[r][v] = fma(av, bv[v], acc[r][v]);
        }
        ak += sak;
    }
#pragma unroll
    for (int r = 0; r < GEMM_MR; r++)
        if (r < rows)
            store_row(c + r * ldc, acc[r], cols, accumulate);
}

/* Work-item (cg, g, bg) computes, for batch items bg * bpw..., column panels
 * cg * cpw... and row panels g * rpw..., through its own scratch region of
 * GEMM_KC * GEMM_NR floats at pk + region * GEMM_KC * GEMM_NR. Row panel ip
 * starts at a + ip * aps (GEMM_MR * sai in place, k * GEMM_MR packed), its
 * element (r, kk) at + r * sai + kk * sak. Offsets and strides count floats.
 * C = alpha * op(A) op(B), or C += alpha * op(A) op(B) when `accumulate`
 * (beta 1; for other betas the host scales C first with gemm_scale_c). */
__kernel void gemm_tiles(const __global float *a, int a_off, int aps, int sai, int sak, int a_bs,
                         const __global float *b, int b_off, int sbk, int sbj, int b_bs,
                         __global float *c, int c_off, int ldc, int c_bs, int m, int n, int k,
                         int batch, float alpha, int accumulate, int cpw, int rpw, int bpw,
                         __global float *pk, int pk_off)
{
    int cg = get_global_id(0), g = get_global_id(1), bg = get_global_id(2);
    int region = (bg * get_global_size(1) + g) * get_global_size(0) + cg;
    pk += pk_off + region * (GEMM_KC * GEMM_NR);
    int mp = (m + GEMM_MR - 1) / GEMM_MR, np = (n + GEMM_NR - 1) / GEMM_NR;
    int jend = min(np, (cg + 1) * cpw), iend = min(mp, (g + 1) * rpw);
    int bend = min(batch, (bg + 1) * bpw);
    for (int bi = bg * bpw; bi < bend; bi++) {
        const __global float *ab = a + a_off + bi * a_bs;
        const __global float *bb = b + b_off + bi * b_bs;
        __global float *cb = c + c_off + bi * c_bs;
        for (int jp = cg * cpw; jp < jend; jp++) {
            int j0 = jp * GEMM_NR;
            for (int k0 = 0; k0 < k; k0 += GEMM_KC) {
                int kc = min(GEMM_KC, k - k0);
                pack_b_chunk(bb, sbk, sbj, n, j0, k0, kc, alpha, pk);
                /* later chunks add to what the first one stored */
                int acc_c = k0 > 0 || accumulate;
                for (int ip = g * rpw; ip < iend; ip++) {
                    int i0 = ip * GEMM_MR;
                    tile(ab + ip * aps + k0 * sak, sai, sak, pk, kc, cb + i0 * ldc + j0, ldc,
                         min(GEMM_MR, m - i0), n - j0, acc_c);
                }
            }
        }
    }
}
