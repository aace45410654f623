/* Element-wise kernels over flat float arrays. */

__kernel void fill(__global float *y, int y_off, int n, float value)
{
    int i = CLT_GID(0);
    if (i < n)
        y[y_off + i] = value;
}
