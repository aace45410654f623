/* cltool run maxpool2d, maxpool2d-backward, avgpool2d, avgpool2d-backward. */
#include "run.h"

typedef struct pool_args {
    clt_pool_mode mode;
    int kernel[2], stride[2], padding[2], ceil_mode, count_include_pad;
    int input_size[2]; /* backward */
    clt_pool2d_desc d; /* made by the check */
    clt_shape y;       /* the forward output shape */
} pool_args;

static pool_args pool_defaults(clt_pool_mode mode)
{
    /* PyTorch's defaults: stride = kernel size (0 here), padding 0,
     * ceil_mode off, count_include_pad on */
    return (pool_args){.mode = mode, .count_include_pad = 1};
}

/* Appends the options every pooling takes after the first empty entry of
 * opts (RUN_MAX_OPTS long); the count of options. */
static int pool_opts(run_opt *opts, pool_args *a, run_op *op)
{
    int n = 0;
    while (opts[n].name)
        n++;
    opts[n++] = (run_opt){
        .name = "--kernel-size", .kind = OPT_PAIR, .dest = a->kernel, .min = 1, .required = 1};
    opts[n++] = (run_opt){.name = "--stride", .kind = OPT_PAIR, .dest = a->stride, .min = 1};
    opts[n++] = (run_opt){.name = "--padding", .kind = OPT_PAIR, .dest = a->padding};
    opts[n++] = (run_opt){.name = "--ceil-mode", .kind = OPT_FLAG, .dest = &a->ceil_mode};
    opts[n++] = (run_opt){.name = "--device", .kind = OPT_STRING, .dest = &op->device};
    return n;
}

#define POOL_HELP                                                                                  \
    "  --kernel-size K  K or KH,KW, each >= 1 (required)\n"                                        \
    "  --stride S       S or SH,SW, each >= 1 (default: the kernel size)\n"                        \
    "  --padding P      P or PH,PW, each between 0 and half the kernel size (default 0)\n"         \
    "  --ceil-mode      round the output size up, as ceil_mode=True (default off;\n"               \
    "                   also --ceil-mode=true|false, --no-ceil-mode)\n"
#define AVG_HELP                                                                                   \
    "  --count-include-pad  divide by the window including its padding, as PyTorch\n"              \
    "                   does by default (on); --no-count-include-pad (or\n"                        \
    "                   --count-include-pad=false) divides by the input elements only\n"
#define COMMON_HELP                                                                                \
    "  --device SEL     cpu, gpu, P:D or part of a device name (default: CLT_DEVICE,\n"            \
    "                   else the first GPU, else the first CPU)\n"                                 \
    "Files are NumPy .npy, float32 (indices int32; int64 is accepted on input), C order.\n"        \
    "Exit codes: 0 success, 1 runtime failure, 2 usage or input error (then no output\n"           \
    "file is written).\n"

/* Fills and validates a->d for an N x C x H x W input. */
static int make_desc(run_op *op, pool_args *a, int n, int c, int h, int w)
{
    a->d = (clt_pool2d_desc){.n = n,
                             .c = c,
                             .h = h,
                             .w = w,
                             .mode = a->mode,
                             .kernel_h = a->kernel[0],
                             .kernel_w = a->kernel[1],
                             .stride_h = a->stride[0],
                             .stride_w = a->stride[1],
                             .pad_h = a->padding[0],
                             .pad_w = a->padding[1],
                             .ceil_mode = a->ceil_mode,
                             .count_include_pad = a->count_include_pad};
    if (clt_pool2d_output_shape(&a->d, &a->y) != CLT_STATUS_SUCCESS)
        return run_error(op, "these parameters do not fit the input: %s",
                         clt_context_last_error(NULL));
    return RUN_GO;
}

/* Forward: x -> y (and indices). */
static int forward_check(run_op *op)
{
    pool_args *a = op->args;
    int x[4], rc;
    if ((rc = run_need_4d(op, &op->in[0], "N, C, H, W", x)) != RUN_GO ||
        (rc = make_desc(op, a, x[0], x[1], x[2], x[3])) != RUN_GO)
        return rc;
    int y[4] = {a->y.n, a->y.c, a->y.h, a->y.w};
    run_set_output(&op->out[0], NPY_FLOAT32, 4, y);
    if (a->mode == CLT_POOL_MAX) /* the library always writes the indices */
        run_set_output(&op->out[1], NPY_INT32, 4, y);
    return RUN_GO;
}

static clt_status forward_compute(clt_context_t ctx, run_op *op)
{
    pool_args *a = op->args;
    return clt_pool2d_forward(ctx, &a->d, run_buf(&op->in[0]), run_buf(&op->out[0]),
                              run_buf(&op->out[1]));
}

/* The input-size's geometry must give dy's shape. */
static int check_dy(run_op *op, pool_args *a, const int *dy)
{
    int rc = make_desc(op, a, dy[0], dy[1], a->input_size[0], a->input_size[1]);
    if (rc != RUN_GO)
        return rc;
    if (dy[2] != a->y.h || dy[3] != a->y.w)
        return run_error(op,
                         "--dy is %d x %d per channel but pooling a %d x %d input with these "
                         "parameters gives %d x %d",
                         dy[2], dy[3], a->input_size[0], a->input_size[1], a->y.h, a->y.w);
    run_set_output(&op->out[0], NPY_FLOAT32, 4,
                   (int[]){dy[0], dy[1], a->input_size[0], a->input_size[1]});
    return RUN_GO;
}

/* [lo, hi): the input rows (or columns) window i covers, clipped to the
 * input of size n. */
static void window(long long i, int stride, int pad, int kernel, int n, long long *lo,
                   long long *hi)
{
    long long start = i * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + kernel < n ? start + kernel : n;
}

/* Every index must name an element of its own window, as the forward pass
 * writes them; clt would ignore any other (PyTorch would scatter to it). */
static int check_indices(run_op *op, const pool_args *a)
{
    const int32_t *idx = op->in[1].a.data;
    int h = a->d.h, w = a->d.w, oh = a->y.h, ow = a->y.w;
    int sh = a->stride[0] ? a->stride[0] : a->kernel[0];
    int sw = a->stride[1] ? a->stride[1] : a->kernel[1];
    size_t planes = (size_t)a->d.n * a->d.c;
    for (size_t p = 0; p < planes; p++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                long long r0, r1, c0, c1;
                window(i, sh, a->padding[0], a->kernel[0], h, &r0, &r1);
                window(j, sw, a->padding[1], a->kernel[1], w, &c0, &c1);
                long long v = idx[(p * (size_t)oh + (size_t)i) * (size_t)ow + (size_t)j];
                if (v >= 0 && v / w >= r0 && v / w < r1 && v % w >= c0 && v % w < c1)
                    continue;
                return run_error(op,
                                 "--indices[%zu, %zu, %d, %d] = %lld is not inside its pooling "
                                 "window (rows %lld..%lld, columns %lld..%lld of the %d x %d "
                                 "input): indices must come from maxpool2d with the same "
                                 "parameters",
                                 p / (size_t)a->d.c, p % (size_t)a->d.c, i, j, v, r0, r1 - 1, c0,
                                 c1 - 1, h, w);
            }
    return RUN_GO;
}

static int backward_check(run_op *op)
{
    pool_args *a = op->args;
    int dy[4], rc;
    if ((rc = run_need_4d(op, &op->in[0], "N, C, OH, OW", dy)) != RUN_GO)
        return rc;
    if (a->mode == CLT_POOL_MAX) {
        const npy_array *ind = &op->in[1].a;
        int same = ind->ndim == 4;
        for (int i = 0; i < 4 && same; i++)
            same = ind->shape[i] == (size_t)dy[i];
        if (!same) {
            char s[96];
            npy_format_shape(ind->ndim, ind->shape, s, sizeof s);
            return run_error(op, "--indices has shape %s but --dy is (%d, %d, %d, %d)", s, dy[0],
                             dy[1], dy[2], dy[3]);
        }
    }
    if ((rc = check_dy(op, a, dy)) != RUN_GO)
        return rc;
    return a->mode == CLT_POOL_MAX ? check_indices(op, a) : RUN_GO;
}

static clt_status backward_compute(clt_context_t ctx, run_op *op)
{
    pool_args *a = op->args;
    return clt_pool2d_backward(ctx, &a->d, run_buf(&op->in[0]), run_buf(&op->in[1]),
                               run_buf(&op->out[0]));
}

int run_maxpool2d(int argc, char **argv)
{
    pool_args a = pool_defaults(CLT_POOL_MAX);
    run_op op = {.name = "maxpool2d",
                 .args = &a,
                 .check = forward_check,
                 .compute = forward_compute,
                 .in = {{.flag = "--x"}},
                 .out = {{.flag = "-o"}, {.flag = "--indices"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--x", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1},
        {.name = "--indices", .kind = OPT_PATH, .dest = &op.out[1].path}};
    static const char help[] =
        "usage: cltool run maxpool2d --x X --kernel-size K [--stride S] [--padding P]\n"
        "           [--ceil-mode] [--device SEL] -o Y [--indices I]\n\n"
        "y = max_pool2d(x), as torch.nn.functional.max_pool2d(x, kernel_size, stride,\n"
        "padding, ceil_mode=ceil_mode, return_indices=True) computes it (dilation 1).\n"
        "  --x X            input, N x C x H x W\n"
        "  -o Y             output, N x C x OH x OW\n"
        "  --indices I      int32, N x C x OH x OW: for each output, the flat index h*W + w\n"
        "                   of its maximum in the unpadded H x W input plane, as PyTorch's\n"
        "                   return_indices gives (optional)\n" POOL_HELP COMMON_HELP;
    int rc = run_parse(op.name, argc, argv, opts, pool_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}

int run_avgpool2d(int argc, char **argv)
{
    pool_args a = pool_defaults(CLT_POOL_AVG);
    run_op op = {.name = "avgpool2d",
                 .args = &a,
                 .check = forward_check,
                 .compute = forward_compute,
                 .in = {{.flag = "--x"}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--x", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1},
        {.name = "--count-include-pad", .kind = OPT_FLAG, .dest = &a.count_include_pad}};
    static const char help[] =
        "usage: cltool run avgpool2d --x X --kernel-size K [--stride S] [--padding P]\n"
        "           [--ceil-mode] [--no-count-include-pad] [--device SEL] -o Y\n\n"
        "y = avg_pool2d(x), as torch.nn.functional.avg_pool2d(x, kernel_size, stride,\n"
        "padding, ceil_mode, count_include_pad) computes it (no divisor_override).\n"
        "  --x X            input, N x C x H x W\n"
        "  -o Y             output, N x C x OH x OW\n" POOL_HELP AVG_HELP COMMON_HELP;
    int rc = run_parse(op.name, argc, argv, opts, pool_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}

int run_maxpool2d_backward(int argc, char **argv)
{
    pool_args a = pool_defaults(CLT_POOL_MAX);
    run_op op = {.name = "maxpool2d-backward",
                 .args = &a,
                 .check = backward_check,
                 .compute = backward_compute,
                 .in = {{.flag = "--dy"}, {.flag = "--indices", .want = NPY_WANT_INDEX}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--dy", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--indices", .kind = OPT_PATH, .dest = &op.in[1].path, .required = 1},
        {.name = "--input-size", .kind = OPT_PAIR, .dest = a.input_size, .min = 1, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1}};
    static const char help[] =
        "usage: cltool run maxpool2d-backward --dy DY --indices I --input-size H,W\n"
        "           --kernel-size K [--stride S] [--padding P] [--ceil-mode]\n"
        "           [--device SEL] -o DX\n\n"
        "dx, the gradient of max_pool2d's input: each dy element added to the input\n"
        "element its index names (max_pool2d_with_indices_backward).\n"
        "  --dy DY          the output's gradient, N x C x OH x OW\n"
        "  --indices I      int32 or int64, N x C x OH x OW, as maxpool2d (or PyTorch's\n"
        "                   return_indices) wrote them with the same parameters; each\n"
        "                   must lie in its own window (exit 2 otherwise)\n"
        "  --input-size H,W the input's height and width (one number: both)\n"
        "  -o DX            the input's gradient, N x C x H x W\n" POOL_HELP COMMON_HELP;
    int rc = run_parse(op.name, argc, argv, opts, pool_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}

int run_avgpool2d_backward(int argc, char **argv)
{
    pool_args a = pool_defaults(CLT_POOL_AVG);
    run_op op = {.name = "avgpool2d-backward",
                 .args = &a,
                 .check = backward_check,
                 .compute = backward_compute,
                 .in = {{.flag = "--dy"}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--dy", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--input-size", .kind = OPT_PAIR, .dest = a.input_size, .min = 1, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1},
        {.name = "--count-include-pad", .kind = OPT_FLAG, .dest = &a.count_include_pad}};
    static const char help[] =
        "usage: cltool run avgpool2d-backward --dy DY --input-size H,W --kernel-size K\n"
        "           [--stride S] [--padding P] [--ceil-mode] [--no-count-include-pad]\n"
        "           [--device SEL] -o DX\n\n"
        "dx, the gradient of avg_pool2d's input: each dy element spread over its window\n"
        "divided by the forward's divisor (avg_pool2d_backward).\n"
        "  --dy DY          the output's gradient, N x C x OH x OW\n"
        "  --input-size H,W the input's height and width (one number: both)\n"
        "  -o DX            the input's gradient, N x C x H x W\n" POOL_HELP AVG_HELP COMMON_HELP;
    int rc = run_parse(op.name, argc, argv, opts, pool_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}
