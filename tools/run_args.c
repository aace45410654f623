/* cltool run: option parsing. Numbers are parsed strictly: no empty text,
 * no trailing junk, no overflow, and the operation's minimum. */
#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "cltool run OP: OPTION "VALUE": why"; EXIT_USAGE. */
static int bad_value(const char *op, const run_opt *o, const char *value, const char *why)
{
    char command[64];
    snprintf(command, sizeof command, "run %s", op);
    return usage_error(command, "%s \"%s\": %s", o->name, value, why);
}

/* One integer; 0, or an exit code after the message. */
static int parse_int(const char *op, const run_opt *o, const char *full, const char *s, int *out)
{
    if (!*s || isspace((unsigned char)*s))
        return bad_value(op, o, full, "expected an integer");
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end)
        return bad_value(op, o, full, "not an integer");
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
        return bad_value(op, o, full, "out of range");
    if (v < o->min) {
        char why[48];
        snprintf(why, sizeof why, "must be >= %d", o->min);
        return bad_value(op, o, full, why);
    }
    *out = (int)v;
    return 0;
}

/* "A,B", or "A" for both. */
static int parse_pair(const char *op, const run_opt *o, const char *s, int out[2])
{
    const char *comma = strchr(s, ',');
    if (!comma) {
        if (parse_int(op, o, s, s, &out[0]))
            return EXIT_USAGE;
        out[1] = out[0];
        return 0;
    }
    if (strchr(comma + 1, ','))
        return bad_value(op, o, s, "expected one number, or two separated by a comma");
    char first[32];
    size_t n = (size_t)(comma - s);
    if (n >= sizeof first)
        return bad_value(op, o, s, "not an integer");
    memcpy(first, s, n);
    first[n] = '\0';
    if (parse_int(op, o, s, first, &out[0]) || parse_int(op, o, s, comma + 1, &out[1]))
        return EXIT_USAGE;
    return 0;
}

static int parse_padding(const char *op, const run_opt *o, const char *s, run_padding *p)
{
    p->same = 0;
    if (!strcmp(s, "valid")) {
        p->v[0] = p->v[1] = 0;
        return 0;
    }
    if (!strcmp(s, "same")) {
        p->same = 1;
        return 0;
    }
    return parse_pair(op, o, s, p->v);
}

static int parse_float(const char *op, const run_opt *o, const char *s, float *out)
{
    if (!*s || isspace((unsigned char)*s))
        return bad_value(op, o, s, "expected a number");
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end)
        return bad_value(op, o, s, "not a number");
    if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
        return bad_value(op, o, s, "not a finite float32 number");
    *out = (float)v;
    return 0;
}

static int parse_bool(const char *op, const run_opt *o, const char *s, int *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "True"))
        *out = 1;
    else if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "False"))
        *out = 0;
    else
        return bad_value(op, o, s, "expected true, false, 1 or 0");
    return 0;
}

static int parse_value(const char *op, const run_opt *o, const char *s)
{
    switch (o->kind) {
    case OPT_PATH:
        if (!*s)
            return bad_value(op, o, s, "an empty file name");
        *(const char **)o->dest = s;
        return 0;
    case OPT_STRING:
        *(const char **)o->dest = s;
        return 0;
    case OPT_INT:
        return parse_int(op, o, s, s, o->dest);
    case OPT_PAIR:
        return parse_pair(op, o, s, o->dest);
    case OPT_PADDING:
        return parse_padding(op, o, s, o->dest);
    case OPT_FLAG:
        return parse_bool(op, o, s, o->dest);
    case OPT_FLOAT:
        return parse_float(op, o, s, o->dest);
    case OPT_ALGO:
        if (clt_conv_algo_from_name(s, o->dest) != CLT_STATUS_SUCCESS)
            return bad_value(op, o, s, "expected direct, im2col, gemm1x1, winograd, winograd4 or auto");
        return 0;
    }
    return EXIT_USAGE;
}

/* The option that arg names: "--stride", "--stride=2", or "--no-ceil-mode"
 * for a flag. *value gets the text after '=' (or NULL); *negated is set for
 * "--no-". */
static run_opt *find_opt(run_opt *opts, int n, const char *arg, const char **value, int *negated)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    *value = eq ? eq + 1 : NULL;
    *negated = 0;
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len))
            return &opts[i];
    if (!eq && !strncmp(arg, "--no-", 5))
        for (int i = 0; i < n; i++)
            if (opts[i].kind == OPT_FLAG && !strcmp(opts[i].name + 2, arg + 5)) {
                *negated = 1;
                return &opts[i];
            }
    return NULL;
}

int run_parse(const char *op, int argc, char **argv, run_opt *opts, int n, const char *help)
{
    char command[64];
    snprintf(command, sizeof command, "run %s", op);
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            fputs(help, stdout);
            return EXIT_OK;
        }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        int negated;
        run_opt *o = find_opt(opts, n, arg, &value, &negated);
        if (!o)
            return usage_error(
                command, arg[0] == '-' ? "unknown option %s" : "unexpected argument \"%s\"", arg);
        if (o->given)
            return usage_error(command, "%s is given twice", o->name);
        o->given = 1;
        if (o->kind == OPT_FLAG && !value) {
            *(int *)o->dest = !negated;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return usage_error(command, "%s needs a value", o->name);
            value = argv[++i];
        }
        if (parse_value(op, o, value))
            return EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)
        if (opts[i].required && !opts[i].given)
            return usage_error(command, "%s is required", opts[i].name);
    return RUN_GO;
}

int run_given(const run_opt *opts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name))
            return opts[i].given;
    return 0;
}
