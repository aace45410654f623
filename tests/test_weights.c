/* cltool's weights file (tools/weights.c): a byte-exact round trip in the
 * documented layout, and every refusal of --load: wrong magic or version,
 * truncation at every byte, other names, ranks or dimensions, other tensor
 * counts, trailing bytes. Needs no device. */
#define _POSIX_C_SOURCE 200809L
#include "weights.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka.h needs the headers above */
#include <cmocka.h>

static char path[600], bad_path[600];
static char err[1024];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base) {
        mkdir(base, 0755);
        snprintf(tmpl, sizeof tmpl, "%s/weights-XXXXXX", base);
    } else {
        snprintf(tmpl, sizeof tmpl, "/tmp/clt-weights-XXXXXX");
    }
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(path, sizeof path, "%s/w.cltw", tmpl);
    snprintf(bad_path, sizeof bad_path, "%s/bad.cltw", tmpl);
    return 0;
}

/* A small model's layout (4x4 images, 2 and 3 channels, 2 classes). */
static size_t layout(cnn_tensor t[CNN_PARAMS])
{
    cnn_config c = {.h = 4, .w = 4, .c1 = 2, .c2 = 3, .classes = 2, .max_batch = 1};
    return cnn_layout(&c, t);
}

static unsigned char *read_all(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 16);
    assert_non_null(b);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void write_all(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static float *params_new(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)i * 0.25f - 3.0f;
    return p;
}

static void expect_load_fails(const cnn_tensor *t, int n, size_t count, const char *needle)
{
    float *out = malloc(count * sizeof *out);
    assert_non_null(out);
    for (size_t i = 0; i < count; i++)
        out[i] = 7.5f;
    assert_int_equal(weights_load(bad_path, t, n, out, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
    for (size_t i = 0; i < count; i++) /* untouched on failure */
        assert_true(out[i] == 7.5f);
    free(out);
}

/* The file is exactly the documented bytes, and reads back bit for bit. */
static void test_round_trip_and_layout(void **state)
{
    (void)state;
    cnn_tensor t[CNN_PARAMS];
    size_t count = layout(t);
    float *p = params_new(count), *q = malloc(count * sizeof *q);
    assert_non_null(q);
    if (weights_save(path, t, CNN_PARAMS, p, err, sizeof err))
        fail_msg("%s", err);
    size_t n;
    unsigned char *b = read_all(path, &n);
    assert_memory_equal(b, "CLTW", 4);
    assert_int_equal(le32(b + 4), 1);
    assert_int_equal(le32(b + 8), CNN_PARAMS);
    size_t at = 12;
    for (int i = 0; i < CNN_PARAMS; i++) {
        size_t len = strlen(t[i].name);
        assert_int_equal(le32(b + at), len);
        assert_memory_equal(b + at + 4, t[i].name, len);
        at += 4 + len;
        assert_int_equal(le32(b + at), t[i].rank);
        at += 4;
        for (int d = 0; d < t[i].rank; d++, at += 4)
            assert_int_equal(le32(b + at), t[i].dims[d]);
        for (size_t j = 0; j < t[i].count; j++, at += 4) {
            uint32_t bits;
            memcpy(&bits, &p[t[i].offset + j], 4);
            assert_int_equal(le32(b + at), bits);
        }
    }
    assert_int_equal(at, n);
    if (weights_load(path, t, CNN_PARAMS, q, err, sizeof err))
        fail_msg("%s", err);
    assert_memory_equal(p, q, count * sizeof *p);
    free(b);
    free(p);
    free(q);
}

static void test_wrong_magic_and_version(void **state)
{
    (void)state;
    cnn_tensor t[CNN_PARAMS];
    size_t count = layout(t), n;
    float *p = params_new(count);
    assert_int_equal(weights_save(path, t, CNN_PARAMS, p, err, sizeof err), 0);
    unsigned char *b = read_all(path, &n);
    b[3] = 'X';
    write_all(bad_path, b, n);
    expect_load_fails(t, CNN_PARAMS, count, "not a clt weights file");
    b[3] = 'W';
    b[4] = 2;
    write_all(bad_path, b, n);
    expect_load_fails(t, CNN_PARAMS, count, "version 2");
    free(b);
    free(p);
}

/* Every proper prefix of a good file is refused. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    cnn_tensor t[CNN_PARAMS];
    size_t count = layout(t), n;
    float *p = params_new(count);
    assert_int_equal(weights_save(path, t, CNN_PARAMS, p, err, sizeof err), 0);
    unsigned char *b = read_all(path, &n);
    for (size_t cut = 0; cut < n; cut++) {
        write_all(bad_path, b, cut);
        expect_load_fails(t, CNN_PARAMS, count, cut < 4 ? "magic" : "truncated");
    }
    unsigned char *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, b, n);
    longer[n] = 0;
    write_all(bad_path, longer, n + 1);
    expect_load_fails(t, CNN_PARAMS, count, "bytes follow the last tensor");
    free(longer);
    free(b);
    free(p);
}

/* A file of another model: other dimensions, ranks, names, tensor counts. */
static void test_mismatches(void **state)
{
    (void)state;
    cnn_tensor t[CNN_PARAMS], other[CNN_PARAMS];
    size_t count = layout(t);
    cnn_config c = {.h = 4, .w = 4, .c1 = 2, .c2 = 4, .classes = 2, .max_batch = 1};
    size_t other_count = cnn_layout(&c, other);
    float *p = params_new(other_count > count ? other_count : count);

    assert_int_equal(weights_save(bad_path, other, CNN_PARAMS, p, err, sizeof err), 0);
    expect_load_fails(t, CNN_PARAMS, count, "conv2.weight: dimension 0 is 4; this model's is 3");

    memcpy(other, t, sizeof other);
    other[CNN_FC_W].rank = 1;
    other[CNN_FC_W].dims[0] = (int)t[CNN_FC_W].count;
    assert_int_equal(weights_save(bad_path, other, CNN_PARAMS, p, err, sizeof err), 0);
    expect_load_fails(t, CNN_PARAMS, count, "fc.weight has rank 1");

    memcpy(other, t, sizeof other);
    other[CNN_CONV1_B].name = "conv1.b";
    assert_int_equal(weights_save(bad_path, other, CNN_PARAMS, p, err, sizeof err), 0);
    expect_load_fails(t, CNN_PARAMS, count, "tensor 1 is \"conv1.b\"");

    assert_int_equal(weights_save(bad_path, t, CNN_PARAMS - 1, p, err, sizeof err), 0);
    expect_load_fails(t, CNN_PARAMS, count, "holds 5 tensors; this model has 6");
    free(p);
}

static void test_missing_file(void **state)
{
    (void)state;
    cnn_tensor t[CNN_PARAMS];
    size_t count = layout(t);
    remove(bad_path);
    expect_load_fails(t, CNN_PARAMS, count, "cannot open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_layout),
        cmocka_unit_test(test_wrong_magic_and_version),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_mismatches),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
