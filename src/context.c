/* Platform and device discovery, selection, context and queue set-up. */
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

const char *clt_device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "ACCELERATOR";
    return "OTHER";
}

static void get_string(cl_device_id d, cl_device_info what, char *out, size_t cap)
{
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, cap, out, NULL) != CL_SUCCESS)
        out[0] = '\0';
    out[cap - 1] = '\0';
}

/* "OpenCL C 1.2 ..." -> 120; 0 when unreadable. */
static int opencl_c_version(const char *s)
{
    int major = 0, minor = 0;
    if (sscanf(s, "OpenCL C %d.%d", &major, &minor) != 2)
        return 0;
    return major * 100 + minor * 10;
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, clt_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pi;
    info->device_index = di;
    info->platform = p;
    info->device = d;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL) != CL_SUCCESS)
        info->platform_name[0] = '\0';
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    get_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_string(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_string(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
               sizeof info->opencl_c_version);
    cl_uint cu = 0;
    cl_bool available = CL_FALSE, compiler = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem_bytes,
                    &info->global_mem_bytes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem_bytes,
                    &info->local_mem_bytes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL);
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL);
    info->compute_units = cu;
    info->usable = 1;
    if (!available)
        snprintf(info->why_not, sizeof info->why_not, "device not available");
    else if (!compiler)
        snprintf(info->why_not, sizeof info->why_not, "no OpenCL C compiler");
    else if (opencl_c_version(info->opencl_c_version) < 120)
        snprintf(info->why_not, sizeof info->why_not, "needs OpenCL C 1.2, has \"%.60s\"",
                 info->opencl_c_version);
    if (info->why_not[0])
        info->usable = 0;
}

/* The ICD loader and PoCL 3.1 set themselves up on the first
 * clGetPlatformIDs/clGetDeviceIDs of the process, and not safely when
 * several threads make those calls at once: four threads creating their
 * first contexts together saw no device, or crashed on a buffer PoCL never
 * allocated, in 10 of 10 runs. clt's discovery takes one lock. */
static pthread_mutex_t discovery_lock = PTHREAD_MUTEX_INITIALIZER;

static clt_status discover(clt_device_info *out, int capacity, int *count)
{
    if (!count || (capacity > 0 && !out))
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "count (or out with capacity %d) is NULL",
                         capacity);
    *count = 0;
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (err == (cl_int)CLT_STATUS_CL_PLATFORM_NOT_FOUND_KHR || np == 0)
        return CLT_STATUS_SUCCESS;
    if (err != CL_SUCCESS)
        return clt__cl_fail(NULL, err, "clGetPlatformIDs");
    if (np > MAX_PLATFORMS)
        np = MAX_PLATFORMS;
    int total = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue;
        if (nd > MAX_DEVICES)
            nd = MAX_DEVICES;
        for (cl_uint d = 0; d < nd; d++, total++)
            if (total < capacity)
                fill_info(plats[p], devs[d], (int)p, (int)d, &out[total]);
    }
    *count = total;
    return CLT_STATUS_SUCCESS;
}

clt_status clt_devices_list(clt_device_info *out, int capacity, int *count)
{
    pthread_mutex_lock(&discovery_lock);
    clt_status st = discover(out, capacity, count);
    pthread_mutex_unlock(&discovery_lock);
    return st;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

static bool equals_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* Does device `i` match the selector? NULL selector: never (default rule). */
static bool selector_matches(const char *sel, const clt_device_info *i)
{
    int p = -1, d = -1;
    char tail = 0;
    if (equals_nocase(sel, "cpu"))
        return (i->type & CL_DEVICE_TYPE_CPU) != 0;
    if (equals_nocase(sel, "gpu"))
        return (i->type & CL_DEVICE_TYPE_GPU) != 0;
    if (equals_nocase(sel, "accelerator"))
        return (i->type & CL_DEVICE_TYPE_ACCELERATOR) != 0;
    if (sscanf(sel, "%d:%d%c", &p, &d, &tail) == 2)
        return p == i->platform_index && d == i->device_index;
    return contains_nocase(i->name, sel);
}

static int pick_default(const clt_device_info *devs, int n)
{
    const cl_device_type order[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ALL};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
        for (int i = 0; i < n; i++)
            if (devs[i].usable && (devs[i].type & order[o]))
                return i;
    return -1;
}

static void list_devices(const clt_device_info *devs, int n, char *out, size_t cap)
{
    size_t used = strlen(out);
    for (int i = 0; i < n && used + 1 < cap; i++) {
        int w =
            snprintf(out + used, cap - used, "\n  %d:%d %s \"%s\" (%s)%s%s", devs[i].platform_index,
                     devs[i].device_index, clt_device_type_name(devs[i].type), devs[i].name,
                     devs[i].platform_name, devs[i].usable ? "" : " unusable: ", devs[i].why_not);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Finds the device for `sel` (NULL or empty: default rule). */
static clt_status select_device(const char *sel, clt_device_info *chosen)
{
    clt_device_info devs[MAX_DEVICES];
    int n = 0;
    CLT__CHECK(clt_devices_list(devs, MAX_DEVICES, &n));
    if (n > MAX_DEVICES)
        n = MAX_DEVICES;
    int pick = -1;
    if (!sel || !*sel) {
        pick = pick_default(devs, n);
    } else {
        for (int i = 0; i < n && pick < 0; i++)
            if (devs[i].usable && selector_matches(sel, &devs[i]))
                pick = i;
    }
    if (pick >= 0) {
        *chosen = devs[pick];
        return CLT_STATUS_SUCCESS;
    }
    char msg[CLT__ERRMAX];
    snprintf(msg, sizeof msg,
             "no usable OpenCL device matches \"%s\" (selectors: cpu, gpu, P:D, or part of a "
             "device name); devices:%s",
             sel && *sel ? sel : "default: first GPU, else first CPU", n ? "" : " none");
    list_devices(devs, n, msg, sizeof msg);
    return clt__fail(NULL, CLT_STATUS_DEVICE_NOT_FOUND, "%s", msg);
}

static int parse_log_level(const char *s)
{
    if (!s || !*s)
        return CLT_LOG_WARN;
    const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (equals_nocase(s, names[i]))
            return i + 1;
    int v = atoi(s);
    return v < 0 ? 0 : v > 4 ? 4 : v;
}

static char *join_options(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, (*a && *b) ? " " : "", b);
    return s;
}

/* The options' own fields, before anything is made. opt may be NULL. */
static clt_status check_options(const clt_context_options *opt)
{
    if (opt && (unsigned)opt->cache > CLT_CACHE_OFF)
        return clt__fail(NULL, CLT_STATUS_INVALID_VALUE,
                         "options->cache = %d: must be CLT_CACHE_DEFAULT (0), CLT_CACHE_ON (1) or "
                         "CLT_CACHE_OFF (2)",
                         (int)opt->cache);
    return CLT_STATUS_SUCCESS;
}

/* Everything after the cl_context and queue exist. On failure the caller
 * destroys the half-made context. */
static clt_status context_init(clt_context_t ctx, const clt_context_options *opt)
{
    static const clt_context_options none;
    if (!opt)
        opt = &none;
    ctx->log = opt->log;
    ctx->log_user = opt->log_user;
    ctx->log_level = parse_log_level(getenv("CLT_LOG"));
    ctx->is_cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    clt__instance_take(ctx);
    clt__conv_igemm_init(ctx);
    clGetDeviceInfo(ctx->device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof ctx->cache_bytes,
                    &ctx->cache_bytes, NULL);
    ctx->build_options = join_options(getenv("CLT_BUILD_OPTIONS"), opt->build_options);
    ctx->programs = calloc((size_t)clt__source_count, sizeof *ctx->programs);
    if (!ctx->build_options || !ctx->programs)
        return clt__fail(NULL, CLT_STATUS_OUT_OF_HOST_MEMORY, "context allocation failed");
    CLT__CHECK(
        clt__cache_dir_resolve(opt, ctx->cache_dir, sizeof ctx->cache_dir, &ctx->cache_enabled));
    CLT__CHECK(clt__gemm_cpu_init(ctx));
    clt__log(ctx, CLT_LOG_INFO, "device %d:%d \"%s\", cache %s, GEMM %s, instance %d",
             ctx->info.platform_index, ctx->info.device_index, ctx->info.name,
             ctx->cache_enabled ? ctx->cache_dir : "off", ctx->gemm.own ? "clt" : "CLBlast",
             ctx->instance);
    return CLT_STATUS_SUCCESS;
}

clt_status clt_context_create(const clt_context_options *opt, clt_context_t *out)
{
    if (!out)
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "out is NULL");
    *out = NULL;
    clt__clear_error(NULL);
    CLT__CHECK(check_options(opt));
    const char *sel = opt && opt->device ? opt->device : getenv("CLT_DEVICE");
    clt_device_info info;
    CLT__CHECK(select_device(sel, &info));

    clt_context_t ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return clt__fail(NULL, CLT_STATUS_OUT_OF_HOST_MEMORY, "context allocation failed");
    ctx->info = info;
    ctx->platform = info.platform;
    ctx->device = info.device;
    clt_status st = CLT_STATUS_SUCCESS;
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)info.platform, 0};
    ctx->cl = clCreateContext(props, 1, &info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = clt__cl_fail(NULL, err, "clCreateContext");
        goto cleanup;
    }
    ctx->queue = clCreateCommandQueue(ctx->cl, info.device, 0, &err);
    if (err != CL_SUCCESS) {
        st = clt__cl_fail(NULL, err, "clCreateCommandQueue");
        goto cleanup;
    }
    CLT__TRY(context_init(ctx, opt));
    *out = ctx;
    return CLT_STATUS_SUCCESS;
cleanup:
    clt_context_destroy(ctx);
    return st;
}

/* The platform/device indices of a device, for info and cache keys. */
static void find_indices(cl_device_id dev, clt_device_info *info)
{
    clt_device_info devs[MAX_DEVICES];
    int n = 0;
    if (clt_devices_list(devs, MAX_DEVICES, &n) != CLT_STATUS_SUCCESS)
        return;
    for (int i = 0; i < n && i < MAX_DEVICES; i++)
        if (devs[i].device == dev) {
            info->platform_index = devs[i].platform_index;
            info->device_index = devs[i].device_index;
        }
}

clt_status clt_context_create_from_queue(cl_command_queue queue, const clt_context_options *opt,
                                         clt_context_t *out)
{
    if (!out || !queue)
        return clt__fail(NULL, CLT_STATUS_NULL_ARGUMENT, "%s is NULL", out ? "queue" : "out");
    *out = NULL;
    clt__clear_error(NULL);
    CLT__CHECK(check_options(opt));
    cl_context clctx = NULL;
    cl_device_id dev = NULL;
    cl_command_queue_properties qprops = 0;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof clctx, &clctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof dev, &dev, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);
    if (err != CL_SUCCESS)
        return clt__fail(NULL, CLT_STATUS_CL_INVALID_COMMAND_QUEUE,
                         "queue: not a valid command queue (clGetCommandQueueInfo: %d)", (int)err);
    if (qprops & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return clt__fail(NULL, CLT_STATUS_NOT_SUPPORTED,
                         "queue: out-of-order queues are not supported; clt's multi-kernel "
                         "operations rely on in-order execution");
    cl_platform_id plat = NULL;
    clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL);

    clt_context_t ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return clt__fail(NULL, CLT_STATUS_OUT_OF_HOST_MEMORY, "context allocation failed");
    fill_info(plat, dev, -1, -1, &ctx->info);
    find_indices(dev, &ctx->info);
    ctx->platform = plat;
    ctx->device = dev;
    clRetainContext(clctx);
    ctx->cl = clctx;
    clRetainCommandQueue(queue);
    ctx->queue = queue;
    clt_status st = context_init(ctx, opt);
    if (st != CLT_STATUS_SUCCESS) {
        clt_context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return CLT_STATUS_SUCCESS;
}

void clt_context_destroy(clt_context_t ctx)
{
    if (!ctx)
        return;
    if (ctx->queue)
        clFinish(ctx->queue);
    clt__programs_release(ctx);
    clt__instance_give(ctx);
    clt__perfdb_release(ctx);
    for (int i = 0; i < CLT__SCRATCH_SLOTS; i++)
        if (ctx->scratch[i])
            clReleaseMemObject(ctx->scratch[i]);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    free(ctx->programs);
    free(ctx->build_options);
    free(ctx);
}

cl_context clt_context_cl_context(clt_context_t ctx)
{
    return ctx ? ctx->cl : NULL;
}

cl_command_queue clt_context_queue(clt_context_t ctx)
{
    return ctx ? ctx->queue : NULL;
}

const char *clt_context_cache_dir(clt_context_t ctx)
{
    return ctx && ctx->cache_enabled ? ctx->cache_dir : "";
}

clt_status clt_context_device_info(clt_context_t ctx, clt_device_info *out)
{
    CLT__CHECK_CTX(ctx);
    if (!out)
        return clt__fail(ctx, CLT_STATUS_NULL_ARGUMENT, "out is NULL");
    *out = ctx->info;
    return CLT_STATUS_SUCCESS;
}

clt_status clt_finish(clt_context_t ctx)
{
    CLT__CHECK_CTX(ctx);
    cl_int err = clFinish(ctx->queue);
    return err == CL_SUCCESS ? CLT_STATUS_SUCCESS : clt__cl_fail(ctx, err, "clFinish");
}

clt_status clt__scratch(clt_context_t ctx, clt__scratch_slot slot, size_t bytes, cl_mem *out)
{
    if (bytes == 0)
        bytes = 4;
    if (ctx->scratch[slot] && ctx->scratch_bytes[slot] >= bytes) {
        *out = ctx->scratch[slot];
        return CLT_STATUS_SUCCESS;
    }
    if (ctx->scratch[slot])
        clReleaseMemObject(ctx->scratch[slot]);
    ctx->scratch[slot] = NULL;
    ctx->scratch_bytes[slot] = 0;
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return clt__fail(ctx, (clt_status)err, "allocating a %zu-byte workspace failed: %s", bytes,
                         clt_status_string((clt_status)err));
    ctx->scratch[slot] = m;
    ctx->scratch_bytes[slot] = bytes;
    *out = m;
    return CLT_STATUS_SUCCESS;
}
