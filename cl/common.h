/* Shared by every clt kernel program (prepended after the generated
 * #defines: CLT_DEVICE_IS_CPU, CLT_DEVICE_IS_GPU, ...). OpenCL C 1.2. */

/* Kernels index with int: the host checks every extent fits. Global sizes
 * are rounded up to the local size, so each kernel bounds-checks its ids. */
#define CLT_GID(d) ((int)get_global_id(d))

/* p[0], p[2], ..., p[14]. Two vload8 joined: vload16, which compiles to the
 * same instructions, draws a compiler warning on 256-bit CPUs (a float16
 * return's ABI) at every cold build. */
static float8 clt_even8(const __global float *p)
{
    return ((float16)(vload8(0, p), vload8(1, p))).even;
}

/* The CPU kernels' row gather (DIRECT's band copy, im2col_rows):
 * dst[col] = row[w0 + col sw] for col < wp, zero where that is outside the
 * row's W columns; vector copies in between at stride 1 and 2 (element by
 * element with a test each, the copy took 15% of a stride-2 3x3 layer's
 * time on PoCL). Reads stay inside the row. */
static void clt_copy_row(const __global float *row, int W, int w0, int sw, int wp,
                         __global float *dst)
{
    int lo = min(wp, w0 >= 0 ? 0 : (sw - 1 - w0) / sw);
    int hi = W - 1 - w0 < 0 ? 0 : min(wp, (W - 1 - w0) / sw + 1);
    int col = 0;
    for (; col < lo; col++)
        dst[col] = 0.0f;
    if (sw == 1)
        for (; col + 8 <= hi; col += 8)
            vstore8(vload8(0, row + w0 + col), 0, dst + col);
    else if (sw == 2)
        for (; col + 8 <= hi && w0 + 2 * col + 16 <= W; col += 8)
            vstore8(clt_even8(row + w0 + 2 * col), 0, dst + col);
    for (; col < hi; col++)
        dst[col] = row[w0 + col * sw];
    for (; col < wp; col++)
        dst[col] = 0.0f;
}
