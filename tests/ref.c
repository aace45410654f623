#include "ref.h"

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
