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
 * B is copied, kc rows at a time (the host's choice), into column panels
 * [kc][GEMM_NR] (zero past n, times alpha) in a scratch region private to
 * the work-item, so the hot loop reads it contiguously whatever ldb is,
 * and no other work-item has to wait for it. A is read in place through
 * row and k strides when stored untransposed: each row's cache line then
 * serves the next k steps. Stored transposed, every k step would touch a new line lda
 * floats away (at lda 2048 a sixth of the speed: the lines collide in the
 * caches), so gemm_pack_a first copies it into row panels [k][GEMM_MR].
 *
 * Generated defines (gemm_cpu.c): GEMM_VW (vector width), GEMM_MR (rows
 * per tile), GEMM_NV (vectors per tile row), GEMM_NB (column panels packed
 * at a time, each tile of A serving them all). */

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GEMM_VEC GEMM_CAT(float, GEMM_VW)
#define GEMM_VLOAD GEMM_CAT(vload, GEMM_VW)
#define GEMM_VSTORE GEMM_CAT(vstore, GEMM_VW)
#define GEMM_NR (GEMM_VW * GEMM_NV)

/* A hint to fetch a cache line ahead of use, on CPUs whose compiler has one
 * (clang's; PoCL's prefetch() is empty); elsewhere nothing. GPUs don't need
 * it, and NVIDIA's older clang rejects a __global pointer for its void *.
 * Prefetches never fault, so addresses past a buffer's end are harmless. */
#if CLT_DEVICE_IS_CPU && defined(__has_builtin)
#if __has_builtin(__builtin_prefetch)
#define GEMM_PREFETCH(p) __builtin_prefetch(p)
#endif
#endif
#ifndef GEMM_PREFETCH
#define GEMM_PREFETCH(p) ((void)(p))
#endif

/* A store that bypasses the caches (x86's movntps), where the compiler
 * has one; v to the GEMM_VEC-aligned p. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store)
#define GEMM_STREAM(v, p) __builtin_nontemporal_store((v), (__global GEMM_VEC *)(p))
#endif
#endif
#ifndef GEMM_STREAM
#define GEMM_STREAM(v, p) GEMM_VSTORE((v), 0, (p))
#endif

/* Row panels of op(A) (m x k; element (i, kk) at a[i * sai + kk * sak]):
 * panel p of batch item bi at ap[(bi * mp + p) * k * GEMM_MR] is [k][GEMM_MR],
 * zero past m. Work-item (kb, pg, bi) copies k rows kb * krows... of panels
 * pg * ppw... (stored transposed, runs of ppw * GEMM_MR floats of a row). */
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
    /* panel by panel, so that the writes are runs; the rows read stay in L1
       from one panel to the next (k rows outermost, the writes went to ppw
       places k * GEMM_MR floats apart, a 4 KiB multiple at k 2048: a fifth
       of a backward-data 1x1 layer's time went here) */
    for (int p = pg * ppw; p < pend; p++) {
        int i0 = p * GEMM_MR;
        __global float *dst = ap + p * k * GEMM_MR;
        if (sai == 1 && i0 + GEMM_MR <= m) /* a run of GEMM_MR floats per row */
            for (int kk = kb * krows; kk < kend; kk++)
#pragma unroll
                for (int r = 0; r < GEMM_MR; r++)
                    dst[kk * GEMM_MR + r] = a[i0 + r + kk * sak];
        else
            for (int kk = kb * krows; kk < kend; kk++)
                for (int r = 0; r < GEMM_MR; r++)
                    dst[kk * GEMM_MR + r] = i0 + r < m ? a[(i0 + r) * sai + kk * sak] : 0.0f;
    }
}

/* Where column j of op(B) or C lies when the columns come in runs of seg,
 * run r at r * ss (the images of a convolution, each a run of its pixels);
 * unsegmented, seg is n and j lies at j. */
static int col_at(int j, int seg, int ss)
{
    return j / seg * ss + j % seg;
}

/* C *= beta over m x n of each batch item (for beta other than 0 and 1),
 * columns in runs of seg, ss apart, as gemm_tiles has them. */
__kernel void gemm_scale_c(__global float *c, int c_off, int ldc, int c_bs, int m, int n, int seg,
                           int ss, int batch, float beta)
{
    int j = get_global_id(0), i = get_global_id(1), bi = get_global_id(2);
    if (j < n && i < m && bi < batch)
        c[c_off + bi * c_bs + i * ldc + col_at(j, seg, ss)] *= beta;
}

/* Copies rows k0..k0+kc-1 of the column panel starting at column j0 of op(B)
 * (element (kk, j) at b[kk * sbk + col_at(j, seg, ss) * sbj]), times alpha, into pk as
 * [kc][GEMM_NR], zero past n. Scaling here rather than when C is stored
 * leaves the store path free of float scalars (see store_row). */
static void pack_b_chunk(const __global float *b, int sbk, int sbj, int n, int seg, int ss, int j0,
                         int k0, int kc, float alpha, __global float *pk)
{
    int cols = min(GEMM_NR, n - j0);
    if (sbj == 1 && cols == GEMM_NR && (j0 % seg + GEMM_NR <= seg || ss == seg)) { /* contiguous */
        for (int kk = 0; kk < kc; kk++) {
            const __global float *src = b + (k0 + kk) * sbk + col_at(j0, seg, ss);
#pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                GEMM_VSTORE(alpha * GEMM_VLOAD(v, src), v, pk + kk * GEMM_NR);
        }
        return;
    }
    if (sbk == 1) { /* B stored transposed (never segmented): element by
                       element; transposing GEMM_VW x GEMM_VW blocks in
                       registers with shuffle2 ran 4-5x slower on PoCL 5.0
                       (16-core AVX-512 Xeon: weight gradients 22-170 GFLOP/s
                       against 99-475) and at most 1.03x faster on PoCL 3.1 */
        for (int kk = 0; kk < kc; kk++)
            for (int col = 0; col < GEMM_NR; col++)
                pk[kk * GEMM_NR + col] = col < cols ? alpha * b[k0 + kk + (j0 + col) * sbj] : 0.0f;
        return;
    }
    int at[GEMM_NR];
    for (int col = 0; col < GEMM_NR; col++)
        at[col] = col < cols ? col_at(j0 + col, seg, ss) * sbj : 0;
    for (int kk = 0; kk < kc; kk++)
        for (int col = 0; col < GEMM_NR; col++)
            pk[kk * GEMM_NR + col] = col < cols ? alpha * b[(k0 + kk) * sbk + at[col]] : 0.0f;
}

/* c = acc, or c += acc when `accumulate`, for `cols` columns of one tile
 * row, of which the first `split` lie at c and the rest `jump` floats
 * further (the next run of a segmented C). c is not read otherwise, so
 * garbage there cannot reach the result. No float scalars here: any live
 * across the hot loop would cost it a register (measured: two accumulators
 * spilled, half the speed). With `stream`, aligned whole rows bypass the
 * caches: C is not read back, and a large C would only evict A and B (nor
 * is its line read first). */
static void store_row(__global float *c, const GEMM_VEC *acc, int cols, int split, int jump,
                      int accumulate, int stream)
{
    if (split < cols && split < GEMM_NR) { /* the row runs on into the next run */
        float lane[GEMM_NR];
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            GEMM_VSTORE(acc[v], v, lane);
        for (int e = 0; e < GEMM_NR && e < cols; e++) {
            int at = e < split ? e : e + jump;
            c[at] = accumulate ? lane[e] + c[at] : lane[e];
        }
        return;
    }
    if (cols >= GEMM_NR && stream && ((size_t)c & (sizeof(GEMM_VEC) - 1)) == 0) {
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            GEMM_STREAM(acc[v], c + v * GEMM_VW);
        return;
    }
    if (cols >= GEMM_NR) {
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            GEMM_VSTORE(accumulate ? acc[v] + GEMM_VLOAD(v, c) : acc[v], v, c);
        return;
    }
    /* unrolled: indexing acc[v] with a loop variable would keep the whole
       tile's accumulators on the stack, stored and reloaded every tile */
#pragma unroll
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
                 __global float *c, int ldc, int rows, int cols, int split, int jump,
                 int accumulate, int stream)
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
            store_row(c + r * ldc, acc[r], cols, split, jump, accumulate, stream);
}

/* Prefetches part `part` of `parts` of the rows a contiguous pack of kc
 * rows of `cols` columns from b (row stride sbk) will read. Spread over the
 * tiles before it, the misses overlap with arithmetic: packed on demand,
 * each of the kc rows is a miss on a new page (measured: a fifth of the
 * time of a 1x1 convolution's GEMM went to the copy). */
static void prefetch_b_rows(const __global float *b, int sbk, int cols, int kc, int part, int parts)
{
    for (int kk = kc * part / parts; kk < kc * (part + 1) / parts; kk++) {
        for (int col = 0; col < cols; col += 16)
            GEMM_PREFETCH(b + kk * sbk + col);
        GEMM_PREFETCH(b + kk * sbk + cols - 1);
    }
}

/* Work-item (cg, g, bg) computes, for batch items bg * bpw..., column panels
 * cg * cpw... and row panels g * rpw..., in chunks of kcap k rows, through
 * its own scratch region of GEMM_NB panels of kcap * GEMM_NR floats at pk +
 * region * GEMM_NB * kcap * GEMM_NR. Row panel ip
 * starts at a + ip * aps (GEMM_MR * sai in place, k * GEMM_MR packed), its
 * element (r, kk) at + r * sai + kk * sak. Offsets and strides count floats.
 * C = alpha * op(A) op(B), or C += alpha * op(A) op(B) when `accumulate`
 * (beta 1; for other betas the host scales C first with gemm_scale_c).
 * `stream`: C is stored past the caches where a chunk stores it whole.
 * Columns come in runs of seg (n when unsegmented), run r of B at + r *
 * b_ss and of C at + r * c_ss (op(B) then untransposed, seg >= GEMM_NR). */
__kernel void gemm_tiles(const __global float *a, int a_off, int aps, int sai, int sak, int a_bs,
                         const __global float *b, int b_off, int sbk, int sbj, int b_bs,
                         __global float *c, int c_off, int ldc, int c_bs, int m, int n, int k,
                         int batch, int seg, int b_ss, int c_ss, float alpha, int accumulate,
                         int stream, int cpw, int rpw, int bpw, int kcap, __global float *pk,
                         int pk_off)
{
    int cg = get_global_id(0), g = get_global_id(1), bg = get_global_id(2);
    int region = (bg * get_global_size(1) + g) * get_global_size(0) + cg;
    int panel = kcap * GEMM_NR; /* floats of one packed panel */
    pk += pk_off + region * GEMM_NB * panel;
    int mp = (m + GEMM_MR - 1) / GEMM_MR, np = (n + GEMM_NR - 1) / GEMM_NR;
    int jend = min(np, (cg + 1) * cpw), iend = min(mp, (g + 1) * rpw);
    int bend = min(batch, (bg + 1) * bpw);
    for (int bi = bg * bpw; bi < bend; bi++) {
        const __global float *ab = a + a_off + bi * a_bs;
        const __global float *bb = b + b_off + bi * b_bs;
        __global float *cb = c + c_off + bi * c_bs;
        /* blocks of GEMM_NB column panels: each tile of A, loaded into L1 once,
           serves the block's panels, which wait in L2 */
        for (int jb = cg * cpw; jb < jend; jb += GEMM_NB) {
            int panels = min(GEMM_NB, jend - jb);
            for (int k0 = 0; k0 < k; k0 += kcap) {
                int kc = min(kcap, k - k0);
                for (int t = 0; t < panels; t++)
                    pack_b_chunk(bb, sbk, sbj, n, seg, b_ss, (jb + t) * GEMM_NR, k0, kc, alpha,
                                 pk + t * panel);
                /* the chunk packed next: the next k0, else the next block */
                int nk0 = k0 + kcap < k ? k0 + kcap : 0;
                int njb = nk0 ? jb : jb + GEMM_NB < jend ? jb + GEMM_NB : cg * cpw;
                /* else the next batch item; after the last one nothing (and no
                   address past it) */
                int next_item = !nk0 && jb + GEMM_NB >= jend, last = next_item && bi + 1 == bend;
                int nbi = next_item && !last ? bi + 1 : bi;
                const __global float *next =
                    b + b_off + nbi * b_bs + nk0 * sbk + col_at(njb * GEMM_NR, seg, b_ss);
                int next_kc = sbj == 1 && !last ? min(kcap, k - nk0) : 0;
                int next_cols = min(GEMM_NB, jend - njb) * GEMM_NR;
                /* later chunks add to what the first one stored */
                int acc_c = k0 > 0 || accumulate;
                for (int ip = g * rpw; ip < iend; ip++) {
                    int i0 = ip * GEMM_MR;
                    prefetch_b_rows(next, sbk, next_cols, next_kc, ip - g * rpw, iend - g * rpw);
                    for (int t = 0; t < panels; t++) {
                        int j0 = (jb + t) * GEMM_NR;
                        tile(ab + ip * aps + k0 * sak, sai, sak, pk + t * panel, kc,
                             cb + i0 * ldc + col_at(j0, seg, c_ss), ldc, min(GEMM_MR, m - i0),
                             n - j0, c_ss == seg ? GEMM_NR : seg - j0 % seg, c_ss - seg, acc_c,
                             stream && !acc_c);
                    }
                }
            }
        }
    }
}
