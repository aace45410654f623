/* cltool run gemm: out = beta * c + alpha * op(a) @ op(b), as torch.addmm. */
#include "run.h"

typedef struct gemm_args {
    int trans_a, trans_b;
    float alpha, beta;
    int m, n, k; /* op(a) is m x k, op(b) k x n: found by the check */
} gemm_args;

static int gemm_check(run_op *op)
{
    gemm_args *g = op->args;
    int a[2], b[2], rc;
    if ((rc = run_need_2d(op, &op->in[0], a)) != RUN_GO ||
        (rc = run_need_2d(op, &op->in[1], b)) != RUN_GO)
        return rc;
    g->m = g->trans_a ? a[1] : a[0];
    g->k = g->trans_a ? a[0] : a[1];
    int kb = g->trans_b ? b[1] : b[0];
    g->n = g->trans_b ? b[0] : b[1];
    if (kb != g->k)
        return run_error(op,
                         "op(--a) is %d x %d but op(--b) is %d x %d: the inner dimensions "
                         "differ (--a is %d x %d%s, --b is %d x %d%s)",
                         g->m, g->k, kb, g->n, a[0], a[1], g->trans_a ? ", transposed" : "", b[0],
                         b[1], g->trans_b ? ", transposed" : "");
    if (op->in[2].path) {
        const npy_array *c = &op->in[2].a;
        if (c->ndim != 2 || c->shape[0] != (size_t)g->m || c->shape[1] != (size_t)g->n) {
            char s[96];
            npy_format_shape(c->ndim, c->shape, s, sizeof s);
            return run_error(op, "--c has shape %s but the product is %d x %d", s, g->m, g->n);
        }
    }
    run_set_output(&op->out[0], NPY_FLOAT32, 2, (int[]){g->m, g->n});
    return RUN_GO;
}

static clt_status gemm_compute(clt_context_t ctx, run_op *op)
{
    gemm_args *g = op->args;
    const run_tensor *a = &op->in[0], *b = &op->in[1], *c = &op->in[2], *out = &op->out[0];
    if (c->path) { /* clt_gemm updates C in place: start the output as a copy of c */
        cl_int e = clEnqueueCopyBuffer(clt_context_queue(ctx), c->mem, out->mem, 0, 0,
                                       c->a.count * sizeof(float), 0, NULL, NULL);
        if (e != CL_SUCCESS)
            return (clt_status)e;
    }
    return clt_gemm(ctx, g->trans_a ? CLT_TRANS : CLT_NO_TRANS,
                    g->trans_b ? CLT_TRANS : CLT_NO_TRANS, (size_t)g->m, (size_t)g->n, (size_t)g->k,
                    g->alpha, run_buf(a), a->a.shape[1], run_buf(b), b->a.shape[1],
                    c->path ? g->beta : 0.0f, run_buf(out), (size_t)g->n);
}

int run_gemm(int argc, char **argv)
{
    gemm_args g = {.alpha = 1, .beta = 1};
    run_op op = {.name = "gemm",
                 .args = &g,
                 .check = gemm_check,
                 .compute = gemm_compute,
                 .in = {{.flag = "--a"}, {.flag = "--b"}, {.flag = "--c"}},
                 .out = {{.flag = "-o"}}};
    run_opt opts[RUN_MAX_OPTS] = {
        {.name = "--a", .kind = OPT_PATH, .dest = &op.in[0].path, .required = 1},
        {.name = "--b", .kind = OPT_PATH, .dest = &op.in[1].path, .required = 1},
        {.name = "--c", .kind = OPT_PATH, .dest = &op.in[2].path},
        {.name = "--trans-a", .kind = OPT_FLAG, .dest = &g.trans_a},
        {.name = "--trans-b", .kind = OPT_FLAG, .dest = &g.trans_b},
        {.name = "--alpha", .kind = OPT_FLOAT, .dest = &g.alpha},
        {.name = "--beta", .kind = OPT_FLOAT, .dest = &g.beta},
        {.name = "-o", .kind = OPT_PATH, .dest = &op.out[0].path, .required = 1},
        {.name = "--device", .kind = OPT_STRING, .dest = &op.device}};
    static const char help[] =
        "usage: cltool run gemm --a A --b B [--c C] [--trans-a] [--trans-b] [--alpha X]\n"
        "           [--beta Y] [--device SEL] -o OUT\n\n"
        "out = beta * c + alpha * op(a) @ op(b), as torch.addmm(c, op(a), op(b),\n"
        "beta=beta, alpha=alpha); without --c, out = alpha * op(a) @ op(b) (torch.mm).\n"
        "op(x) is x, or x transposed with --trans-a / --trans-b. All 2-D, row-major.\n"
        "  --a A            M x K (K x M with --trans-a)\n"
        "  --b B            K x N (N x K with --trans-b)\n"
        "  --c C            M x N (optional; no broadcasting)\n"
        "  --trans-a, --trans-b  use the transpose (also =true|false, --no-trans-a)\n"
        "  --alpha X        a finite number (default 1)\n"
        "  --beta Y         a finite number (default 1); only with --c. As in PyTorch,\n"
        "                   beta 0 ignores c's values (NaN included)\n"
        "  -o OUT           M x N\n"
        "  --device SEL     cpu, gpu, P:D or part of a device name (default: CLT_DEVICE,\n"
        "                   else the first GPU, else the first CPU)\n"
        "Files are NumPy .npy, float32, C order. Exit codes: 0 success, 1 runtime failure,\n"
        "2 usage or input error (then no output file is written).\n";
    int n = 0;
    while (opts[n].name)
        n++;
    int rc = run_parse(op.name, argc, argv, opts, n, help);
    if (rc != RUN_GO)
        return rc;
    if (run_given(opts, n, "--beta") && !op.in[2].path)
        return usage_error("run gemm", "--beta needs --c (there is nothing to scale)");
    return run_execute(&op);
}
