/* Host reference implementations in double precision, written for clarity
 * (straight loops over the definitions), independent of clt's kernels. */
#ifndef CLT_REF_H
#define CLT_REF_H

#include <stddef.h>

/* Row-major C = alpha * op(A) op(B) + beta * C, with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha, const float *a,
              size_t lda, const float *b, size_t ldb, double beta, const float *c_in, double *c_out,
              size_t ldc);

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
