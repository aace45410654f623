/* cltool tune: fills the perf-db that AUTO consults, shape by shape. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cltool tune [--preset small|resnet50|vgg16] [--op OP|all] [-n N]\n"
               "                   [--device SEL]\n\n"
               "Measures every algorithm on each convolution of the preset (clt_conv2d_find)\n"
               "and records the fastest in the device's perf-db, which AUTO then follows.\n"
               "OP is conv, conv-bwd-data or conv-bwd-weights; all (the default) does the three.\n"
               "-n sets the batch (default: 4 on CPUs and 32 on GPUs for resnet50/vgg16).\n");
}

static const clt_conv_op ops[] = {CLT_CONV_FORWARD, CLT_CONV_BACKWARD_DATA,
                                  CLT_CONV_BACKWARD_WEIGHTS};
static const bench_op bench_ops[] = {OP_CONV, OP_CONV_BWD_DATA, OP_CONV_BWD_WEIGHTS};

static int tune_shape(clt_context_t ctx, const bench_shape *s, int op)
{
    clt_conv_algo_perf perf[CLT_CONV_ALGO_COUNT];
    int n = 0;
    clt_status st = clt_conv2d_find(ctx, &s->conv, ops[op], perf, CLT_CONV_ALGO_COUNT, &n);
    if (st != CLT_STATUS_SUCCESS)
        return fail(ctx, st, s->name);
    printf("%-16s %-17s", s->name, bench_op_name(bench_ops[op]));
    for (int i = 0; i < n && perf[i].status == CLT_STATUS_SUCCESS; i++)
        printf(" %s%s %.3f ms%s", i ? "" : "[", clt_conv_algo_name(perf[i].algo), perf[i].time_ms,
               i ? "" : "]");
    printf("\n");
    return EXIT_OK;
}

int cmd_tune(int argc, char **argv)
{
    const char *preset = "resnet50", *device = NULL;
    int batch = 0, which = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!v)
            return usage_error("tune", "unknown option or missing value: \"%s\"", a);
        i++;
        if (!strcmp(a, "--preset")) {
            preset = v;
        } else if (!strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "-n")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 4096)
                return usage_error("tune", "-n \"%s\": a batch of 1 to 4096 expected", v);
            batch = (int)n;
        } else if (!strcmp(a, "--op")) {
            bench_op op;
            if (!strcmp(v, "all"))
                which = -1;
            else if (bench_op_parse(v, &op) || op > OP_CONV_BWD_WEIGHTS)
                return usage_error("tune",
                                   "--op \"%s\": conv, conv-bwd-data, "
                                   "conv-bwd-weights or all",
                                   v);
            else
                which = (int)op;
        } else {
            return usage_error("tune", "unknown option \"%s\"", a);
        }
    }
    clt_context_t ctx;
    int rc = open_context(device, &ctx);
    if (rc)
        return rc;
    clt_device_info dev;
    clt_context_device_info(ctx, &dev);
    static bench_shape shapes[64];
    int ns = bench_preset(preset, OP_CONV, batch, (dev.type & CL_DEVICE_TYPE_GPU) != 0, shapes, 64);
    if (ns < 0) {
        clt_context_destroy(ctx);
        return usage_error("tune", "unknown --preset \"%s\" (small, resnet50, vgg16)", preset);
    }
    printf("tuning %d shapes of %s on \"%s\" (fastest first, the winner in brackets)\n", ns, preset,
           dev.name);
    for (int i = 0; i < ns && rc == EXIT_OK; i++)
        for (int op = 0; op < 3 && rc == EXIT_OK; op++)
            if (which < 0 || which == op)
                rc = tune_shape(ctx, &shapes[i], op);
    const char *path = clt_context_perfdb_path(ctx);
    printf("perf-db: %s\n", path[0] ? path : "(in memory only: the binary cache is off)");
    clt_context_destroy(ctx);
    return rc;
}
