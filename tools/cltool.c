/* cltool: the command line of clt. */
#include "cltool.h"

#include <stdarg.h>
#include <string.h>

static const cmd commands[] = {
    {"devices", "list every OpenCL platform and device", cmd_devices},
    {"info", "show the selected device and the cost of loading clt's kernels", cmd_info},
    {"bench", "time and verify clt's algorithms side by side, with a peer", cmd_bench},
    {"tune", "measure the algorithms on a preset's shapes and fill the perf-db", cmd_tune},
    {"run", "run one operation on tensors in NumPy .npy files", cmd_run},
    {"train", "train a small CNN on Fashion-MNIST with clt", cmd_train},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

int is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

static void log_to_stderr(clt_log_level level, const char *message, void *user)
{
    (void)user;
    static const char *names[] = {"", "error", "warning", "info", "debug"};
    fprintf(stderr, "clt %s: %s\n", names[level >= 1 && level <= 4 ? level : 0], message);
}

int open_context(const char *device, clt_context_t *ctx)
{
    clt_context_options opt = {.device = device, .log = log_to_stderr};
    clt_status st = clt_context_create(&opt, ctx);
    if (st != CLT_STATUS_SUCCESS) {
        fprintf(stderr, "cltool: cannot create a context: %s\n%s\n", clt_status_string(st),
                clt_context_last_error(NULL));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

int fail(clt_context_t ctx, clt_status st, const char *what)
{
    fprintf(stderr, "cltool: %s: %s: %s\n", what, clt_status_name(st), clt_context_last_error(ctx));
    return EXIT_RUNTIME;
}

int usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cltool %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see cltool %s --help)\n", command);
    va_end(ap);
    return EXIT_USAGE;
}

void format_bytes(double bytes, char *out, size_t cap)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: cltool <command> [options]   (clt %s)\n\ncommands:\n", CLT_VERSION_STRING);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nEvery command takes --help. The device comes from --device or CLT_DEVICE:\n"
               "cpu, gpu, P:D (platform:device index) or part of a device name.\n"
               "Exit codes: 0 success, 1 runtime failure, 2 usage or input error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("cltool %s\n", CLT_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cltool: unknown command \"%s\"\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
