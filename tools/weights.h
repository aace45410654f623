/* The weights file of `cltool train --save/--load` ("CLTW", version 1).
 * Every integer is an unsigned 32-bit little-endian number:
 *
 *   "CLTW"                 4 bytes, the magic
 *   version                1
 *   tensors                how many tensors follow
 *   then for each tensor:
 *     name_length          1..255
 *     name                 name_length bytes of ASCII, no terminator
 *                          (PyTorch's state_dict names: "conv1.weight", ...)
 *     rank                 1..4
 *     dims                 rank numbers, each >= 1, outermost first
 *     data                 the product of dims float32 values, IEEE 754
 *                          little-endian, row-major (PyTorch's layout)
 *
 * and nothing after the last tensor. */
#ifndef CLTOOL_WEIGHTS_H
#define CLTOOL_WEIGHTS_H

#include "cnn.h"

#include <stddef.h>

#define WEIGHTS_MAGIC "CLTW"
#define WEIGHTS_VERSION 1

/* Writes the n tensors t (their data at t[i].offset in params) to path.
 * Returns 0, or -1 with the reason in err. */
int weights_save(const char *path, const cnn_tensor *t, int n, const float *params, char *err,
                 size_t errcap);

/* Reads path into params, requiring exactly the n tensors t: the same
 * names, ranks and dimensions in the same order. Refuses a wrong magic or
 * version, a truncated file, any mismatch and trailing bytes; params is
 * then unchanged. Returns 0, or -1 with the reason in err. */
int weights_load(const char *path, const cnn_tensor *t, int n, float *params, char *err,
                 size_t errcap);

#endif
