/* Epochs of training and evaluation of a cnn over an idx_set: shuffling,
 * batching, packing and a pipeline that keeps the device one batch ahead of
 * the host. */
#ifndef CLTOOL_TRAINER_H
#define CLTOOL_TRAINER_H

#include "cnn.h"
#include "idx.h"

typedef struct epoch_stats {
    double loss;    /* mean loss per image over the epoch */
    int correct;    /* images whose largest logit is their label */
    int images;     /* images seen */
    double seconds; /* wall time of the epoch */
} epoch_stats;

/* Called after each batch: images done of total, the mean loss so far and
 * the seconds since the epoch began. */
typedef void (*progress_fn)(int done, int total, double loss, double seconds, void *user);

typedef struct trainer trainer;

/* A trainer for net with batches of up to the net's max_batch images, SGD
 * with lr and momentum, and a shuffle generator seeded with seed. */
clt_status trainer_create(cnn *net, float lr, float momentum, uint64_t seed, trainer **out);
void trainer_destroy(trainer *t);

/* One epoch over the first `count` images of data (count <= data->count):
 * train (1: shuffled, a step per batch; the last batch may be partial) or
 * evaluate (0: in order, forward only). progress may be NULL. */
clt_status trainer_epoch(trainer *t, const idx_set *data, int count, int train, epoch_stats *out,
                         progress_fn progress, void *user);

#endif
