/* Direct convolution: one work-item per output element, any stride,
 * padding, dilation and groups. The reference path on every device. */

__kernel void conv_direct(__global const float *x, int x_off, __global const float *w, int w_off,
                          __global const float *bias, int bias_off, int has_bias, int relu,
                          __global float *y, int y_off, int N, int C, int H, int W, int K, int R,
                          int S, int pad_h, int pad_w, int stride_h, int stride_w, int dil_h,
                          int dil_w, int groups, int P, int Q)
{
    int pq = CLT_GID(0), k = CLT_GID(1), n = CLT_GID(2);
    if (pq >= P * Q || k >= K || n >= N)
        return;
    int p = pq / Q, q = pq - p * Q;
    int cg = C / groups, kg = K / groups, g = k / kg;
    int h0 = p * stride_h - pad_h, w0 = q * stride_w - pad_w;
    __global const float *wk = w + w_off + k * cg * R * S;
    __global const float *xn = x + x_off + (n * C + g * cg) * H * W;
    float acc = 0.0f;
    for (int c = 0; c < cg; c++) {
        for (int r = 0; r < R; r++) {
            int h = h0 + r * dil_h;
            if (h < 0 || h >= H)
                continue;
            for (int s = 0; s < S; s++) {
                int ww = w0 + s * dil_w;
                if (ww >= 0 && ww < W)
                    acc = fma(xn[(c * H + h) * W + ww], wk[(c * R + r) * S + s], acc);
            }
        }
    }
    if (has_bias)
        acc += bias[bias_off + k];
    if (relu)
        acc = acc < 0.0f ? 0.0f : acc;
    y[y_off + (n * K + k) * P * Q + pq] = acc;
}

/* dx[n, c, h, w] = sum over the outputs that read x[n, c, h, w] of
 * w[k, c', r, s] dy[n, k, p, q]: one work-item per input element. */
__kernel void conv_direct_bwd_data(__global const float *dy, int dy_off, __global const float *w,
                                   int w_off, __global float *dx, int dx_off, int N, int C, int H,
                                   int W, int K, int R, int S, int pad_h, int pad_w, int stride_h,
                                   int stride_w, int dil_h, int dil_w, int groups, int P, int Q)
{
    int hw = CLT_GID(0), c = CLT_GID(1), n = CLT_GID(2);
    if (hw >= H * W || c >= C || n >= N)
        return;
    int h = hw / W, x = hw - h * W;
    int cg = C / groups, kg = K / groups, g = c / cg, ci = c - g * cg;
    float acc = 0.0f;
    for (int k = g * kg; k < (g + 1) * kg; k++) {
        __global const float *dyk = dy + dy_off + (n * K + k) * P * Q;
        __global const float *wk = w + w_off + (k * cg + ci) * R * S;
        for (int r = 0; r < R; r++) {
            int ph = h + pad_h - r * dil_h;
            if (ph < 0 || ph % stride_h || ph / stride_h >= P)
                continue;
            int p = ph / stride_h;
            for (int s = 0; s < S; s++) {
                int qw = x + pad_w - s * dil_w;
                if (qw < 0 || qw % stride_w || qw / stride_w >= Q)
                    continue;
                acc = fma(wk[r * S + s], dyk[p * Q + qw / stride_w], acc);
            }
        }
    }
    dx[dx_off + (n * C + c) * H * W + hw] = acc;
}

/* dw[k, c, r, s] = sum over n, p, q of dy[n, k, p, q] x[n, g cg + c, ...]:
 * one work-item per weight. */
__kernel void conv_direct_bwd_weights(__global const float *x, int x_off, __global const float *dy,
                                      int dy_off, __global float *dw, int dw_off, int N, int C,
                                      int H, int W, int K, int R, int S, int pad_h, int pad_w,
                                      int stride_h, int stride_w, int dil_h, int dil_w,
                                      int groups, int P, int Q)
{
    int rs = CLT_GID(0), c = CLT_GID(1), k = CLT_GID(2);
    int cg = C / groups, kg = K / groups;
    if (rs >= R * S || c >= cg || k >= K)
        return;
    int r = rs / S, s = rs - r * S, g = k / kg;
    float acc = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *xc = x + x_off + (n * C + g * cg + c) * H * W;
        __global const float *dyk = dy + dy_off + (n * K + k) * P * Q;
        for (int p = 0; p < P; p++) {
            int h = p * stride_h - pad_h + r * dil_h;
            if (h < 0 || h >= H)
                continue;
            for (int q = 0; q < Q; q++) {
                int ww = q * stride_w - pad_w + s * dil_w;
                if (ww >= 0 && ww < W)
                    acc = fma(dyk[p * Q + q], xc[h * W + ww], acc);
            }
        }
    }
    dw[dw_off + (k * cg + c) * R * S + rs] = acc;
}

/* Direct convolution shaped for CPUs: a work-item computes 4 output
 * channels x 16 pixels of one output row in eight float8 registers; per
 * (c, r, s) it loads two vectors of input (one load each when the stride is
 * 1 and the row is inside the image) and broadcasts four weights: sixteen
 * fused multiply-adds. Same arguments as conv_direct. */
#define DT_KB 4  /* output channels per work-item */
#define DT_QB 16 /* output pixels per work-item: two float8 */

static float8 dt_input(__global const float *row, int W, int w0, int sw)
{
    if (sw == 1 && w0 >= 0 && w0 + 8 <= W)
        return vload8(0, row + w0);
    float v[8];
    for (int i = 0; i < 8; i++) {
        int w = w0 + i * sw;
        v[i] = w >= 0 && w < W ? row[w] : 0.0f;
    }
    return vload8(0, v);
}

__kernel void conv_direct_tiles(__global const float *x, int x_off, __global const float *w,
                                int w_off, __global const float *bias, int bias_off,
                                int has_bias, int relu, __global float *y, int y_off, int N,
                                int C, int H, int W, int K, int R, int S, int pad_h, int pad_w,
                                int stride_h, int stride_w, int dil_h, int dil_w, int groups,
                                int P, int Q)
{
    int qb = CLT_GID(0), p = CLT_GID(1), z = CLT_GID(2);
    int cg = C / groups, kg = K / groups, kblocks = (kg + DT_KB - 1) / DT_KB;
    int n = z / (groups * kblocks), rem = z - n * (groups * kblocks);
    int g = rem / kblocks, kb = rem - g * kblocks;
    int q0 = qb * DT_QB;
    if (q0 >= Q || p >= P || n >= N)
        return;
    int k0 = g * kg + kb * DT_KB, kn = min(DT_KB, (g + 1) * kg - k0);
    float8 acc[DT_KB][2];
    for (int kk = 0; kk < DT_KB; kk++)
        acc[kk][0] = acc[kk][1] = (float8)(0.0f);
    __global const float *xn = x + x_off + (n * C + g * cg) * H * W;
    __global const float *wk = w + w_off + k0 * cg * R * S;
    int wstride = cg * R * S; /* between output channels */
    for (int c = 0; c < cg; c++)
        for (int r = 0; r < R; r++) {
            int h = p * stride_h - pad_h + r * dil_h;
            if (h < 0 || h >= H)
                continue;
            __global const float *row = xn + (c * H + h) * W;
            for (int s = 0; s < S; s++) {
                int w0 = q0 * stride_w - pad_w + s * dil_w;
                float8 x0 = dt_input(row, W, w0, stride_w);
                float8 x1 = dt_input(row, W, w0 + 8 * stride_w, stride_w);
                int wi = (c * R + r) * S + s;
                for (int kk = 0; kk < DT_KB; kk++) {
                    float8 wv = (float8)(kk < kn ? wk[kk * wstride + wi] : 0.0f);
                    acc[kk][0] = fma(wv, x0, acc[kk][0]);
                    acc[kk][1] = fma(wv, x1, acc[kk][1]);
                }
            }
        }
    for (int kk = 0; kk < kn; kk++) {
        float add = has_bias ? bias[bias_off + k0 + kk] : 0.0f;
        __global float *out = y + y_off + ((n * K + k0 + kk) * P + p) * Q + q0;
        for (int v = 0; v < 2; v++) {
            float8 o = acc[kk][v] + (float8)(add);
            if (relu)
                o = select(o, (float8)(0.0f), o < (float8)(0.0f)); /* NaN stays NaN */
            int left = Q - q0 - 8 * v;
            if (left >= 8) {
                vstore8(o, 0, out + 8 * v);
            } else {
                float t[8];
                vstore8(o, 0, t);
                for (int i = 0; i < left; i++)
                    out[8 * v + i] = t[i];
            }
        }
    }
}
