/* The oneDNN peer of cltool bench: the same convolution (or sgemm) on the
 * host CPU with oneDNN (built in when CMake finds it; never required).
 * oneDNN picks its preferred memory layouts; inputs are reordered into them
 * once, outside the timing, so the figure is its convolution alone. */
#include "peer_onednn.h"

#include <stdlib.h>
#include <string.h>

#ifndef CLT_HAVE_DNNL

bool onednn_available(void)
{
    return false;
}

onednn_peer *onednn_prepare(bench_op op, const bench_shape *s, const float *in0, const float *in1)
{
    (void)op, (void)s, (void)in0, (void)in1;
    return NULL;
}

int onednn_run(onednn_peer *p)
{
    (void)p;
    return -1;
}

int onednn_output(onednn_peer *p, float *out)
{
    (void)p, (void)out;
    return -1;
}

void onednn_free(onednn_peer *p)
{
    (void)p;
}

#else
#include <oneapi/dnnl/dnnl.h>

struct onednn_peer {
    const bench_shape *gemm; /* set for --op gemm: dnnl_sgemm on host arrays */
    const float *a, *b;
    float *c;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_desc_t pd, hint;
    dnnl_primitive_t prim;
    dnnl_memory_t mem[3]; /* in0, in1, out in the primitive's layouts */
    int args[3];
    dnnl_memory_desc_t plain_out;
};

bool onednn_available(void)
{
    return true;
}

/* Plain NCHW / OIHW (GOIHW) descriptors of x, w, y, or "any" layouts. */
static void descs(const clt_conv2d_desc *d, int p, int q, bool any, dnnl_memory_desc_t md[3])
{
    dnnl_dims_t x = {d->n, d->c, d->h, d->w}, y = {d->n, d->k, p, q};
    dnnl_dims_t w = {d->k, d->c, d->kernel_h, d->kernel_w};
    dnnl_dims_t gw = {d->groups, d->k / d->groups, d->c / d->groups, d->kernel_h, d->kernel_w};
    bool grouped = d->groups > 1;
    dnnl_memory_desc_init_by_tag(&md[0], 4, x, dnnl_f32, any ? dnnl_format_tag_any : dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&md[1], grouped ? 5 : 4, grouped ? gw : w, dnnl_f32,
                                 any       ? dnnl_format_tag_any
                                 : grouped ? dnnl_goihw
                                           : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&md[2], 4, y, dnnl_f32, any ? dnnl_format_tag_any : dnnl_nchw);
}

/* The primitive descriptor for the op; roles of its memories in p->args. */
static int make_pd(onednn_peer *p, bench_op op, const clt_conv2d_desc *d, int oh, int ow,
                   dnnl_memory_desc_t plain[3])
{
    dnnl_memory_desc_t any[3];
    descs(d, oh, ow, true, any);
    descs(d, oh, ow, false, plain);
    dnnl_dims_t st = {d->stride_h, d->stride_w}, dl = {d->dilation_h - 1, d->dilation_w - 1},
                pad = {d->pad_h, d->pad_w};
    dnnl_convolution_desc_t fwd, bwd;
    if (dnnl_dilated_convolution_forward_desc_init(&fwd, dnnl_forward_training,
                                                   dnnl_convolution_auto, &any[0], &any[1], NULL,
                                                   &any[2], st, dl, pad, pad) != dnnl_success ||
        dnnl_primitive_desc_create(&p->hint, &fwd, NULL, p->eng, NULL) != dnnl_success)
        return -1;
    if (op == OP_CONV) {
        p->args[0] = DNNL_ARG_SRC, p->args[1] = DNNL_ARG_WEIGHTS, p->args[2] = DNNL_ARG_DST;
        return dnnl_primitive_desc_create(&p->pd, &fwd, NULL, p->eng, NULL) == dnnl_success ? 0
                                                                                            : -1;
    }
    if (op == OP_CONV_BWD_DATA) { /* in0 = dy, in1 = w, out = dx */
        p->args[0] = DNNL_ARG_DIFF_DST, p->args[1] = DNNL_ARG_WEIGHTS,
        p->args[2] = DNNL_ARG_DIFF_SRC;
        if (dnnl_dilated_convolution_backward_data_desc_init(&bwd, dnnl_convolution_auto, &any[0],
                                                             &any[1], &any[2], st, dl, pad,
                                                             pad) != dnnl_success)
            return -1;
        dnnl_memory_desc_t t = plain[0]; /* roles: dy (y-shaped), w, dx (x-shaped) */
        plain[0] = plain[2];
        plain[2] = t;
    } else { /* in0 = x, in1 = dy, out = dw */
        p->args[0] = DNNL_ARG_SRC, p->args[1] = DNNL_ARG_DIFF_DST,
        p->args[2] = DNNL_ARG_DIFF_WEIGHTS;
        if (dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_auto,
                                                                &any[0], &any[1], NULL, &any[2], st,
                                                                dl, pad, pad) != dnnl_success)
            return -1;
        dnnl_memory_desc_t t = plain[1];
        plain[1] = plain[2];
        plain[2] = t;
    }
    return dnnl_primitive_desc_create(&p->pd, &bwd, NULL, p->eng, p->hint) == dnnl_success ? 0 : -1;
}

static dnnl_query_t role_query(int arg)
{
    switch (arg) {
    case DNNL_ARG_SRC:
        return dnnl_query_src_md;
    case DNNL_ARG_WEIGHTS:
        return dnnl_query_weights_md;
    case DNNL_ARG_DST:
        return dnnl_query_dst_md;
    case DNNL_ARG_DIFF_SRC:
        return dnnl_query_diff_src_md;
    case DNNL_ARG_DIFF_DST:
        return dnnl_query_diff_dst_md;
    default:
        return dnnl_query_diff_weights_md;
    }
}

/* Copies between a plain host array and a memory in another layout. */
static int reorder(onednn_peer *p, const dnnl_memory_desc_t *from_md, void *from,
                   const dnnl_memory_desc_t *to_md, void *to)
{
    dnnl_memory_t a = NULL, b = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    int rc = -1;
    if (dnnl_memory_create(&a, from_md, p->eng, from) == dnnl_success &&
        dnnl_memory_create(&b, to_md, p->eng, to) == dnnl_success &&
        dnnl_reorder_primitive_desc_create(&rpd, from_md, p->eng, to_md, p->eng, NULL) ==
            dnnl_success &&
        dnnl_primitive_create(&r, rpd) == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}};
        rc = dnnl_primitive_execute(r, p->strm, 2, args) == dnnl_success &&
                     dnnl_stream_wait(p->strm) == dnnl_success
                 ? 0
                 : -1;
    }
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(a);
    dnnl_memory_destroy(b);
    return rc;
}

static void *handle(dnnl_memory_t m)
{
    void *h = NULL;
    dnnl_memory_get_data_handle(m, &h);
    return h;
}

/* dnnl_sgemm is row-major like clt_gemm. */
static onednn_peer *prepare_gemm(const bench_shape *s, const float *a, const float *b)
{
    onednn_peer *p = calloc(1, sizeof *p);
    if (p && !(p->c = malloc((size_t)s->m * s->n * sizeof(float)))) {
        free(p);
        p = NULL;
    }
    if (p) {
        p->gemm = s;
        p->a = a;
        p->b = b;
    }
    return p;
}

onednn_peer *onednn_prepare(bench_op op, const bench_shape *s, const float *in0, const float *in1)
{
    if (op == OP_GEMM)
        return prepare_gemm(s, in0, in1);
    if (op != OP_CONV && op != OP_CONV_BWD_DATA && op != OP_CONV_BWD_WEIGHTS)
        return NULL;
    const clt_conv2d_desc *d = &s->conv;
    clt_shape y;
    onednn_peer *p = calloc(1, sizeof *p);
    if (!p || clt_conv2d_output_shape(d, &y) != CLT_STATUS_SUCCESS ||
        dnnl_engine_create(&p->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&p->strm, p->eng, dnnl_stream_default_flags) != dnnl_success)
        goto fail;
    dnnl_memory_desc_t plain[3];
    if (make_pd(p, op, d, y.h, y.w, plain) != 0 ||
        dnnl_primitive_create(&p->prim, p->pd) != dnnl_success)
        goto fail;
    const float *host[2] = {in0, in1};
    for (int i = 0; i < 3; i++) {
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(p->pd, role_query(p->args[i]), 0);
        if (!md || dnnl_memory_create(&p->mem[i], md, p->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success)
            goto fail;
        if (i < 2 && reorder(p, &plain[i], (void *)host[i], md, handle(p->mem[i])) != 0)
            goto fail;
    }
    p->plain_out = plain[2];
    return p;
fail:
    onednn_free(p);
    return NULL;
}

int onednn_run(onednn_peer *p)
{
    const bench_shape *g = p->gemm;
    if (g)
        return dnnl_sgemm('N', 'N', g->m, g->n, g->k, 1.0f, p->a, g->k, p->b, g->n, 0.0f, p->c,
                          g->n) == dnnl_success
                   ? 0
                   : -1;
    dnnl_exec_arg_t args[3];
    for (int i = 0; i < 3; i++)
        args[i] = (dnnl_exec_arg_t){p->args[i], p->mem[i]};
    return dnnl_primitive_execute(p->prim, p->strm, 3, args) == dnnl_success &&
                   dnnl_stream_wait(p->strm) == dnnl_success
               ? 0
               : -1;
}

int onednn_output(onednn_peer *p, float *out)
{
    if (p->gemm) {
        memcpy(out, p->c, (size_t)p->gemm->m * p->gemm->n * sizeof(float));
        return 0;
    }
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, role_query(p->args[2]), 0);
    return reorder(p, md, handle(p->mem[2]), &p->plain_out, out);
}

void onednn_free(onednn_peer *p)
{
    if (!p)
        return;
    free(p->c);
    for (int i = 0; i < 3; i++)
        dnnl_memory_destroy(p->mem[i]);
    dnnl_primitive_destroy(p->prim);
    dnnl_primitive_desc_destroy(p->pd);
    dnnl_primitive_desc_destroy(p->hint);
    dnnl_stream_destroy(p->strm);
    dnnl_engine_destroy(p->eng);
    free(p);
}
#endif
