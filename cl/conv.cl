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
