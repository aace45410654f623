/* oneDNN on the host CPU as a peer column of cltool bench (optional). */
#ifndef CLTOOL_PEER_ONEDNN_H
#define CLTOOL_PEER_ONEDNN_H

#include "bench.h"

typedef struct onednn_peer onednn_peer;

/* Whether cltool was built with oneDNN. */
bool onednn_available(void);
/* Sets up op on the shape with host inputs (as bench_run lays them out:
 * forward x, w; backward data dy, w; backward weights x, dy; gemm A, B);
 * NULL if oneDNN cannot. The inputs must outlive the peer. */
onednn_peer *onednn_prepare(bench_op op, const bench_shape *s, const float *in0, const float *in1);
/* One run, waited for; 0 on success. */
int onednn_run(onednn_peer *p);
/* The output in plain NCHW / KCRS order; 0 on success. */
int onednn_output(onednn_peer *p, float *out);
void onednn_free(onednn_peer *p);

#endif
