/* Implicit-GEMM convolution for GPUs (conv_igemm.c): y = act(W col(x) +
 * bias) as one GEMM over the whole batch, K x (N P Q), whose column matrix
 * is never written: each work-group reads its B tile straight from x. A
 * work-group of 16 x 16 items computes a 128 (k) x 128 (n, p, q) tile, 8 x 8
 * per item, in steps of IG_TK along C R S through local memory. */
#define IG_TM 128
#define IG_TN 128
#ifndef IG_TK /* a multiple of 2 up to 32; CLT_BUILD_OPTIONS=-DIG_TK=16 to try */
#define IG_TK 8
#endif

/* tbl[r] for r < C R S: (offset of (c, kr dh, ks dw) in an image, kr dh << 16
 * | ks dw), so that the GEMM's loads need no division by R S or S. */
__kernel void conv_igemm_table(__global int2 *tbl, int CRS, int H, int W, int R, int S, int dh,
                               int dw)
{
    int r = CLT_GID(0);
    if (r >= CRS)
        return;
    int RS = R * S, c = r / RS, rs = r - c * RS, kr = rs / S, ks = rs - kr * S;
    int ho = kr * dh, wo = ks * dw;
    tbl[r] = (int2)((c * H + ho) * W + wo, (ho << 16) | wo);
}

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void
conv_igemm(__global const float *x, int x_off, __global const float *w, int w_off,
           __global const int2 *tbl, __global const float *bias, int b_off, int has_bias, int relu,
           __global float *y, int y_off, int N, int C, int H, int W, int K, int CRS, int P, int Q,
           int sh, int sw, int ph, int pw)
{
    __local float As[IG_TK][IG_TM];
    __local float Bs[IG_TK][IG_TN];
    int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;
    int col0 = get_group_id(0) * IG_TN, k0 = get_group_id(1) * IG_TM;
    int PQ = P * Q, NPQ = N * PQ;

    /* this item's column of the B tile, fixed for the whole reduction */
    int jj = tid % IG_TN, j = col0 + jj;
    bool jin = j < NPQ;
    int n = 0, oh = 0, ow = 0;
    if (jin) {
        n = j / PQ;
        int pq = j - n * PQ;
        oh = pq / Q;
        ow = pq - oh * Q;
    }
    int ih0 = oh * sh - ph, iw0 = ow * sw - pw;
    int base = x_off + n * C * H * W + ih0 * W + iw0; /* x index of (n, 0, ih0, iw0) */

    float acc[8][8];
    for (int u = 0; u < 8; u++)
        for (int v = 0; v < 8; v++)
            acc[u][v] = 0.0f;

    for (int r0 = 0; r0 < CRS; r0 += IG_TK) {
        for (int i = 0; i < IG_TK / 2; i++) { /* A: 128 x IG_TK of W */
            int m = tid / IG_TK + 256 / IG_TK * i, kk = tid % IG_TK;
            int gk = k0 + m, gr = r0 + kk;
            As[kk][m] = gk < K && gr < CRS ? w[w_off + gk * CRS + gr] : 0.0f;
        }
        for (int i = 0; i < IG_TK / 2; i++) { /* B: IG_TK x 128 of col(x) */
            int kk = tid / IG_TN + 2 * i, r = r0 + kk;
            float v = 0.0f;
            if (jin && r < CRS) {
                int2 t = tbl[r];
                int ih = ih0 + (t.y >> 16), iw = iw0 + (t.y & 0xffff);
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                    v = x[base + t.x];
            }
            Bs[kk][jj] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < IG_TK; kk++) {
            float a[8], b[8];
            for (int u = 0; u < 8; u++)
                a[u] = As[kk][ty + 16 * u];
            for (int v = 0; v < 8; v++)
                b[v] = Bs[kk][tx + 16 * v];
            for (int u = 0; u < 8; u++)
                for (int v = 0; v < 8; v++)
                    acc[u][v] = fma(a[u], b[v], acc[u][v]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int v = 0; v < 8; v++) {
        int jo = col0 + tx + 16 * v;
        if (jo >= NPQ)
            continue;
        int no = jo / PQ, pq = jo - no * PQ;
        for (int u = 0; u < 8; u++) {
            int k = k0 + ty + 16 * u;
            if (k >= K)
                continue;
            float val = acc[u][v] + (has_bias ? bias[b_off + k] : 0.0f);
            if (relu)
                val = val < 0.0f ? 0.0f : val; /* NaN stays NaN */
            y[y_off + (no * K + k) * PQ + pq] = val;
        }
    }
}
