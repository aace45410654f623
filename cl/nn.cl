/* Kernels of the small training-step ops: bias, ReLU, losses, SGD.
 * Every reduction is one work-item per output summing in a fixed order: the
 * results are the same run to run on any device, with no local memory, no
 * barriers and no atomics. Offsets count elements. */

/* y[plane, p] += bias[plane % c] over n*c planes of hw positions; dimension 0
 * runs over positions, dimension 1 over planes (no division per element). */
__kernel void bias_add(__global float *y, int y_off, __global const float *bias, int b_off, int c,
                       int hw, int planes)
{
    int p = CLT_GID(0), plane = CLT_GID(1);
    if (p < hw && plane < planes)
        y[y_off + plane * hw + p] += bias[b_off + plane % c];
}

/* dbias[ch] = sum over n and hw of dy[n, ch, hw], in two passes that keep
 * the rounding error near that of hw + n additions rather than n * hw:
 * each plane summed on its own (one work-item per plane: n * c of them, where
 * one per channel left most of a GPU, and of PoCL's cores, idle), then the
 * planes of a channel in order of n. */
__kernel void bias_plane_sums(__global const float *dy, int dy_off, __global float *sums,
                              int planes, int hw)
{
    int plane = CLT_GID(0);
    if (plane >= planes)
        return;
    __global const float *p = dy + dy_off + plane * hw;
    float s = 0.0f;
    for (int i = 0; i < hw; i++)
        s += p[i];
    sums[plane] = s;
}

__kernel void bias_backward(__global const float *sums, __global float *dbias, int db_off, int n,
                            int c)
{
    int ch = CLT_GID(0);
    if (ch >= c)
        return;
    float total = 0.0f;
    for (int i = 0; i < n; i++)
        total += sums[i * c + ch];
    dbias[db_off + ch] = total;
}

/* y = max(0, x); NaN stays NaN so that a diverging network shows. y may be x. */
__kernel void relu_forward(__global const float *x, int x_off, __global float *y, int y_off,
                           int count)
{
    int i = CLT_GID(0);
    if (i < count) {
        float v = x[x_off + i];
        y[y_off + i] = v < 0.0f ? 0.0f : v;
    }
}

/* dx = dy where the forward output y > 0, else 0. dx may be dy or y. */
__kernel void relu_backward(__global const float *y, int y_off, __global const float *dy,
                            int dy_off, __global float *dx, int dx_off, int count)
{
    int i = CLT_GID(0);
    if (i < count)
        dx[dx_off + i] = y[y_off + i] > 0.0f ? dy[dy_off + i] : 0.0f;
}

/* The row's maximum and sum of exp(z - max): softmax is exp(z - max) / sum
 * and logsumexp is max + log(sum), both without overflow. */
static void row_stats(__global const float *z, int classes, float *max_out, float *sum_out)
{
    float m = z[0];
    for (int j = 1; j < classes; j++)
        m = fmax(m, z[j]);
    float s = 0.0f;
    for (int j = 0; j < classes; j++)
        s += exp(z[j] - m);
    *max_out = m;
    *sum_out = s;
}

/* One work-item per row: row_loss[r] = logsumexp(z) - z[label], NaN for a
 * label outside [0, classes) (never used as an index then). With write_probs,
 * probs receives the softmax; it may be the logits themselves, since the row
 * is read before it is written. */
__kernel void softmax_ce_rows(__global const float *logits, int l_off, __global const int *labels,
                              int lab_off, __global float *row_loss, __global float *probs,
                              int p_off, int write_probs, int batch, int classes)
{
    int r = CLT_GID(0);
    if (r >= batch)
        return;
    __global const float *z = logits + l_off + r * classes;
    float m, s;
    row_stats(z, classes, &m, &s);
    int label = labels[lab_off + r];
    bool valid = label >= 0 && label < classes;
    row_loss[r] = valid ? log(s) + (m - z[label]) : NAN;
    if (write_probs) {
        __global float *q = probs + p_off + r * classes;
        for (int j = 0; j < classes; j++)
            q[j] = exp(z[j] - m) / s;
    }
}

/* dlogits = (softmax(z) - onehot(label)) / batch, one work-item per row; a
 * row with an out-of-range label gets zeros. dlogits may be the logits. */
__kernel void softmax_ce_backward(__global const float *logits, int l_off,
                                  __global const int *labels, int lab_off, __global float *dlogits,
                                  int d_off, int batch, int classes)
{
    int r = CLT_GID(0);
    if (r >= batch)
        return;
    __global const float *z = logits + l_off + r * classes;
    __global float *d = dlogits + d_off + r * classes;
    float m, s;
    row_stats(z, classes, &m, &s);
    int label = labels[lab_off + r];
    bool valid = label >= 0 && label < classes;
    float fb = (float)batch;
    for (int j = 0; j < classes; j++) {
        float p = exp(z[j] - m) / s;
        d[j] = valid ? (p - (j == label ? 1.0f : 0.0f)) / fb : 0.0f;
    }
}

/* partial[g] = sum of (pred - target)^2 over the g-th chunk of `chunk`
 * elements (the last one shorter). */
__kernel void sq_diff_partial(__global const float *pred, int p_off, __global const float *target,
                              int t_off, __global float *partial, int count, int chunk)
{
    int g = CLT_GID(0);
    int begin = g * chunk; /* g <= (count - 1) / chunk: no overflow */
    if (begin >= count)
        return;
    int end = count - begin < chunk ? count : begin + chunk;
    float s = 0.0f;
    for (int i = begin; i < end; i++) {
        float d = pred[p_off + i] - target[t_off + i];
        s += d * d;
    }
    partial[g] = s;
}

/* out[0] = (values[0] + ... + values[n-1]) / divisor, by one work-item in
 * index order: the second stage of every mean. */
__kernel void mean_in_order(__global const float *values, int n, float divisor, __global float *out,
                            int out_off)
{
    if (CLT_GID(0) != 0)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += values[i];
    out[out_off] = s / divisor;
}

/* dpred = (pred - target) * scale, scale = 2 / count. dpred may be either input. */
__kernel void mse_backward(__global const float *pred, int p_off, __global const float *target,
                           int t_off, __global float *dpred, int d_off, int count, float scale)
{
    int i = CLT_GID(0);
    if (i < count)
        dpred[d_off + i] = (pred[p_off + i] - target[t_off + i]) * scale;
}

/* PyTorch's SGD step with momentum (dampening 0, no Nesterov):
 * g = grad + wd * param; v = momentum * v + g; param -= lr * v.
 * With momentum 0 the old velocity is not read (as PyTorch keeps no buffer),
 * with wd 0 the parameter is not added (0 * inf would be NaN). */
__kernel void sgd_momentum(__global float *param, int p_off, __global const float *grad, int g_off,
                           __global float *velocity, int v_off, int count, float lr, float momentum,
                           float wd)
{
    int i = CLT_GID(0);
    if (i >= count)
        return;
    float p = param[p_off + i];
    float g = grad[g_off + i];
    if (wd != 0.0f)
        g += wd * p;
    float v = momentum != 0.0f ? momentum * velocity[v_off + i] + g : g;
    velocity[v_off + i] = v;
    param[p_off + i] = p - lr * v;
}
