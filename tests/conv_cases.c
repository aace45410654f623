#include "conv_cases.h"

#include <stdio.h>

clt_conv2d_desc cc_desc(const ref_conv *r)
{
    return (clt_conv2d_desc){.n = r->n,
                             .c = r->c,
                             .h = r->h,
                             .w = r->w,
                             .k = r->k,
                             .kernel_h = r->r,
                             .kernel_w = r->s,
                             .pad_h = r->pad_h,
                             .pad_w = r->pad_w,
                             .stride_h = r->stride_h,
                             .stride_w = r->stride_w,
                             .dilation_h = r->dil_h,
                             .dilation_w = r->dil_w,
                             .groups = r->groups};
}

void cc_describe(const ref_conv *r, clt_conv_algo algo, char *out, size_t cap)
{
    snprintf(out, cap,
             "%s n%d c%d h%d w%d k%d kernel %dx%d pad %d,%d stride %d,%d dil %d,%d groups %d",
             clt_conv_algo_name(algo), r->n, r->c, r->h, r->w, r->k, r->r, r->s, r->pad_h, r->pad_w,
             r->stride_h, r->stride_w, r->dil_h, r->dil_w, r->groups);
}

const ref_conv cc_edge_cases[] = {
    /* n  c   h   w   k  r  s  ph pw sh sw dh dw g */
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1},      /* everything 1 */
    {2, 3, 5, 7, 5, 1, 1, 0, 0, 1, 1, 1, 1, 1},      /* 1x1 */
    {3, 6, 4, 3, 10, 1, 1, 0, 0, 1, 1, 1, 1, 2},     /* 1x1 grouped */
    {2, 5, 9, 7, 7, 1, 1, 0, 0, 2, 2, 1, 1, 1},      /* 1x1 strided: not GEMM_1X1 */
    {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},      /* 3x3 same */
    {3, 7, 6, 6, 9, 3, 3, 0, 0, 1, 1, 1, 1, 1},      /* 3x3 valid, even output */
    {1, 5, 5, 8, 3, 3, 3, 2, 3, 1, 1, 1, 1, 1},      /* 3x3 big pads */
    {2, 17, 11, 13, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1},  /* Winograd, odd sizes */
    {1, 2, 3, 3, 3, 3, 3, 0, 0, 1, 1, 1, 1, 1},      /* 1x1 output */
    {2, 3, 9, 9, 4, 5, 5, 2, 2, 1, 1, 1, 1, 1},      /* 5x5 */
    {1, 3, 13, 11, 5, 7, 7, 3, 3, 2, 2, 1, 1, 1},    /* 7x7 stride 2 pad 3 */
    {2, 3, 8, 9, 5, 1, 3, 0, 1, 1, 1, 1, 1, 1},      /* non-square 1x3 */
    {2, 4, 9, 7, 6, 3, 2, 1, 0, 2, 1, 1, 2, 2},      /* non-square, mixed */
    {3, 5, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5},      /* depthwise */
    {2, 3, 8, 7, 6, 3, 3, 1, 1, 2, 2, 1, 1, 3},      /* channel multiplier 2 */
    {2, 3, 11, 10, 5, 3, 3, 2, 2, 1, 1, 2, 2, 1},    /* dilation 2 */
    {1, 6, 10, 11, 9, 3, 3, 3, 1, 3, 2, 2, 1, 3},    /* stride 3, groups 3 */
    {2, 3, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1},      /* input smaller than the kernel */
    {2, 130, 6, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* C R S past one GEMM k chunk (1024) */
    {8, 4, 13, 11, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* rows in uneven bands (conv_cpu.c) */
    {1, 64, 41, 41, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* bands of 20 rows, the last of 1 */
    {65, 156, 12, 12, 4, 1, 1, 0, 0, 1, 1, 1, 1, 1}, /* weight gradient: units 2 at a time, of 3 */
    {2, 3, 9, 45, 5, 3, 3, 1, 1, 2, 2, 1, 1, 1},     /* stride 2, rows copied 8 at a time */
    {1, 3, 11, 40, 4, 7, 7, 3, 3, 2, 2, 1, 1, 1},    /* 7x7 stride 2 pad 3, likewise */
};

const int cc_edge_count = (int)(sizeof cc_edge_cases / sizeof cc_edge_cases[0]);

static int pick(const int *set, int n, uint64_t *s)
{
    return set[tu_rand(s) % (uint32_t)n];
}

ref_conv cc_random_case(uint64_t *s)
{
    static const int ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {7, 7}, {1, 3}, {3, 1}, {3, 5}, {2, 2}};
    static const int ns[] = {1, 2, 3}, strides[] = {1, 1, 2, 3}, pads[] = {0, 1, 2, 3},
                     dils[] = {1, 1, 2}, sizes[] = {3, 5, 6, 7, 9, 11, 12, 13},
                     chans[] = {1, 2, 3, 5, 6, 7};
    for (;;) {
        ref_conv r;
        int kidx = (int)(tu_rand(s) % 8);
        r.r = ks[kidx][0];
        r.s = ks[kidx][1];
        r.n = pick(ns, 3, s);
        r.h = pick(sizes, 8, s);
        r.w = pick(sizes, 8, s);
        r.stride_h = pick(strides, 4, s);
        r.stride_w = pick(strides, 4, s);
        r.pad_h = pick(pads, 4, s) % (r.r + 1);
        r.pad_w = pick(pads, 4, s) % (r.s + 1);
        r.dil_h = pick(dils, 3, s);
        r.dil_w = pick(dils, 3, s);
        int kind = (int)(tu_rand(s) % 4); /* 0-1 plain, 2 groups 2, 3 depthwise */
        int c = pick(chans, 6, s);
        if (kind <= 1) {
            r.groups = 1;
            r.c = c;
            r.k = pick(chans, 6, s) + 2;
        } else if (kind == 2) {
            r.groups = 2;
            r.c = 2 * c;
            r.k = 2 * pick(chans, 6, s);
        } else {
            r.groups = c;
            r.c = c;
            r.k = c * (1 + (int)(tu_rand(s) % 2)); /* depthwise or multiplier 2 */
        }
        int p, q;
        ref_conv_out_hw(&r, &p, &q);
        if (r.dil_h * (r.r - 1) + 1 <= r.h + 2 * r.pad_h &&
            r.dil_w * (r.s - 1) + 1 <= r.w + 2 * r.pad_w && p >= 1 && q >= 1)
            return r;
    }
}

double cc_rounding_on(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op,
                      clt_conv_algo algo)
{
    if (algo == CLT_CONV_ALGO_AUTO &&
        clt_conv2d_auto_algo(ctx, d, op, &algo, NULL) != CLT_STATUS_SUCCESS)
        return 0;
    return cc_rounding(algo);
}
