/* cltool bench: shapes, measurements and reports. */
#ifndef CLTOOL_BENCH_H
#define CLTOOL_BENCH_H

#include "cltool.h"

#include <stdbool.h>

typedef enum bench_op {
    OP_CONV = 0,
    OP_CONV_BWD_DATA,
    OP_CONV_BWD_WEIGHTS,
    OP_POOL,
    OP_GEMM,
    OP_COUNT
} bench_op;

/* One problem: a convolution, a pooling or a GEMM (m, n, k in c, h, w). */
typedef struct bench_shape {
    char name[48];
    clt_conv2d_desc conv; /* conv ops; pooling uses n, c, h, w */
    clt_pool2d_desc pool;
    int m, n, k; /* gemm */
} bench_shape;

/* One measured (shape, algorithm) pair. */
typedef struct bench_row {
    const bench_shape *shape;
    char algo[24];
    char note[24];                                          /* e.g. what AUTO chose */
    double median_ms, min_ms, gflops, max_rel_err, speedup; /* speedup 0: no direct row */
    double flops;
    int runs;
    bool peer;
} bench_row;

typedef struct bench_opts {
    bench_op op;
    const char *device;
    const char *algos; /* comma list or NULL for all */
    double min_time_s; /* timed runs continue until this much time is spent */
    int max_runs;
    int samples; /* output points verified against the host reference */
    bool csv, json, skip_load_times;
    bool peer_onednn; /* --peer onednn: oneDNN on the host CPU as a row */
    const char *plot;
} bench_opts;

/* Header facts. */
typedef struct bench_header {
    clt_device_info dev;
    double cold_ms, warm_ms; /* < 0: not measured */
    const char *preset;
} bench_header;

const char *bench_op_name(bench_op op);
int bench_op_parse(const char *s, bench_op *out);

/* Presets: fills shapes (up to cap), returns the count or -1 if unknown.
 * batch <= 0 takes the preset's default for the device type. */
int bench_preset(const char *name, bench_op op, int batch, bool gpu, bench_shape *shapes, int cap);

/* Measures every applicable algorithm (and the peer) on one shape; appends
 * rows. Returns EXIT_OK or EXIT_RUNTIME. */
int bench_shape_run(clt_context_t ctx, const bench_opts *o, const bench_shape *s, bench_row *rows,
                    int cap, int *count);

/* Flops of one run of the op on the shape (the same count for every
 * algorithm: 2 N K P Q C R S / groups for convolutions). */
double bench_flops(bench_op op, const bench_shape *s);

/* Reports. */
void bench_print_table(FILE *f, const bench_opts *o, const bench_header *h, const bench_row *rows,
                       int n);
void bench_print_csv(FILE *f, const bench_opts *o, const bench_row *rows, int n);
void bench_print_json(FILE *f, const bench_opts *o, const bench_header *h, const bench_row *rows,
                      int n);
int bench_write_svg(const char *path, const bench_opts *o, const bench_header *h,
                    const bench_row *rows, int n);

#endif
