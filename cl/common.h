/* Shared by every clt kernel program (prepended after the generated
 * #defines: CLT_DEVICE_IS_CPU, CLT_DEVICE_IS_GPU, ...). OpenCL C 1.2. */

/* Kernels index with int: the host checks every extent fits. Global sizes
 * are rounded up to the local size, so each kernel bounds-checks its ids. */
#define CLT_GID(d) ((int)get_global_id(d))
