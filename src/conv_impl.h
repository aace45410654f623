/* The interface every convolution algorithm implements (one conv_*.c file
 * each), and the helpers conv.c shares with them. */
#ifndef CLT_CONV_IMPL_H
#define CLT_CONV_IMPL_H

#include "internal.h"

/* A validated call, as an algorithm receives it. Forward uses x, w, bias,
 * act, y; backward data dy, w, dx; backward weights x, dy, dw, dbias. */
typedef struct clt__conv_args {
    const clt_conv2d_desc *d;
    int p, q; /* output height and width */
    clt_buf x, w, bias, y;
    clt_buf dy, dx, dw, dbias;
    bool w_prepared; /* w holds this algorithm's transformed weights */
    clt_activation act;
    cl_mem ws; /* workspace, ws_bytes long (never NULL when ws_bytes > 0) */
    size_t ws_bytes;
    int chunk; /* images per pass that fit the workspace */
} clt__conv_args;

typedef struct clt__conv_impl {
    clt_conv_algo algo;
    /* Can the algorithm run pass `op` of d? If not, writes why into `why`.
     * NULL: any parameters. */
    bool (*supports)(const clt_conv2d_desc *d, clt_conv_op op, char *why, size_t cap);
    /* Workspace bytes for pass `op` over `images` images of the batch.
     * NULL: none. */
    size_t (*workspace)(const clt_conv2d_desc *d, clt_conv_op op, int images);
    /* The part of that workspace a pass reads back while it may still be
     * in the cache, which CPUs size their chunks of images by (a part the
     * kernels there never touch left out). NULL: all of it. */
    size_t (*hot_workspace)(const clt_conv2d_desc *d, clt_conv_op op, int images);
    clt_status (*forward)(clt_context_t ctx, const clt__conv_args *a);
    clt_status (*backward_data)(clt_context_t ctx, const clt__conv_args *a);
    clt_status (*backward_weights)(clt_context_t ctx, const clt__conv_args *a);
    /* Optional weight transform: floats it produces, and the transform. */
    size_t (*prepared_size)(const clt_conv2d_desc *d);
    clt_status (*prepare)(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf w, clt_buf out);
} clt__conv_impl;

extern const clt__conv_impl clt__conv_direct;
extern const clt__conv_impl clt__conv_im2col;
extern const clt__conv_impl clt__conv_gemm1x1;
extern const clt__conv_impl clt__conv_winograd;
extern const clt__conv_impl clt__conv_winograd4;

/* Sizes derived from a descriptor, as size_t. */
size_t clt__conv_x_elems(const clt_conv2d_desc *d);
size_t clt__conv_w_elems(const clt_conv2d_desc *d);
size_t clt__conv_y_elems(const clt_conv2d_desc *d, int p, int q);
void clt__conv_out_hw(const clt_conv2d_desc *d, int *p, int *q);

/* Batched im2col of images [n0, n0 + nb) into col, a (C R S) x (nb P Q)
 * matrix at col_off (floats) in `col`. */
clt_status clt__im2col(clt_context_t ctx, const clt_conv2d_desc *d, clt_buf x, int n0, int nb,
                       cl_mem col, size_t col_off);

/* y[n0 + n, k, pq] = act(src[src_off + k k_stride + n n_stride + pq] +
 * bias[k]) for n < nb. Moves a K x (nb PQ) GEMM result into NCHW (k_stride
 * nb PQ, n_stride PQ), or applies bias and activation to y in place (src
 * the same elements of y: k_stride PQ, n_stride K PQ). */
clt_status clt__conv_epilogue(clt_context_t ctx, const clt_conv2d_desc *d, int pq, int n0, int nb,
                              cl_mem src, size_t src_off, size_t k_stride, size_t n_stride,
                              clt_buf bias, clt_activation act, clt_buf y);

/* The reverse of the epilogue's reshape: dst (K x nb PQ at dst_off) from
 * images [n0, n0 + nb) of an NCHW tensor y. */
clt_status clt__conv_gather(clt_context_t ctx, const clt_conv2d_desc *d, int pq, int n0, int nb,
                            clt_buf y, cl_mem dst, size_t dst_off);

/* Batched col2im: images [n0, n0 + nb) of x = the sum of the patches in
 * col, a (C R S) x (nb P Q) matrix. Overwrites x; no atomics. */
clt_status clt__col2im(clt_context_t ctx, const clt_conv2d_desc *d, cl_mem col, size_t col_off,
                       int n0, int nb, clt_buf x);

/* Implicit-GEMM forward on GPUs (conv_igemm.c): whether it takes d here,
 * and the pass itself (x, w, bias, act -> y; no workspace). */
bool clt__conv_igemm_applies(clt_context_t ctx, const clt_conv2d_desc *d);
clt_status clt__conv_igemm_forward(clt_context_t ctx, const clt__conv_args *a);

/* DIRECT's path on CPU devices (conv_cpu.c): whether it takes pass op of
 * d (output p x q) here (forward at any stride, backward data at stride 1),
 * and the forward and backward-data passes. */
bool clt__conv_cpu_applies(clt_context_t ctx, const clt_conv2d_desc *d, clt_conv_op op, int p,
                           int q);
clt_status clt__conv_cpu_forward(clt_context_t ctx, const clt__conv_args *a);
clt_status clt__conv_cpu_backward_data(clt_context_t ctx, const clt__conv_args *a);
/* The weight gradient there (groups 1; dbias too). */
bool clt__conv_cpu_weights_applies(clt_context_t ctx, const clt_conv2d_desc *d, int p, int q);
clt_status clt__conv_cpu_backward_weights(clt_context_t ctx, const clt__conv_args *a);

/* The perf-db (perfdb.c): the measured fastest algorithm for pass op of d. */
bool clt__perfdb_lookup(clt_context_t ctx, clt_conv_op op, const clt_conv2d_desc *d,
                        clt_conv_algo *algo);
void clt__perfdb_record(clt_context_t ctx, clt_conv_op op, const clt_conv2d_desc *d,
                        clt_conv_algo algo, double time_ms);

/* dbias (when given) = dy summed over N, P, Q. */
clt_status clt__conv_bias_grad(clt_context_t ctx, const clt__conv_args *a);

#endif
