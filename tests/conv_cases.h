/* Convolution cases shared by the forward and backward suites: the
 * hand-picked edges and a random sweep over the parameters. */
#ifndef CLT_CONV_CASES_H
#define CLT_CONV_CASES_H

#include "ref.h"
#include "testutil.h"

clt_conv2d_desc cc_desc(const ref_conv *r);
/* "direct n2 c3 ..." for messages. */
void cc_describe(const ref_conv *r, clt_conv_algo algo, char *out, size_t cap);
/* Hand-picked cases: each algorithm's home ground and the edges. */
extern const ref_conv cc_edge_cases[];
extern const int cc_edge_count;
/* A random valid case: kernels 1-7 and non-square, stride 1-3, pad 0-3,
 * dilation 1-2, groups 1, 2 and depthwise (with multipliers), N 1-3, odd
 * sizes, channel counts that are not multiples of 4. */
ref_conv cc_random_case(uint64_t *s);

#define CC_ALGOS                                                                                   \
    {                                                                                              \
        CLT_CONV_ALGO_DIRECT, CLT_CONV_ALGO_IM2COL_GEMM, CLT_CONV_ALGO_GEMM_1X1,                   \
            CLT_CONV_ALGO_WINOGRAD_F2X3, CLT_CONV_ALGO_WINOGRAD_F4X3, CLT_CONV_ALGO_AUTO           \
    }

/* The rounding an algorithm adds to a plain sum of products, as a factor
 * for tolerances: 0 where integer inputs stay exact (direct, GEMMs), 1 for
 * Winograd F(2,3)'s halves, 8 for F(4,3)'s sixths and 24ths and its larger
 * transform entries (up to 8). */
static inline double cc_rounding(clt_conv_algo algo)
{
    return algo == CLT_CONV_ALGO_WINOGRAD_F2X3 ? 1 : algo == CLT_CONV_ALGO_WINOGRAD_F4X3 ? 8 : 0;
}

/* The same for what algo runs on ctx: AUTO's choice for pass op of d (on
 * GPUs Winograd F(4,3) for 3x3, on PoCL GEMMs). */
double cc_rounding_on(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                      clt_conv_algo algo);

#endif
