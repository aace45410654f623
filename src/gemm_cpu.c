/* clt's own GEMM (cl/gemm.cl), shaped for CPU devices: the tile chosen from
 * the device, the split of a product into work-items, the launches.
 *
 * Why not CLBlast there: its kernels are shaped for GPUs (local memory,
 * barriers, work-groups of many items), which PoCL runs an order of
 * magnitude below what one register-blocked loop per work-item reaches. */
#include "internal.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* k rows per B chunk and column panels per block: each tile of A, loaded
 * into L1 once, serves NB panels of KC x 16 or 32 floats held in L2, and
 * A is read from the last-level cache once per NB panels. A tile reads
 * its MR rows of A in runs of KC floats: short runs restart the hardware
 * prefetcher's streams tile after tile, and each further chunk passes over
 * C again. Measured on PoCL (AVX2, one core pinned, alternated contexts in
 * one process): KC 2048 against 512 at m 2048, n 784, k 2048 1.3-1.4x,
 * on 1x1 layers with k 1024-2048 and n 196-784 1.02-1.06x, on a par where
 * k <= 512 and on the 3x3 stride-2 im2col layers (k 1152-4608); NB 2 and
 * 4 on a par, 1 below. The scratch holds min(KC, k) rows per panel. */
#define KC 2048
#define NB 2

static bool equals_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

clt_status clt__gemm_cpu_init(clt_context_t ctx)
{
    clt__gemm_cfg *cfg = &ctx->gemm;
    const char *env = getenv("CLT_GEMM");
    if (!env || !*env || equals_nocase(env, "auto"))
        cfg->own = ctx->is_cpu;
    else if (equals_nocase(env, "clt"))
        cfg->own = true;
    else if (equals_nocase(env, "clblast"))
        cfg->own = false;
    else
        return clt__fail(NULL, CLT_STATUS_INVALID_VALUE,
                         "CLT_GEMM = \"%.64s\": expected clt, clblast or auto", env);
    /* Accumulators and operands must fit the register file: at width 4 or 8
     * (SSE, AVX2: 16 registers) 6 x 2 accumulators + 2 of B + 1 of A; at 16
     * (AVX-512: 32 registers) 8 x 2. Wider tiles spill (measured: 4 x 3 at
     * width 8 runs at half speed). Devices that report 1 (GPUs) get 4. */
    cl_uint width = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof width, &width, NULL);
    cfg->vw = width >= 16 ? 16 : width >= 8 ? 8 : 4;
    cfg->mr = cfg->vw == 16 ? 8 : 6;
    cfg->nv = 2;
    cfg->kc = KC;
    cfg->nb = NB;
    /* Enough work-items that every core stays busy to the end. */
    cfg->cores = ctx->info.compute_units > 0 ? (int)ctx->info.compute_units : 1;
    cfg->items = 16 * cfg->cores;
    return CLT_STATUS_SUCCESS;
}

int clt__gemm_cpu_defines(clt_context_t ctx, char *out, size_t cap)
{
    const clt__gemm_cfg *cfg = &ctx->gemm;
    return snprintf(out, cap,
                    "#define GEMM_VW %d\n#define GEMM_MR %d\n#define GEMM_NV %d\n"
                    "#define GEMM_NB %d\n",
                    cfg->vw, cfg->mr, cfg->nv, cfg->nb);
}

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* The columns of an operand: `runs` runs of `width` columns, run_stride apart. */
typedef struct col_runs {
    size_t runs, run_stride, width;
} col_runs;

/* Whether every float index an operand of `batch` matrices reaches fits an int. */
static bool operand_fits(size_t off, size_t stride, size_t batch, size_t rows, col_runs cols,
                         size_t ld)
{
    size_t body, span, hop, room = INT32_MAX;
    if (!clt__mul_ok(rows - 1, ld, &body) || !clt__mul_ok(batch - 1, stride, &span) ||
        !clt__mul_ok(cols.runs - 1, cols.run_stride, &hop))
        return false;
    return off <= room && span <= room - off && body <= room - off - span &&
           hop <= room - off - span - body && cols.width <= room - off - span - body - hop;
}

/* op(B)'s or C's n columns as runs (one run unless segmented). */
static col_runs runs_of(const clt__gemm_desc *g, size_t seg_stride)
{
    return g->seg ? (col_runs){g->n / g->seg, seg_stride, g->seg} : (col_runs){1, 0, g->n};
}

/* How a product is cut into work-items (see gemm_tiles in cl/gemm.cl). */
typedef struct plan {
    int mp, np;        /* row and column panels */
    int bpw, cpw, rpw; /* batch items, column panels, row panels per work-item */
    size_t items[3];   /* column groups, row groups, batch groups */
    int kc;            /* k rows per B chunk */
    bool pack_a;       /* A copied into row panels first (stored transposed) */
    size_t pack_items[3];
    int krows, ppw;  /* k rows and row panels per work-item of gemm_pack_a */
    size_t a_floats; /* scratch: packed A, then one B chunk per work-item */
    size_t b_floats;
} plan;

/* `count` units in at most `want` groups of equal size: the size, and the
 * number of groups that size gives. */
static size_t split(size_t count, size_t want, int *per)
{
    size_t groups = count < want ? count : want;
    size_t size = ceil_div(count, groups ? groups : 1);
    *per = (int)size;
    return ceil_div(count, size);
}

/* Cuts batch items first, then column panels (both free), and row panels
 * only when those are too few: row groups each copy the same B chunks, and
 * packing a chunk costs about as much as one tile of it. So a row group
 * keeps 8 row panels unless the cores would otherwise idle (weight
 * gradients, m 64, AVX-512 PoCL: 1 group of 8 panels against 4-8 of 1-2,
 * 1.5x on conv1's, 1.9-2.6x on 1x1 layers' per-image GEMMs). */
static void make_plan(const clt__gemm_cfg *cfg, const clt__gemm_desc *g, plan *p)
{
    size_t want = (size_t)cfg->items, nr = (size_t)(cfg->vw * cfg->nv);
    p->mp = (int)ceil_div(g->m, (size_t)cfg->mr);
    p->np = (int)ceil_div(g->n, nr);
    p->items[2] = split(g->batch, want, &p->bpw);
    p->items[0] = split((size_t)p->np, ceil_div(want, p->items[2]), &p->cpw);
    size_t units = p->items[0] * p->items[2], rows_want = want / units;
    size_t cheap = (size_t)p->mp / 8, needed = ceil_div((size_t)cfg->cores, units);
    if (rows_want > cheap && rows_want > needed)
        rows_want = cheap > needed ? cheap : needed;
    p->items[1] = split((size_t)p->mp, rows_want ? rows_want : 1, &p->rpw);
    p->kc = (int)(g->k < (size_t)cfg->kc ? (g->k ? g->k : 1) : (size_t)cfg->kc);
    p->b_floats = p->items[0] * p->items[1] * p->items[2] * (size_t)cfg->nb * (size_t)p->kc * nr;
    /* Stored transposed, each k step of A is lda floats away: the hot loop
     * would touch a new cache line per step, and at power-of-two lda those
     * collide (measured: 0.15x oneDNN at 2048^3, 0.8x packed). The copy
     * reads and writes A once more, which pays only where the tiles pass
     * over A many times, once per block of column panels, or where long
     * runs of k steps 4 KiB apart share a few cache sets. Backward data of
     * ResNet-50's 7x7 and 14x14/2 layers (N 4, 7 column panels: 4 blocks):
     * unpacked 1.1-1.2x at lda 512, 2048 (k 512) and 4608, 0.67x at lda
     * 1024 with k 2048; at 13 blocks on a par. */
    bool aliased = g->lda % 1024 == 0 && g->k > 512;
    p->pack_a = g->ta == CLT_TRANS && (aliased || ceil_div((size_t)p->np, (size_t)cfg->nb) > 4);
    p->a_floats = p->pack_a ? g->batch * (size_t)p->mp * g->k * (size_t)cfg->mr : 0;
    /* Runs of up to 32 panels of a row per work-item, 16 rows each. */
    p->pack_items[2] = g->batch;
    p->pack_items[1] = split((size_t)p->mp, ceil_div((size_t)p->mp, 32), &p->ppw);
    p->pack_items[0] = split(g->k, ceil_div(g->k, 16), &p->krows);
}

bool clt__gemm_cpu_fits(clt_context_t ctx, const clt__gemm_desc *g)
{
    bool ta = g->ta == CLT_TRANS, tb = g->tb == CLT_TRANS;
    size_t nr = (size_t)(ctx->gemm.vw * ctx->gemm.nv);
    /* a tile row crosses at most one run's end */
    if (g->seg && (tb || g->seg < nr || g->n % g->seg))
        return false;
    if (g->m > INT32_MAX || g->n > INT32_MAX || g->k > INT32_MAX || g->batch > INT32_MAX ||
        !operand_fits(g->a_off, g->a_stride, g->batch, ta ? g->k : g->m,
                      (col_runs){1, 0, ta ? g->m : g->k}, g->lda) ||
        !operand_fits(g->b_off, g->b_stride, g->batch, tb ? g->n : g->k,
                      tb ? (col_runs){1, 0, g->k} : runs_of(g, g->b_seg), g->ldb) ||
        !operand_fits(g->c_off, g->c_stride, g->batch, g->m, runs_of(g, g->c_seg), g->ldc))
        return false;
    plan p;
    make_plan(&ctx->gemm, g, &p);
    return p.b_floats <= (size_t)INT32_MAX - p.a_floats;
}

clt_status clt__gemm_cpu_run(clt_context_t ctx, const clt__gemm_desc *g)
{
    const clt__gemm_cfg *cfg = &ctx->gemm;
    plan p;
    make_plan(cfg, g, &p);
    cl_mem scratch = NULL;
    CLT__CHECK(
        clt__scratch(ctx, CLT__SCRATCH_GEMM, (p.a_floats + p.b_floats) * sizeof(float), &scratch));
    const size_t one[3] = {1, 1, 1};
    bool ta = g->ta == CLT_TRANS, tb = g->tb == CLT_TRANS;
    /* A pitch that is never stepped over may be anything: keep it out of int. */
    size_t lda = (ta ? g->k : g->m) > 1 ? g->lda : 0, ldb = (tb ? g->n : g->k) > 1 ? g->ldb : 0;
    size_t ldc = g->m > 1 ? g->ldc : 0;
    size_t a_bs = g->batch > 1 ? g->a_stride : 0, b_bs = g->batch > 1 ? g->b_stride : 0;
    size_t c_bs = g->batch > 1 ? g->c_stride : 0;
    /* op(A)(i, kk) at a[i * sai + kk * sak]; op(B)(kk, j) at b[kk * sbk + j * sbj] */
    size_t sai = ta ? 1 : lda, sak = ta ? lda : 1;
    size_t sbk = tb ? 1 : ldb, sbj = tb ? ldb : 1;
    cl_mem a = g->a;
    size_t a_off = g->a_off, aps = (size_t)cfg->mr * sai;
    if (p.pack_a) {
        CLT__CHECK(CLT_LAUNCH(ctx, "gemm", "gemm_pack_a", 3, p.pack_items, one, CLT_ARG_MEM(g->a),
                              CLT_ARG_INT(g->a_off), CLT_ARG_INT(sai), CLT_ARG_INT(sak),
                              CLT_ARG_INT(a_bs), CLT_ARG_INT(g->m), CLT_ARG_INT(g->k),
                              CLT_ARG_INT(g->batch), CLT_ARG_INT(p.krows), CLT_ARG_INT(p.ppw),
                              CLT_ARG_MEM(scratch)));
        a = scratch;
        a_off = 0;
        aps = g->k * (size_t)cfg->mr;
        a_bs = (size_t)p.mp * aps;
        sai = 1;
        sak = (size_t)cfg->mr;
    }
    /* The tiles store or add alpha * op(A) op(B); any other beta scales C first. */
    if (g->beta != 0.0f && g->beta != 1.0f) {
        /* a fixed local size: PoCL compiles a kernel anew for each it meets */
        const size_t global[3] = {g->n, g->m, g->batch}, local[3] = {64, 1, 1};
        CLT__CHECK(CLT_LAUNCH(
            ctx, "gemm", "gemm_scale_c", 3, global, local, CLT_ARG_MEM(g->c), CLT_ARG_INT(g->c_off),
            CLT_ARG_INT(ldc), CLT_ARG_INT(c_bs), CLT_ARG_INT(g->m), CLT_ARG_INT(g->n),
            CLT_ARG_INT(g->seg ? g->seg : g->n), CLT_ARG_INT(g->seg ? g->c_seg : 0),
            CLT_ARG_INT(g->batch), CLT_ARG_FLOAT(g->beta)));
    }
    /* A C of a 16th of the last-level cache or more is stored past it when
     * one chunk covers k (PoCL, 1x1 layers with 6-13 MiB outputs: 1.1-1.3x;
     * at 3.2 MiB, k 256-512, 1.02-1.08x in every percentile, contexts
     * alternated call by call; at 0.8-1.6 MiB on a par or 1-3% below, so
     * kept), and from a 64th on when k <= 128, where a tile's stores weigh
     * most against its 128 or fewer multiply-adds per output (c64 56x56 ->
     * k64, 3.2 MiB: best of 40-60 calls 1.1-1.3x, one core or two). The
     * next layer then reads C from memory, which the bench does not see. */
    size_t c_bytes = g->m * g->n * g->batch * sizeof(float);
    size_t big = (size_t)(ctx->cache_bytes / (g->k <= 128 ? 64 : 16));
    int stream = g->k <= (size_t)cfg->kc && ctx->cache_bytes && c_bytes >= big;
    return CLT_LAUNCH(ctx, "gemm", "gemm_tiles", 3, p.items, one, CLT_ARG_MEM(a),
                      CLT_ARG_INT(a_off), CLT_ARG_INT(aps), CLT_ARG_INT(sai), CLT_ARG_INT(sak),
                      CLT_ARG_INT(a_bs), CLT_ARG_MEM(g->b), CLT_ARG_INT(g->b_off), CLT_ARG_INT(sbk),
                      CLT_ARG_INT(sbj), CLT_ARG_INT(b_bs), CLT_ARG_MEM(g->c), CLT_ARG_INT(g->c_off),
                      CLT_ARG_INT(ldc), CLT_ARG_INT(c_bs), CLT_ARG_INT(g->m), CLT_ARG_INT(g->n),
                      CLT_ARG_INT(g->k), CLT_ARG_INT(g->batch), CLT_ARG_INT(g->seg ? g->seg : g->n),
                      CLT_ARG_INT(g->seg ? g->b_seg : 0), CLT_ARG_INT(g->seg ? g->c_seg : 0),
                      CLT_ARG_FLOAT(g->alpha), CLT_ARG_INT(g->beta != 0.0f), CLT_ARG_INT(stream),
                      CLT_ARG_INT(p.cpw), CLT_ARG_INT(p.rpw), CLT_ARG_INT(p.bpw), CLT_ARG_INT(p.kc),
                      CLT_ARG_MEM(scratch), CLT_ARG_INT(p.a_floats));
}
