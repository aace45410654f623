/* clt__gemm_sum: C = alpha * (a sum of products) + beta * C, the reduction a
 * weight gradient is (dW = sum over images and pixels of dY X^T). A single
 * GEMM spreads only C's few tiles over the device: on a GPU a 64 x 64 dW
 * with a reduction of 10^5 ran at 0.15 TFLOP/s on an H100. So where C is
 * small next to the device, the reduction is cut into slices computed side
 * by side (strided-batched GEMMs into scratch), then added up in order by a
 * kernel. clt's own CPU GEMM already keeps every core busy: there, and where
 * C alone fills the device, the products accumulate one after another. */
#include "internal.h"

#define TILE 64                       /* a GPU GEMM's output tile, roughly */
#define SLICE_MIN 512                 /* shortest reduction worth a GEMM */
#define PART_FLOATS ((size_t)1 << 26) /* at most 256 MiB of partial products */

/* Products one after another, accumulating into C (batched over g->batch). */
static clt_status sum_in_turn(clt_context_t ctx, const clt__gemm_desc *g, size_t terms,
                              size_t a_term, size_t b_term)
{
    for (size_t t = 0; t < terms; t++) {
        clt__gemm_desc one = *g;
        one.a_off += t * a_term;
        one.b_off += t * b_term;
        one.beta = t == 0 ? g->beta : 1.0f;
        CLT__CHECK(clt__gemm_run(ctx, &one));
    }
    return CLT_STATUS_SUCCESS;
}

/* Slices each product's reduction is cut into: enough for the pieces to
 * cover the device twice over, none shorter than SLICE_MIN, and all the
 * partial products within PART_FLOATS. */
static size_t slices_for(clt_context_t ctx, const clt__gemm_desc *g, size_t batch, size_t terms)
{
    size_t tiles = ((g->m + TILE - 1) / TILE) * ((g->n + TILE - 1) / TILE) * batch * terms;
    size_t want = 2 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    size_t s = (want + tiles - 1) / tiles;
    size_t by_len = g->k / SLICE_MIN ? g->k / SLICE_MIN : 1;
    size_t by_mem = PART_FLOATS / (batch * terms * g->m * g->n);
    s = s < by_len ? s : by_len;
    return s < by_mem ? s : by_mem;
}

/* Every (term, slice) product of batch item b into its own partial: one
 * strided-batched GEMM over the longer of the two lists per entry of the
 * shorter. Partials lie [b][term][slice], m x n each. */
static clt_status partials(clt_context_t ctx, const clt__gemm_desc *g, size_t b, size_t terms,
                           size_t a_term, size_t b_term, size_t slices, cl_mem part)
{
    size_t mn = g->m * g->n, len = g->k / slices, rest = g->k - (slices - 1) * len;
    size_t a_k = g->ta == CLT_TRANS ? g->lda : 1, b_k = g->tb == CLT_TRANS ? 1 : g->ldb;
    clt__gemm_desc p = *g;
    p.alpha = 1.0f;
    p.beta = 0.0f;
    p.c = part;
    p.ldc = g->n;
    bool by_term = terms >= slices; /* batched over terms, a call per slice */
    size_t calls = by_term ? slices : terms;
    p.batch = by_term ? terms : slices - 1; /* the last slice may be longer */
    p.a_stride = by_term ? a_term : len * a_k;
    p.b_stride = by_term ? b_term : len * b_k;
    p.c_stride = by_term ? slices * mn : mn;
    for (size_t i = 0; i < calls; i++) {
        size_t t = by_term ? 0 : i, s = by_term ? i : 0;
        p.a_off = g->a_off + b * g->a_stride + t * a_term + s * len * a_k;
        p.b_off = g->b_off + b * g->b_stride + t * b_term + s * len * b_k;
        p.c_off = ((b * terms + t) * slices + s) * mn;
        p.k = by_term && s + 1 == slices ? rest : len;
        if (p.batch)
            CLT__CHECK(clt__gemm_run(ctx, &p));
        if (!by_term) { /* the last slice of term t */
            clt__gemm_desc l = p;
            l.batch = 1;
            l.k = rest;
            l.a_off += (slices - 1) * len * a_k;
            l.b_off += (slices - 1) * len * b_k;
            l.c_off += (slices - 1) * mn;
            CLT__CHECK(clt__gemm_run(ctx, &l));
        }
    }
    return CLT_STATUS_SUCCESS;
}

/* Every product into its own partial in scratch, then their sum into C. */
static clt_status sum_side_by_side(clt_context_t ctx, const clt__gemm_desc *g, size_t batch,
                                   size_t terms, size_t a_term, size_t b_term, size_t slices)
{
    size_t parts = terms * slices;
    cl_mem part;
    CLT__CHECK(
        clt__scratch(ctx, CLT__SCRATCH_GEMM, batch * parts * g->m * g->n * sizeof(float), &part));
    for (size_t b = 0; b < batch; b++)
        CLT__CHECK(partials(ctx, g, b, terms, a_term, b_term, slices, part));
    return clt__sum_parts(ctx, part, parts, g->m, g->n, batch, g->c, g->c_off, g->ldc,
                          g->c_stride, g->alpha, g->beta);
}

clt_status clt__sum_parts(clt_context_t ctx, cl_mem part, size_t parts, size_t m, size_t n,
                          size_t batch, cl_mem c, size_t c_off, size_t ldc, size_t c_stride,
                          float alpha, float beta)
{
    size_t global[3] = {n, m, batch};
    return CLT_LAUNCH(ctx, "gemm_sum", "gemm_sum_parts", 3, global, NULL, CLT_ARG_MEM(part),
                      CLT_ARG_INT(parts), CLT_ARG_INT(m), CLT_ARG_INT(n), CLT_ARG_MEM(c),
                      CLT_ARG_INT(c_off), CLT_ARG_INT(ldc), CLT_ARG_INT(c_stride),
                      CLT_ARG_FLOAT(alpha), CLT_ARG_FLOAT(beta), CLT_ARG_INT(batch));
}

clt_status clt__gemm_sum(clt_context_t ctx, const clt__gemm_desc *g, size_t terms, size_t a_term,
                         size_t b_term)
{
    size_t batch = g->batch ? g->batch : 1;
    size_t c_end = g->c_off + (batch - 1) * g->c_stride + (g->m - 1) * g->ldc + g->n;
    if (ctx->gemm.own || c_end > INT32_MAX || batch * terms * g->m * g->n > PART_FLOATS)
        return sum_in_turn(ctx, g, terms, a_term, b_term);
    size_t slices = slices_for(ctx, g, batch, terms);
    if (slices * terms <= 1)
        return sum_in_turn(ctx, g, terms, a_term, b_term);
    return sum_side_by_side(ctx, g, batch, terms, a_term, b_term, slices);
}
