/* Winograd F(4x4, 3x3) (Lavin & Gray, interpolation points 0, +-1, +-2):
 * 36 multiplies per 4x4 output tile instead of 144 (F(2x2, 3x3): 64 for
 * the same 16 outputs), at the price of larger transform constants and so
 * a larger rounding error. Same structure and layouts as winograd.cl with 36
 * positions: U[xi][k][c], V[xi][c][t], M[xi][k][t], xi = 6 i + j. One
 * work-item per filter, input tile or output tile (GPU-shaped). */

__constant float WG4_G[6][3] = {{0.25f, 0.0f, 0.0f},
                                {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                {0.0f, 0.0f, 1.0f}};

__constant float WG4_BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                 {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};

__constant float WG4_AT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* G g G^T for one 3x3 filter. */
__kernel void winograd4_filter(__global const float *w, int w_off, __global float *u, int u_off,
                               int K, int C)
{
    int c = CLT_GID(0), k = CLT_GID(1);
    if (c >= C || k >= K)
        return;
    __global const float *g = w + w_off + (k * C + c) * 9;
    float t[6][3]; /* G g */
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = WG4_G[i][0] * g[j] + WG4_G[i][1] * g[3 + j] + WG4_G[i][2] * g[6 + j];
    __global float *out = u + u_off + k * C + c;
    int stride = K * C;
    for (int i = 0; i < 6; i++) /* (G g) G^T */
        for (int j = 0; j < 6; j++)
            out[(6 * i + j) * stride] =
                t[i][0] * WG4_G[j][0] + t[i][1] * WG4_G[j][1] + t[i][2] * WG4_G[j][2];
}

/* B^T d B for the 6x6 input patch of one tile (rows from 4 tp - pad_h). */
__kernel void winograd4_input(__global const float *x, int x_off, __global float *v, int v_off,
                              int nb, int C, int H, int W, int pad_h, int pad_w, int TP, int TQ)
{
    int t = CLT_GID(0), c = CLT_GID(1);
    int T = nb * TP * TQ;
    if (t >= T || c >= C)
        return;
    int n = t / (TP * TQ), rem = t - n * (TP * TQ);
    int tp = rem / TQ, tq = rem - tp * TQ;
    int h0 = 4 * tp - pad_h, w0 = 4 * tq - pad_w;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    float d[6][6];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            int h = h0 + i, ww = w0 + j;
            d[i][j] = (h >= 0 && h < H && ww >= 0 && ww < W) ? xc[h * W + ww] : 0.0f;
        }
    float b[6][6]; /* B^T d */
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            float s = 0.0f;
            for (int l = 0; l < 6; l++)
                s += WG4_BT[i][l] * d[l][j];
            b[i][j] = s;
        }
    __global float *out = v + v_off + c * T + t;
    int stride = C * T;
    for (int i = 0; i < 6; i++) /* (B^T d) B */
        for (int j = 0; j < 6; j++) {
            float s = 0.0f;
            for (int l = 0; l < 6; l++)
                s += b[i][l] * WG4_BT[j][l];
            out[(6 * i + j) * stride] = s;
        }
}

/* A^T m A for one (k, tile), bias and ReLU, written where inside P x Q. */
__kernel void winograd4_output(__global const float *m, int m_off, __global float *y, int y_off,
                               __global const float *bias, int bias_off, int has_bias, int relu,
                               int nb, int K, int P, int Q, int TP, int TQ)
{
    int t = CLT_GID(0), k = CLT_GID(1);
    int T = nb * TP * TQ;
    if (t >= T || k >= K)
        return;
    int n = t / (TP * TQ), rem = t - n * (TP * TQ);
    int tp = rem / TQ, tq = rem - tp * TQ;
    __global const float *src = m + m_off + k * T + t;
    int stride = K * T;
    float a[6][6];
    for (int xi = 0; xi < 36; xi++)
        a[xi / 6][xi % 6] = src[xi * stride];
    float r[4][6]; /* A^T m */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) {
            float s = 0.0f;
            for (int l = 0; l < 6; l++)
                s += WG4_AT[i][l] * a[l][j];
            r[i][j] = s;
        }
    float add = has_bias ? bias[bias_off + k] : 0.0f;
    __global float *out = y + y_off + (n * K + k) * P * Q;
    for (int i = 0; i < 4; i++) {
        int p = 4 * tp + i;
        for (int j = 0; j < 4; j++) {
            float s = add;
            for (int l = 0; l < 6; l++)
                s += r[i][l] * WG4_AT[j][l];
            int q = 4 * tq + j;
            if (p < P && q < Q)
                out[p * Q + q] = relu && s < 0.0f ? 0.0f : s;
        }
    }
}

/* The CPU-shaped transforms (as winograd.cl's _rows): one work-item per
 * filter row (k; all c) or tile row (tp, channel, image) walks along c or
 * tq, so that each of the 36 streams it writes or reads runs contiguously.
 * Same arithmetic as above, unrolled so that the constants' zeros fold. */
/* Eight filters (c0..c0+7 of row k) at a time, one per vector lane, so
 * that each of the 36 outputs is one 8-float run (scalar, the transform
 * took 40% of a c256 14x14 layer's time on PoCL: each store a new page). */
__kernel void winograd4_filter_rows(__global const float *w, int w_off, __global float *u,
                                    int u_off, int K, int C)
{
    int k = CLT_GID(0);
    if (k >= K)
        return;
    int stride = K * C;
    for (int c0 = 0; c0 < C; c0 += 8) {
        float lane[9][8];
        for (int l = 0; l < 8; l++) /* past C: repeats the last filter */
            for (int e = 0; e < 9; e++)
                lane[e][l] = w[w_off + (k * C + min(c0 + l, C - 1)) * 9 + e];
        float8 g[9], t[6][3];
#pragma unroll
        for (int e = 0; e < 9; e++)
            g[e] = vload8(0, lane[e]);
#pragma unroll
        for (int i = 0; i < 6; i++)
#pragma unroll
            for (int j = 0; j < 3; j++)
                t[i][j] = WG4_G[i][0] * g[j] + WG4_G[i][1] * g[3 + j] + WG4_G[i][2] * g[6 + j];
        __global float *out = u + u_off + k * C + c0;
        bool whole = c0 + 8 <= C;
#pragma unroll
        for (int i = 0; i < 6; i++)
#pragma unroll
            for (int j = 0; j < 6; j++) {
                float8 o = t[i][0] * WG4_G[j][0] + t[i][1] * WG4_G[j][1] + t[i][2] * WG4_G[j][2];
                __global float *dst = out + (6 * i + j) * stride;
                if (whole) {
                    vstore8(o, 0, dst);
                } else {
                    float part[8];
                    vstore8(o, 0, part);
                    for (int l = 0; c0 + l < C; l++)
                        dst[l] = part[l];
                }
            }
    }
}

/* Input tiles t0..t0+7 of channel c, one per vector lane (t runs over
 * image, tile row, tile column, so the 36 outputs are 8-float runs); the
 * patches are gathered lane by lane, zero outside the image. */
__kernel void winograd4_input_rows(__global const float *x, int x_off, __global float *v, int v_off,
                                   int nb, int C, int H, int W, int pad_h, int pad_w, int TP,
                                   int TQ)
{
    int t0 = CLT_GID(0) * 8, c = CLT_GID(1), T = nb * TP * TQ;
    if (t0 >= T || c >= C)
        return;
    float patch[6][6][8];
    for (int l = 0; l < 8; l++) {
        int t = min(t0 + l, T - 1), n = t / (TP * TQ), rem = t - n * (TP * TQ);
        int tp = rem / TQ, tq = rem - tp * TQ, h0 = 4 * tp - pad_h, w0 = 4 * tq - pad_w;
        __global const float *xc = x + x_off + (n * C + c) * H * W;
        if (h0 >= 0 && h0 + 6 <= H && w0 >= 0 && w0 + 6 <= W) { /* no test per element */
            __global const float *src = xc + h0 * W + w0;
#pragma unroll
            for (int i = 0; i < 6; i++)
#pragma unroll
                for (int j = 0; j < 6; j++)
                    patch[i][j][l] = src[i * W + j];
            continue;
        }
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                int h = h0 + i, ww = w0 + j;
                patch[i][j][l] = h >= 0 && h < H && ww >= 0 && ww < W ? xc[h * W + ww] : 0.0f;
            }
    }
    float8 d[6][6], b[6][6];
#pragma unroll
    for (int i = 0; i < 6; i++)
#pragma unroll
        for (int j = 0; j < 6; j++)
            d[i][j] = vload8(0, patch[i][j]);
#pragma unroll
    for (int i = 0; i < 6; i++) /* B^T d */
#pragma unroll
        for (int j = 0; j < 6; j++) {
            float8 s = 0.0f;
#pragma unroll
            for (int l = 0; l < 6; l++)
                s += WG4_BT[i][l] * d[l][j];
            b[i][j] = s;
        }
    __global float *out = v + v_off + c * T + t0;
    int stride = C * T;
    bool whole = t0 + 8 <= T;
#pragma unroll
    for (int i = 0; i < 6; i++) /* (B^T d) B */
#pragma unroll
        for (int j = 0; j < 6; j++) {
            float8 s = 0.0f;
#pragma unroll
            for (int l = 0; l < 6; l++)
                s += b[i][l] * WG4_BT[j][l];
            __global float *dst = out + (6 * i + j) * stride;
            if (whole) {
                vstore8(s, 0, dst);
            } else {
                float part[8];
                vstore8(s, 0, part);
                for (int l = 0; t0 + l < T; l++)
                    dst[l] = part[l];
            }
        }
}

/* Output tiles t0..t0+7 of channel k, one per vector lane: the 36 inputs
 * are 8-float runs; the 4x4 results are scattered lane by lane. */
__kernel void winograd4_output_rows(__global const float *m, int m_off, __global float *y,
                                    int y_off, __global const float *bias, int bias_off,
                                    int has_bias, int relu, int nb, int K, int P, int Q, int TP,
                                    int TQ)
{
    int t0 = CLT_GID(0) * 8, k = CLT_GID(1), T = nb * TP * TQ;
    if (t0 >= T || k >= K)
        return;
    int stride = K * T, lanes = min(8, T - t0);
    __global const float *src = m + m_off + k * T + t0;
    float8 a[6][6], r[4][6];
#pragma unroll
    for (int xi = 0; xi < 36; xi++) {
        if (lanes == 8) {
            a[xi / 6][xi % 6] = vload8(0, src + xi * stride);
        } else {
            float part[8];
            for (int l = 0; l < 8; l++)
                part[l] = src[xi * stride + min(l, lanes - 1)];
            a[xi / 6][xi % 6] = vload8(0, part);
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) /* A^T m */
#pragma unroll
        for (int j = 0; j < 6; j++) {
            float8 s = 0.0f;
#pragma unroll
            for (int l = 0; l < 6; l++)
                s += WG4_AT[i][l] * a[l][j];
            r[i][j] = s;
        }
    float add = has_bias ? bias[bias_off + k] : 0.0f;
    float o[4][4][8];
#pragma unroll
    for (int i = 0; i < 4; i++) /* (A^T m) A */
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float8 s = (float8)(add);
#pragma unroll
            for (int l = 0; l < 6; l++)
                s += r[i][l] * WG4_AT[j][l];
            vstore8(relu ? select(s, (float8)(0.0f), s < (float8)(0.0f)) : s, 0, o[i][j]);
        }
    int base[8], rows[8], cols[8];
    for (int l = 0; l < lanes; l++) {
        int t = t0 + l, n = t / (TP * TQ), rem = t - n * (TP * TQ);
        int tp = rem / TQ, tq = rem - tp * TQ;
        base[l] = y_off + ((n * K + k) * P + 4 * tp) * Q + 4 * tq;
        rows[l] = min(4, P - 4 * tp);
        cols[l] = min(4, Q - 4 * tq);
    }
    /* row by row across the lanes: neighbouring tiles' runs are adjacent */
    for (int i = 0; i < 4; i++)
        for (int l = 0; l < lanes; l++) {
            __global float *out = y + base[l] + i * Q;
            if (rows[l] == 4 && cols[l] == 4)
                vstore4((float4)(o[i][0][l], o[i][1][l], o[i][2][l], o[i][3][l]), 0, out);
            else if (i < rows[l])
                for (int j = 0; j < cols[l]; j++)
                    out[j] = o[i][j][l];
        }
}
