/* The reduction step of clt__gemm_sum (gemm_sum.c). */

/* c_g[i, j] = alpha * (sum over p of part[g, p, i, j]) + beta * c_g[i, j],
 * part holding `parts` m x n partial products per batch item g, added in
 * order (the same result every run). beta 0 never reads c. Dimension 0
 * runs over j, 1 over i, 2 over g. */
__kernel void gemm_sum_parts(__global const float *part, int parts, int m, int n,
                             __global float *c, int c_off, int ldc, int c_stride, float alpha,
                             float beta, int batch)
{
    int j = CLT_GID(0), i = CLT_GID(1), g = CLT_GID(2);
    if (j >= n || i >= m || g >= batch)
        return;
    int mn = m * n;
    __global const float *p = part + g * parts * mn + i * n + j;
    float s = 0.0f;
    for (int k = 0; k < parts; k++)
        s += p[k * mn];
    int at = c_off + g * c_stride + i * ldc + j;
    c[at] = beta == 0.0f ? alpha * s : alpha * s + beta * c[at];
}
