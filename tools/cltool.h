/* cltool: shared declarations of the subcommands. */
#ifndef CLTOOL_H
#define CLTOOL_H

#include "clt.h"

#include <stdio.h>

/* Exit codes. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

typedef struct cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cmd;

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* Is argv[i] "--help" or "-h"? */
int is_help(const char *arg);
/* Creates a context on `device` (NULL: CLT_DEVICE/default); prints the
 * reason on failure. */
int open_context(const char *device, clt_context_t *ctx);
/* Reports a clt failure on stderr ("cltool: what: status: reason"). */
int fail(clt_context_t ctx, clt_status st, const char *what);
int usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Bytes as "3.6 GiB". */
void format_bytes(double bytes, char *out, size_t cap);

#endif
