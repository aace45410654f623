/* cltool run conv2d, conv2d-backward-data, conv2d-backward-weights. */
#include "run.h"

#include <string.h>

typedef struct conv_args {
    int stride[2], dilation[2], groups;
    run_padding padding;
    clt_conv_algo algo;
    int input_size[2];  /* backward data */
    int kernel_size[2]; /* backward weights */
    clt_conv2d_desc d;  /* made by the check */
    clt_shape y;        /* the forward output shape */
} conv_args;

static conv_args conv_defaults(void)
{
    /* PyTorch's defaults: stride 1, padding 0, dilation 1, groups 1 */
    return (conv_args){
        .stride = {1, 1}, .dilation = {1, 1}, .groups = 1, .algo = CLT_CONV_ALGO_AUTO};
}

/* Appends the options every convolution takes after the first empty entry of
 * opts (RUN_MAX_OPTS long); the count of options. */
static int conv_opts(run_opt *opts, conv_args *a, run_op *op)
{
    int n = 0;
    while (opts[n].name)
        n++;
    opts[n++] = (run_opt){.name = "--stride", .kind = OPT_PAIR, .dest = a->stride, .min = 1};
    opts[n++] = (run_opt){.name = "--padding", .kind = OPT_PADDING, .dest = &a->padding};
    opts[n++] = (run_opt){.name = "--dilation", .kind = OPT_PAIR, .dest = a->dilation, .min = 1};
    opts[n++] = (run_opt){.name = "--groups", .kind = OPT_INT, .dest = &a->groups, .min = 1};
    opts[n++] = (run_opt){.name = "--algo", .kind = OPT_ALGO, .dest = &a->algo};
    opts[n++] = (run_opt){.name = "--device", .kind = OPT_STRING, .dest = &op->device};
    return n;
}

#define CONV_HELP                                                                                  \
    "  --stride S       S or SH,SW, each >= 1 (default 1)\n"                                       \
    "  --padding P      P or PH,PW, each >= 0 (default 0); or 'valid' (0), or 'same'\n"            \
    "                   (stride 1, and dilation*(kernel-1) even on both axes)\n"                   \
    "  --dilation D     D or DH,DW, each >= 1 (default 1)\n"                                       \
    "  --groups G       >= 1, dividing the input channels C and the filters K (default 1)\n"       \
    "  --algo A         auto (default), direct, im2col, gemm1x1 or winograd; not every\n"          \
    "                   algorithm runs every pass and shape (exit 2 saying why)\n"                 \
    "  --device SEL     cpu, gpu, P:D or part of a device name (default: CLT_DEVICE,\n"            \
    "                   else the first GPU, else the first CPU)\n"                                 \
    "Files are NumPy .npy, float32, C order. Exit codes: 0 success, 1 runtime failure,\n"          \
    "2 usage or input error (then no output file is written).\n"

/* Fills a->d from the shapes and parameters and validates it (the output
 * shape goes to a->y). */
static int make_desc(run_op *op, conv_args *a, int n, int c, int h, int w, int k, int kh, int kw)
{
    int pad[2] = {a->padding.v[0], a->padding.v[1]};
    if (a->padding.same) {
        if (a->stride[0] != 1 || a->stride[1] != 1)
            return run_error(op, "--padding same needs --stride 1 (as in PyTorch)");
        int kernel[2] = {kh, kw};
        for (int i = 0; i < 2; i++) {
            long long extent = (long long)a->dilation[i] * (kernel[i] - 1);
            if (extent % 2)
                return run_error(op,
                                 "--padding same: dilation*(kernel-1) = %lld along %s is odd, "
                                 "which needs more padding on one side than the other; clt "
                                 "pads symmetrically, so give the padding as numbers",
                                 extent, i ? "the width" : "the height");
            if (extent / 2 > 0x7fffffff)
                return run_error(op, "--padding same: the padding overflows");
            pad[i] = (int)(extent / 2);
        }
    }
    a->d = (clt_conv2d_desc){.n = n,
                             .c = c,
                             .h = h,
                             .w = w,
                             .k = k,
                             .kernel_h = kh,
                             .kernel_w = kw,
                             .pad_h = pad[0],
                             .pad_w = pad[1],
                             .stride_h = a->stride[0],
                             .stride_w = a->stride[1],
                             .dilation_h = a->dilation[0],
                             .dilation_w = a->dilation[1],
                             .groups = a->groups};
    if (clt_conv2d_output_shape(&a->d, &a->y) != CLT_STATUS_SUCCESS)
        return run_error(op, "these parameters do not fit the input: %s",
                         clt_context_last_error(NULL));
    return RUN_GO;
}

/* C channels and K filters against --groups, and w's channels per group. */
static int check_groups(run_op *op, const char *c_flag, int c, const char *k_flag, int k,
                        const int *w)
{
    int g = ((conv_args *)op->args)->groups;
    if (c % g)
        return run_error(op, "--groups %d does not divide the %d channels of %s", g, c, c_flag);
    if (k % g)
        return run_error(op, "%s has %d %s, not a multiple of --groups %d", k_flag, k,
                         strcmp(k_flag, "--w") ? "channels" : "filters", g);
    if (w && w[1] != c / g)
        return run_error(op,
                         "--w has %d input channels per group but %s has %d channels and "
                         "--groups %d (expected %d per group)",
                         w[1], c_flag, c, g, c / g);
    return RUN_GO;
}

/* dy must have the shape of the forward output. */
static int check_dy(run_op *op, const run_tensor *dy, const int *d)
{
    const clt_shape *y = &((conv_args *)op->args)->y;
    if (d[0] != y->n || d[1] != y->c || d[2] != y->h || d[3] != y->w)
        return run_error(op,
                         "%s is %d x %d x %d x %d but the forward output of these parameters "
                         "is %d x %d x %d x %d",
                         dy->flag, d[0], d[1], d[2], d[3], y->n, y->c, y->h, y->w);
    return RUN_GO;
}

/* ---- conv2d ---- */

static int conv2d_check(run_op *op)
{
    conv_args *a = op->args;
    int x[4], w[4], rc;
    if ((rc = run_need_4d(op, &op->in[0], "N, C, H, W", x)) != RUN_GO ||
        (rc = run_need_4d(op, &op->in[1], "K, C/groups, KH, KW", w)) != RUN_GO ||
        (rc = check_groups(op, "--x", x[1], "--w", w[0], w)) != RUN_GO)
        return rc;
    const npy_array *b = &op->in[2].a;
    if (op->in[2].path && (b->ndim != 1 || b->shape[0] != (size_t)w[0])) {
        char s[96];
        npy_format_shape(b->ndim, b->shape, s, sizeof s);
        return run_error(op, "--b has shape %s but --w has %d filters: expected (%d,)", s, w[0],
                         w[0]);
    }
    if ((rc = make_desc(op, a, x[0], x[1], x[2], x[3], w[0], w[2], w[3])) != RUN_GO)
        return rc;
    run_set_output(&op->out[0], NPY_FLOAT32, 4, (int[]){a->y.n, a->y.c, a->y.h, a->y.w});
    return RUN_GO;
}

static clt_status conv2d_compute(clt_context_t ctx, run_op *op)
{
    conv_args *a = op->args;
    return clt_conv2d_forward(ctx, &a->d, a->algo, run_buf(&op->in[0]), run_buf(&op->in[1]),
                              run_buf(&op->in[2]), CLT_ACTIVATION_NONE, run_buf(&op->out[0]), NULL,
                              0);
}

int run_conv2d(int argc, char **argv)
{
    conv_args a = conv_defaults();
    run_op op = {.name = "conv2d",
                 .args = &a,
                 .check = conv2d_check,
                 .compute = conv2d_compute,
                 .in = {{.flag = "--x"}, {.flag = "--w"}, {.flag = "--b"}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--x", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--w", .kind = OPT_PATH, .dest = &op.in[1].path, .required = 1},
        {.name = "--b", .kind = OPT_PATH, .dest = &op.in[2].path},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1}};
    static const char help[] =
        "usage: cltool run conv2d --x X --w W [--b B] [--stride S] [--padding P]\n"
        "           [--dilation D] [--groups G] [--algo A] [--device SEL] -o Y\n\n"
        "y = conv2d(x, w) + b, as torch.nn.functional.conv2d(x, w, b, stride, padding,\n"
        "dilation, groups) computes it (cross-correlation).\n"
        "  --x X            input, N x C x H x W\n"
        "  --w W            filters, K x C/groups x KH x KW\n"
        "  --b B            bias, (K,) (optional)\n"
        "  -o Y             output, N x K x OH x OW\n" CONV_HELP;
    int rc = run_parse(op.name, argc, argv, opts, conv_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}

/* ---- conv2d-backward-data ---- */

static int backward_data_check(run_op *op)
{
    conv_args *a = op->args;
    int dy[4], w[4], rc;
    if ((rc = run_need_4d(op, &op->in[0], "N, K, OH, OW", dy)) != RUN_GO ||
        (rc = run_need_4d(op, &op->in[1], "K, C/groups, KH, KW", w)) != RUN_GO)
        return rc;
    if (dy[1] != w[0])
        return run_error(op, "--dy has %d channels but --w has %d filters", dy[1], w[0]);
    if (w[0] % a->groups)
        return run_error(op, "--w has %d filters, not a multiple of --groups %d", w[0], a->groups);
    if ((long long)w[1] * a->groups > 0x7fffffff)
        return run_error(op, "--w's %d channels per group times --groups %d overflow", w[1],
                         a->groups);
    int c = w[1] * a->groups;
    if ((rc = make_desc(op, a, dy[0], c, a->input_size[0], a->input_size[1], w[0], w[2], w[3])) !=
            RUN_GO ||
        (rc = check_dy(op, &op->in[0], dy)) != RUN_GO)
        return rc;
    run_set_output(&op->out[0], NPY_FLOAT32, 4,
                   (int[]){dy[0], c, a->input_size[0], a->input_size[1]});
    return RUN_GO;
}

static clt_status backward_data_compute(clt_context_t ctx, run_op *op)
{
    conv_args *a = op->args;
    return clt_conv2d_backward_data(ctx, &a->d, a->algo, run_buf(&op->in[0]), run_buf(&op->in[1]),
                                    run_buf(&op->out[0]), NULL, 0);
}

int run_conv2d_backward_data(int argc, char **argv)
{
    conv_args a = conv_defaults();
    run_op op = {.name = "conv2d-backward-data",
                 .args = &a,
                 .check = backward_data_check,
                 .compute = backward_data_compute,
                 .in = {{.flag = "--dy"}, {.flag = "--w"}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--dy", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--w", .kind = OPT_PATH, .dest = &op.in[1].path, .required = 1},
        {.name = "--input-size", .kind = OPT_PAIR, .dest = a.input_size, .min = 1, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1}};
    static const char help[] =
        "usage: cltool run conv2d-backward-data --dy DY --w W --input-size H,W\n"
        "           [--stride S] [--padding P] [--dilation D] [--groups G] [--algo A]\n"
        "           [--device SEL] -o DX\n\n"
        "dx, the gradient of conv2d's input, as torch.nn.grad.conv2d_input((N, C, H, W),\n"
        "w, dy, stride, padding, dilation, groups) computes it.\n"
        "  --dy DY          the output's gradient, N x K x OH x OW: the forward output's\n"
        "                   shape for an H x W input\n"
        "  --w W            filters, K x C/groups x KH x KW\n"
        "  --input-size H,W the input's height and width (one number: both)\n"
        "  -o DX            the input's gradient, N x C x H x W\n" CONV_HELP;
    int rc = run_parse(op.name, argc, argv, opts, conv_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}

/* ---- conv2d-backward-weights ---- */

static int backward_weights_check(run_op *op)
{
    conv_args *a = op->args;
    int x[4], dy[4], rc;
    if ((rc = run_need_4d(op, &op->in[0], "N, C, H, W", x)) != RUN_GO ||
        (rc = run_need_4d(op, &op->in[1], "N, K, OH, OW", dy)) != RUN_GO)
        return rc;
    if (dy[0] != x[0])
        return run_error(op, "--dy has a batch of %d but --x has %d", dy[0], x[0]);
    if ((rc = check_groups(op, "--x", x[1], "--dy", dy[1], NULL)) != RUN_GO ||
        (rc = make_desc(op, a, x[0], x[1], x[2], x[3], dy[1], a->kernel_size[0],
                        a->kernel_size[1])) != RUN_GO ||
        (rc = check_dy(op, &op->in[1], dy)) != RUN_GO)
        return rc;
    run_set_output(&op->out[0], NPY_FLOAT32, 4,
                   (int[]){dy[1], x[1] / a->groups, a->kernel_size[0], a->kernel_size[1]});
    if (op->out[1].path)
        run_set_output(&op->out[1], NPY_FLOAT32, 1, &dy[1]);
    return RUN_GO;
}

static clt_status backward_weights_compute(clt_context_t ctx, run_op *op)
{
    conv_args *a = op->args;
    return clt_conv2d_backward_weights(ctx, &a->d, a->algo, run_buf(&op->in[0]),
                                       run_buf(&op->in[1]), run_buf(&op->out[0]),
                                       run_buf(&op->out[1]), NULL, 0);
}

int run_conv2d_backward_weights(int argc, char **argv)
{
    conv_args a = conv_defaults();
    run_op op = {.name = "conv2d-backward-weights",
                 .args = &a,
                 .check = backward_weights_check,
                 .compute = backward_weights_compute,
                 .in = {{.flag = "--x"}, {.flag = "--dy"}},
                 .out = {{.flag = "-o"}, {.flag = "--db"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--x", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--dy", .kind = OPT_PATH, .dest = &op.in[1].path, .required = 1},
        {.name = "--kernel-size", .kind = OPT_PAIR, .dest = a.kernel_size, .min = 1, .required = 1},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1},
        {.name = "--db", .kind = OPT_PATH, .dest = &op.out[1].path}};
    static const char help[] =
        "usage: cltool run conv2d-backward-weights --x X --dy DY --kernel-size KH,KW\n"
        "           [--stride S] [--padding P] [--dilation D] [--groups G] [--algo A]\n"
        "           [--device SEL] -o DW [--db DB]\n\n"
        "dw, the gradient of conv2d's filters, as torch.nn.grad.conv2d_weight(x,\n"
        "(K, C/groups, KH, KW), dy, stride, padding, dilation, groups) computes it, and\n"
        "optionally db, the bias gradient (dy summed over N, OH and OW).\n"
        "  --x X            the forward input, N x C x H x W\n"
        "  --dy DY          the output's gradient, N x K x OH x OW\n"
        "  --kernel-size KH,KW  the filters' height and width (one number: both)\n"
        "  -o DW            the filters' gradient, K x C/groups x KH x KW\n"
        "  --db DB          the bias gradient, (K,) (optional)\n" CONV_HELP;
    int rc = run_parse(op.name, argc, argv, opts, conv_opts(opts, &a, &op), help);
    return rc != RUN_GO ? rc : run_execute(&op);
}
