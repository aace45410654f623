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
