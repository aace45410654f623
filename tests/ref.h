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
