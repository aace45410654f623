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
