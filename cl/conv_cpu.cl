/* Direct convolution shaped for CPUs (any kernel size, stride, padding,
 * dilation; groups; the backward passes at stride 1, the weight gradient
 * for groups 1): cl/gemm.cl's register tile with B read in place.
 *
 * A work-item owns a band of output rows of one image (and group). It first
 * copies the input rows the band reads, zero-padded, into a scratch region
 * of its own: at stride 1 channel c, row i, column col at band[(c * BH + i)
 * * WP + col], WP = Q + (S - 1) dil_w. Numbering the band's output positions
 * j = row * WP + q (columns q >= Q are computed and dropped), row (c, r, s)
 * of the column matrix is then one contiguous run: position j reads
 * band[c * BH * WP + r dil_h WP + s dil_w + j]. At stride sh x sw the copy
 * is split into sh sw phases (input rows and columns by their remainder
 * modulo the stride), and tap (r, s) reads phase (r dil_h % sh, s dil_w %
 * sw) shifted by (r dil_h / sh, s dil_w / sw): contiguous again, WP = Q +
 * (S - 1) dil_w / sw. So the hot loop is
 * gemm_tiles' (GEMM_NV vector loads of B, GEMM_MR broadcast weights and
 * GEMM_MR * GEMM_NV fused multiply-adds per (c, r, s)) with nothing packed:
 * each input element is copied once per band, where implicit im2col packs
 * it R S times per column panel, and every output channel reuses the copy.
 * Channel panels are the outer loop so that a panel's weights stay in L1
 * while the band's positions stream past them (1.3x at c64 56x56 3x3).
 *
 * Generated defines (conv_cpu.c): GEMM_VW, GEMM_MR, GEMM_NV as for the GEMM,
 * and CC_MK, CC_MC, the weight gradient's tile (conv_cpu_bwd_weights). */

#define CC_CAT_(a, b) a##b
#define CC_CAT(a, b) CC_CAT_(a, b)
#define CC_VEC CC_CAT(float, GEMM_VW)
#define CC_VLOAD CC_CAT(vload, GEMM_VW)
#define CC_VSTORE CC_CAT(vstore, GEMM_VW)
#define CC_NR (GEMM_VW * GEMM_NV) /* output positions per tile */

/* Phase (a, b) of channel c of the input at stride sh x sw, zero-padded:
 * band[(((c * sh + a) * sw + b) * bh + i) * wp + col] = x[c][h0 + i sh + a]
 * [col sw + b - pad_w] (stride 1: one phase, the rows as they are) for the
 * first `rows` of bh rows, zero outside the image and in the other rows,
 * then `slack` zeros: a lane that is dropped, or multiplied by a zero of
 * dy, must still read a finite number. */
static void copy_band(const __global float *x, int C, int H, int W, int h0, int rows, int bh,
                      int wp, int pad_w, int sh, int sw, int slack, __global float *band)
{
    for (int c = 0; c < C; c++)
        for (int a = 0; a < sh; a++)
            for (int b = 0; b < sw; b++)
                for (int i = 0; i < bh; i++) {
                    int h = h0 + i * sh + a;
                    __global float *dst = band + (((c * sh + a) * sw + b) * bh + i) * wp;
                    if (i < rows && h >= 0 && h < H)
                        clt_copy_row(x + (c * H + h) * W, W, b - pad_w, sw, wp, dst);
                    else
                        for (int col = 0; col < wp; col++)
                            dst[col] = 0.0f;
                }
    for (int i = 0; i < slack; i++)
        band[C * sh * sw * bh * wp + i] = 0.0f;
}

/* Stores rows `rows` of the tile at positions j0... of the band (output row
 * j / wp, column j % wp when < Q) with bias and ReLU: straight from the
 * registers when the tile lies inside one output row, else lane by lane
 * along its runs (one division per tile, not per run and row). */
static void store_tile(CC_VEC acc[GEMM_MR][GEMM_NV], int rows, int j0, int wp, int Q,
                       int band_rows, __global float *y, int plane, const __global float *bias,
                       int relu)
{
    int row0 = j0 / wp, q0 = j0 - row0 * wp;
    bool whole = q0 + CC_NR <= Q;
    for (int i = 0; i < rows; i++) {
        float add = bias ? bias[i] : 0.0f;
        CC_VEC o[GEMM_NV];
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++) {
            o[v] = acc[i][v] + (CC_VEC)(add);
            if (relu)
                o[v] = select(o[v], (CC_VEC)(0.0f), o[v] < (CC_VEC)(0.0f)); /* NaN stays NaN */
        }
        __global float *out = y + i * plane + row0 * Q + q0;
        if (whole) {
#pragma unroll
            for (int v = 0; v < GEMM_NV; v++)
                CC_VSTORE(o[v], v, out);
            continue;
        }
        float lane[CC_NR];
#pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            CC_VSTORE(o[v], v, lane);
        /* run by run: out advances Q per output row, the lanes wp */
        int row = row0, q = q0;
        for (int t = 0; t < CC_NR && row < band_rows; row++, out += Q - q, t += wp - q, q = 0)
            for (int e = 0; e < min(CC_NR - t, Q - q); e++)
                out[e] = lane[t + e];
    }
}

/* Work-item (band b, output-channel group kgi, image and group z): output
 * rows b * band..., channel panels kgi * kpw... of GEMM_MR channels. Each
 * work-item's scratch region is `region` floats at scratch + its index:
 * the band's copy, then the offset of each (c, r, s) row in it, so that
 * the hot loop is as plain as the GEMM's. */
__kernel void conv_cpu_tiles(__global const float *x, int x_off, __global const float *w,
                             int w_off, __global const float *bias, int bias_off, int has_bias,
                             int relu, __global float *y, int y_off, int C, int H, int W, int K,
                             int R, int S, int pad_h, int pad_w, int sh, int sw, int dil_h,
                             int dil_w, int groups, int P, int Q, int band, int kpw,
                             __global float *scratch, int region)
{
    int b = CLT_GID(0), kgi = CLT_GID(1), z = CLT_GID(2);
    int n = z / groups, g = z - n * groups, cg = C / groups, kg = K / groups;
    int p0 = b * band;
    if (p0 >= P)
        return;
    int band_rows = min(band, P - p0), wp = Q + (S - 1) * dil_w / sw, halo = (R - 1) * dil_h / sh;
    int bh = band + halo, plane = bh * wp; /* the layout of every region */
    __global float *bs =
        scratch + (((size_t)z * get_global_size(1) + kgi) * get_global_size(0) + b) * region;
    copy_band(x + x_off + (n * C + g * cg) * H * W, cg, H, W, p0 * sh - pad_h, band_rows + halo,
              bh, wp, pad_w, sh, sw, CC_NR + (S - 1) * dil_w / sw, bs);
    int kpanels = (kg + GEMM_MR - 1) / GEMM_MR, kp1 = min(kpanels, (kgi + 1) * kpw);
    int npos = (band_rows - 1) * wp + Q, crs = cg * R * S;
    /* tap (r, s) reads phase (ra, sa) shifted by (rb, sb) */
    __global int *offs = (__global int *)(bs + cg * sh * sw * plane + CC_NR + (S - 1) * dil_w / sw);
    for (int c = 0, kk = 0; c < cg; c++)
        for (int r = 0, ra = 0, rb = 0; r < R; r++) {
            for (int s = 0, sa = 0, sb = 0; s < S; s++, kk++) {
                offs[kk] = ((c * sh + ra) * sw + sa) * plane + rb * wp + sb;
                for (sa += dil_w; sa >= sw; sa -= sw)
                    sb++;
            }
            for (ra += dil_h; ra >= sh; ra -= sh)
                rb++;
        }
    __global float *yb = y + y_off + ((n * K + g * kg) * P + p0) * Q;
    for (int kp = kgi * kpw; kp < kp1; kp++)
        for (int j0 = 0; j0 < npos; j0 += CC_NR) {
            int k0 = kp * GEMM_MR, rows = min(GEMM_MR, kg - k0);
            const __global float *ar[GEMM_MR];
#pragma unroll
            for (int i = 0; i < GEMM_MR; i++)
                ar[i] = w + w_off + (g * kg + k0 + min(i, rows - 1)) * crs;
            CC_VEC acc[GEMM_MR][GEMM_NV];
#pragma unroll
            for (int i = 0; i < GEMM_MR; i++)
#pragma unroll
                for (int v = 0; v < GEMM_NV; v++)
                    acc[i][v] = (CC_VEC)(0.0f);
            const __global float *bj = bs + j0;
            for (int kk = 0; kk < crs; kk++) {
                const __global float *brow = bj + offs[kk];
                CC_VEC bv[GEMM_NV];
#pragma unroll
                for (int v = 0; v < GEMM_NV; v++)
                    bv[v] = CC_VLOAD(v, brow);
#pragma unroll
                for (int i = 0; i < GEMM_MR; i++) {
                    CC_VEC av = (CC_VEC)ar[i][kk];
#pragma unroll
                    for (int v = 0; v < GEMM_NV; v++)
                        acc[i][v] = fma(av, bv[v], acc[i][v]);
                }
            }
            store_tile(acc, rows, j0, wp, Q, band_rows, yb + k0 * P * Q, P * Q,
                       has_bias ? bias + bias_off + g * kg + k0 : 0, relu);
        }
}

/* The weights of the transposed convolution (backward data as a stride-1
 * convolution of dy): wf[g][c][k][r][s] = w[g][k][c][R-1-r][S-1-s], within
 * group g (cg input, kg output channels). One work-item per element. */
__kernel void conv_cpu_flip(__global const float *w, int w_off, __global float *wf, int cg,
                            int kg, int groups, int R, int S)
{
    int i = CLT_GID(0), total = groups * cg * kg * R * S;
    if (i >= total)
        return;
    int s = i % S, t = i / S, r = t % R;
    t /= R;
    int k = t % kg, c = (t / kg) % cg, g = t / (kg * cg);
    wf[i] = w[w_off + (((g * kg + k) * cg + c) * R + (R - 1 - r)) * S + (S - 1 - s)];
}

/* The lanes of v added in halves (a fixed order). */
static float hsum(CC_VEC v)
{
#if GEMM_VW == 16
    float8 h8 = v.lo + v.hi;
    float4 h4 = h8.lo + h8.hi;
#elif GEMM_VW == 8
    float4 h4 = v.lo + v.hi;
#else
    float4 h4 = v;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

/* Weight gradient, groups 1: partial sums of dW (K x C R S) over images
 * chunk * ipw... into part[chunk], for output-channel blocks kgi * kpw... of
 * CC_MK channels. The chunk's images are cut into units (an image's band
 * of `band` output rows), and upb units at a time are copied side by side:
 * x as the forward copies a band (channel c of unit t at xs[(c * upb + t)
 * * bh * wp]), the work-item's channels of dy into rows of the same width
 * (zero in columns >= Q and rows past the band). Numbering positions
 * across the units, the sum over them is then one contiguous run: CC_MK x
 * CC_MC accumulators of (k, (c, r, s)) hold a vector of positions each,
 * and per vector step CC_MK loads of dy and CC_MC of x feed CC_MK * CC_MC
 * fused multiply-adds; the vectors are added across only once per upb
 * units. */
__kernel void conv_cpu_bwd_weights(__global const float *x, int x_off, __global const float *dy,
                                   int dy_off, __global float *part, int N, int C, int H, int W,
                                   int K, int R, int S, int pad_h, int pad_w, int dil_h,
                                   int dil_w, int P, int Q, int band, int upb, int kpw, int ipw,
                                   __global float *scratch, int region)
{
    int kgi = CLT_GID(0), chunk = CLT_GID(1);
    int kblocks = (K + CC_MK - 1) / CC_MK, kb0 = kgi * kpw, kb1 = min(kblocks, kb0 + kpw);
    int n0 = chunk * ipw, n1 = min(N, n0 + ipw);
    if (kb0 >= kb1 || n0 >= N)
        return;
    int k0 = kb0 * CC_MK, kn = min(K, kb1 * CC_MK) - k0, crs = C * R * S;
    int wp = Q + (S - 1) * dil_w, halo = (R - 1) * dil_h, bh = band + halo, unit = bh * wp;
    int plane = upb * unit, slack = GEMM_VW + halo * wp + (S - 1) * dil_w;
    int dyp = (plane + GEMM_VW - 1) / GEMM_VW * GEMM_VW, bands = (P + band - 1) / band;
    __global float *xs = scratch + ((size_t)chunk * get_global_size(0) + kgi) * region;
    __global float *ds = xs + C * plane + slack;
    __global float *pt = part + chunk * K * crs;
    for (int i = k0 * crs; i < (k0 + kn) * crs; i++)
        pt[i] = 0.0f;
    for (int u0 = 0; u0 < (n1 - n0) * bands; u0 += upb) {
        int cnt = min(upb, (n1 - n0) * bands - u0);
        for (int t = 0; t < upb; t++) { /* units past cnt: zeros */
            int n = min(n1 - 1, n0 + (u0 + t) / bands), p0 = (u0 + t) % bands * band;
            int rows = t < cnt ? min(band, P - p0) : 0;
            for (int c = 0; c < C; c++)
                copy_band(x + x_off + (n * C + c) * H * W, 1, H, W, p0 - pad_h,
                          rows ? rows + halo : 0, bh, wp, pad_w, 1, 1, 0,
                          xs + (c * upb + t) * unit);
            for (int k = 0; k < kn; k++)
                for (int row = 0; row < bh; row++) {
                    const __global float *src = dy + dy_off + ((n * K + k0 + k) * P + p0 + row) * Q;
                    __global float *dst = ds + k * dyp + t * unit + row * wp;
                    for (int q = 0; q < wp; q++)
                        dst[q] = row < rows && q < Q ? src[q] : 0.0f;
                }
        }
        for (int i = 0; i < slack; i++)
            xs[C * plane + i] = 0.0f;
        for (int k = 0; k < kn; k++)
            for (int j = plane; j < dyp; j++)
                ds[k * dyp + j] = 0.0f;
        int jend = (cnt * unit + GEMM_VW - 1) / GEMM_VW * GEMM_VW;
        for (int kb = kb0; kb < kb1; kb++)
            for (int cb = 0; cb < crs; cb += CC_MC) {
                const __global float *xt[CC_MC];
#pragma unroll
                for (int t = 0; t < CC_MC; t++) {
                    int idx = min(cb + t, crs - 1), c = idx / (R * S), rs = idx - c * R * S;
                    int r = rs / S, s = rs - r * S;
                    xt[t] = xs + c * plane + r * dil_h * wp + s * dil_w;
                }
                int krows = min(CC_MK, k0 + kn - kb * CC_MK);
                const __global float *dr[CC_MK]; /* rows past krows repeat the last */
                CC_VEC acc[CC_MK][CC_MC];
#pragma unroll
                for (int k = 0; k < CC_MK; k++) {
                    dr[k] = ds + (kb * CC_MK - k0 + min(k, krows - 1)) * dyp;
#pragma unroll
                    for (int t = 0; t < CC_MC; t++)
                        acc[k][t] = (CC_VEC)(0.0f);
                }
                for (int j = 0; j < jend; j += GEMM_VW) {
                    CC_VEC dv[CC_MK];
#pragma unroll
                    for (int k = 0; k < CC_MK; k++)
                        dv[k] = CC_VLOAD(0, dr[k] + j);
#pragma unroll
                    for (int t = 0; t < CC_MC; t++) {
                        CC_VEC xv = CC_VLOAD(0, xt[t] + j);
#pragma unroll
                        for (int k = 0; k < CC_MK; k++)
                            acc[k][t] = fma(dv[k], xv, acc[k][t]);
                    }
                }
                for (int k = 0; k < krows; k++)
                    for (int t = 0; t < CC_MC && cb + t < crs; t++)
                        pt[(kb * CC_MK + k) * crs + cb + t] += hsum(acc[k][t]);
            }
    }
}
