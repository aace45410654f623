/* cltool run OP: one clt operation on tensors in NumPy .npy files. */
#include "run.h"

#include <string.h>

static const cmd ops[] = {
    {"conv2d", "y = conv2d(x, w) + b  (torch.nn.functional.conv2d)", run_conv2d},
    {"conv2d-backward-data", "dx from dy and w  (torch.nn.grad.conv2d_input)",
     run_conv2d_backward_data},
    {"conv2d-backward-weights", "dw (and db) from x and dy  (torch.nn.grad.conv2d_weight)",
     run_conv2d_backward_weights},
    {"maxpool2d", "y (and indices) = max_pool2d(x)  (F.max_pool2d, return_indices)", run_maxpool2d},
    {"maxpool2d-backward", "dx from dy and the forward's indices", run_maxpool2d_backward},
    {"avgpool2d", "y = avg_pool2d(x)  (F.avg_pool2d)", run_avgpool2d},
    {"avgpool2d-backward", "dx from dy", run_avgpool2d_backward},
    {"gemm", "out = beta * c + alpha * op(a) @ op(b)  (torch.addmm / torch.mm)", run_gemm},
};
#define N_OPS (sizeof ops / sizeof ops[0])

static void print_usage(FILE *f)
{
    fprintf(f, "usage: cltool run OP [options]   (cltool run OP --help for each)\n\n"
               "Runs one clt operation on tensors in NumPy .npy files (float32, C order;\n"
               "indices int32, or int64 on input) and writes the results the same way.\n"
               "Parameters are named as PyTorch names them; A,B gives per-axis values and\n"
               "one number means both axes. Outputs appear only when everything succeeded.\n\n"
               "operations:\n");
    for (size_t i = 0; i < N_OPS; i++)
        fprintf(f, "  %-24s %s\n", ops[i].name, ops[i].summary);
    fprintf(f, "\nEvery operation takes --device SEL (else CLT_DEVICE, else the default).\n"
               "Exit codes: 0 success, 1 runtime failure, 2 usage or input error.\n");
}

int cmd_run(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "cltool run: which operation?\n");
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        print_usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_OPS; i++)
        if (!strcmp(argv[1], ops[i].name))
            return ops[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cltool run: unknown operation \"%s\"\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
