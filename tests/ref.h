/* Host reference implementations in double precision, written for clarity
 * (straight loops over the definitions), independent of clt's kernels. */
#ifndef CLT_REF_H
#define CLT_REF_H

#include <stddef.h>

/* Row-major C = alpha * op(A) op(B) + beta * C, with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const float *a,
              size_t lda, const float *b, size_t ldb, double beta, const float *c_in, double *c_out,
              size_t ldc);

/* 2-D pooling as PyTorch defines it (dilation 1), strides already defaulted.
 * include_pad is count_include_pad (average only). */
typedef struct ref_pool {
    int n, c, h, w;
    int max; /* 1: max pooling, 0: average */
    int kh, kw, sh, sw, ph, pw, ceil_mode, include_pad;
} ref_pool;

/* Output size along one axis; may be < 1 for an invalid geometry. */
int ref_pool_out_size(int in, int k, int s, int p, int ceil_mode);
/* y (and for max, argmax: flat h*W + w indices into each input plane). */
void ref_pool2d_forward(const ref_pool *p, const float *x, double *y, int *argmax);
/* dx from dy: max scatters through argmax, average spreads dy / divisor over
 * each window. */
void ref_pool2d_backward(const ref_pool *p, const float *dy, const int *argmax, double *dx);
/* ---- training-step ops (outputs in double; absent outputs may be NULL) ---- */

/* out[i, ch, p] = y[i, ch, p] + bias[ch] over n x c x hw. */
void ref_bias_add(int n, int c, int hw, const float *y, const float *bias, double *out);
/* dbias[ch] = sum of dy[i, ch, p] over i and p. */
void ref_bias_backward(int n, int c, int hw, const float *dy, double *dbias);
void ref_relu_forward(size_t count, const float *x, double *y);
void ref_relu_backward(size_t count, const float *y, const float *dy, double *dx);
/* y = x w^T + b (b may be NULL); x batch x in, w out x in. */
void ref_linear_forward(int batch, int in, int out, const float *x, const float *w, const float *b,
                        double *y);
/* dx = dy w, dw = dy^T x, db = column sums of dy; each may be NULL. */
void ref_linear_backward(int batch, int in, int out, const float *x, const float *w,
                         const float *dy, double *dx, double *dw, double *db);
/* Mean softmax cross-entropy of float or double logits (NaN when a label is
 * out of range); probs (may be NULL) receives the softmax. */
double ref_softmax_ce_forward(int batch, int classes, const float *logits, const int *labels,
                              double *probs);
double ref_softmax_ce_forward_d(int batch, int classes, const double *logits, const int *labels,
                                double *probs);
/* dlogits = (softmax - onehot) / batch; zero rows for out-of-range labels. */
void ref_softmax_ce_backward(int batch, int classes, const float *logits, const int *labels,
                             double *dlogits);
double ref_mse_forward(size_t count, const float *pred, const float *target);
double ref_mse_forward_d(size_t count, const double *pred, const float *target);
void ref_mse_backward(size_t count, const float *pred, const float *target, double *dpred);
/* One SGD-with-momentum step on double state (PyTorch semantics). */
void ref_sgd_momentum_step(size_t count, double *param, const float *grad, double *velocity,
                           double lr, double momentum, double weight_decay);

#endif

/* The convolution geometry, mirroring clt_conv2d_desc. */
typedef struct ref_conv {
    int n, c, h, w, k, r, s, pad_h, pad_w, stride_h, stride_w, dil_h, dil_w, groups;
} ref_conv;

void ref_conv_out_hw(const ref_conv *d, int *p, int *q);
/* y = conv(x, w) + bias (bias may be NULL), then ReLU if relu. */
void ref_conv2d_forward(const ref_conv *d, const float *x, const float *w, const float *bias,
                        int relu, double *y);
/* col (C R S) x (N P Q), row (c, r, s), column (n, p, q). */
void ref_im2col(const ref_conv *d, const float *x, double *col);
/* dx = the gradient of sum(dy * conv(x, w)) with respect to x. */
void ref_conv2d_backward_data(const ref_conv *d, const float *dy, const float *w, double *dx);
/* dw likewise with respect to w; dbias (may be NULL) = dy summed over n, p, q. */
void ref_conv2d_backward_weights(const ref_conv *d, const float *x, const float *dy, double *dw,
                                 double *dbias);
/* x (overwritten) = the sum of the patches of col, im2col's adjoint. */
void ref_col2im(const ref_conv *d, const float *col, double *x);
