/* Device selection in every form, and wrapping an application's queue. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static clt_device_info devs[64];
static int ndev;

static int setup(void **state)
{
    (void)state;
    clt_devices_list(devs, 64, &ndev);
    return 0;
}

static void need_devices(void)
{
    if (ndev == 0) {
        print_message("skipped: no OpenCL device\n");
        skip();
    }
}

/* Creates a context for `sel` and returns the device it chose. */
static clt_status try_select(const char *sel, clt_device_info *chosen)
{
    clt_context_options opt = {.device = sel, .cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    clt_status st = clt_context_create(&opt, &ctx);
    if (st == CLT_STATUS_SUCCESS) {
        assert_non_null(ctx);
        assert_int_equal(clt_context_device_info(ctx, chosen), CLT_STATUS_SUCCESS);
        clt_context_destroy(ctx);
    } else {
        assert_null(ctx);
    }
    return st;
}

static const clt_device_info *first_of(cl_device_type type)
{
    for (int i = 0; i < ndev && i < 64; i++)
        if (devs[i].usable && (devs[i].type & type))
            return &devs[i];
    return NULL;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static void test_list_devices(void **state)
{
    (void)state;
    int n = -1;
    assert_int_equal(clt_devices_list(NULL, 0, &n), CLT_STATUS_SUCCESS);
    assert_int_equal(n, ndev);
    assert_int_equal(clt_devices_list(NULL, 3, &n), CLT_STATUS_NULL_ARGUMENT);
    need_devices();
    for (int i = 0; i < ndev && i < 64; i++) {
        assert_true(devs[i].name[0] != '\0');
        assert_true(devs[i].compute_units > 0);
        assert_true(devs[i].global_mem_bytes > 0);
        assert_true(devs[i].max_work_group_size > 0);
    }
}

static void test_select_by_type(void **state)
{
    (void)state;
    need_devices();
    clt_device_info got;
    const cl_device_type types[] = {CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU};
    const char *sels[] = {"cpu", "GPU"};
    for (int t = 0; t < 2; t++) {
        const clt_device_info *want = first_of(types[t]);
        clt_status st = try_select(sels[t], &got);
        if (want) {
            assert_int_equal(st, CLT_STATUS_SUCCESS);
            assert_ptr_equal(got.device, want->device);
        } else {
            assert_int_equal(st, CLT_STATUS_DEVICE_NOT_FOUND);
        }
    }
}

static void test_select_default(void **state)
{
    (void)state;
    need_devices();
    clt_device_info got;
    const clt_device_info *want = first_of(CL_DEVICE_TYPE_GPU);
    if (!want)
        want = first_of(CL_DEVICE_TYPE_CPU);
    assert_int_equal(try_select("", &got), CLT_STATUS_SUCCESS);
    if (want)
        assert_ptr_equal(got.device, want->device);
}

static void test_select_by_index_and_name(void **state)
{
    (void)state;
    need_devices();
    for (int i = 0; i < ndev && i < 64; i++) {
        if (!devs[i].usable)
            continue;
        char sel[64];
        clt_device_info got;
        snprintf(sel, sizeof sel, "%d:%d", devs[i].platform_index, devs[i].device_index);
        assert_int_equal(try_select(sel, &got), CLT_STATUS_SUCCESS);
        assert_ptr_equal(got.device, devs[i].device);
        assert_int_equal(got.platform_index, devs[i].platform_index);
        /* a case-changed middle part of the name */
        size_t len = strlen(devs[i].name);
        char part[64];
        size_t from = len / 3, count = len - from < 8 ? len - from : 8;
        for (size_t c = 0; c < count; c++) {
            unsigned char ch = (unsigned char)devs[i].name[from + c];
            part[c] = (char)(islower(ch) ? toupper(ch) : tolower(ch));
        }
        part[count] = '\0';
        assert_int_equal(try_select(part, &got), CLT_STATUS_SUCCESS);
        /* the first usable device whose name holds the part, ignoring case */
        const clt_device_info *want = NULL;
        for (int j = 0; j < ndev && !want; j++)
            if (devs[j].usable && contains_nocase(devs[j].name, part))
                want = &devs[j];
        assert_non_null(want);
        assert_ptr_equal(got.device, want->device);
    }
}

static void test_select_from_environment(void **state)
{
    (void)state;
    need_devices();
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", devs[ndev - 1].platform_index, devs[ndev - 1].device_index);
    setenv("CLT_DEVICE", sel, 1);
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    clt_context_t ctx = NULL;
    clt_status st = clt_context_create(&opt, &ctx);
    unsetenv("CLT_DEVICE");
    if (devs[ndev - 1].usable) {
        assert_int_equal(st, CLT_STATUS_SUCCESS);
        clt_device_info got;
        clt_context_device_info(ctx, &got);
        assert_ptr_equal(got.device, devs[ndev - 1].device);
    }
    clt_context_destroy(ctx);
}

static void test_bad_selectors_list_devices(void **state)
{
    (void)state;
    clt_device_info got;
    const char *bad[] = {"no-such-device-xyz", "9:9", "0:99", "cpux"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(try_select(bad[i], &got), CLT_STATUS_DEVICE_NOT_FOUND);
        const char *msg = clt_context_last_error(NULL);
        assert_non_null(strstr(msg, bad[i]));
        if (ndev > 0) /* the message lists what exists */
            assert_non_null(strstr(msg, devs[0].name));
    }
    assert_int_equal(clt_context_create(NULL, NULL), CLT_STATUS_NULL_ARGUMENT);
}

static cl_uint queue_refs(cl_command_queue q)
{
    cl_uint n = 0;
    clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof n, &n, NULL);
    return n;
}

static cl_uint context_refs(cl_context c)
{
    cl_uint n = 0;
    clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof n, &n, NULL);
    return n;
}

static void test_create_from_queue(void **state)
{
    (void)state;
    need_devices();
    const clt_device_info *d = first_of(CL_DEVICE_TYPE_ALL);
    cl_int err;
    cl_context cl = clCreateContext(NULL, 1, &d->device, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_command_queue q = clCreateCommandQueue(cl, d->device, 0, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_uint qrefs = queue_refs(q), crefs = context_refs(cl);
    float host[40];
    cl_mem buf = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizeof host, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);

    clt_context_t ctx = NULL;
    TU_OK(NULL, clt_context_create_from_queue(q, NULL, &ctx));
    assert_ptr_equal(clt_context_queue(ctx), q);
    assert_ptr_equal(clt_context_cl_context(ctx), cl);
    clt_device_info got;
    clt_context_device_info(ctx, &got);
    assert_ptr_equal(got.device, d->device);
    assert_int_equal(got.platform_index, d->platform_index);

    /* work through clt on the caller's queue, with the caller's buffer */
    TU_OK(ctx, clt_fill(ctx, (clt_buf){buf, 3}, 30, 2.5f));
    TU_OK(ctx, clt_fill(ctx, (clt_buf){buf, 0}, 3, -1.0f));
    clt_context_destroy(ctx);

    /* the caller's objects are alive and usable */
    assert_int_equal(
        clEnqueueReadBuffer(q, buf, CL_TRUE, 0, 33 * sizeof(float), host, 0, NULL, NULL),
        CL_SUCCESS);
    for (int i = 0; i < 33; i++)
        assert_true(host[i] == (i < 3 ? -1.0f : 2.5f));
    float one = 1.0f;
    assert_int_equal(clEnqueueWriteBuffer(q, buf, CL_TRUE, 0, sizeof one, &one, 0, NULL, NULL),
                     CL_SUCCESS);
    clReleaseMemObject(buf);
    /* ... and hold the references they had. Runtimes drop their own
       references (events, a buffer's last queue in PoCL) asynchronously, so
       wait up to 5 s for the counts to settle; a leak never settles. */
    for (int tries = 0; tries < 500 && (queue_refs(q) != qrefs || context_refs(cl) != crefs);
         tries++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(queue_refs(q), qrefs);
    assert_int_equal(context_refs(cl), crefs);
    assert_int_equal(clReleaseCommandQueue(q), CL_SUCCESS);
    assert_int_equal(clReleaseContext(cl), CL_SUCCESS);
}

static void test_create_from_queue_rejects(void **state)
{
    (void)state;
    clt_context_t ctx = (clt_context_t)0x1;
    assert_int_equal(clt_context_create_from_queue(NULL, NULL, &ctx), CLT_STATUS_NULL_ARGUMENT);
    need_devices();
    const clt_device_info *d = first_of(CL_DEVICE_TYPE_ALL);
    cl_int err;
    cl_context cl = clCreateContext(NULL, 1, &d->device, NULL, NULL, &err);
    cl_command_queue_properties qp = 0;
    clGetDeviceInfo(d->device, CL_DEVICE_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
    if (qp & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
        cl_command_queue q =
            clCreateCommandQueue(cl, d->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
        assert_int_equal(err, CL_SUCCESS);
        assert_int_equal(clt_context_create_from_queue(q, NULL, &ctx), CLT_STATUS_NOT_SUPPORTED);
        assert_null(ctx);
        assert_non_null(strstr(clt_context_last_error(NULL), "out-of-order"));
        clReleaseCommandQueue(q);
    }
    clReleaseContext(cl);
}

static void test_foreign_buffer_rejected(void **state)
{
    (void)state;
    need_devices();
    clt_context_t a = NULL, b = NULL;
    clt_context_options opt = {.cache = CLT_CACHE_OFF};
    TU_OK(NULL, clt_context_create(&opt, &a));
    TU_OK(NULL, clt_context_create(&opt, &b));
    cl_int err;
    cl_mem m = clCreateBuffer(clt_context_cl_context(b), CL_MEM_READ_WRITE, 64, NULL, &err);
    TU_FAILS(a, CLT_STATUS_CONTEXT_MISMATCH, clt_fill(a, (clt_buf){m, 0}, 4, 1.0f));
    TU_FAILS(a, CLT_STATUS_NULL_ARGUMENT, clt_fill(a, (clt_buf){NULL, 0}, 4, 1.0f));
    TU_FAILS(b, CLT_STATUS_BUFFER_TOO_SMALL, clt_fill(b, (clt_buf){m, 1}, 16, 1.0f));
    TU_OK(b, clt_fill(b, (clt_buf){m, 0}, 16, 1.0f));
    clReleaseMemObject(m);
    clt_context_destroy(a);
    clt_context_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_devices),
        cmocka_unit_test(test_select_by_type),
        cmocka_unit_test(test_select_default),
        cmocka_unit_test(test_select_by_index_and_name),
        cmocka_unit_test(test_select_from_environment),
        cmocka_unit_test(test_bad_selectors_list_devices),
        cmocka_unit_test(test_create_from_queue),
        cmocka_unit_test(test_create_from_queue_rejects),
        cmocka_unit_test(test_foreign_buffer_rejected),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
