/* 2-D max and average pooling with PyTorch's semantics (dilation 1).
 *
 * Forward: one work-item per output. Backward: one work-item per input
 * element, gathering from the output windows that cover it in a fixed order,
 * so overlapping windows need no atomics and results repeat bit for bit.
 *
 * Every kernel takes the same arguments: `in` and `out` (x and y forward, dy
 * and dx backward), `idx` (argmax; NULL and unused in average mode), `total`
 * work-items, then the geometry: input H x W, output OH x OW, kernel KH x KW,
 * stride SH x SW, padding PH x PW, and include_pad (count_include_pad). */

#define POOL_ARGS                                                                                  \
    __global const float *in, int in_off, __global float *out, int out_off, __global int *idx,     \
        int idx_off, int total, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW,      \
        int PH, int PW, int include_pad

/* The geometry part of POOL_ARGS, for helpers. */
#define POOL_ARGS_GEOM int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW

/* Window o along one axis of input size n: [*lo, *hi) are its positions
 * inside the input; the return value is its extent inside the padded input
 * [-p, n + p), PyTorch's pool_size factor (a ceil_mode window may run past
 * n + p and is clipped there). */
int pool_span(int o, int n, int k, int s, int p, int *lo, int *hi)
{
    int start = o * s - p;
    int end = min(start + k, n + p);
    *lo = max(start, 0);
    *hi = min(end, n);
    return end - start;
}

/* The first window along one axis that covers input position i
 * (start + k > i, i.e. o * s >= i + p - k + 1). */
int pool_first(int i, int k, int s, int p)
{
    int a = i + p - k + 1;
    return a > 0 ? (a + s - 1) / s : 0;
}

/* The last window along one axis that covers input position i (start <= i). */
int pool_last(int i, int s, int p, int n_out)
{
    return min((i + p) / s, n_out - 1);
}

/* The divisor of an average window of padded extent eh x ew whose input part
 * is [h0, h1) x [w0, w1). */
int pool_divisor(int eh, int ew, int h0, int h1, int w0, int w1, int include_pad)
{
    return include_pad ? eh * ew : (h1 - h0) * (w1 - w0);
}

/* NaN by its bits, so that build options such as -cl-finite-math-only
 * cannot fold the test away. */
int pool_isnan(float v)
{
    return (as_uint(v) & 0x7fffffffu) > 0x7f800000u;
}

__kernel void max_forward(POOL_ARGS)
{
    int i = CLT_GID(0);
    if (i >= total)
        return;
    int ow = i % OW, t = i / OW, oh = t % OH, plane = t / OH;
    int h0, h1, w0, w1;
    pool_span(oh, H, KH, SH, PH, &h0, &h1);
    pool_span(ow, W, KW, SW, PW, &w0, &w1);
    const __global float *x = in + in_off + plane * H * W;
    /* padding never wins; ties keep the first maximum; a NaN always wins
     * (PyTorch's `v > best || isnan(v)`), so it propagates */
    float best = -INFINITY;
    int arg = h0 * W + w0;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            float v = x[ih * W + iw];
            if (v > best || pool_isnan(v)) {
                best = v;
                arg = ih * W + iw;
            }
        }
    out[out_off + i] = best;
    idx[idx_off + i] = arg;
}

__kernel void avg_forward(POOL_ARGS)
{
    int i = CLT_GID(0);
    if (i >= total)
        return;
    int ow = i % OW, t = i / OW, oh = t % OH, plane = t / OH;
    int h0, h1, w0, w1;
    int eh = pool_span(oh, H, KH, SH, PH, &h0, &h1);
    int ew = pool_span(ow, W, KW, SW, PW, &w0, &w1);
    const __global float *x = in + in_off + plane * H * W;
    float sum = 0.0f;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++)
            sum += x[ih * W + iw];
    int divisor = pool_divisor(eh, ew, h0, h1, w0, w1, include_pad);
    /* validation guarantees every window meets the input; stay safe anyway */
    out[out_off + i] = (h1 > h0 && w1 > w0) ? sum / (float)divisor : 0.0f;
}

__kernel void max_backward(POOL_ARGS)
{
    int i = CLT_GID(0);
    if (i >= total)
        return;
    int iw = i % W, t = i / W, ih = t % H, plane = t / H;
    int oh0 = pool_first(ih, KH, SH, PH), oh1 = pool_last(ih, SH, PH, OH);
    int ow0 = pool_first(iw, KW, SW, PW), ow1 = pool_last(iw, SW, PW, OW);
    int self = ih * W + iw, base = plane * OH * OW;
    float g = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            int o = base + oh * OW + ow;
            if (idx[idx_off + o] == self)
                g += in[in_off + o];
        }
    out[out_off + i] = g;
}

__kernel void avg_backward(POOL_ARGS)
{
    int i = CLT_GID(0);
    if (i >= total)
        return;
    int iw = i % W, t = i / W, ih = t % H, plane = t / H;
    int oh0 = pool_first(ih, KH, SH, PH), oh1 = pool_last(ih, SH, PH, OH);
    int ow0 = pool_first(iw, KW, SW, PW), ow1 = pool_last(iw, SW, PW, OW);
    const __global float *dy = in + in_off + plane * OH * OW;
    float g = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
        int h0, h1;
        int eh = pool_span(oh, H, KH, SH, PH, &h0, &h1);
        for (int ow = ow0; ow <= ow1; ow++) {
            int w0, w1;
            int ew = pool_span(ow, W, KW, SW, PW, &w0, &w1);
            int divisor = pool_divisor(eh, ew, h0, h1, w0, w1, include_pad);
            g += dy[oh * OW + ow] / (float)divisor;
        }
    }
    out[out_off + i] = g;
}

/* CPU-shaped variants: one work-item per row (an output row forward, an
 * input row backward) walking it left to right, with the arithmetic, the
 * order of the sums and so the results of the kernels above. `total` counts
 * rows. */

/* Eight windows' inputs at column offset `s` (stride SW, first window
 * starting at column c0), all inside the row. */
static float8 pool_gather8(const __global float *row, int c0, int SW)
{
    if (SW == 1)
        return vload8(0, row + c0);
    if (SW == 2)
        return clt_even8(row + c0);
    float v[8];
    for (int i = 0; i < 8; i++)
        v[i] = row[c0 + i * SW];
    return vload8(0, v);
}

/* One window of max_forward_rows, as max_forward computes it. */
static void pool_max_one(const __global float *x, int h0, int h1, int ow, POOL_ARGS_GEOM,
                         __global float *out, __global int *idx)
{
    int w0, w1;
    pool_span(ow, W, KW, SW, PW, &w0, &w1);
    float best = -INFINITY;
    int arg = h0 * W + w0;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            float v = x[ih * W + iw];
            if (v > best || pool_isnan(v)) {
                best = v;
                arg = ih * W + iw;
            }
        }
    out[ow] = best;
    idx[ow] = arg;
}

__kernel void max_forward_rows(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int oh = row % OH, plane = row / OH;
    int h0, h1;
    pool_span(oh, H, KH, SH, PH, &h0, &h1);
    const __global float *x = in + in_off + plane * H * W;
    __global float *y = out + out_off + row * OW;
    __global int *ix = idx + idx_off + row * OW;
    int ow = 0;
    for (; ow < OW && ow * SW - PW < 0; ow++) /* windows clipped on the left */
        pool_max_one(x, h0, h1, ow, H, W, OH, OW, KH, KW, SH, SW, PH, PW, y, ix);
    /* eight whole windows at a time, lane by lane in the same order and by
     * the same rules (the stride-2 load reads one float past the last
     * window, hence the margin) */
    for (; ow + 8 <= OW && (ow + 7) * SW - PW + KW + (SW == 2) <= W; ow += 8) {
        int c0 = ow * SW - PW;
        const int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7) * SW;
        float8 best = (float8)(-INFINITY);
        int8 arg = (int8)(h0 * W + c0) + lane;
        for (int ih = h0; ih < h1; ih++)
            for (int s = 0; s < KW; s++) {
                float8 v = pool_gather8(x + ih * W, c0 + s, SW);
                int8 nan = as_int8(as_uint8(v) & (uint8)(0x7fffffffu)) > (int8)(0x7f800000);
                int8 take = (v > best) | nan;
                best = select(best, v, take);
                arg = select(arg, (int8)(ih * W + c0 + s) + lane, take);
            }
        vstore8(best, 0, y + ow);
        vstore8(arg, 0, ix + ow);
    }
    for (; ow < OW; ow++)
        pool_max_one(x, h0, h1, ow, H, W, OH, OW, KH, KW, SH, SW, PH, PW, y, ix);
}

__kernel void avg_forward_rows(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int oh = row % OH, plane = row / OH;
    int h0, h1;
    int eh = pool_span(oh, H, KH, SH, PH, &h0, &h1);
    const __global float *x = in + in_off + plane * H * W;
    for (int ow = 0; ow < OW; ow++) {
        int w0, w1;
        int ew = pool_span(ow, W, KW, SW, PW, &w0, &w1);
        float sum = 0.0f;
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
                sum += x[ih * W + iw];
        int divisor = pool_divisor(eh, ew, h0, h1, w0, w1, include_pad);
        out[out_off + row * OW + ow] = (h1 > h0 && w1 > w0) ? sum / (float)divisor : 0.0f;
    }
}

__kernel void max_backward_rows(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int ih = row % H, plane = row / H;
    __global float *dx = out + out_off + row * W;
    for (int iw = 0; iw < W; iw++)
        dx[iw] = 0.0f;
    int oh0 = pool_first(ih, KH, SH, PH), oh1 = pool_last(ih, SH, PH, OH);
    int base = plane * OH * OW;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = 0; ow < OW; ow++) {
            int o = base + oh * OW + ow, a = idx[idx_off + o], iw = a - ih * W;
            /* the index must lie in this row and in the window's columns */
            if (iw >= 0 && iw < W && ow >= pool_first(iw, KW, SW, PW) &&
                ow <= pool_last(iw, SW, PW, OW))
                dx[iw] += in[in_off + o];
        }
}

__kernel void avg_backward_rows(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int ih = row % H, plane = row / H;
    __global float *dx = out + out_off + row * W;
    for (int iw = 0; iw < W; iw++)
        dx[iw] = 0.0f;
    int oh0 = pool_first(ih, KH, SH, PH), oh1 = pool_last(ih, SH, PH, OH);
    const __global float *dy = in + in_off + plane * OH * OW;
    for (int oh = oh0; oh <= oh1; oh++) {
        int h0, h1;
        int eh = pool_span(oh, H, KH, SH, PH, &h0, &h1);
        for (int ow = 0; ow < OW; ow++) {
            int w0, w1;
            int ew = pool_span(ow, W, KW, SW, PW, &w0, &w1);
            float g = dy[oh * OW + ow] / (float)pool_divisor(eh, ew, h0, h1, w0, w1, include_pad);
            for (int iw = w0; iw < w1; iw++)
                dx[iw] += g;
        }
    }
}

/* Max pooling's commonest case on CPUs, 2x2 windows at stride 2 without
 * padding, where each input lies in at most one window: forward four
 * windows per vector step from one float8 load per input row; backward
 * eight inputs per step from four gradients and indices. A row that is not
 * a multiple of a step ends with a step overlapping the one before, which
 * recomputes some elements to the same bits. Same arguments and results as
 * max_forward_rows and max_backward_rows. */

static int4 pool_isnan4(float4 v)
{
    return as_int4(as_uint4(v) & (uint4)(0x7fffffffu)) > (int4)(0x7f800000);
}

/* Windows ow..ow + 3 of an output row whose inputs are rows x0, x1 (at
 * plane offsets at0, at1). */
static void max2x2_step(const __global float *x0, const __global float *x1, int at0, int at1,
                        int ow, __global float *y, __global int *ix)
{
    int c0 = 2 * ow;
    float8 r0 = vload8(0, x0 + c0), r1 = vload8(0, x1 + c0);
    int4 col = (int4)(0, 2, 4, 6) + c0;
    /* PyTorch's scan order (0,0), (0,1), (1,0), (1,1); the first needs no
       test: against -INFINITY it wins or ties at its own index */
    float4 v[3] = {r0.odd, r1.even, r1.odd};
    int4 at[3] = {at0 + col + 1, at1 + col, at1 + col + 1};
    float4 best = r0.even;
    int4 arg = at0 + col;
#pragma unroll
    for (int k = 0; k < 3; k++) {
        int4 take = (v[k] > best) | pool_isnan4(v[k]);
        best = select(best, v[k], take);
        arg = select(arg, at[k], take);
    }
    vstore4(best, 0, y + ow);
    vstore4(arg, 0, ix + ow);
}

__kernel void max_forward_2x2(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int oh = row % OH, plane = row / OH;
    const __global float *x = in + in_off + plane * H * W;
    __global float *y = out + out_off + row * OW;
    __global int *ix = idx + idx_off + row * OW;
    int at0 = 2 * oh * W, at1 = at0 + W;
    int ow = 0;
    for (; ow + 4 <= OW; ow += 4)
        max2x2_step(x + at0, x + at1, at0, at1, ow, y, ix);
    if (ow < OW && OW >= 4)
        max2x2_step(x + at0, x + at1, at0, at1, OW - 4, y, ix);
    else
        for (; ow < OW; ow++)
            pool_max_one(x, 2 * oh, 2 * oh + 2, ow, H, W, OH, OW, KH, KW, SH, SW, PH, PW, y, ix);
}

/* Inputs iw..iw + 7 of input row ih from the gradients of output row g. */
static void max2x2_back_step(const __global float *g, const __global int *a, int self0, int iw,
                             __global float *dx)
{
    const uint8 pairs = (uint8)(0, 0, 1, 1, 2, 2, 3, 3);
    float8 d = shuffle(vload4(0, g + iw / 2), pairs);
    int8 at = shuffle(vload4(0, a + iw / 2), pairs);
    int8 self = (int8)(self0 + iw) + (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    /* 0 + d as the general kernel's sum has it (a -0 gradient gives +0) */
    vstore8(select((float8)(0.0f), (float8)(0.0f) + d, at == self), 0, dx + iw);
}

__kernel void max_backward_2x2(POOL_ARGS)
{
    int row = CLT_GID(0);
    if (row >= total)
        return;
    int ih = row % H, plane = row / H, oh = ih / 2, covered = oh < OH ? 2 * OW : 0;
    __global float *dx = out + out_off + row * W;
    const __global float *g = in + in_off + (plane * OH + oh) * OW;
    const __global int *a = idx + idx_off + (plane * OH + oh) * OW;
    int iw = 0;
    for (; iw + 8 <= covered; iw += 8)
        max2x2_back_step(g, a, ih * W, iw, dx);
    if (iw < covered && covered >= 8) {
        max2x2_back_step(g, a, ih * W, covered - 8, dx);
        iw = covered;
    }
    for (; iw < covered; iw++)
        dx[iw] = a[iw / 2] == ih * W + iw ? 0.0f + g[iw / 2] : 0.0f;
    for (; iw < W; iw++) /* past the last window */
        dx[iw] = 0.0f;
}
