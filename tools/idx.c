/* idx reader (gzip or plain, through zlib's gzread). */
#define _POSIX_C_SOURCE 200809L /* access */
#include "idx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_UBYTE 0x08

static int fail(char *err, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap)
        vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads exactly n bytes; 0, or -1 at end of data or on a zlib error. */
static int read_exact(gzFile f, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned part = n > (1u << 24) ? 1u << 24 : (unsigned)n;
        int got = gzread(f, p, part);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Why the last read stopped: zlib's message for a corrupt stream, else
 * the plain end of the file. */
static const char *short_reason(gzFile f)
{
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    return code != Z_OK && code != Z_BUF_ERROR && msg && *msg ? msg : "the file ends early";
}

/* The header: magic and dimensions, checked against the expected rank. */
static int read_header(gzFile f, const char *path, int rank, int *dims, size_t *elements, char *err,
                       size_t cap)
{
    unsigned char b[4];
    if (read_exact(f, b, 4))
        return fail(err, cap, "%s: no idx header (%s)", path, short_reason(f));
    uint32_t magic = be32(b), want = (uint32_t)IDX_UBYTE << 8 | (uint32_t)rank;
    if (magic != want)
        return fail(err, cap,
                    "%s: magic 0x%08x is not an unsigned-byte idx file of rank %d "
                    "(expected 0x%08x)",
                    path, (unsigned)magic, rank, (unsigned)want);
    size_t total = 1;
    for (int i = 0; i < rank; i++) {
        if (read_exact(f, b, 4))
            return fail(err, cap, "%s: header truncated in dimension %d (%s)", path, i,
                        short_reason(f));
        uint32_t d = be32(b);
        if (d == 0 || d > IDX_MAX_ELEMENTS || total > IDX_MAX_ELEMENTS / d)
            return fail(err, cap,
                        "%s: dimension %d is %u: each must be >= 1 and the product at most "
                        "%zu elements",
                        path, i, (unsigned)d, IDX_MAX_ELEMENTS);
        total *= d;
        dims[i] = (int)d;
    }
    *elements = total;
    return 0;
}

/* Reads the body in growing pieces, so that a header claiming more than
 * the file holds fails as truncated without a huge allocation first. */
static int read_body(gzFile f, const char *path, size_t elements, uint8_t **data, char *err,
                     size_t cap)
{
    size_t have = 0, alloc = 0;
    uint8_t *buf = NULL;
    while (have < elements) {
        size_t next = alloc ? alloc * 2 : (size_t)1 << 20;
        if (next > elements)
            next = elements;
        uint8_t *grown = realloc(buf, next);
        if (!grown) {
            free(buf);
            return fail(err, cap, "%s: out of memory reading %zu bytes", path, elements);
        }
        buf = grown;
        alloc = next;
        if (read_exact(f, buf + have, alloc - have)) {
            free(buf);
            return fail(err, cap, "%s: truncated: the header declares %zu data bytes (%s)", path,
                        elements, short_reason(f));
        }
        have = alloc;
    }
    /* the end: no more data, and the gzip trailer (CRC, length) intact */
    unsigned char extra;
    int got = gzread(f, &extra, 1), code = Z_OK;
    gzerror(f, &code); /* zlib reports a cut stream as Z_BUF_ERROR, returning 0 */
    if (got != 0 || code != Z_OK) {
        free(buf);
        if (got > 0)
            return fail(err, cap, "%s: bytes follow the %zu data bytes the header declares", path,
                        elements);
        return fail(err, cap, "%s: corrupt or truncated gzip stream (%s)", path,
                    code == Z_BUF_ERROR ? "unexpected end of file" : short_reason(f));
    }
    *data = buf;
    return 0;
}

int idx_read(const char *path, int rank, int *dims, uint8_t **data, char *err, size_t errcap)
{
    *data = NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return fail(err, errcap, "%s: cannot open: %s", path,
                    errno ? strerror(errno) : "out of memory");
    size_t elements = 0;
    int rc = read_header(f, path, rank, dims, &elements, err, errcap);
    if (rc == 0)
        rc = read_body(f, path, elements, data, err, errcap);
    gzclose(f);
    return rc;
}

int idx_load_set(const char *images_path, const char *labels_path, int classes, idx_set *out,
                 char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    int idims[3], ldims[1];
    if (idx_read(images_path, 3, idims, &out->images, err, errcap) ||
        idx_read(labels_path, 1, ldims, &out->labels, err, errcap)) {
        idx_free(out);
        return -1;
    }
    if (idims[0] != ldims[0]) {
        fail(err, errcap, "%s holds %d images but %s holds %d labels", images_path, idims[0],
             labels_path, ldims[0]);
        idx_free(out);
        return -1;
    }
    for (int i = 0; i < ldims[0]; i++)
        if (out->labels[i] >= classes) {
            fail(err, errcap, "%s: label %d of item %d is not below %d classes", labels_path,
                 out->labels[i], i, classes);
            idx_free(out);
            return -1;
        }
    out->count = idims[0];
    out->rows = idims[1];
    out->cols = idims[2];
    return 0;
}

int idx_find(const char *dir, const char *stem, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, stem);
    if (access(out, R_OK) == 0)
        return 1;
    snprintf(out, cap, "%s/%s.gz", dir, stem);
    return access(out, R_OK) == 0;
}

void idx_free(idx_set *s)
{
    free(s->images);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
