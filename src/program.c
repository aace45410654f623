/* Embedded kernel sources -> cl_program for the context's device.
 *
 * A program's source is a generated #define block, cl/common.h and one cl/
 * file. It is built with -cl-std=CL1.2 and the user's options, or loaded from
 * the binary cache when an entry for exactly that input exists. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Test hook: one overridden source at a time (single-threaded tests only;
 * see internal.h). */
static const char *override_name;
static const char *override_text;

void clt__override_source(const char *name, const char *source)
{
    override_name = source ? name : NULL;
    override_text = source;
}

static int source_index(const char *name)
{
    for (int i = 0; i < clt__source_count; i++)
        if (!strcmp(clt__sources[i].name, name))
            return i;
    return -1;
}

/* Programs with #defines of their own, written by the code that launches
 * them (which must agree with the kernels on, e.g., a tile size). */
static const struct {
    const char *program;
    clt__defines_fn write;
} program_defines[] = {
    {"gemm", clt__gemm_cpu_defines},
    {"conv_cpu", clt__conv_cpu_defines},
};

/* Facts about the device that every kernel may specialise on, the context's
 * instance number (instance.c), then the program's own. Returns the length,
 * or -1 when `cap` is too small. */
static int write_defines(clt_context_t ctx, const char *name, char *out, size_t cap)
{
    char instance[48] = ""; /* instance 0's programs are what a lone context builds */
    if (ctx->instance > 0)
        snprintf(instance, sizeof instance, "#define CLT_INSTANCE %d\n", ctx->instance);
    int n = snprintf(out, cap,
                     "#define CLT_VERSION %d\n"
                     "#define CLT_DEVICE_IS_CPU %d\n"
                     "#define CLT_DEVICE_IS_GPU %d\n%s",
                     CLT_VERSION_MAJOR * 10000 + CLT_VERSION_MINOR * 100 + CLT_VERSION_PATCH,
                     ctx->is_cpu ? 1 : 0, (ctx->info.type & CL_DEVICE_TYPE_GPU) ? 1 : 0, instance);
    for (size_t i = 0; i < sizeof program_defines / sizeof program_defines[0]; i++)
        if (n >= 0 && (size_t)n < cap && !strcmp(program_defines[i].program, name)) {
            int more = program_defines[i].write(ctx, out + n, cap - (size_t)n);
            n = more < 0 ? more : n + more;
        }
    return n >= 0 && (size_t)n < cap ? n : -1;
}

/* The full program text (malloc'd). */
static char *assemble_source(clt_context_t ctx, int idx)
{
    const clt__source *src = &clt__sources[idx];
    const char *body = (const char *)src->data;
    size_t body_len = src->size;
    if (override_name && !strcmp(override_name, src->name)) {
        body = override_text;
        body_len = strlen(override_text);
    }
    char defines[4096];
    int nd = write_defines(ctx, src->name, defines, sizeof defines);
    if (nd < 0)
        return NULL;
    size_t n = (size_t)nd + clt__common_source.size + body_len + 64;
    char *text = malloc(n);
    if (!text)
        return NULL;
    snprintf(text, n, "%s%.*s\n#line 1\n%.*s\n", defines, (int)clt__common_source.size,
             (const char *)clt__common_source.data, (int)body_len, body);
    return text;
}

static char *build_options(clt_context_t ctx)
{
    const char *base = "-cl-std=CL1.2";
    size_t n = strlen(base) + strlen(ctx->build_options) + 2;
    char *opts = malloc(n);
    if (opts)
        snprintf(opts, n, "%s %s", base, ctx->build_options);
    return opts;
}

/* The cache key: everything that can change the binary. */
static void cache_key(clt_context_t ctx, const char *name, const char *text, const char *opts,
                      char *out, size_t cap)
{
    char plat_version[256] = "";
    clGetPlatformInfo(ctx->platform, CL_PLATFORM_VERSION, sizeof plat_version, plat_version, NULL);
    plat_version[sizeof plat_version - 1] = '\0';
    size_t n = strlen(text) + strlen(opts) + 2048;
    char *all = malloc(n);
    char hex[33] = "00000000000000000000000000000000";
    if (all) {
        int len = snprintf(all, n, "clt %s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s", CLT_VERSION_STRING,
                           ctx->info.platform_name, plat_version, ctx->info.name, ctx->info.vendor,
                           ctx->info.driver_version, ctx->info.device_version, opts, text);
        clt__hash_hex(all, (size_t)len, hex);
        free(all);
    }
    snprintf(out, cap, "%s-%s", name, hex);
}

static char *build_log(clt_context_t ctx, cl_program prog)
{
    size_t n = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (!log)
        return NULL;
    log[0] = '\0';
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    log[n] = '\0';
    return log;
}

/* Loads a cached binary; NULL when absent or when the driver refuses it. */
static cl_program from_cache(clt_context_t ctx, const char *key, const char *opts)
{
    size_t size = 0;
    unsigned char *bin = clt__cache_load(ctx, key, &size);
    if (!bin)
        return NULL;
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program prog =
        clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size, bins, &bin_status, &err);
    free(bin);
    if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
        err = clBuildProgram(prog, 1, &ctx->device, opts, NULL, NULL);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        clt__log(ctx, CLT_LOG_WARN, "cached binary %s refused by the driver (%d); rebuilding", key,
                 (int)err);
        if (prog)
            clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

static void store_binary(clt_context_t ctx, cl_program prog, const char *key)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    unsigned char *bins[1] = {bin};
    if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        clt__cache_store(ctx, key, bin, size);
    free(bin);
}

static clt_status from_source(clt_context_t ctx, const char *name, const char *text,
                              const char *opts, cl_program *out)
{
    cl_int err = CL_SUCCESS;
    cl_program prog = clCreateProgramWithSource(ctx->cl, 1, &text, NULL, &err);
    if (err != CL_SUCCESS)
        return clt__cl_fail(ctx, err, "clCreateProgramWithSource");
    err = clBuildProgram(prog, 1, &ctx->device, opts, NULL, NULL);
    if (err == CL_SUCCESS) { /* warnings are worth seeing while developing kernels */
        char *log = build_log(ctx, prog);
        if (log && log[strspn(log, " \t\r\n")])
            clt__log(ctx, CLT_LOG_INFO, "cl/%s.cl built with messages:\n%s", name, log);
        free(log);
    } else {
        char *log = build_log(ctx, prog);
        clReleaseProgram(prog);
        clt_status st = clt__fail(ctx, CLT_STATUS_BUILD_FAILED,
                                  "building cl/%s.cl for \"%s\" failed (%s) with options \"%s\"; "
                                  "build log:\n%s",
                                  name, ctx->info.name, clt_status_name((clt_status)err), opts,
                                  log ? log : "(unavailable)");
        free(log);
        return st;
    }
    *out = prog;
    return CLT_STATUS_SUCCESS;
}

clt_status clt__program_get(clt_context_t ctx, const char *name, cl_program *out)
{
    int idx = source_index(name);
    if (idx < 0)
        return clt__fail(ctx, CLT_STATUS_INTERNAL, "no embedded kernel source \"%s\"", name);
    if (ctx->programs[idx]) {
        *out = ctx->programs[idx];
        return CLT_STATUS_SUCCESS;
    }
    clt_status st = CLT_STATUS_SUCCESS;
    char key[256];
    char *text = assemble_source(ctx, idx);
    char *opts = build_options(ctx);
    cl_program prog = NULL;
    if (!text || !opts) {
        st = clt__fail(ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "assembling cl/%s.cl", name);
        goto cleanup;
    }
    cache_key(ctx, name, text, opts, key, sizeof key);
    if (ctx->cache_enabled)
        prog = from_cache(ctx, key, opts);
    if (prog) {
        ctx->cache_hits++;
    } else {
        CLT__TRY(from_source(ctx, name, text, opts, &prog));
        ctx->cache_misses++;
        if (ctx->cache_enabled)
            store_binary(ctx, prog, key);
    }
    ctx->programs[idx] = prog;
    *out = prog;
cleanup:
    free(text);
    free(opts);
    return st;
}

clt_status clt__kernel_get(clt_context_t ctx, const char *program, const char *kernel,
                           cl_kernel *out)
{
    for (int i = 0; i < ctx->n_kernels; i++) {
        clt__kernel_slot *s = &ctx->kernels[i];
        if (!strcmp(s->name, kernel) && !strcmp(s->program, program)) {
            *out = s->kernel;
            return CLT_STATUS_SUCCESS;
        }
    }
    if (ctx->n_kernels == CLT__MAX_KERNELS)
        return clt__fail(ctx, CLT_STATUS_INTERNAL, "kernel table full (%d)", CLT__MAX_KERNELS);
    cl_program prog = NULL;
    CLT__CHECK(clt__program_get(ctx, program, &prog));
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, kernel, &err);
    if (err != CL_SUCCESS)
        return clt__fail(ctx, (clt_status)err, "clCreateKernel(%s:%s): %s", program, kernel,
                         clt_status_string((clt_status)err));
    ctx->kernels[ctx->n_kernels++] = (clt__kernel_slot){program, kernel, k};
    *out = k;
    return CLT_STATUS_SUCCESS;
}

void clt__programs_release(clt_context_t ctx)
{
    for (int i = 0; i < ctx->n_kernels; i++)
        clReleaseKernel(ctx->kernels[i].kernel);
    ctx->n_kernels = 0;
    for (int i = 0; ctx->programs && i < clt__source_count; i++)
        if (ctx->programs[i]) {
            clReleaseProgram(ctx->programs[i]);
            ctx->programs[i] = NULL;
        }
}

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

clt_status clt_context_load_kernels(clt_context_t ctx, clt_load_stats *stats)
{
    CLT__CHECK_CTX(ctx);
    int hits = ctx->cache_hits, misses = ctx->cache_misses;
    double t0 = now_ms();
    for (int i = 0; i < clt__source_count; i++) {
        cl_program prog;
        CLT__CHECK(clt__program_get(ctx, clt__sources[i].name, &prog));
    }
    if (stats) {
        stats->load_ms = now_ms() - t0;
        stats->programs = clt__source_count;
        stats->cache_hits = ctx->cache_hits - hits;
        stats->cache_misses = ctx->cache_misses - misses;
        stats->cache_enabled = ctx->cache_enabled;
    }
    return CLT_STATUS_SUCCESS;
}
