/* The status table: every code has a distinct name and a sentence. */
#include "testutil.h"

#include <string.h>

static const clt_status all[] = {
#define X(name, value, text) CLT_STATUS_##name,
    CLT_STATUS_MAP(X)
#undef X
};

static void test_names_and_strings(void **state)
{
    (void)state;
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = clt_status_name(all[i]);
        assert_true(strncmp(name, "CLT_STATUS_", 11) == 0);
        assert_string_not_equal(clt_status_string(all[i]), "unknown status");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(all[i], all[j]);
            assert_string_not_equal(name, clt_status_name(all[j]));
        }
    }
    assert_int_equal(CLT_STATUS_SUCCESS, 0);
    assert_string_equal(clt_status_name(CLT_STATUS_NOT_SUPPORTED), "CLT_STATUS_NOT_SUPPORTED");
    assert_string_equal(clt_status_string((clt_status)12345), "unknown status");
    assert_string_equal(clt_status_name((clt_status)12345), "CLT_STATUS_UNKNOWN");
}

static void test_opencl_codes_keep_their_values(void **state)
{
    (void)state;
    assert_int_equal(CLT_STATUS_CL_OUT_OF_RESOURCES, CL_OUT_OF_RESOURCES);
    assert_int_equal(CLT_STATUS_CL_BUILD_PROGRAM_FAILURE, CL_BUILD_PROGRAM_FAILURE);
    assert_int_equal(CLT_STATUS_CL_INVALID_MEM_OBJECT, CL_INVALID_MEM_OBJECT);
    assert_int_equal(CLT_STATUS_CL_INVALID_DEVICE_PARTITION_COUNT,
                     CL_INVALID_DEVICE_PARTITION_COUNT);
    /* clt's own band does not collide with OpenCL or its extensions */
    assert_true(CLT_STATUS_NULL_ARGUMENT <= -3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_strings),
        cmocka_unit_test(test_opencl_codes_keep_their_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
