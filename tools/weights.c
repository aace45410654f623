/* The weights file (see weights.h): byte-exact little-endian I/O, whatever
 * the host's byte order. */
#include "weights.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 255
#define MAX_RANK 4

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

static int put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

static int get_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int write_tensor(FILE *f, const cnn_tensor *t, const float *params)
{
    size_t len = strlen(t->name);
    if (put_u32(f, (uint32_t)len) || fwrite(t->name, 1, len, f) != len ||
        put_u32(f, (uint32_t)t->rank))
        return -1;
    for (int d = 0; d < t->rank; d++)
        if (put_u32(f, (uint32_t)t->dims[d]))
            return -1;
    for (size_t i = 0; i < t->count; i++)
        if (put_u32(f, float_bits(params[t->offset + i])))
            return -1;
    return 0;
}

int weights_save(const char *path, const cnn_tensor *t, int n, const float *params, char *err,
                 size_t errcap)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(err, errcap, "%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(WEIGHTS_MAGIC, 1, 4, f) != 4 || put_u32(f, WEIGHTS_VERSION) ||
              put_u32(f, (uint32_t)n);
    for (int i = 0; i < n && !bad; i++)
        bad = write_tensor(f, &t[i], params);
    if (fclose(f) != 0)
        bad = 1;
    return bad ? fail(err, errcap, "%s: write failed: %s", path, strerror(errno)) : 0;
}

/* Name, rank and dims of tensor i, checked against what the model has. */
static int read_header(FILE *f, const char *path, int i, const cnn_tensor *want, char *err,
                       size_t cap)
{
    uint32_t len, rank, dim;
    char name[MAX_NAME + 1];
    if (get_u32(f, &len))
        return fail(err, cap, "%s: truncated before tensor %d", path, i);
    if (len < 1 || len > MAX_NAME)
        return fail(err, cap, "%s: tensor %d: name length %u is not in 1..%d", path, i,
                    (unsigned)len, MAX_NAME);
    if (fread(name, 1, len, f) != len)
        return fail(err, cap, "%s: truncated in the name of tensor %d", path, i);
    name[len] = '\0';
    if (strcmp(name, want->name) != 0)
        return fail(err, cap, "%s: tensor %d is \"%s\"; this model expects \"%s\"", path, i, name,
                    want->name);
    if (get_u32(f, &rank))
        return fail(err, cap, "%s: truncated in the header of %s", path, name);
    if (rank != (uint32_t)want->rank)
        return fail(err, cap, "%s: %s has rank %u; this model's has rank %d", path, name,
                    (unsigned)rank, want->rank);
    for (uint32_t d = 0; d < rank; d++) {
        if (get_u32(f, &dim))
            return fail(err, cap, "%s: truncated in the dimensions of %s", path, name);
        if (dim != (uint32_t)want->dims[d])
            return fail(err, cap, "%s: %s: dimension %u is %u; this model's is %d", path, name,
                        (unsigned)d, (unsigned)dim, want->dims[d]);
    }
    return 0;
}

static int read_file(FILE *f, const char *path, const cnn_tensor *t, int n, float *out, char *err,
                     size_t cap)
{
    char magic[4];
    uint32_t version, count, bits;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, WEIGHTS_MAGIC, 4) != 0)
        return fail(err, cap, "%s: not a clt weights file (no \"%s\" magic)", path, WEIGHTS_MAGIC);
    if (get_u32(f, &version) || get_u32(f, &count))
        return fail(err, cap, "%s: truncated header", path);
    if (version != WEIGHTS_VERSION)
        return fail(err, cap, "%s: version %u; this cltool reads version %d", path,
                    (unsigned)version, WEIGHTS_VERSION);
    if (count != (uint32_t)n)
        return fail(err, cap, "%s: holds %u tensors; this model has %d", path, (unsigned)count, n);
    for (int i = 0; i < n; i++) {
        if (read_header(f, path, i, &t[i], err, cap))
            return -1;
        for (size_t j = 0; j < t[i].count; j++) {
            if (get_u32(f, &bits))
                return fail(err, cap, "%s: truncated in the data of %s (%zu of %zu floats)", path,
                            t[i].name, j, t[i].count);
            out[t[i].offset + j] = bits_float(bits);
        }
    }
    if (fgetc(f) != EOF)
        return fail(err, cap, "%s: bytes follow the last tensor", path);
    return 0;
}

int weights_load(const char *path, const cnn_tensor *t, int n, float *params, char *err,
                 size_t errcap)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (t[i].offset + t[i].count > total)
            total = t[i].offset + t[i].count;
    float *tmp = malloc((total ? total : 1) * sizeof *tmp);
    if (!tmp)
        return fail(err, errcap, "out of memory");
    FILE *f = fopen(path, "rb");
    int rc = f ? read_file(f, path, t, n, tmp, err, errcap)
               : fail(err, errcap, "%s: cannot open: %s", path, strerror(errno));
    if (f)
        fclose(f);
    if (rc == 0)
        memcpy(params, tmp, total * sizeof *tmp);
    free(tmp);
    return rc;
}
