/* NumPy .npy files: a strict reader and a writer for the arrays cltool
 * exchanges (float32, and int32 indices; int64 indices are read and narrowed
 * to int32). Format versions 1.0, 2.0 and 3.0, as NumPy's
 * numpy/lib/format.py describes them:
 *
 *   "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in
 *   2.0 and 3.0), then the header: a Python dict literal with exactly the
 *   keys 'descr', 'fortran_order' and 'shape', padded with spaces and ended
 *   by '\n', then the data.
 *
 * The reader checks everything before it allocates the data: the dict (any
 * key order, spaces, trailing commas, shapes such as (), (3,) and (2, 3)),
 * the dtype, the order, overflow of the shape's product, and that the file
 * holds exactly the bytes the header promises. Trailing bytes after the data
 * are rejected (np.save never writes any, so they mean a damaged or
 * misunderstood file). Header padding is not checked: NumPy pads to 64 bytes
 * (older versions and other writers to 16 or less) and its reader takes any.
 *
 * Every function that can fail returns 0 on success or -1 with a sentence in
 * err (cap bytes), which names the problem but not the file. */
#ifndef CLT_NPY_H
#define CLT_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NPY_MAX_DIMS 64

typedef enum npy_dtype { NPY_FLOAT32 = 0, NPY_INT32, NPY_INT64 } npy_dtype;

/* An array in host memory, C order, host byte order. */
typedef struct npy_array {
    npy_dtype dtype;
    int ndim; /* 0 for a scalar array */
    size_t shape[NPY_MAX_DIMS];
    size_t count; /* the product of the shape (1 when ndim is 0) */
    void *data;   /* count elements of dtype; malloc'd by npy_load */
} npy_array;

/* What a header says. */
typedef struct npy_header {
    char descr[16]; /* e.g. "<f4" */
    int fortran_order;
    int ndim;
    size_t shape[NPY_MAX_DIMS];
} npy_header;

/* What npy_load accepts: float32 only ('<f4', or '=f4'), or indices
 * ('<i4' or '<i8', or '='), which come back as int32 after a range check. */
typedef enum npy_want { NPY_WANT_FLOAT32 = 0, NPY_WANT_INDEX } npy_want;

/* Parses the header dict (len bytes of text, padding included). */
int npy_parse_header(const char *text, size_t len, npy_header *h, char *err, size_t cap);

/* The product of shape[0..ndim) into *count; -1 on overflow of size_t. */
int npy_shape_count(int ndim, const size_t *shape, size_t *count, char *err, size_t cap);

/* "(2, 3)", "(3,)" or "()": Python's spelling of a shape tuple. */
void npy_format_shape(int ndim, const size_t *shape, char *out, size_t cap);

/* Reads the whole file at path into *out (freed with npy_free; on failure
 * *out holds no memory). */
int npy_load(const char *path, npy_want want, npy_array *out, char *err, size_t cap);

void npy_free(npy_array *a);

/* An output written atomically: opened as "<path>.tmp.<pid>" beside path
 * (created exclusively, so nothing existing is touched), written, then
 * renamed over path. Until the rename, path is untouched. */
typedef struct npy_stage {
    FILE *f;
    char *path, *tmp;
} npy_stage;

/* Creates the temporary file. */
int npy_stage_open(npy_stage *s, const char *path, char *err, size_t cap);
/* Writes a as a version 1.0 file: '<f4' or '<i4', C order, header padded
 * to 64 bytes (int64 arrays are refused). The file is closed afterwards. */
int npy_stage_write(npy_stage *s, const npy_array *a, char *err, size_t cap);
/* Renames the written temporary file to path. */
int npy_stage_commit(npy_stage *s, char *err, size_t cap);
/* Closes and removes the temporary file, if any; safe on a zeroed, a failed
 * or a committed stage. */
void npy_stage_abort(npy_stage *s);

/* open + write + commit, aborting on failure: path then holds a or is as it
 * was. */
int npy_save(const char *path, const npy_array *a, char *err, size_t cap);

#endif
