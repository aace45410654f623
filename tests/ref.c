#include "ref.h"

#include <math.h>

void ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const float *a,
              size_t lda, const float *b, size_t ldb, double beta, const float *c_in, double *c_out,
              size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0;
            for (size_t p = 0; p < k; p++) {
                double av = trans_a ? a[p * lda + i] : a[i * lda + p];
                double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                acc += av * bv;
            }
            double prior = beta != 0 ? beta * (double)c_in[i * ldc + j] : 0;
            c_out[i * ldc + j] = alpha * acc + prior;
        }
}

/* Pooling: straight from the definitions, walking each window position by
 * position over the padded input (independent of the kernels' clipping). */

int ref_pool_out_size(int in, int k, int s, int p, int ceil_mode)
{
    double q = (double)(in + 2 * p - k) / s;
    int out = (int)(ceil_mode ? ceil(q) : floor(q)) + 1;
    /* PyTorch: the last window must start inside the input or left padding */
    if (ceil_mode && (out - 1) * s >= in + p)
        out--;
    return out;
}

static int ref_pool_oh(const ref_pool *p)
{
    return ref_pool_out_size(p->h, p->kh, p->sh, p->ph, p->ceil_mode);
}

static int ref_pool_ow(const ref_pool *p)
{
    return ref_pool_out_size(p->w, p->kw, p->sw, p->pw, p->ceil_mode);
}

/* Position i of a window along an axis of size n with padding p: 1 inside
 * the input, 0 in the padding, -1 past the padded input (ceil_mode). */
static int ref_pool_where(int i, int n, int p)
{
    if (i >= 0 && i < n)
        return 1;
    return (i >= -p && i < n + p) ? 0 : -1;
}

/* The divisor of average window (oh, ow): its positions inside the padded
 * input with include_pad, else those inside the input. */
static int ref_pool_divisor(const ref_pool *p, int oh, int ow)
{
    int count = 0;
    for (int a = 0; a < p->kh; a++)
        for (int b = 0; b < p->kw; b++) {
            int ih = oh * p->sh - p->ph + a, iw = ow * p->sw - p->pw + b;
            int wh = ref_pool_where(ih, p->h, p->ph), ww = ref_pool_where(iw, p->w, p->pw);
            count += p->include_pad ? (wh >= 0 && ww >= 0) : (wh == 1 && ww == 1);
        }
    return count;
}

/* One output window: the max (first maximum wins ties, a NaN wins over
 * numbers, the last NaN over earlier ones: PyTorch's `v > max || isnan(v)`)
 * with its flat index, or the average. */
static double ref_pool_window(const ref_pool *p, const float *plane, int oh, int ow, int *arg)
{
    double best = -INFINITY, sum = 0;
    int best_at = -1;
    for (int a = 0; a < p->kh; a++)
        for (int b = 0; b < p->kw; b++) {
            int ih = oh * p->sh - p->ph + a, iw = ow * p->sw - p->pw + b;
            if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w)
                continue; /* padding: never the max, adds nothing */
            double v = plane[ih * p->w + iw];
            sum += v;
            if (best_at < 0 || v > best || isnan(v)) {
                best = v;
                best_at = ih * p->w + iw;
            }
        }
    *arg = best_at;
    return p->max ? best : sum / ref_pool_divisor(p, oh, ow);
}

void ref_pool2d_forward(const ref_pool *p, const float *x, double *y, int *argmax)
{
    int oh_n = ref_pool_oh(p), ow_n = ref_pool_ow(p);
    for (int pl = 0; pl < p->n * p->c; pl++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                size_t o = ((size_t)pl * oh_n + oh) * ow_n + ow;
                int arg;
                y[o] = ref_pool_window(p, x + (size_t)pl * p->h * p->w, oh, ow, &arg);
                if (p->max && argmax)
                    argmax[o] = arg;
            }
}

void ref_pool2d_backward(const ref_pool *p, const float *dy, const int *argmax, double *dx)
{
    int oh_n = ref_pool_oh(p), ow_n = ref_pool_ow(p);
    size_t plane = (size_t)p->h * p->w;
    for (size_t i = 0; i < (size_t)p->n * p->c * plane; i++)
        dx[i] = 0;
    for (int pl = 0; pl < p->n * p->c; pl++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                size_t o = ((size_t)pl * oh_n + oh) * ow_n + ow;
                double *d = dx + (size_t)pl * plane;
                if (p->max) {
                    d[argmax[o]] += dy[o];
                    continue;
                }
                int divisor = ref_pool_divisor(p, oh, ow);
                for (int a = 0; a < p->kh; a++)
                    for (int b = 0; b < p->kw; b++) {
                        int ih = oh * p->sh - p->ph + a, iw = ow * p->sw - p->pw + b;
                        if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w)
                            d[ih * p->w + iw] += (double)dy[o] / divisor;
                    }
            }
}
