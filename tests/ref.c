#include "ref.h"

#include <math.h>
#include <stdlib.h>

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

void ref_conv_out_hw(const ref_conv *d, int *p, int *q)
{
    *p = (d->h + 2 * d->pad_h - d->dil_h * (d->r - 1) - 1) / d->stride_h + 1;
    *q = (d->w + 2 * d->pad_w - d->dil_w * (d->s - 1) - 1) / d->stride_w + 1;
}

/* x at (n, c, h, w) with zero padding outside. */
static double x_at(const ref_conv *d, const float *x, int n, int c, int h, int w)
{
    if (h < 0 || h >= d->h || w < 0 || w >= d->w)
        return 0.0;
    return x[((size_t)(n * d->c + c) * d->h + h) * d->w + w];
}

void ref_conv2d_forward(const ref_conv *d, const float *x, const float *w, const float *bias,
                        int relu, double *y)
{
    int p_out, q_out;
    ref_conv_out_hw(d, &p_out, &q_out);
    int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int p = 0; p < p_out; p++)
                for (int q = 0; q < q_out; q++) {
                    int g = k / kg;
                    double acc = bias ? bias[k] : 0.0;
                    for (int c = 0; c < cg; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int h = p * d->stride_h - d->pad_h + r * d->dil_h;
                                int ww = q * d->stride_w - d->pad_w + s * d->dil_w;
                                double wv = w[((size_t)(k * cg + c) * d->r + r) * d->s + s];
                                acc += wv * x_at(d, x, n, g * cg + c, h, ww);
                            }
                    if (relu && acc < 0)
                        acc = 0;
                    y[((size_t)(n * d->k + k) * p_out + p) * q_out + q] = acc;
                }
}

void ref_im2col(const ref_conv *d, const float *x, double *col)
{
    int p_out, q_out;
    ref_conv_out_hw(d, &p_out, &q_out);
    size_t ncols = (size_t)d->n * p_out * q_out;
    for (int c = 0; c < d->c; c++)
        for (int r = 0; r < d->r; r++)
            for (int s = 0; s < d->s; s++) {
                size_t row = ((size_t)c * d->r + r) * d->s + s;
                for (int n = 0; n < d->n; n++)
                    for (int p = 0; p < p_out; p++)
                        for (int q = 0; q < q_out; q++) {
                            int h = p * d->stride_h - d->pad_h + r * d->dil_h;
                            int w = q * d->stride_w - d->pad_w + s * d->dil_w;
                            size_t j = ((size_t)n * p_out + p) * q_out + q;
                            col[row * ncols + j] = x_at(d, x, n, c, h, w);
                        }
            }
}

/* Calls f(n, k, p, q, c_in_group... ) for every (output, kernel tap) pair
 * that reads an input inside the image: the one loop nest the backward
 * references share. */
typedef void (*tap_fn)(const ref_conv *d, int n, int k, int p, int q, int c, int r, int s,
                       size_t xi, size_t wi, size_t yi, void *user);

static void for_each_tap(const ref_conv *d, tap_fn f, void *user)
{
    int po, qo;
    ref_conv_out_hw(d, &po, &qo);
    int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int p = 0; p < po; p++)
                for (int q = 0; q < qo; q++)
                    for (int c = 0; c < cg; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int h = p * d->stride_h - d->pad_h + r * d->dil_h;
                                int w = q * d->stride_w - d->pad_w + s * d->dil_w;
                                if (h < 0 || h >= d->h || w < 0 || w >= d->w)
                                    continue;
                                int cin = (k / kg) * cg + c;
                                size_t xi = ((size_t)(n * d->c + cin) * d->h + h) * d->w + w;
                                size_t wi = ((size_t)(k * cg + c) * d->r + r) * d->s + s;
                                size_t yi = ((size_t)(n * d->k + k) * po + p) * qo + q;
                                f(d, n, k, p, q, c, r, s, xi, wi, yi, user);
                            }
}

typedef struct bwd_ctx {
    const float *a, *b;
    double *out;
} bwd_ctx;

static void tap_data(const ref_conv *d, int n, int k, int p, int q, int c, int r, int s, size_t xi,
                     size_t wi, size_t yi, void *user)
{
    (void)d, (void)n, (void)k, (void)p, (void)q, (void)c, (void)r, (void)s;
    bwd_ctx *b = user; /* a = dy, b = w */
    b->out[xi] += (double)b->a[yi] * b->b[wi];
}

static void tap_weights(const ref_conv *d, int n, int k, int p, int q, int c, int r, int s,
                        size_t xi, size_t wi, size_t yi, void *user)
{
    (void)d, (void)n, (void)k, (void)p, (void)q, (void)c, (void)r, (void)s;
    bwd_ctx *b = user; /* a = x, b = dy */
    b->out[wi] += (double)b->a[xi] * b->b[yi];
}

void ref_conv2d_backward_data(const ref_conv *d, const float *dy, const float *w, double *dx)
{
    size_t nx = (size_t)d->n * d->c * d->h * d->w;
    for (size_t i = 0; i < nx; i++)
        dx[i] = 0;
    bwd_ctx b = {dy, w, dx};
    for_each_tap(d, tap_data, &b);
}

void ref_conv2d_backward_weights(const ref_conv *d, const float *x, const float *dy, double *dw,
                                 double *dbias)
{
    size_t nw = (size_t)d->k * (d->c / d->groups) * d->r * d->s;
    for (size_t i = 0; i < nw; i++)
        dw[i] = 0;
    bwd_ctx b = {x, dy, dw};
    for_each_tap(d, tap_weights, &b);
    if (!dbias)
        return;
    int po, qo;
    ref_conv_out_hw(d, &po, &qo);
    for (int k = 0; k < d->k; k++) {
        dbias[k] = 0;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < po * qo; i++)
                dbias[k] += dy[((size_t)n * d->k + k) * po * qo + i];
    }
}

void ref_col2im(const ref_conv *d, const float *col, double *x)
{
    int po, qo;
    ref_conv_out_hw(d, &po, &qo);
    size_t ncols = (size_t)d->n * po * qo, nx = (size_t)d->n * d->c * d->h * d->w;
    for (size_t i = 0; i < nx; i++)
        x[i] = 0;
    for (int c = 0; c < d->c; c++)
        for (int r = 0; r < d->r; r++)
            for (int s = 0; s < d->s; s++)
                for (int n = 0; n < d->n; n++)
                    for (int p = 0; p < po; p++)
                        for (int q = 0; q < qo; q++) {
                            int h = p * d->stride_h - d->pad_h + r * d->dil_h;
                            int w = q * d->stride_w - d->pad_w + s * d->dil_w;
                            if (h < 0 || h >= d->h || w < 0 || w >= d->w)
                                continue;
                            size_t row = ((size_t)c * d->r + r) * d->s + s;
                            size_t j = ((size_t)n * po + p) * qo + q;
                            x[((size_t)(n * d->c + c) * d->h + h) * d->w + w] +=
                                col[row * ncols + j];
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

/* ---- training-step ops ---- */

void ref_bias_add(int n, int c, int hw, const float *y, const float *bias, double *out)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < hw; p++) {
                size_t at = ((size_t)i * c + ch) * hw + p;
                out[at] = (double)y[at] + bias[ch];
            }
}

void ref_bias_backward(int n, int c, int hw, const float *dy, double *dbias)
{
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < hw; p++)
                s += dy[((size_t)i * c + ch) * hw + p];
        dbias[ch] = s;
    }
}

void ref_relu_forward(size_t count, const float *x, double *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
}

void ref_relu_backward(size_t count, const float *y, const float *dy, double *dx)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0;
}

void ref_linear_forward(int batch, int in, int out, const float *x, const float *w, const float *b,
                        double *y)
{
    for (int i = 0; i < batch; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int k = 0; k < in; k++)
                s += (double)x[(size_t)i * in + k] * w[(size_t)o * in + k];
            y[(size_t)i * out + o] = s;
        }
}

void ref_linear_backward(int batch, int in, int out, const float *x, const float *w,
                         const float *dy, double *dx, double *dw, double *db)
{
    for (int i = 0; dx && i < batch; i++)
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int o = 0; o < out; o++)
                s += (double)dy[(size_t)i * out + o] * w[(size_t)o * in + k];
            dx[(size_t)i * in + k] = s;
        }
    for (int o = 0; dw && o < out; o++)
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int i = 0; i < batch; i++)
                s += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + k];
            dw[(size_t)o * in + k] = s;
        }
    for (int o = 0; db && o < out; o++) {
        double s = 0;
        for (int i = 0; i < batch; i++)
            s += dy[(size_t)i * out + o];
        db[o] = s;
    }
}

/* logsumexp of one row, with the maximum taken out first. */
static double row_lse(int classes, const double *z)
{
    double m = z[0];
    for (int j = 1; j < classes; j++)
        m = z[j] > m ? z[j] : m;
    double s = 0;
    for (int j = 0; j < classes; j++)
        s += exp(z[j] - m);
    return m + log(s);
}

/* Softmax of each row and the mean loss, all in double. */
double ref_softmax_ce_forward_d(int batch, int classes, const double *logits, const int *labels,
                                double *probs)
{
    double total = 0;
    for (int i = 0; i < batch; i++) {
        const double *z = logits + (size_t)i * classes;
        double lse = row_lse(classes, z);
        for (int j = 0; probs && j < classes; j++)
            probs[(size_t)i * classes + j] = exp(z[j] - lse);
        int l = labels[i];
        total += (l >= 0 && l < classes) ? lse - z[l] : NAN;
    }
    return total / batch;
}

static double *widen(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; d && i < n; i++)
        d[i] = x[i];
    return d;
}

double ref_softmax_ce_forward(int batch, int classes, const float *logits, const int *labels,
                              double *probs)
{
    double *z = widen(logits, (size_t)batch * classes);
    double loss = z ? ref_softmax_ce_forward_d(batch, classes, z, labels, probs) : NAN;
    free(z);
    return loss;
}

void ref_softmax_ce_backward(int batch, int classes, const float *logits, const int *labels,
                             double *dlogits)
{
    size_t n = (size_t)batch * classes;
    double *p = malloc(n * sizeof *p);
    if (!p)
        return;
    ref_softmax_ce_forward(batch, classes, logits, labels, p);
    for (int i = 0; i < batch; i++) {
        int l = labels[i];
        for (int j = 0; j < classes; j++) {
            size_t at = (size_t)i * classes + j;
            dlogits[at] = (l >= 0 && l < classes) ? (p[at] - (j == l)) / batch : 0;
        }
    }
    free(p);
}

double ref_mse_forward_d(size_t count, const double *pred, const float *target)
{
    double s = 0;
    for (size_t i = 0; i < count; i++)
        s += (pred[i] - target[i]) * (pred[i] - target[i]);
    return s / (double)count;
}

double ref_mse_forward(size_t count, const float *pred, const float *target)
{
    double s = 0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return s / (double)count;
}

void ref_mse_backward(size_t count, const float *pred, const float *target, double *dpred)
{
    for (size_t i = 0; i < count; i++)
        dpred[i] = 2.0 * ((double)pred[i] - target[i]) / (double)count;
}

void ref_sgd_momentum_step(size_t count, double *param, const float *grad, double *velocity,
                           double lr, double momentum, double weight_decay)
{
    for (size_t i = 0; i < count; i++) {
        double g = grad[i] + weight_decay * param[i];
        velocity[i] = momentum * velocity[i] + g;
        param[i] -= lr * velocity[i];
    }
}
