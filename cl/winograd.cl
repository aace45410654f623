/* Winograd F(2x2, 3x3) (Lavin & Gray): 16 multiplies per 2x2 output tile
 * instead of 36. U = G g G^T per (k, c), V = B^T d B per (c, tile), then 16
 * GEMMs M[xi] = U[xi] V[xi] (on the host side), then Y = A^T m A.
 * Layouts: U[xi][k][c], V[xi][c][t], M[xi][k][t] with xi = 4 i + j. */

/* G g G^T for the 3x3 filter at g into out[xi * stride], xi = 4 i + j;
 * G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void filter_tile(__global const float *g, __global float *out, int stride)
{
    float t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) { /* (G g) G^T */
        float a = t[i][0], b = t[i][1], e = t[i][2];
        out[(4 * i + 0) * stride] = a;
        out[(4 * i + 1) * stride] = 0.5f * (a + b + e);
        out[(4 * i + 2) * stride] = 0.5f * (a - b + e);
        out[(4 * i + 3) * stride] = e;
    }
}

/* One filter (k, c) per work-item. */
__kernel void winograd_filter(__global const float *w, int w_off, __global float *u, int u_off,
                              int K, int C)
{
    int c = CLT_GID(0), k = CLT_GID(1);
    if (c < C && k < K)
        filter_tile(w + w_off + (k * C + c) * 9, u + u_off + k * C + c, K * C);
}

/* B^T d B for the 4x4 input patch of one tile; B^T = [1 0 -1 0; 0 1 1 0;
 * 0 -1 1 0; 0 1 0 -1]. Tiles t run over (n, tile row, tile column). */
__kernel void winograd_input(__global const float *x, int x_off, __global float *v, int v_off,
                             int nb, int C, int H, int W, int pad_h, int pad_w, int TP, int TQ)
{
    int t = CLT_GID(0), c = CLT_GID(1);
    int T = nb * TP * TQ;
    if (t >= T || c >= C)
        return;
    int n = t / (TP * TQ), rem = t - n * (TP * TQ);
    int tp = rem / TQ, tq = rem - tp * TQ;
    int h0 = 2 * tp - pad_h, w0 = 2 * tq - pad_w;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    float d[4][4];
    for (int i = 0; i < 4; i++) {
        int h = h0 + i;
        for (int j = 0; j < 4; j++) {
            int ww = w0 + j;
            d[i][j] = (h >= 0 && h < H && ww >= 0 && ww < W) ? xc[h * W + ww] : 0.0f;
        }
    }
    float b[4][4]; /* B^T d */
    for (int j = 0; j < 4; j++) {
        b[0][j] = d[0][j] - d[2][j];
        b[1][j] = d[1][j] + d[2][j];
        b[2][j] = d[2][j] - d[1][j];
        b[3][j] = d[1][j] - d[3][j];
    }
    __global float *out = v + v_off + c * T + t;
    int stride = C * T;
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
        out[(4 * i + 0) * stride] = b[i][0] - b[i][2];
        out[(4 * i + 1) * stride] = b[i][1] + b[i][2];
        out[(4 * i + 2) * stride] = b[i][2] - b[i][1];
        out[(4 * i + 3) * stride] = b[i][1] - b[i][3];
    }
}

/* A^T m A for one (k, tile), bias and ReLU, written where inside P x Q;
 * A^T = [1 1 1 0; 0 1 -1 -1]. */
__kernel void winograd_output(__global const float *m, int m_off, __global float *y, int y_off,
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
    float a[4][4];
    for (int xi = 0; xi < 16; xi++)
        a[xi / 4][xi % 4] = src[xi * stride];
    float r[2][4]; /* A^T m */
    for (int j = 0; j < 4; j++) {
        r[0][j] = a[0][j] + a[1][j] + a[2][j];
        r[1][j] = a[1][j] - a[2][j] - a[3][j];
    }
    float add = has_bias ? bias[bias_off + k] : 0.0f;
    __global float *out = y + y_off + (n * K + k) * P * Q;
    for (int i = 0; i < 2; i++) {
        int p = 2 * tp + i;
        float o[2] = {r[i][0] + r[i][1] + r[i][2] + add, r[i][1] - r[i][2] - r[i][3] + add};
        for (int j = 0; j < 2; j++) {
            int q = 2 * tq + j;
            float val = relu && o[j] < 0.0f ? 0.0f : o[j];
            if (p < P && q < Q)
                out[p * Q + q] = val;
        }
    }
}

/* The CPU-shaped transforms: one work-item per filter row (k; all c) or
 * tile row (tp, channel, image) walks along c or the row's tiles, so each
 * of the 16 streams it reads or writes runs contiguously. Same arithmetic
 * as above. */

__kernel void winograd_filter_rows(__global const float *w, int w_off, __global float *u, int u_off,
                                   int K, int C)
{
    int k = CLT_GID(0);
    for (int c = 0; k < K && c < C; c++)
        filter_tile(w + w_off + (k * C + c) * 9, u + u_off + k * C + c, K * C);
}

static float x_at(__global const float *xc, int H, int W, int h, int w)
{
    return (h >= 0 && h < H && w >= 0 && w < W) ? xc[h * W + w] : 0.0f;
}

__kernel void winograd_input_rows(__global const float *x, int x_off, __global float *v, int v_off,
                                  int nb, int C, int H, int W, int pad_h, int pad_w, int TP, int TQ)
{
    int tp = CLT_GID(0), c = CLT_GID(1), n = CLT_GID(2);
    if (tp >= TP || c >= C || n >= nb)
        return;
    int T = nb * TP * TQ, stride = C * T, h0 = 2 * tp - pad_h;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    __global float *out = v + v_off + c * T + (n * TP + tp) * TQ;
    for (int tq = 0; tq < TQ; tq++) {
        int w0 = 2 * tq - pad_w;
        float d[4][4], b[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = x_at(xc, H, W, h0 + i, w0 + j);
        for (int j = 0; j < 4; j++) {
            b[0][j] = d[0][j] - d[2][j];
            b[1][j] = d[1][j] + d[2][j];
            b[2][j] = d[2][j] - d[1][j];
            b[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
            out[(4 * i + 0) * stride + tq] = b[i][0] - b[i][2];
            out[(4 * i + 1) * stride + tq] = b[i][1] + b[i][2];
            out[(4 * i + 2) * stride + tq] = b[i][2] - b[i][1];
            out[(4 * i + 3) * stride + tq] = b[i][1] - b[i][3];
        }
    }
}

__kernel void winograd_output_rows(__global const float *m, int m_off, __global float *y, int y_off,
                                   __global const float *bias, int bias_off, int has_bias, int relu,
                                   int nb, int K, int P, int Q, int TP, int TQ)
{
    int tp = CLT_GID(0), k = CLT_GID(1), n = CLT_GID(2);
    if (tp >= TP || k >= K || n >= nb)
        return;
    int T = nb * TP * TQ, stride = K * T;
    __global const float *src = m + m_off + k * T + (n * TP + tp) * TQ;
    __global float *out = y + y_off + (n * K + k) * P * Q;
    float add = has_bias ? bias[bias_off + k] : 0.0f;
    for (int tq = 0; tq < TQ; tq++) {
        float a[4][4], r[2][4];
        for (int xi = 0; xi < 16; xi++)
            a[xi / 4][xi % 4] = src[xi * stride + tq];
        for (int j = 0; j < 4; j++) {
            r[0][j] = a[0][j] + a[1][j] + a[2][j];
            r[1][j] = a[1][j] - a[2][j] - a[3][j];
        }
        for (int i = 0; i < 2; i++) {
            int p = 2 * tp + i;
            float o[2] = {r[i][0] + r[i][1] + r[i][2] + add, r[i][1] - r[i][2] - r[i][3] + add};
            for (int j = 0; j < 2; j++) {
                int q = 2 * tq + j;
                if (p < P && q < Q)
                    out[p * Q + q] = relu && o[j] < 0.0f ? 0.0f : o[j];
            }
        }
    }
}
