/* NumPy .npy reader and writer (see npy.h for what is accepted and why). */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest header accepted: NumPy's own reader stops at 10000 bytes by
 * default; 64 dimensions need under 2 KiB. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_ALIGN 64

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int host_little(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void swap_bytes(void *data, size_t count, size_t size)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = p[j];
            p[j] = p[size - 1 - j];
            p[size - 1 - j] = t;
        }
}

/* ---- the header dict ---- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int at(const cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r' ||
                             *c->p == '\f' || *c->p == '\v'))
        c->p++;
}

/* What is at the cursor, for messages: "'xyz...'" or "the end". */
static void describe(const cursor *c, char *out, size_t cap)
{
    size_t n = (size_t)(c->end - c->p);
    if (n == 0) {
        snprintf(out, cap, "the end of the header");
        return;
    }
    char shown[24];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 16; i++)
        shown[k++] = (c->p[i] >= 32 && c->p[i] < 127) ? c->p[i] : '?';
    shown[k] = '\0';
    snprintf(out, cap, "\"%s%s\"", shown, n > 16 ? "..." : "");
}

static int expected(const cursor *c, const char *what, char *err, size_t cap)
{
    char got[40];
    describe(c, got, sizeof got);
    return fail(err, cap, "malformed header: expected %s at %s", what, got);
}

/* A Python string literal in single or double quotes, without escapes. */
static int parse_string(cursor *c, char *out, size_t out_cap, char *err, size_t cap)
{
    if (!at(c, '\'') && !at(c, '"'))
        return expected(c, "a quoted string", err, cap);
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\n' || *c->p == '\0')
            return fail(err, cap, "malformed header: unsupported character in a string");
        if (n + 1 >= out_cap)
            return fail(err, cap, "malformed header: string longer than %zu characters",
                        out_cap - 1);
        out[n++] = *c->p++;
    }
    if (c->p == c->end)
        return fail(err, cap, "malformed header: unterminated string");
    c->p++;
    out[n] = '\0';
    return 0;
}

static int is_ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

static int parse_bool(cursor *c, int *out, char *err, size_t cap)
{
    static const char *words[2] = {"False", "True"};
    for (int v = 0; v < 2; v++) {
        size_t len = strlen(words[v]);
        if ((size_t)(c->end - c->p) >= len && !memcmp(c->p, words[v], len) &&
            (c->p + len == c->end || !is_ident_char(c->p[len]))) {
            c->p += len;
            *out = v;
            return 0;
        }
    }
    return expected(c, "True or False for 'fortran_order'", err, cap);
}

/* A non-negative integer (Python 2's "3L" spelling included). */
static int parse_dim(cursor *c, size_t *out, char *err, size_t cap)
{
    if (at(c, '-'))
        return fail(err, cap, "malformed header: negative dimension in 'shape'");
    if (!(c->p < c->end && *c->p >= '0' && *c->p <= '9'))
        return expected(c, "a dimension (a non-negative integer) in 'shape'", err, cap);
    size_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p++ - '0');
        if (v > (SIZE_MAX - d) / 10)
            return fail(err, cap, "a dimension in 'shape' overflows %zu-bit sizes",
                        sizeof(size_t) * 8);
        v = v * 10 + d;
    }
    if (at(c, 'L') || at(c, 'l'))
        c->p++;
    *out = v;
    return 0;
}

/* A tuple of dimensions: (), (3,), (2, 3) or (2, 3,). */
static int parse_shape(cursor *c, npy_header *h, char *err, size_t cap)
{
    if (at(c, '['))
        return fail(err, cap, "malformed header: 'shape' is a list; NumPy writes a tuple");
    if (!at(c, '('))
        return expected(c, "a tuple for 'shape'", err, cap);
    c->p++;
    h->ndim = 0;
    skip_space(c);
    while (!at(c, ')')) {
        if (h->ndim == NPY_MAX_DIMS)
            return fail(err, cap, "'shape' has more than %d dimensions", NPY_MAX_DIMS);
        if (parse_dim(c, &h->shape[h->ndim++], err, cap))
            return -1;
        skip_space(c);
        if (at(c, ',')) {
            c->p++;
            skip_space(c);
        } else if (!at(c, ')')) {
            return expected(c, "',' or ')' in 'shape'", err, cap);
        } else if (h->ndim == 1) { /* "(3)" is the number 3 in Python, not a tuple */
            return fail(err, cap,
                        "malformed header: 'shape' (%zu) is not a tuple; a 1-D "
                        "shape is written (%zu,)",
                        h->shape[0], h->shape[0]);
        }
    }
    c->p++;
    return 0;
}

enum { KEY_DESCR = 1, KEY_ORDER = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

static int parse_entry(cursor *c, npy_header *h, int *seen, char *err, size_t cap)
{
    char key[32];
    if (parse_string(c, key, sizeof key, err, cap))
        return -1;
    int which = !strcmp(key, "descr")           ? KEY_DESCR
                : !strcmp(key, "fortran_order") ? KEY_ORDER
                : !strcmp(key, "shape")         ? KEY_SHAPE
                                                : 0;
    if (!which)
        return fail(err, cap,
                    "unknown key '%s' in the header (a .npy header has exactly 'descr', "
                    "'fortran_order' and 'shape')",
                    key);
    if (*seen & which)
        return fail(err, cap, "malformed header: key '%s' appears twice", key);
    *seen |= which;
    skip_space(c);
    if (!at(c, ':'))
        return expected(c, "':' after a key", err, cap);
    c->p++;
    skip_space(c);
    if (which == KEY_DESCR) {
        if (at(c, '['))
            return fail(err, cap, "structured dtypes (a list as 'descr') are not supported");
        return parse_string(c, h->descr, sizeof h->descr, err, cap);
    }
    if (which == KEY_ORDER)
        return parse_bool(c, &h->fortran_order, err, cap);
    return parse_shape(c, h, err, cap);
}

int npy_parse_header(const char *text, size_t len, npy_header *h, char *err, size_t cap)
{
    cursor c = {text, text + len};
    memset(h, 0, sizeof *h);
    skip_space(&c);
    if (!at(&c, '{'))
        return expected(&c, "'{' (a Python dict)", err, cap);
    c.p++;
    int seen = 0;
    for (;;) {
        skip_space(&c);
        if (at(&c, '}'))
            break;
        if (parse_entry(&c, h, &seen, err, cap))
            return -1;
        skip_space(&c);
        if (at(&c, ','))
            c.p++;
        else if (!at(&c, '}'))
            return expected(&c, "',' or '}' after a value", err, cap);
    }
    c.p++;
    skip_space(&c);
    if (c.p != c.end)
        return expected(&c, "only padding after the dict", err, cap);
    static const char *names[] = {"'descr'", "'fortran_order'", "'shape'"};
    for (int i = 0; i < 3; i++)
        if (!(seen & (1 << i)))
            return fail(err, cap, "the header has no %s", names[i]);
    return 0;
}

int npy_shape_count(int ndim, const size_t *shape, size_t *count, char *err, size_t cap)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            n = 0;
    for (int i = 0; i < ndim && n; i++) {
        if (n > SIZE_MAX / shape[i]) {
            char s[64];
            npy_format_shape(ndim, shape, s, sizeof s);
            return fail(err, cap, "shape %s has more elements than memory can address", s);
        }
        n *= shape[i];
    }
    *count = n;
    return 0;
}

void npy_format_shape(int ndim, const size_t *shape, char *out, size_t cap)
{
    size_t used = 0;
    int wrote = snprintf(out, cap, "(");
    for (int i = 0; i < ndim && wrote >= 0 && (used += (size_t)wrote) < cap; i++)
        wrote = snprintf(out + used, cap - used, "%s%zu", i ? ", " : "", shape[i]);
    if (wrote >= 0 && (used += (size_t)wrote) < cap)
        snprintf(out + used, cap - used, ndim == 1 ? ",)" : ")");
}

/* ---- reading ---- */

static const char *dtype_name(npy_dtype t)
{
    return t == NPY_FLOAT32 ? "float32" : t == NPY_INT32 ? "int32" : "int64";
}

/* " (float64)", " (bool)", ...: what a NumPy type string such as "f8"
 * means, for messages; "" if unknown. */
static void describe_type(const char *type, char *out, size_t cap)
{
    static const struct {
        char code;
        const char *name;
        int sized; /* named with its bits: float64 */
    } kinds[] = {{'f', "float", 1},     {'i', "int", 1},    {'u', "uint", 1},
                 {'c', "complex", 1},   {'b', "bool", 0},   {'U', "unicode", 0},
                 {'S', "bytes", 0},     {'O', "object", 0}, {'M', "datetime", 0},
                 {'m', "timedelta", 0}, {'V', "void", 0}};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (type[0] != kinds[i].code)
            continue;
        char *end;
        long bytes = strtol(type + 1, &end, 10);
        if (kinds[i].sized && bytes > 0 && bytes <= 64 && !*end)
            snprintf(out, cap, " (%s%ld)", kinds[i].name, bytes * 8);
        else
            snprintf(out, cap, " (%s)", kinds[i].name);
    }
}

/* Maps descr to a dtype this load accepts; *swap when the data needs byte
 * swapping for this host. */
static int check_descr(const char *descr, npy_want want, npy_dtype *t, int *swap, char *err,
                       size_t cap)
{
    const char *type = descr;
    char order = '=';
    if (*type == '<' || *type == '>' || *type == '=' || *type == '|')
        order = *type++;
    int ok = want == NPY_WANT_FLOAT32 ? !strcmp(type, "f4")
                                      : (!strcmp(type, "i4") || !strcmp(type, "i8"));
    if (!ok) {
        char what[40];
        describe_type(type, what, sizeof what);
        return fail(err, cap, "dtype '%s'%s is not supported here: expected %s", descr, what,
                    want == NPY_WANT_FLOAT32 ? "float32 ('<f4')"
                                             : "int32 or int64 ('<i4' or '<i8')");
    }
    if (order == '|')
        return fail(err, cap, "dtype '%s': '|' (no byte order) is not valid for a %c-byte type",
                    descr, type[1]);
    int little = order == '<' || (order == '=' && host_little());
    if (!little)
        return fail(err, cap,
                    "dtype '%s' is big-endian, which is not supported: save it little-endian, "
                    "e.g. x.astype('<%s')",
                    descr, type);
    *t = !strcmp(type, "f4") ? NPY_FLOAT32 : !strcmp(type, "i4") ? NPY_INT32 : NPY_INT64;
    *swap = !host_little();
    return 0;
}

/* int64 -> int32 in place, every value checked. */
static int narrow_int64(npy_array *a, char *err, size_t cap)
{
    const unsigned char *src = a->data;
    int32_t *dst = a->data;
    for (size_t i = 0; i < a->count; i++) {
        int64_t v;
        memcpy(&v, src + i * 8, 8);
        if (v < INT32_MIN || v > INT32_MAX)
            return fail(err, cap, "int64 element %zu is %lld, outside the int32 range", i,
                        (long long)v);
        int32_t n = (int32_t)v;
        memcpy(&dst[i], &n, 4);
    }
    a->dtype = NPY_INT32;
    return 0;
}

/* The fixed-size prefix: magic, version and header length. */
static int read_prefix(FILE *f, unsigned long long size, size_t *prefix, size_t *hlen, char *err,
                       size_t cap)
{
    unsigned char b[12];
    size_t got = fread(b, 1, size < 12 ? (size_t)size : 12, f);
    if (got < 6 && !memcmp(b, magic, got))
        return fail(err, cap, "truncated: the file is only %zu bytes long", got);
    if (got < 6 || memcmp(b, magic, 6))
        return fail(err, cap, "not a .npy file: it does not start with \"\\x93NUMPY\"");
    if (got < 10)
        return fail(err, cap, "truncated: the file ends inside the .npy preamble (%zu bytes)", got);
    if ((b[6] != 1 && b[6] != 2 && b[6] != 3) || b[7] != 0)
        return fail(err, cap, "unsupported .npy format version %u.%u (1.0, 2.0 and 3.0 are read)",
                    b[6], b[7]);
    if (b[6] == 1) {
        *prefix = 10;
        *hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else {
        if (got < 12)
            return fail(err, cap, "truncated: the file ends inside the .npy preamble (%zu bytes)",
                        got);
        *prefix = 12;
        *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    }
    if (*hlen > NPY_MAX_HEADER)
        return fail(err, cap, "header length %zu is larger than the %u bytes accepted", *hlen,
                    NPY_MAX_HEADER);
    if (*prefix + *hlen > size)
        return fail(err, cap,
                    "truncated: the header length is %zu bytes but the file ends %llu bytes "
                    "after the preamble",
                    *hlen, size - *prefix);
    if (fseek(f, (long)*prefix, SEEK_SET))
        return fail(err, cap, "cannot seek: %s", strerror(errno));
    return 0;
}

static int read_header(FILE *f, size_t hlen, npy_header *h, char *err, size_t cap)
{
    char *text = malloc(hlen + 1);
    if (!text)
        return fail(err, cap, "out of memory for a %zu-byte header", hlen);
    int rc = -1;
    if (fread(text, 1, hlen, f) != hlen)
        fail(err, cap, "cannot read the header: %s", ferror(f) ? strerror(errno) : "short read");
    else
        rc = npy_parse_header(text, hlen, h, err, cap);
    free(text);
    return rc;
}

/* Fortran order is accepted only where it equals C order (at most one
 * dimension larger than 1). */
static int check_order(const npy_header *h, char *err, size_t cap)
{
    int big = 0;
    for (int i = 0; i < h->ndim; i++)
        big += h->shape[i] > 1;
    if (h->fortran_order && big > 1) {
        char s[64];
        npy_format_shape(h->ndim, h->shape, s, sizeof s);
        return fail(err, cap,
                    "Fortran-order (column-major) data of shape %s is not supported: save a "
                    "C-order array, e.g. np.ascontiguousarray(x)",
                    s);
    }
    return 0;
}

static int load_file(FILE *f, unsigned long long size, npy_want want, npy_array *a, char *err,
                     size_t cap)
{
    size_t prefix = 0, hlen = 0;
    npy_header h;
    int swap;
    if (read_prefix(f, size, &prefix, &hlen, err, cap) || read_header(f, hlen, &h, err, cap) ||
        check_descr(h.descr, want, &a->dtype, &swap, err, cap) || check_order(&h, err, cap) ||
        npy_shape_count(h.ndim, h.shape, &a->count, err, cap))
        return -1;
    a->ndim = h.ndim;
    memcpy(a->shape, h.shape, sizeof h.shape);
    size_t item = a->dtype == NPY_INT64 ? 8 : 4;
    unsigned long long have = size - prefix - hlen;
    char s[64];
    npy_format_shape(a->ndim, a->shape, s, sizeof s);
    if (a->count > SIZE_MAX / item || a->count * item > have)
        return fail(err, cap,
                    "truncated: the header promises shape %s of %s (%llu bytes of data) but "
                    "the file holds %llu bytes after the header",
                    s, dtype_name(a->dtype), (unsigned long long)a->count * item, have);
    size_t bytes = a->count * item;
    if (have > bytes)
        return fail(err, cap,
                    "%llu unexpected bytes after the data (shape %s of %s is %zu bytes); "
                    "trailing data is not accepted",
                    have - bytes, s, dtype_name(a->dtype), bytes);
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data)
        return fail(err, cap, "out of memory for %zu bytes of data", bytes);
    if (fread(a->data, 1, bytes, f) != bytes)
        return fail(err, cap, "cannot read the data: %s",
                    ferror(f) ? strerror(errno) : "short read");
    if (swap)
        swap_bytes(a->data, a->count, item);
    return a->dtype == NPY_INT64 ? narrow_int64(a, err, cap) : 0;
}

int npy_load(const char *path, npy_want want, npy_array *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, cap, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fileno(f), &st))
        rc = fail(err, cap, "cannot stat: %s", strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = fail(err, cap, "is a directory");
    else if (!S_ISREG(st.st_mode))
        rc = fail(err, cap, "not a regular file (its size must be known)");
    else
        rc = load_file(f, (unsigned long long)st.st_size, want, out, err, cap);
    fclose(f);
    if (rc)
        npy_free(out);
    return rc;
}

void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

/* ---- writing ---- */

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

int npy_stage_open(npy_stage *s, const char *path, char *err, size_t cap)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode))
        return fail(err, cap, "%s is a directory", path);
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    s->path = concat(path, "");
    s->tmp = concat(path, suffix);
    if (!s->path || !s->tmp) {
        npy_stage_abort(s);
        return fail(err, cap, "out of memory");
    }
    s->f = fopen(s->tmp, "wbx"); /* exclusive: never opens an existing file */
    if (!s->f) {
        int e = errno;
        free(s->tmp); /* not ours: nothing to remove */
        s->tmp = NULL;
        npy_stage_abort(s);
        return fail(err, cap, "cannot create the temporary file %s%s: %s", path, suffix,
                    strerror(e));
    }
    return 0;
}

/* "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", spaces,
 * '\n': the preamble plus header a multiple of NPY_ALIGN bytes. */
static size_t make_header(const npy_array *a, char *out, size_t cap)
{
    char shape[NPY_MAX_DIMS * 24 + 8];
    npy_format_shape(a->ndim, a->shape, shape, sizeof shape);
    int n = snprintf(out, cap, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     a->dtype == NPY_FLOAT32 ? "<f4" : "<i4", shape);
    size_t len = (size_t)n;
    size_t total = (10 + len + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memset(out + len, ' ', total - 10 - len - 1);
    out[total - 10 - 1] = '\n';
    return total - 10;
}

static int write_data(FILE *f, const npy_array *a)
{
    if (host_little())
        return fwrite(a->data, 4, a->count, f) == a->count ? 0 : -1;
    unsigned char chunk[4096];
    const unsigned char *p = a->data;
    for (size_t done = 0; done < a->count;) {
        size_t n = a->count - done < 1024 ? a->count - done : 1024;
        memcpy(chunk, p + done * 4, n * 4);
        swap_bytes(chunk, n, 4);
        if (fwrite(chunk, 4, n, f) != n)
            return -1;
        done += n;
    }
    return 0;
}

int npy_stage_write(npy_stage *s, const npy_array *a, char *err, size_t cap)
{
    if (!s->f)
        return fail(err, cap, "internal: the output is not open");
    if (a->dtype == NPY_INT64 || a->ndim < 0 || a->ndim > NPY_MAX_DIMS)
        return fail(err, cap, "internal: cannot write this array");
    char header[NPY_MAX_DIMS * 24 + 256];
    size_t hlen = make_header(a, header, sizeof header);
    unsigned char pre[10];
    memcpy(pre, magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    int bad = fwrite(pre, 1, 10, s->f) != 10 || fwrite(header, 1, hlen, s->f) != hlen ||
              write_data(s->f, a);
    int e = errno;
    if (fclose(s->f)) {
        bad = 1;
        e = errno;
    }
    s->f = NULL;
    if (bad)
        return fail(err, cap, "cannot write %s: %s", s->tmp, strerror(e));
    return 0;
}

int npy_stage_commit(npy_stage *s, char *err, size_t cap)
{
    if (s->f || !s->tmp)
        return fail(err, cap, "internal: the output is not written");
    if (rename(s->tmp, s->path))
        return fail(err, cap, "cannot rename %s to %s: %s", s->tmp, s->path, strerror(errno));
    free(s->tmp);
    s->tmp = NULL;
    return 0;
}

void npy_stage_abort(npy_stage *s)
{
    if (s->f)
        fclose(s->f);
    if (s->tmp)
        remove(s->tmp);
    free(s->tmp);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int npy_save(const char *path, const npy_array *a, char *err, size_t cap)
{
    npy_stage s;
    if (npy_stage_open(&s, path, err, cap))
        return -1;
    int rc = npy_stage_write(&s, a, err, cap) || npy_stage_commit(&s, err, cap) ? -1 : 0;
    npy_stage_abort(&s);
    return rc;
}
