/* cltool devices / cltool info. */
#include "cltool.h"

#include <stdlib.h>
#include <string.h>

static void print_device(const clt_device_info *d, int is_default)
{
    char gmem[32], lmem[32];
    format_bytes((double)d->global_mem_bytes, gmem, sizeof gmem);
    format_bytes((double)d->local_mem_bytes, lmem, sizeof lmem);
    printf("%d:%d  %-4s %s%s\n", d->platform_index, d->device_index, clt_device_type_name(d->type),
           d->name, is_default ? "  (default)" : "");
    printf("     platform: %s\n", d->platform_name);
    printf("     vendor: %s   driver: %s\n", d->vendor, d->driver_version);
    printf("     version: %s   %s\n", d->device_version, d->opencl_c_version);
    printf("     compute units: %u   global memory: %s   local memory: %s   max work-group: %zu\n",
           d->compute_units, gmem, lmem, d->max_work_group_size);
    printf("     clt: %s%s\n", d->usable ? "usable" : "unusable: ", d->usable ? "" : d->why_not);
}

int cmd_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: cltool devices\n\nLists every OpenCL platform and device with its "
                   "P:D index (for --device or CLT_DEVICE),\ntype, name, vendor, driver and "
                   "OpenCL C versions, compute units, memory and\nmaximum work-group size.\n");
            return EXIT_OK;
        }
        return usage_error("devices", "unexpected argument \"%s\"", argv[i]);
    }
    int n = 0;
    clt_status st = clt_devices_list(NULL, 0, &n);
    if (st != CLT_STATUS_SUCCESS)
        return fail(NULL, st, "listing devices");
    if (n == 0) {
        printf("no OpenCL platform or device found (is an ICD such as pocl-opencl-icd "
               "installed?)\n");
        return EXIT_RUNTIME;
    }
    clt_device_info *devs = calloc((size_t)n, sizeof *devs);
    if (!devs)
        return EXIT_RUNTIME;
    clt_devices_list(devs, n, &n);
    /* The default device is the one a context without selector picks. */
    clt_context_t ctx = NULL;
    clt_context_options opt = {.device = "", .cache = CLT_CACHE_OFF};
    clt_device_info def = {0};
    if (clt_context_create(&opt, &ctx) == CLT_STATUS_SUCCESS)
        clt_context_device_info(ctx, &def);
    clt_context_destroy(ctx);
    for (int i = 0; i < n; i++)
        print_device(&devs[i], devs[i].device == def.device);
    free(devs);
    return EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    const char *device = NULL;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: cltool info [--device SEL]\n\nPrints the selected device, then loads "
                   "all of clt's kernels and prints\n\"kernels: load_ms=<ms> cache=hit|miss|off "
                   "...\": hit when every program came\nfrom the binary cache (CLT_CACHE_DIR, "
                   "CLT_CACHE=off).\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else
            return usage_error("info", "unexpected argument \"%s\"", argv[i]);
    }
    clt_context_t ctx;
    int rc = open_context(device, &ctx);
    if (rc)
        return rc;
    clt_device_info d;
    clt_context_device_info(ctx, &d);
    print_device(&d, 0);
    clt_load_stats s;
    clt_status st = clt_context_load_kernels(ctx, &s);
    if (st != CLT_STATUS_SUCCESS) {
        rc = fail(ctx, st, "loading kernels");
    } else {
        const char *cache = !s.cache_enabled ? "off" : s.cache_misses ? "miss" : "hit";
        printf("kernels: load_ms=%.1f cache=%s programs=%d hits=%d misses=%d dir=%s\n", s.load_ms,
               cache, s.programs, s.cache_hits, s.cache_misses,
               s.cache_enabled ? clt_context_cache_dir(ctx) : "-");
    }
    clt_context_destroy(ctx);
    return rc;
}
