/* Host reference implementations in double precision, written for clarity
 * (straight loops over the definitions), independent of clt's kernels. */
#ifndef CLT_REF_H
#define CLT_REF_H

#include <stddef.h>

/* Row-major C = alpha * op(A) op(B) + beta * C, with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const float *a,
              size_t lda, const float *b, size_t ldb, double beta, const float *c_in, double *c_out,
              size_t ldc);

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
