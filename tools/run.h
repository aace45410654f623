/* cltool run: what the operations share. An operation declares its
 * options, its input and output tensors, a host-side check that validates
 * the inputs and sets the output shapes, and a compute step; run_execute
 * does the rest in one order for all: load, check, open the outputs'
 * temporary files, create the context, upload, compute, read back, rename. */
#ifndef CLTOOL_RUN_H
#define CLTOOL_RUN_H

#include "cltool.h"
#include "npy.h"

/* run_parse's and the checks' "carry on" (every other value is an exit code). */
enum { RUN_GO = -1 };

typedef enum opt_kind {
    OPT_PATH,    /* a file name */
    OPT_STRING,  /* any text (--device) */
    OPT_INT,     /* an integer >= min */
    OPT_PAIR,    /* "A,B" per axis, or one number for both; each >= min */
    OPT_PADDING, /* as OPT_PAIR, or 'valid' or 'same' */
    OPT_FLAG,    /* --name, --name=true|false|1|0, --no-name */
    OPT_FLOAT,   /* a finite number */
    OPT_ALGO     /* a convolution algorithm name */
} opt_kind;

/* Padding as given: numbers, or "same" (resolved by the operation). */
typedef struct run_padding {
    int v[2];
    int same;
} run_padding;

/* One option. dest: const char ** (PATH, STRING), int * (INT, FLAG),
 * int[2] (PAIR), run_padding * (PADDING), float * (FLOAT), clt_conv_algo *
 * (ALGO). given is set by run_parse. */
typedef struct run_opt {
    const char *name; /* "--stride", "-o" */
    opt_kind kind;
    void *dest;
    int min;
    int required;
    int given;
} run_opt;

#define RUN_MAX_OPTS 16

/* Parses argv[1..argc) against opts. Prints `help` and returns EXIT_OK on
 * --help; returns EXIT_USAGE with a message on any error; RUN_GO otherwise. */
int run_parse(const char *op, int argc, char **argv, run_opt *opts, int n, const char *help);

/* Was the option called `name` given? */
int run_given(const run_opt *opts, int n, const char *name);

#define RUN_MAX_IN 4
#define RUN_MAX_OUT 2

typedef struct run_tensor {
    const char *flag; /* the option naming the file, e.g. "--x" */
    const char *path; /* NULL when not given */
    npy_want want;    /* inputs: what the file must hold */
    int used;         /* outputs: set by set_output; gets device memory */
    npy_array a;      /* inputs: as loaded; outputs: shape set by the check */
    cl_mem mem;
    npy_stage stage;
} run_tensor;

typedef struct run_op run_op;
struct run_op {
    const char *name; /* "conv2d" */
    const char *device;
    run_tensor in[RUN_MAX_IN];
    run_tensor out[RUN_MAX_OUT];
    void *args; /* the operation's parameters */
    /* Validates the loaded inputs and the parameters; calls set_output for
     * every output. Returns RUN_GO or an exit code (after a message). */
    int (*check)(run_op *op);
    /* Runs the operation on the device, writing the outputs' mem. */
    clt_status (*compute)(clt_context_t ctx, run_op *op);
};

/* Loads, checks, computes and writes as described above; the exit code. */
int run_execute(run_op *op);

/* "cltool run OP: message" on stderr; returns EXIT_USAGE. */
int run_error(const run_op *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Requires a 4-D input with every dimension in [1, INT_MAX] and copies the
 * dimensions to d; `layout` names them in the message ("N, C, H, W"). */
int run_need_4d(const run_op *op, const run_tensor *t, const char *layout, int d[4]);
/* Likewise for 2-D (gemm). */
int run_need_2d(const run_op *op, const run_tensor *t, int d[2]);
/* Marks an output as produced, with its dtype and shape. */
void run_set_output(run_tensor *t, npy_dtype dtype, int ndim, const int *shape);
/* t as a clt_buf (NULL mem for an absent optional tensor). */
clt_buf run_buf(const run_tensor *t);

/* The operations, by family. */
int run_conv2d(int argc, char **argv);
int run_conv2d_backward_data(int argc, char **argv);
int run_conv2d_backward_weights(int argc, char **argv);
int run_maxpool2d(int argc, char **argv);
int run_maxpool2d_backward(int argc, char **argv);
int run_avgpool2d(int argc, char **argv);
int run_avgpool2d_backward(int argc, char **argv);
int run_gemm(int argc, char **argv);

#endif
