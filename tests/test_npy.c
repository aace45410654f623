/* The .npy reader and writer of cltool (tools/npy.c): round trips of
 * float32 and int32 in several shapes, the exact bytes written, headers of
 * every version and spelling NumPy accepts, int64 indices narrowed with
 * range checks, and every malformed file refused with a message naming the
 * problem (the bad files are written byte by byte here). */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("CLT_TEST_TMP");
    char tmpl[512];
    if (base) {
        mkdir(base, 0755);
        snprintf(tmpl, sizeof tmpl, "%s/npy-XXXXXX", base);
    } else {
        snprintf(tmpl, sizeof tmpl, "/tmp/clt-npy-XXXXXX");
    }
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                remove(p);
            }
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

/* A path in the test directory (one of a few rotating buffers). */
static const char *path_of(const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *name, size_t *n)
{
    FILE *f = fopen(path_of(name), "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* A .npy file made by hand: magic, version major.0, the header length in
 * 2 (v1) or 4 bytes, `dict` padded with spaces to a multiple of `align`
 * (0: no padding) and ended by '\n', then `data_bytes` of data. */
static void write_npy(const char *name, int major, const char *dict, int align, const void *data,
                      size_t data_bytes)
{
    unsigned char buf[8192];
    size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
    size_t total = pre + len + 1;
    if (align)
        total = (total + (size_t)align - 1) / (size_t)align * (size_t)align;
    size_t hlen = total - pre;
    assert_true(total + data_bytes <= sizeof buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, len);
    memset(buf + pre + len, ' ', hlen - len - 1);
    buf[total - 1] = '\n';
    if (data_bytes)
        memcpy(buf + total, data, data_bytes);
    write_bytes(name, buf, total + data_bytes);
}

/* Loads and expects success. */
static npy_array load_ok(const char *name, npy_want want)
{
    npy_array a;
    char err[512] = "";
    if (npy_load(path_of(name), want, &a, err, sizeof err))
        fail_msg("%s: unexpected failure: %s", name, err);
    return a;
}

/* Loads and expects failure with a message containing `needle`. */
static void load_fails(const char *name, npy_want want, const char *needle)
{
    npy_array a;
    char err[512] = "";
    if (!npy_load(path_of(name), want, &a, err, sizeof err)) {
        npy_free(&a);
        fail_msg("%s: loaded, but should fail with \"%s\"", name, needle);
    }
    assert_null(a.data);
    if (!strstr(err, needle))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", name, err, needle);
}

static const float six[6] = {1.5f, -2, 3, 4.25f, -0.0f, 1e30f};

/* ---- round trips ---- */

static void check_round_trip(npy_dtype dtype, int ndim, const size_t *shape)
{
    npy_array a = {.dtype = dtype, .ndim = ndim};
    memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
    assert_int_equal(npy_shape_count(ndim, shape, &a.count, NULL, 0), 0);
    a.data = malloc(a.count * 4 + 1);
    assert_non_null(a.data);
    for (size_t i = 0; i < a.count; i++) {
        if (dtype == NPY_FLOAT32)
            ((float *)a.data)[i] = (float)i * 0.5f - 3.0f;
        else
            ((int32_t *)a.data)[i] = (int32_t)(i * 2654435761u);
    }
    char err[256];
    assert_int_equal(npy_save(path_of("rt.npy"), &a, err, sizeof err), 0);
    npy_array b = load_ok("rt.npy", dtype == NPY_FLOAT32 ? NPY_WANT_FLOAT32 : NPY_WANT_INDEX);
    assert_int_equal(b.dtype, dtype);
    assert_int_equal(b.ndim, ndim);
    assert_int_equal(b.count, a.count);
    for (int i = 0; i < ndim; i++)
        assert_int_equal(b.shape[i], shape[i]);
    assert_memory_equal(a.data, b.data, a.count * 4);
    npy_free(&a);
    npy_free(&b);
}

static void test_round_trips(void **state)
{
    (void)state;
    static const size_t s0[1] = {0}, s1[] = {7}, s2[] = {2, 3}, s4[] = {2, 3, 4, 5},
                        s0d[] = {3, 0, 2}, s7[] = {1, 2, 1, 3, 1, 1, 2};
    for (int t = 0; t < 2; t++) {
        npy_dtype dt = t ? NPY_INT32 : NPY_FLOAT32;
        check_round_trip(dt, 0, s0); /* a 0-d array: one element */
        check_round_trip(dt, 1, s1);
        check_round_trip(dt, 1, s0); /* no elements */
        check_round_trip(dt, 2, s2);
        check_round_trip(dt, 4, s4);
        check_round_trip(dt, 3, s0d);
        check_round_trip(dt, 7, s7);
    }
}

/* The exact bytes: version 1.0, '<f4', C order, header padded to a multiple
 * of 64; the same bytes as NumPy 1.24's np.save writes for these arrays. */
static void test_written_bytes(void **state)
{
    (void)state;
    npy_array a = {
        .dtype = NPY_FLOAT32, .ndim = 2, .shape = {2, 3}, .count = 6, .data = (void *)six};
    char err[256];
    assert_int_equal(npy_save(path_of("w.npy"), &a, err, sizeof err), 0);
    size_t n;
    unsigned char *b = read_bytes("w.npy", &n);
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_int_equal(n, 128 + 24);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(b[8] | b[9] << 8, 128 - 10);
    assert_memory_equal(b + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < 127; i++)
        assert_int_equal(b[i], ' ');
    assert_int_equal(b[127], '\n');
    /* little-endian 1.5f */
    assert_memory_equal(b + 128, "\x00\x00\xc0\x3f", 4);
    free(b);

    /* 1-D, 0-d and int32 spellings */
    static const struct {
        npy_dtype t;
        int ndim;
        size_t shape0;
        const char *dict;
    } cases[] = {
        {NPY_FLOAT32, 1, 6, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }"},
        {NPY_FLOAT32, 0, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
        {NPY_INT32, 1, 6, "{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        npy_array v = {.dtype = cases[c].t,
                       .ndim = cases[c].ndim,
                       .shape = {cases[c].shape0},
                       .count = cases[c].ndim ? 6 : 1,
                       .data = (void *)six};
        assert_int_equal(npy_save(path_of("v.npy"), &v, err, sizeof err), 0);
        b = read_bytes("v.npy", &n);
        assert_int_equal((b[8] | b[9] << 8) + 10, 128);
        assert_memory_equal(b + 10, cases[c].dict, strlen(cases[c].dict));
        assert_int_equal(b[127], '\n');
        assert_int_equal(n, 128 + v.count * 4);
        free(b);
    }
}

/* ---- headers NumPy accepts ---- */

static void expect_six(const char *name)
{
    npy_array a = load_ok(name, NPY_WANT_FLOAT32);
    assert_int_equal(a.dtype, NPY_FLOAT32);
    assert_int_equal(a.count, 6);
    assert_memory_equal(a.data, six, sizeof six);
    npy_free(&a);
}

static void test_header_versions_and_spellings(void **state)
{
    (void)state;
    const char *std = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    write_npy("v1.npy", 1, std, 64, six, sizeof six);
    expect_six("v1.npy");
    write_npy("v1_16.npy", 1, std, 16, six, sizeof six); /* older NumPy */
    expect_six("v1_16.npy");
    write_npy("v1_none.npy", 1, std, 0, six, sizeof six); /* other writers */
    expect_six("v1_none.npy");
    write_npy("v2.npy", 2, std, 64, six, sizeof six);
    expect_six("v2.npy");
    write_npy("v3.npy", 3, std, 64, six, sizeof six);
    expect_six("v3.npy");

    const char *spellings[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}",
        "  {  'descr' :'<f4' ,\t'fortran_order':False,\n'shape':( 2 , 3 , ) , }",
        "{'descr': '=f4', 'fortran_order': False, 'shape': (6,)}",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", /* Python 2 */
        "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }",      /* same as C order */
        "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6, 1), }",
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        write_npy("sp.npy", 1, spellings[i], 64, six, sizeof six);
        expect_six("sp.npy");
    }

    write_npy("scalar.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 64, six, 4);
    npy_array a = load_ok("scalar.npy", NPY_WANT_FLOAT32);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_true(((float *)a.data)[0] == 1.5f);
    npy_free(&a);
}

static void test_int_indices(void **state)
{
    (void)state;
    const int32_t i32[4] = {0, -1, INT32_MAX, INT32_MIN};
    write_npy("i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", 64, i32,
              sizeof i32);
    npy_array a = load_ok("i4.npy", NPY_WANT_INDEX);
    assert_int_equal(a.dtype, NPY_INT32);
    assert_memory_equal(a.data, i32, sizeof i32);
    npy_free(&a);

    /* int64 narrowed to int32, every value kept (little-endian host assumed
     * by the byte layout of the test data) */
    const int64_t i64[4] = {0, -1, INT32_MAX, INT32_MIN};
    write_npy("i8.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 64, i64,
              sizeof i64);
    a = load_ok("i8.npy", NPY_WANT_INDEX);
    assert_int_equal(a.dtype, NPY_INT32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.count, 4);
    assert_memory_equal(a.data, i32, sizeof i32);
    npy_free(&a);

    const int64_t big[3] = {5, (int64_t)INT32_MAX + 1, 7};
    write_npy("big.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 64, big,
              sizeof big);
    load_fails("big.npy", NPY_WANT_INDEX, "element 1 is 2147483648, outside the int32 range");
    const int64_t small[1] = {(int64_t)INT32_MIN - 1};
    write_npy("small.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", 64,
              small, sizeof small);
    load_fails("small.npy", NPY_WANT_INDEX, "outside the int32 range");

    /* the kinds do not mix */
    load_fails("i4.npy", NPY_WANT_FLOAT32, "dtype '<i4' (int32) is not supported here");
    write_npy("v1.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 64, six,
              sizeof six);
    load_fails("v1.npy", NPY_WANT_INDEX, "dtype '<f4' (float32) is not supported here");
}

/* ---- malformed files ---- */

static void test_bad_magic_and_preamble(void **state)
{
    (void)state;
    write_bytes("empty.npy", "", 0);
    load_fails("empty.npy", NPY_WANT_FLOAT32, "truncated");
    write_bytes("short.npy", "\x93NUM", 4);
    load_fails("short.npy", NPY_WANT_FLOAT32, "truncated");
    write_bytes("text.npy", "hello, world\n", 13);
    load_fails("text.npy", NPY_WANT_FLOAT32, "not a .npy file");
    write_bytes("magic.npy", "\x93NUMPZ\x01\x00\x10\x00", 10);
    load_fails("magic.npy", NPY_WANT_FLOAT32, "not a .npy file");
    write_bytes("pre.npy", "\x93NUMPY\x01\x00\x76", 9);
    load_fails("pre.npy", NPY_WANT_FLOAT32, "ends inside the .npy preamble");
    write_bytes("pre2.npy", "\x93NUMPY\x02\x00\x76\x00", 10);
    load_fails("pre2.npy", NPY_WANT_FLOAT32, "ends inside the .npy preamble");

    const char *std = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    write_npy("v4.npy", 4, std, 64, six, sizeof six);
    load_fails("v4.npy", NPY_WANT_FLOAT32, "unsupported .npy format version 4.0");
    write_npy("v11.npy", 1, std, 64, six, sizeof six);
    unsigned char b[1024];
    size_t n;
    unsigned char *raw = read_bytes("v11.npy", &n);
    memcpy(b, raw, n);
    free(raw);
    b[7] = 1;
    write_bytes("v11.npy", b, n);
    load_fails("v11.npy", NPY_WANT_FLOAT32, "version 1.1");

    /* header length past the end of the file */
    b[7] = 0;
    b[8] = 0xff;
    b[9] = 0x00;
    write_bytes("hlen.npy", b, n);
    load_fails("hlen.npy", NPY_WANT_FLOAT32, "header length is 255 bytes");
    /* a v2 header length of 4 GiB - 1 */
    write_bytes("hlen2.npy", "\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14);
    load_fails("hlen2.npy", NPY_WANT_FLOAT32, "larger than");

    load_fails("no-such-file.npy", NPY_WANT_FLOAT32, "cannot open");
    mkdir(path_of("a-dir.npy"), 0755);
    load_fails("a-dir.npy", NPY_WANT_FLOAT32, "is a directory");
    rmdir(path_of("a-dir.npy"));
}

static void test_lying_and_truncated_data(void **state)
{
    (void)state;
    const char *std = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    write_npy("trunc.npy", 1, std, 64, six, sizeof six - 4);
    load_fails("trunc.npy", NPY_WANT_FLOAT32,
               "promises shape (2, 3) of float32 (24 bytes of data) but the file holds 20 bytes");
    write_npy("nodata.npy", 1, std, 64, NULL, 0);
    load_fails("nodata.npy", NPY_WANT_FLOAT32, "truncated");
    /* a header promising terabytes: refused before any allocation */
    write_npy("huge.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, "
              "1048576, 1024), }",
              64, six, sizeof six);
    load_fails("huge.npy", NPY_WANT_FLOAT32, "truncated");
    /* a product past size_t */
    write_npy("ovf.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }",
              64, six, sizeof six);
    load_fails("ovf.npy", NPY_WANT_FLOAT32, "more elements than memory can address");
    /* elements whose byte count overflows */
    write_npy("ovf2.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", 64,
              six, sizeof six);
    load_fails("ovf2.npy", NPY_WANT_FLOAT32, "truncated");
    write_npy("dim.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 64,
              six, sizeof six);
    load_fails("dim.npy", NPY_WANT_FLOAT32, "overflows");
    /* trailing bytes */
    float seven[7] = {0};
    write_npy("trail.npy", 1, std, 64, seven, sizeof seven);
    load_fails("trail.npy", NPY_WANT_FLOAT32, "4 unexpected bytes after the data");
}

static void test_bad_dtype_and_order(void **state)
{
    (void)state;
    static const struct {
        const char *descr, *needle;
    } cases[] = {
        {">f4", "big-endian"},      {"|f4", "'|' (no byte order) is not valid"},
        {"<f8", "'<f8' (float64)"}, {"<f2", "(float16)"},
        {"<i8", "(int64)"},         {"<u4", "(uint32)"},
        {"|b1", "(bool)"},          {"<c8", "(complex64)"},
        {"<U3", "(unicode)"},       {"|O", "(object)"},
        {"<f4x", "'<f4x' (float)"}, {"<f999999999999", "(float)"},
        {"", "dtype ''"},
    };
    char dict[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (6,), }",
                 cases[i].descr);
        write_npy("dt.npy", 1, dict, 64, six, sizeof six);
        load_fails("dt.npy", NPY_WANT_FLOAT32, cases[i].needle);
    }
    write_npy("be_i4.npy", 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (6,), }", 64, six,
              sizeof six);
    load_fails("be_i4.npy", NPY_WANT_INDEX, "big-endian");
    write_npy("fo.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 64, six,
              sizeof six);
    load_fails("fo.npy", NPY_WANT_FLOAT32, "Fortran-order");
}

static void test_bad_dicts(void **state)
{
    (void)state;
    static const struct {
        const char *dict, *needle;
    } cases[] = {
        {"", "expected '{'"},
        {"['descr', '<f4']", "expected '{'"},
        {"{'descr': '<f4', 'fortran_order': False}", "no 'shape'"},
        {"{'descr': '<f4', 'shape': (6,)}", "no 'fortran_order'"},
        {"{'fortran_order': False, 'shape': (6,)}", "no 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", "unknown key 'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
         "'descr' appears twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", "'shape' is a list"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "is not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}", "',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", "a dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 6}", "a tuple for 'shape'"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}", "True or False"},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (6,)}", "True or False"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", "True or False"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", "',' or '}'"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}", "expected ':'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", "',' or '}'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", "',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", "only padding"},
        {"{'descr': '<\\f4', 'fortran_order': False, 'shape': (6,)}", "unsupported character"},
        {"{descr: '<f4', 'fortran_order': False, 'shape': (6,)}", "a quoted string"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", "structured dtypes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), ,}", "a quoted string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy("bad.npy", 1, cases[i].dict, 64, six, sizeof six);
        load_fails("bad.npy", NPY_WANT_FLOAT32, cases[i].needle);
    }
    /* an unterminated string, straight through the parser */
    npy_header h;
    char err[256];
    assert_int_equal(npy_parse_header("{'descr", 7, &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "unterminated string"));
    /* a NUL byte in the padding */
    const char nul[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}\0 \n";
    assert_int_equal(npy_parse_header(nul, sizeof nul - 1, &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "only padding"));
    /* more than NPY_MAX_DIMS dimensions */
    char many[1024] = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (int i = 0; i <= NPY_MAX_DIMS; i++)
        strcat(many, "1, ");
    strcat(many, ")}");
    assert_int_equal(npy_parse_header(many, strlen(many), &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 64 dimensions"));
}

/* ---- writing: atomic, never clobbering on failure ---- */

static int count_temporaries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_atomic_writes(void **state)
{
    (void)state;
    char err[512];
    npy_array a = {.dtype = NPY_FLOAT32, .ndim = 1, .shape = {6}, .count = 6, .data = (void *)six};
    /* replaces an existing file, leaves no temporary */
    write_bytes("out.npy", "old", 3);
    assert_int_equal(npy_save(path_of("out.npy"), &a, err, sizeof err), 0);
    expect_six("out.npy");
    assert_int_equal(count_temporaries(), 0);

    /* an aborted stage leaves the old file as it was and no temporary */
    write_bytes("keep.npy", "old", 3);
    npy_stage s;
    assert_int_equal(npy_stage_open(&s, path_of("keep.npy"), err, sizeof err), 0);
    assert_int_equal(count_temporaries(), 1);
    npy_stage_abort(&s);
    assert_int_equal(count_temporaries(), 0);
    size_t n;
    unsigned char *b = read_bytes("keep.npy", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "old", 3);
    free(b);
    /* written but not committed: the same */
    assert_int_equal(npy_stage_open(&s, path_of("keep.npy"), err, sizeof err), 0);
    assert_int_equal(npy_stage_write(&s, &a, err, sizeof err), 0);
    npy_stage_abort(&s);
    assert_int_equal(count_temporaries(), 0);
    b = read_bytes("keep.npy", &n);
    assert_int_equal(n, 3);
    free(b);

    /* a directory as the output */
    mkdir(path_of("out-dir.npy"), 0755);
    assert_int_equal(npy_save(path_of("out-dir.npy"), &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "is a directory"));
    rmdir(path_of("out-dir.npy"));
    assert_int_equal(count_temporaries(), 0);

    /* a directory that does not exist: fails, creates nothing */
    assert_int_equal(npy_save(path_of("missing/out.npy"), &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create the temporary file"));

    /* an existing file under the temporary name is neither opened nor removed */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "busy.npy.tmp.%ld", (long)getpid());
    write_bytes(tmp, "someone else's", 14);
    assert_int_equal(npy_save(path_of("busy.npy"), &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "File exists"));
    b = read_bytes(tmp, &n);
    assert_int_equal(n, 14);
    free(b);
    remove(path_of(tmp));
    assert_int_equal(access(path_of("busy.npy"), F_OK), -1);

    /* int64 arrays are never written */
    npy_array i64 = {.dtype = NPY_INT64, .ndim = 1, .shape = {1}, .count = 1, .data = (void *)six};
    assert_int_equal(npy_save(path_of("i64.npy"), &i64, err, sizeof err), -1);
    assert_int_equal(access(path_of("i64.npy"), F_OK), -1);
    assert_int_equal(count_temporaries(), 0);
}

static void test_format_shape(void **state)
{
    (void)state;
    char s[64];
    const size_t shape[] = {2, 3, 4};
    npy_format_shape(0, shape, s, sizeof s);
    assert_string_equal(s, "()");
    npy_format_shape(1, shape, s, sizeof s);
    assert_string_equal(s, "(2,)");
    npy_format_shape(3, shape, s, sizeof s);
    assert_string_equal(s, "(2, 3, 4)");
    char tiny[5];
    npy_format_shape(3, shape, tiny, sizeof tiny); /* truncates, terminated */
    assert_int_equal(strlen(tiny), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_written_bytes),
        cmocka_unit_test(test_header_versions_and_spellings),
        cmocka_unit_test(test_int_indices),
        cmocka_unit_test(test_bad_magic_and_preamble),
        cmocka_unit_test(test_lying_and_truncated_data),
        cmocka_unit_test(test_bad_dtype_and_order),
        cmocka_unit_test(test_bad_dicts),
        cmocka_unit_test(test_atomic_writes),
        cmocka_unit_test(test_format_shape),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
