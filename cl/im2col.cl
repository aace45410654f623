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

/* Batched col2im as a gather: each x element sums, in a fixed order, the
 * column entries that im2col copied from it. No atomics; overwrites x. */
__kernel void col2im(__global const float *col, int col_off, __global float *x, int x_off, int nb,
                     int C, int H, int W, int R, int S, int pad_h, int pad_w, int stride_h,
                     int stride_w, int dil_h, int dil_w, int P, int Q)
{
    int hw = CLT_GID(0), c = CLT_GID(1), n = CLT_GID(2);
    if (hw >= H * W || c >= C || n >= nb)
        return;
    int h = hw / W, w = hw - h * W;
    int ncols = nb * P * Q;
    __global const float *src = col + col_off + (c * R * S) * ncols + n * P * Q;
    float acc = 0.0f;
    for (int r = 0; r < R; r++) {
        int ph = h + pad_h - r * dil_h; /* = p * stride_h when this row is hit */
        if (ph < 0 || ph % stride_h)
            continue;
        int p = ph / stride_h;
        if (p >= P)
            continue;
        for (int s = 0; s < S; s++) {
            int qw = w + pad_w - s * dil_w;
            if (qw < 0 || qw % stride_w)
                continue;
            int q = qw / stride_w;
            if (q < Q)
                acc += src[(r * S + s) * ncols + p * Q + q];
        }
    }
    x[x_off + (n * C + c) * H * W + hw] = acc;
}

/* im2col for CPU devices: one work-item per (output row p, channel c, image
 * n) writes that row's Q columns for every (r, s): contiguous runs a CPU
 * streams through, copied with common.h's vector row gather (copied element
 * by element, im2col took 18% of a stride-2 3x3 layer's time on PoCL; now
 * 14%). */
__kernel void im2col_rows(__global const float *x, int x_off, __global float *col, int col_off,
                          int nb, int C, int H, int W, int R, int S, int pad_h, int pad_w,
                          int stride_h, int stride_w, int dil_h, int dil_w, int P, int Q)
{
    int p = CLT_GID(0), c = CLT_GID(1), n = CLT_GID(2);
    if (p >= P || c >= C || n >= nb)
        return;
    int ncols = nb * P * Q;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    __global float *dst = col + col_off + (c * R * S) * ncols + (n * P + p) * Q;
    for (int r = 0; r < R; r++) {
        int h = p * stride_h - pad_h + r * dil_h;
        for (int s = 0; s < S; s++, dst += ncols) {
            if (h >= 0 && h < H)
                clt_copy_row(xc + h * W, W, s * dil_w - pad_w, stride_w, Q, dst);
            else
                for (int q = 0; q < Q; q++)
                    dst[q] = 0.0f;
        }
    }
}

/* col2im for CPU devices: one work-item per input row (h, c, n) adds the
 * patches' contributions as contiguous runs, in the same (r, s) order as
 * col2im above, so both give the same bits. The row is the work-item's own:
 * no other work-item writes it. */
__kernel void col2im_rows(__global const float *col, int col_off, __global float *x, int x_off,
                          int nb, int C, int H, int W, int R, int S, int pad_h, int pad_w,
                          int stride_h, int stride_w, int dil_h, int dil_w, int P, int Q)
{
    int h = CLT_GID(0), c = CLT_GID(1), n = CLT_GID(2);
    if (h >= H || c >= C || n >= nb)
        return;
    int ncols = nb * P * Q;
    __global float *dst = x + x_off + ((n * C + c) * H + h) * W;
    for (int w = 0; w < W; w++)
        dst[w] = 0.0f;
    for (int r = 0; r < R; r++) {
        int ph = h + pad_h - r * dil_h;
        if (ph < 0 || ph % stride_h || ph / stride_h >= P)
            continue;
        __global const float *src = col + col_off + (c * R * S + r * S) * ncols +
                                    (n * P + ph / stride_h) * Q;
        for (int s = 0; s < S; s++, src += ncols) {
            int w0 = s * dil_w - pad_w; /* input column of q = 0 */
            int lo = w0 >= 0 ? 0 : (-w0 + stride_w - 1) / stride_w;
            int hi = W - w0 <= 0 ? 0 : min(Q, (W - w0 + stride_w - 1) / stride_w);
            for (int q = lo; q < hi; q++)
                dst[q * stride_w + w0] += src[q];
        }
    }
}
