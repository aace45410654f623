/* The perf-db: measured algorithm choices per (pass, convolution), per
 * device. A text file beside the binary cache, one entry per line:
 *
 *   clt-perfdb 1 <device key>
 *   <op> <n c h w k kh kw ph pw sh sw dh dw groups> <algo> <time_ms>
 *
 * Lines that don't parse, and files for another device key, are ignored:
 * a damaged perf-db costs measurements, never correctness (the algorithm
 * named still has to accept the shape). Saving merges with what is on disk
 * and renames a temporary file into place. */
#define _POSIX_C_SOURCE 200809L
#include "conv_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER "clt-perfdb 1"

struct clt__perfdb_entry {
    clt_conv_op op;
    clt_conv2d_desc d;
    clt_conv_algo algo;
    double time_ms;
};

/* The device, its driver, clt's version and its kernels' sources: times
 * measured with other kernels (a rebuilt clt of the same version) would
 * choose by stale figures. */
static void device_key(clt_context_t ctx, char out[33])
{
    char all[1024];
    int n =
        snprintf(all, sizeof all, "%s\n%s\n%s\n%s\n%s", CLT_VERSION_STRING, ctx->info.platform_name,
                 ctx->info.name, ctx->info.driver_version, ctx->info.device_version);
    size_t len = n > 0 ? (size_t)n < sizeof all ? (size_t)n : sizeof all - 1 : 0;
    for (int i = -1; i < clt__source_count && len + 33 < sizeof all; i++) {
        const clt__source *src = i < 0 ? &clt__common_source : &clt__sources[i];
        clt__hash_hex(src->data, src->size, all + len);
        len += 32;
    }
    clt__hash_hex(all, len, out);
}

const char *clt_context_perfdb_path(clt_context_t ctx)
{
    if (!ctx || !ctx->cache_enabled)
        return "";
    if (!ctx->perfdb_path[0]) {
        char key[33];
        device_key(ctx, key);
        snprintf(ctx->perfdb_path, sizeof ctx->perfdb_path, "%s/perfdb-%.16s.txt", ctx->cache_dir,
                 key);
    }
    return ctx->perfdb_path;
}

static bool same_problem(const clt__perfdb_entry *e, clt_conv_op op, const clt_conv2d_desc *d)
{
    return e->op == op && !memcmp(&e->d, d, sizeof *d);
}

/* Adds or replaces an entry in memory. */
static void put(clt_context_t ctx, const clt__perfdb_entry *e)
{
    for (int i = 0; i < ctx->perfdb_count; i++)
        if (same_problem(&ctx->perfdb[i], e->op, &e->d)) {
            ctx->perfdb[i] = *e;
            return;
        }
    if (ctx->perfdb_count == ctx->perfdb_cap) {
        int cap = ctx->perfdb_cap ? 2 * ctx->perfdb_cap : 64;
        clt__perfdb_entry *grown = realloc(ctx->perfdb, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* an unrecorded measurement only costs a re-measurement */
        ctx->perfdb = grown;
        ctx->perfdb_cap = cap;
    }
    ctx->perfdb[ctx->perfdb_count++] = *e;
}

static bool parse_line(const char *line, clt__perfdb_entry *e)
{
    int op, v[14];
    char algo[32];
    double t;
    if (sscanf(line, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %31s %lf", &op, &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
               &v[13], algo, &t) != 17)
        return false;
    clt_conv_algo a;
    if (op < 0 || op > CLT_CONV_BACKWARD_WEIGHTS || clt_conv_algo_from_name(algo, &a) ||
        a == CLT_CONV_ALGO_AUTO || !(t >= 0))
        return false;
    e->op = (clt_conv_op)op;
    e->d = (clt_conv2d_desc){v[0], v[1], v[2], v[3],  v[4],  v[5],  v[6],
                             v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
    e->algo = a;
    e->time_ms = t;
    return true;
}

/* Reads the file's entries into memory (those in memory win when
 * `keep_ours`). */
static void load_file(clt_context_t ctx, bool keep_ours)
{
    const char *path = clt_context_perfdb_path(ctx);
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[512], key[33], expect[256];
    device_key(ctx, key);
    snprintf(expect, sizeof expect, "%s %s\n", HEADER, key);
    if (!fgets(line, sizeof line, f) || strcmp(line, expect) != 0) {
        clt__log(ctx, CLT_LOG_WARN, "perf-db %s is not for this device or version; ignored", path);
        fclose(f);
        return;
    }
    clt__perfdb_entry e;
    while (fgets(line, sizeof line, f))
        if (parse_line(line, &e)) {
            bool known = false;
            for (int i = 0; keep_ours && i < ctx->perfdb_count && !known; i++)
                known = same_problem(&ctx->perfdb[i], e.op, &e.d);
            if (!known)
                put(ctx, &e);
        }
    fclose(f);
}

static void ensure_loaded(clt_context_t ctx)
{
    if (ctx->perfdb_loaded)
        return;
    ctx->perfdb_loaded = true;
    load_file(ctx, false);
}

bool clt__perfdb_lookup(clt_context_t ctx, clt_conv_op op, const clt_conv2d_desc *d,
                        clt_conv_algo *algo)
{
    ensure_loaded(ctx);
    for (int i = 0; i < ctx->perfdb_count; i++)
        if (same_problem(&ctx->perfdb[i], op, d)) {
            *algo = ctx->perfdb[i].algo;
            return true;
        }
    return false;
}

static void save(clt_context_t ctx)
{
    const char *path = clt_context_perfdb_path(ctx);
    if (!path[0])
        return;
    load_file(ctx, true); /* keep what other processes recorded meanwhile */
    char tmp[1200], key[33];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%p", path, (long)getpid(), (void *)ctx);
    device_key(ctx, key);
    clt__cache_mkdir(ctx);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%s %s\n", HEADER, key) > 0;
    for (int i = 0; ok && i < ctx->perfdb_count; i++) {
        const clt__perfdb_entry *e = &ctx->perfdb[i];
        const clt_conv2d_desc *d = &e->d;
        ok = fprintf(f, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %s %.6g\n", (int)e->op, d->n,
                     d->c, d->h, d->w, d->k, d->kernel_h, d->kernel_w, d->pad_h, d->pad_w,
                     d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, d->groups,
                     clt_conv_algo_name(e->algo), e->time_ms) > 0;
    }
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        char err[128];
        clt__log(ctx, CLT_LOG_WARN, "cannot write perf-db %s: %s", path,
                 clt__errno_text(errno, err, sizeof err));
        remove(tmp);
    }
}

void clt__perfdb_record(clt_context_t ctx, clt_conv_op op, const clt_conv2d_desc *d,
                        clt_conv_algo algo, double time_ms)
{
    ensure_loaded(ctx);
    clt__perfdb_entry e = {op, *d, algo, time_ms};
    put(ctx, &e);
    save(ctx);
}

void clt__perfdb_release(clt_context_t ctx)
{
    free(ctx->perfdb);
    ctx->perfdb = NULL;
    ctx->perfdb_count = ctx->perfdb_cap = 0;
}
