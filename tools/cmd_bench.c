/* cltool bench: compares clt's algorithms (and a peer) side by side. */
#define _XOPEN_SOURCE 700
#include "bench.h"
#include "peer_onednn.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SHAPES 64
#define MAX_ROWS 512

static const char *const op_names[OP_COUNT] = {"conv", "conv-bwd-data", "conv-bwd-weights", "pool",
                                               "gemm"};

const char *bench_op_name(bench_op op)
{
    return op_names[op];
}

int bench_op_parse(const char *s, bench_op *out)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(s, op_names[i])) {
            *out = (bench_op)i;
            return 0;
        }
    return -1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: cltool bench [options]\n\n"
        "Times clt's algorithms side by side on the selected device, verifies each against a\n"
        "double-precision host reference, and compares with a peer (CLBlast's own\n"
        "CLBlastSconvgemm for forward convolutions, CLBlastSgemm for GEMM).\n\n"
        "shapes:\n"
        "  --preset small|resnet50|vgg16   layer sets (default small; resnet50 is every\n"
        "                                  distinct convolution of ResNet-50)\n"
        "  -n N -c C -H H -W W -k K -y R -x S -p PAD_H -q PAD_W -u STRIDE_H -v STRIDE_W\n"
        "  -l DIL_H -j DIL_W -g GROUPS     one convolution (MIOpenDriver's letters); -n also\n"
        "                                  overrides a preset's batch (default: 4 on CPUs and\n"
        "                                  32 on GPUs for resnet50/vgg16, 2 for small)\n"
        "what:\n"
        "  --op conv|conv-bwd-data|conv-bwd-weights|pool|gemm   (default conv)\n"
        "  --algos LIST        comma list of rows to run, e.g. im2col,winograd,clblast_convgemm\n"
        "  --device SEL        cpu, gpu, P:D or part of a device name (or CLT_DEVICE)\n"
        "  --min-time S        time each row for at least S seconds (default 0.5)\n"
        "  --max-runs N        at most N timed runs per row (default 50)\n"
        "  --samples N         outputs verified against the host reference (default 256)\n"
        "  --skip-load-times   don't measure the kernels' cold and warm load times\n"
        "output:\n"
        "  --csv | --json      machine-readable rows instead of the table\n"
        "  --plot FILE.svg     a bar chart of GFLOP/s per shape and algorithm\n\n"
        "GFLOP/s counts 2*N*K*P*Q*C*R*S/groups for every convolution algorithm alike.\n");
}

/* A whole int from a string, or -1 on junk. */
static int parse_int(const char *s, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > 1 << 24)
        return -1;
    *out = (int)v;
    return 0;
}

typedef struct cli {
    bench_opts o;
    const char *preset;
    int batch;
    bool single;
    clt_conv2d_desc one;
} cli;

/* MIOpenDriver-style letters for one convolution. */
static int *conv_field(clt_conv2d_desc *d, int *batch, char letter)
{
    switch (letter) {
    case 'n':
        return batch;
    case 'c':
        return &d->c;
    case 'H':
        return &d->h;
    case 'W':
        return &d->w;
    case 'k':
        return &d->k;
    case 'y':
        return &d->kernel_h;
    case 'x':
        return &d->kernel_w;
    case 'p':
        return &d->pad_h;
    case 'q':
        return &d->pad_w;
    case 'u':
        return &d->stride_h;
    case 'v':
        return &d->stride_w;
    case 'l':
        return &d->dilation_h;
    case 'j':
        return &d->dilation_w;
    case 'g':
        return &d->groups;
    default:
        return NULL;
    }
}

/* An option that takes a value: sets it, or returns a usage error. */
static int option_value(cli *c, const char *a, const char *v)
{
    if (!strcmp(a, "--preset")) {
        c->preset = v;
    } else if (!strcmp(a, "--op")) {
        if (bench_op_parse(v, &c->o.op))
            return usage_error("bench", "unknown --op \"%s\"", v);
    } else if (!strcmp(a, "--peer")) {
        if (strcmp(v, "onednn"))
            return usage_error("bench", "--peer \"%s\": only onednn is known", v);
        if (!onednn_available())
            return usage_error("bench", "--peer onednn: this cltool was built without oneDNN "
                                        "(install libdnnl-dev and rebuild)");
        c->o.peer_onednn = true;
    } else if (!strcmp(a, "--algos")) {
        c->o.algos = v;
    } else if (!strcmp(a, "--device")) {
        c->o.device = v;
    } else if (!strcmp(a, "--plot")) {
        c->o.plot = v;
    } else if (!strcmp(a, "--min-time")) {
        char *end;
        c->o.min_time_s = strtod(v, &end);
        if (*end || !(c->o.min_time_s >= 0 && c->o.min_time_s < 1e4))
            return usage_error("bench", "--min-time \"%s\": seconds expected", v);
    } else if (!strcmp(a, "--max-runs") || !strcmp(a, "--samples")) {
        int *dst = a[2] == 'm' ? &c->o.max_runs : &c->o.samples;
        if (parse_int(v, 1, dst))
            return usage_error("bench", "%s \"%s\": a number >= 1 expected", a, v);
    } else if (a[0] == '-' && a[1] && !a[2] && conv_field(&c->one, &c->batch, a[1])) {
        int min = strchr("pq", a[1]) ? 0 : 1;
        if (parse_int(v, min, conv_field(&c->one, &c->batch, a[1])))
            return usage_error("bench", "%s \"%s\": a number >= %d expected", a, v, min);
        c->single |= a[1] != 'n';
    } else {
        return usage_error("bench", "unknown option \"%s\"", a);
    }
    return EXIT_OK;
}

static int parse_args(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->o = (bench_opts){.op = OP_CONV, .min_time_s = 0.5, .max_runs = 50, .samples = 256};
    c->preset = "small";
    c->one = (clt_conv2d_desc){.n = 1,
                               .c = 64,
                               .h = 56,
                               .w = 56,
                               .k = 64,
                               .kernel_h = 3,
                               .kernel_w = 3,
                               .pad_h = 1,
                               .pad_w = 1,
                               .stride_h = 1,
                               .stride_w = 1,
                               .dilation_h = 1,
                               .dilation_w = 1,
                               .groups = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = EXIT_OK;
        if (!strcmp(a, "--csv"))
            c->o.csv = true;
        else if (!strcmp(a, "--json"))
            c->o.json = true;
        else if (!strcmp(a, "--skip-load-times"))
            c->o.skip_load_times = true;
        else if (i + 1 >= argc)
            return usage_error("bench", "unknown option or missing value: \"%s\"", a);
        else if ((rc = option_value(c, a, argv[++i])) != EXIT_OK)
            return rc;
    }
    if (c->o.csv && c->o.json)
        return usage_error("bench", "--csv and --json exclude each other");
    return EXIT_OK;
}

/* ---- the kernels' cold and warm load times, from two child processes ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs `cltool info` with the given cache folders; returns load_ms or -1. */
static double child_load_ms(const char *self, const char *device, const char *clt_dir,
                            const char *pocl_dir)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("CLT_CACHE_DIR", clt_dir, 1);
        setenv("POCL_CACHE_DIR", pocl_dir, 1);
        unsetenv("CLT_CACHE");
        if (device)
            execl(self, self, "info", "--device", device, (char *)NULL);
        else
            execl(self, self, "info", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[8192];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const char *p = strstr(buf, "load_ms=");
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && p ? atof(p + 8) : -1;
}

static void load_times(const char *device, bench_header *h)
{
    char self[1024], clt_dir[] = "/tmp/clt-bench-XXXXXX", pocl_dir[] = "/tmp/pocl-bench-XXXXXX";
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    h->cold_ms = h->warm_ms = -1;
    if (n <= 0 || !mkdtemp(clt_dir))
        return;
    self[n] = '\0';
    if (mkdtemp(pocl_dir)) {
        h->cold_ms = child_load_ms(self, device, clt_dir, pocl_dir);
        h->warm_ms = child_load_ms(self, device, clt_dir, pocl_dir);
        nftw(pocl_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    nftw(clt_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (h->cold_ms < 0 || h->warm_ms < 0)
        h->cold_ms = h->warm_ms = -1;
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            usage(stdout);
            return EXIT_OK;
        }
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc;
    if (c.o.peer_onednn && !getenv("OMP_WAIT_POLICY")) {
        /* oneDNN's OpenMP threads spin between runs and starve PoCL's
           threads; the policy is read when libgomp loads, so restart with it
           set. argv - 1 is main's argv: ["cltool", "bench", ...]. */
        setenv("OMP_WAIT_POLICY", "passive", 1);
        char self[1024];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            execv(self, argv - 1);
        }
    }
    bench_header h = {.cold_ms = -1, .warm_ms = -1, .preset = c.single ? "flags" : c.preset};
    if (!c.o.skip_load_times)
        load_times(c.o.device, &h);
    clt_context_t ctx;
    if ((rc = open_context(c.o.device, &ctx)))
        return rc;
    clt_context_device_info(ctx, &h.dev);
    static bench_shape shapes[MAX_SHAPES];
    int ns;
    if (c.single) {
        if (c.o.op == OP_POOL || c.o.op == OP_GEMM) {
            clt_context_destroy(ctx);
            return usage_error("bench",
                               "shape flags describe a convolution; --op %s uses "
                               "presets",
                               bench_op_name(c.o.op));
        }
        c.one.n = c.batch > 0 ? c.batch : 1;
        clt_shape y;
        if (clt_conv2d_output_shape(&c.one, &y) != CLT_STATUS_SUCCESS) {
            clt_context_destroy(ctx);
            return usage_error("bench", "invalid convolution: %s", clt_context_last_error(NULL));
        }
        memset(&shapes[0], 0, sizeof shapes[0]);
        shapes[0].conv = c.one;
        snprintf(shapes[0].name, sizeof shapes[0].name, "flags");
        ns = 1;
    } else {
        ns = bench_preset(c.preset, c.o.op, c.batch, (h.dev.type & CL_DEVICE_TYPE_GPU) != 0, shapes,
                          MAX_SHAPES);
        if (ns < 0) {
            clt_context_destroy(ctx);
            return usage_error("bench", "unknown --preset \"%s\" (small, resnet50, vgg16)",
                               c.preset);
        }
    }
    static bench_row rows[MAX_ROWS];
    int nrows = 0;
    for (int i = 0; i < ns && rc == EXIT_OK; i++)
        rc = bench_shape_run(ctx, &c.o, &shapes[i], rows, MAX_ROWS, &nrows);
    if (isatty(2))
        fprintf(stderr, "\r\033[K");
    if (c.o.csv)
        bench_print_csv(stdout, &c.o, rows, nrows);
    else if (c.o.json)
        bench_print_json(stdout, &c.o, &h, rows, nrows);
    else
        bench_print_table(stdout, &c.o, &h, rows, nrows);
    if (c.o.plot && nrows > 0 && bench_write_svg(c.o.plot, &c.o, &h, rows, nrows) != EXIT_OK)
        rc = EXIT_RUNTIME;
    clt_context_destroy(ctx);
    return rc;
}
