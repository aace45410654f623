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
