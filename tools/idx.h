/* The idx file format of MNIST and Fashion-MNIST: a big-endian header
 * (magic 0x0000TTRR: type TT, rank RR, then RR 32-bit dimensions) followed
 * by the data. Files may be gzip-compressed or plain; zlib reads both. */
#ifndef CLTOOL_IDX_H
#define CLTOOL_IDX_H

#include <stddef.h>
#include <stdint.h>

/* A labelled image set: count images of rows x cols bytes, one label each. */
typedef struct idx_set {
    int count, rows, cols;
    uint8_t *images; /* count * rows * cols pixels, row-major per image */
    uint8_t *labels; /* count labels */
} idx_set;

/* Largest element count an idx file may declare (the product of its
 * dimensions); larger headers are refused before anything is allocated. */
#define IDX_MAX_ELEMENTS ((size_t)INT32_MAX)

/* Reads an unsigned-byte idx file of the given rank (1 for labels, 3 for
 * images): dims receives rank dimensions, *data a malloc'd array of their
 * product. Refuses a wrong magic (type or rank), a zero or oversized
 * dimension, a short file and bytes after the data. Returns 0, or -1 with a
 * message naming the file in err (errno-style "cannot open" when missing). */
int idx_read(const char *path, int rank, int *dims, uint8_t **data, char *err, size_t errcap);

/* Reads an image file (rank 3) and a label file (rank 1) of the same set
 * and checks that they hold the same number of items and that every label
 * is below `classes`. Returns 0, or -1 with the reason in err. */
int idx_load_set(const char *images_path, const char *labels_path, int classes, idx_set *out,
                 char *err, size_t errcap);

/* Finds "<dir>/<stem>" (uncompressed), else "<dir>/<stem>.gz". Writes the
 * path that exists, else the .gz one, into out. Returns 1 if it exists. */
int idx_find(const char *dir, const char *stem, char *out, size_t cap);

void idx_free(idx_set *s);

#endif
