/* Kernels shared by the GEMM-based convolution algorithms. */

/* y[n, k, pq] = act(src[k * k_stride + n * n_stride + pq] + bias[k]): a
 * K x (nb*PQ) GEMM result into NCHW, or bias and activation in place when
 * src addresses the same elements of y (each item reads what it writes). */
__kernel void conv_epilogue(__global const float *src, int src_off, int k_stride, int n_stride,
                            __global float *y, int y_off,
                            __global const float *bias, int bias_off, int has_bias, int relu,
                            int K, int PQ, int nb)
{
    int pq = CLT_GID(0), k = CLT_GID(1), n = CLT_GID(2);
    if (pq >= PQ || k >= K || n >= nb)
        return;
    float v = src[src_off + k * k_stride + n * n_stride + pq];
    if (has_bias)
        v += bias[bias_off + k];
    if (relu)
        v = v < 0.0f ? 0.0f : v; /* NaN stays NaN, as in frameworks */
    y[y_off + (n * K + k) * PQ + pq] = v;
}

/* dst[k, n*PQ + pq] = y[n, k, pq]: NCHW into the K x (nb*PQ) matrix the
 * backward GEMMs take (the epilogue's reshape, reversed). */
__kernel void conv_gather(__global const float *y, int y_off, __global float *dst, int dst_off,
                          int K, int PQ, int nb)
{
    int pq = CLT_GID(0), k = CLT_GID(1), n = CLT_GID(2);
    if (pq >= PQ || k >= K || n >= nb)
        return;
    dst[dst_off + k * (nb * PQ) + n * PQ + pq] = y[y_off + (n * K + k) * PQ + pq];
}

/* wt[c, k, R-1-r, S-1-s] = w[k, c, r, s] (groups 1): the filters of the
 * convolution that computes a stride-1 convolution's backward-data pass. */
__kernel void conv_flip_weights(__global const float *w, int w_off, __global float *wt, int wt_off,
                                int K, int C, int RS)
{
    int i = CLT_GID(0), c = CLT_GID(1), k = CLT_GID(2);
    if (i >= RS || c >= C || k >= K)
        return;
    wt[wt_off + (c * K + k) * RS + (RS - 1 - i)] = w[w_off + (k * C + c) * RS + i];
}
