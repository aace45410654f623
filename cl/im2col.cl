/* Batched im2col: one work-item per (column, channel) writes the kernel_h *
 * kernel_w rows of its channel in that column. Columns run over (n, p, q)
 * so neighbouring work-items write neighbouring addresses. */

__kernel void im2col(__global const float *x, int x_off, __global float *col, int col_off,
                     int nb, int C, int H, int W, int R, int S, int pad_h, int pad_w,
                     int stride_h, int stride_w, int dil_h, int dil_w, int P, int Q)
{
    int j = CLT_GID(0), c = CLT_GID(1);
    int ncols = nb * P * Q;
    if (j >= ncols || c >= C)
        return;
    int n = j / (P * Q), pq = j - n * (P * Q);
    int p = pq / Q, q = pq - p * Q;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    __global float *dst = col + col_off + (c * R * S) * ncols + j;
    int h0 = p * stride_h - pad_h, w0 = q * stride_w - pad_w;
    for (int r = 0; r < R; r++) {
        int h = h0 + r * dil_h;
        bool hin = h >= 0 && h < H;
        for (int s = 0; s < S; s++) {
            int w = w0 + s * dil_w;
            dst[(r * S + s) * ncols] = (hin && w >= 0 && w < W) ? xc[h * W + w] : 0.0f;
        }
    }
}
