/* cltool's idx reader (tools/idx.c): good files, gzipped and plain, and
 * every way a file can be bad: truncated (header, body, gzip stream), wrong
 * magic, label count mismatch, labels out of range, dimensions that are
 * zero or overflow, trailing bytes, missing files. Needs no device. */
#define _POSIX_C_SOURCE 200809L
#include "idx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
/* cmocka.h needs the headers above */
#include <cmocka.h>

static char dir[512];
static char err[1024];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base) {
        mkdir(base, 0755);
        snprintf(tmpl, sizeof tmpl, "%s/idx-XXXXXX", base);
    } else {
        snprintf(tmpl, sizeof tmpl, "/tmp/clt-idx-XXXXXX");
    }
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    return 0;
}

static const char *path_of(const char *name)
{
    static char p[2][600];
    static int which;
    which ^= 1;
    snprintf(p[which], sizeof p[which], "%s/%s", dir, name);
    return p[which];
}

/* Writes bytes to dir/name, gzipped when the name ends in ".gz". */
static const char *write_file(const char *name, const void *bytes, size_t n)
{
    const char *path = path_of(name);
    size_t len = strlen(name);
    if (len > 3 && !strcmp(name + len - 3, ".gz")) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n)
            assert_int_equal(gzwrite(f, bytes, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
    return path;
}

/* An idx file in memory: big-endian magic (type 8, rank) and dims, then the
 * data (byte i is (i * 37 + 11) mod 256, or `labels` for rank 1). */
typedef struct blob {
    unsigned char b[4096];
    size_t n;
} blob;

static void put_be32(blob *x, uint32_t v)
{
    x->b[x->n++] = (unsigned char)(v >> 24);
    x->b[x->n++] = (unsigned char)(v >> 16);
    x->b[x->n++] = (unsigned char)(v >> 8);
    x->b[x->n++] = (unsigned char)v;
}

static blob make_idx(uint32_t magic, int rank, const uint32_t *dims, size_t data_bytes)
{
    blob x = {.n = 0};
    put_be32(&x, magic);
    for (int i = 0; i < rank; i++)
        put_be32(&x, dims[i]);
    for (size_t i = 0; i < data_bytes; i++)
        x.b[x.n++] = (unsigned char)((i * 37 + 11) % 256);
    return x;
}

static blob images_blob(uint32_t count, uint32_t rows, uint32_t cols)
{
    uint32_t dims[3] = {count, rows, cols};
    return make_idx(0x803, 3, dims, (size_t)count * rows * cols);
}

static blob labels_blob(uint32_t count, int classes)
{
    uint32_t dims[1] = {count};
    blob x = make_idx(0x801, 1, dims, 0);
    for (uint32_t i = 0; i < count; i++)
        x.b[x.n++] = (unsigned char)((i * 7 + 3) % (unsigned)classes);
    return x;
}

/* Expects idx_read to fail with a message containing `needle`. */
static void expect_read_fails(const char *path, int rank, const char *needle)
{
    int dims[3] = {-1, -1, -1};
    uint8_t *data = (uint8_t *)1;
    err[0] = '\0';
    assert_int_equal(idx_read(path, rank, dims, &data, err, sizeof err), -1);
    assert_null(data);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
    assert_non_null(strstr(err, path)); /* names the file */
}

static void test_good_files(void **state)
{
    (void)state;
    const char *names[][2] = {{"a-img.gz", "a-lab.gz"}, {"b-img", "b-lab"}};
    for (int k = 0; k < 2; k++) {
        blob im = images_blob(5, 3, 4), lb = labels_blob(5, 10);
        const char *ip = write_file(names[k][0], im.b, im.n);
        const char *lp = write_file(names[k][1], lb.b, lb.n);
        idx_set s;
        if (idx_load_set(ip, lp, 10, &s, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(s.count, 5);
        assert_int_equal(s.rows, 3);
        assert_int_equal(s.cols, 4);
        for (int i = 0; i < 5 * 3 * 4; i++)
            assert_int_equal(s.images[i], (i * 37 + 11) % 256);
        for (int i = 0; i < 5; i++)
            assert_int_equal(s.labels[i], (i * 7 + 3) % 10);
        idx_free(&s);
        assert_null(s.images);
    }
}

/* Larger than one read piece, so that the growing buffer is exercised. */
static void test_large_file(void **state)
{
    (void)state;
    uint32_t count = 3000, rows = 28, cols = 28;
    size_t n = 12 + 4 + (size_t)count * rows * cols;
    unsigned char *b = malloc(n);
    assert_non_null(b);
    uint32_t hdr[4] = {0x803, count, rows, cols};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            b[4 * i + j] = (unsigned char)(hdr[i] >> (24 - 8 * j));
    for (size_t i = 16; i < n; i++)
        b[i] = (unsigned char)(i * 2654435761u >> 24);
    const char *p = write_file("big.gz", b, n);
    int dims[3];
    uint8_t *data;
    if (idx_read(p, 3, dims, &data, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(dims[0], 3000);
    assert_memory_equal(data, b + 16, n - 16);
    free(data);
    free(b);
}

static void test_truncated(void **state)
{
    (void)state;
    blob im = images_blob(4, 5, 6);
    const char *ext[] = {"", ".gz"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "empty%s", ext[k]);
        expect_read_fails(write_file(name, im.b, 0), 3, "no idx header");
        snprintf(name, sizeof name, "hdr%s", ext[k]);
        expect_read_fails(write_file(name, im.b, 10), 3, "header truncated in dimension 1");
        snprintf(name, sizeof name, "body%s", ext[k]);
        expect_read_fails(write_file(name, im.b, im.n - 1), 3, "truncated");
        snprintf(name, sizeof name, "nobody%s", ext[k]);
        expect_read_fails(write_file(name, im.b, 16), 3, "truncated");
    }
    /* a gzip stream cut short: its own bytes, not only the data, are missing */
    write_file("whole.gz", im.b, im.n);
    FILE *f = fopen(path_of("whole.gz"), "rb");
    assert_non_null(f);
    unsigned char gz[4096];
    size_t gn = fread(gz, 1, sizeof gz, f);
    fclose(f);
    assert_true(gn > 20);
    expect_read_fails(write_file("cut", gz, gn - 12), 3, "truncated");
    /* the data complete, the gzip trailer cut or its CRC wrong */
    expect_read_fails(write_file("no-trailer", gz, gn - 4), 3, "gzip stream");
    gz[gn - 6] ^= 0x40;
    expect_read_fails(write_file("bad-crc", gz, gn), 3, "incorrect data check"); /* zlib's words */
    /* a header that promises far more than the file holds */
    uint32_t dims[3] = {1u << 20, 32, 32};
    blob liar = make_idx(0x803, 3, dims, 100);
    expect_read_fails(write_file("liar.gz", liar.b, liar.n), 3, "truncated");
}

static void test_wrong_magic(void **state)
{
    (void)state;
    blob im = images_blob(2, 2, 2), lb = labels_blob(2, 10);
    /* images read as labels and the reverse: the rank byte differs */
    expect_read_fails(write_file("im.gz", im.b, im.n), 1, "magic 0x00000803");
    expect_read_fails(write_file("lb.gz", lb.b, lb.n), 3, "magic 0x00000801");
    uint32_t dims[3] = {2, 2, 2};
    blob f32 = make_idx(0xd03, 3, dims, 8 * 4); /* float data: type 0x0d */
    expect_read_fails(write_file("f32", f32.b, f32.n), 3, "not an unsigned-byte idx file");
    expect_read_fails(write_file("text", "hello world\n", 12), 3, "magic");
}

static void test_label_count_mismatch(void **state)
{
    (void)state;
    blob im = images_blob(3, 2, 2), lb = labels_blob(4, 10);
    const char *ip = write_file("m-img.gz", im.b, im.n), *lp = write_file("m-lab.gz", lb.b, lb.n);
    idx_set s;
    assert_int_equal(idx_load_set(ip, lp, 10, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds 3 images but"));
    assert_non_null(strstr(err, "holds 4 labels"));
    assert_null(s.images);
    assert_null(s.labels);
}

static void test_label_out_of_range(void **state)
{
    (void)state;
    blob im = images_blob(3, 2, 2), lb = labels_blob(3, 10);
    lb.b[lb.n - 2] = 10; /* item 1 */
    const char *ip = write_file("r-img", im.b, im.n), *lp = write_file("r-lab", lb.b, lb.n);
    idx_set s;
    assert_int_equal(idx_load_set(ip, lp, 10, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "label 10 of item 1 is not below 10"));
}

static void test_bad_dims(void **state)
{
    (void)state;
    const uint32_t cases[][3] = {
        {65536, 65536, 65536}, /* 2^48 elements */
        {0xffffffffu, 1, 1},   /* a dimension past 2^31 */
        {1u << 31, 1, 1},      /* one past the int range */
        {2, 1u << 30, 2},      /* the product just past the limit */
        {0, 28, 28},           /* empty */
        {3, 0, 28},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        blob x = make_idx(0x803, 3, cases[i], 0);
        expect_read_fails(write_file("dims.gz", x.b, x.n), 3, "each must be >= 1");
    }
    uint32_t zero[1] = {0};
    blob x = make_idx(0x801, 1, zero, 0);
    expect_read_fails(write_file("zero-labels", x.b, x.n), 1, "dimension 0 is 0");
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    blob im = images_blob(2, 3, 3);
    im.b[im.n++] = 0;
    expect_read_fails(write_file("trail.gz", im.b, im.n), 3, "bytes follow");
    expect_read_fails(write_file("trail", im.b, im.n), 3, "bytes follow");
}

static void test_missing_and_find(void **state)
{
    (void)state;
    expect_read_fails(path_of("no-such-file.gz"), 3, "cannot open");
    char found[600];
    blob lb = labels_blob(2, 10);
    write_file("only-gz.gz", lb.b, lb.n);
    write_file("only-plain", lb.b, lb.n);
    assert_int_equal(idx_find(dir, "only-gz", found, sizeof found), 1);
    assert_string_equal(found, path_of("only-gz.gz"));
    assert_int_equal(idx_find(dir, "only-plain", found, sizeof found), 1);
    assert_string_equal(found, path_of("only-plain"));
    assert_int_equal(idx_find(dir, "neither", found, sizeof found), 0);
    assert_string_equal(found, path_of("neither.gz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_large_file),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_label_count_mismatch),
        cmocka_unit_test(test_label_out_of_range),
        cmocka_unit_test(test_bad_dims),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_missing_and_find),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
