/* Epochs over an idx_set (see trainer.h). The host packs batch b while the
 * device still runs batch b - 1: two host slots alternate, and a slot is
 * reused only after the results read from it have arrived. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "trainer.h"

#include "rng.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOTS = 2 };

struct trainer {
    cnn *net;
    float lr, momentum;
    uint64_t rng;
    int *order;
    int order_cap;
    void *packed[SLOTS]; /* images and labels, as cnn_upload takes them */
    float *logits[SLOTS];
    float loss[SLOTS];
    int n[SLOTS];
    cl_event done[SLOTS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

clt_status trainer_create(cnn *net, float lr, float momentum, uint64_t seed, trainer **out)
{
    *out = NULL;
    trainer *t = calloc(1, sizeof *t);
    if (!t)
        return CLT_STATUS_OUT_OF_HOST_MEMORY;
    const cnn_config *c = cnn_get_config(net);
    t->net = net;
    t->lr = lr;
    t->momentum = momentum;
    t->rng = seed;
    for (int s = 0; s < SLOTS; s++) {
        t->packed[s] = malloc(cnn_batch_bytes(net, c->max_batch));
        t->logits[s] = malloc((size_t)c->max_batch * c->classes * sizeof(float));
        if (!t->packed[s] || !t->logits[s]) {
            trainer_destroy(t);
            return CLT_STATUS_OUT_OF_HOST_MEMORY;
        }
    }
    *out = t;
    return CLT_STATUS_SUCCESS;
}

void trainer_destroy(trainer *t)
{
    if (!t)
        return;
    for (int s = 0; s < SLOTS; s++) {
        free(t->packed[s]);
        free(t->logits[s]);
    }
    free(t->order);
    free(t);
}

/* The visiting order: 0..count-1, shuffled (Fisher-Yates) for training. */
static clt_status make_order(trainer *t, int count, int shuffle)
{
    if (count > t->order_cap) {
        int *grown = realloc(t->order, (size_t)count * sizeof *grown);
        if (!grown)
            return CLT_STATUS_OUT_OF_HOST_MEMORY;
        t->order = grown;
        t->order_cap = count;
    }
    for (int i = 0; i < count; i++)
        t->order[i] = i;
    if (shuffle)
        for (int i = count - 1; i > 0; i--) {
            int j = (int)rng_below(&t->rng, (uint32_t)i + 1);
            int tmp = t->order[i];
            t->order[i] = t->order[j];
            t->order[j] = tmp;
        }
    return CLT_STATUS_SUCCESS;
}

/* Images scaled to [0, 1] (as torchvision's ToTensor) and their labels. */
static void pack(trainer *t, int slot, const idx_set *data, const int *items, int n)
{
    size_t hw = (size_t)data->rows * data->cols;
    float *img = cnn_batch_images(t->packed[slot]);
    int32_t *lab = cnn_batch_labels(t->net, t->packed[slot], n);
    for (int i = 0; i < n; i++) {
        const uint8_t *src = data->images + (size_t)items[i] * hw;
        for (size_t p = 0; p < hw; p++)
            img[(size_t)i * hw + p] = (float)src[p] / 255.0f;
        lab[i] = data->labels[items[i]];
    }
    t->n[slot] = n;
}

static clt_status enqueue_step(trainer *t, int slot, int train)
{
    cnn *net = t->net;
    int n = t->n[slot];
    clt_status st = cnn_upload(net, n, t->packed[slot]);
    if (st == CLT_STATUS_SUCCESS)
        st = cnn_forward(net, n);
    if (st == CLT_STATUS_SUCCESS && train)
        st = cnn_backward(net, n);
    if (st == CLT_STATUS_SUCCESS && train)
        st = cnn_sgd(net, t->lr, t->momentum);
    if (st == CLT_STATUS_SUCCESS)
        st = cnn_read_results(net, n, &t->loss[slot], t->logits[slot], &t->done[slot]);
    return st;
}

/* Waits for a slot's results and adds them to the epoch's statistics. */
static clt_status collect(trainer *t, int slot, epoch_stats *s)
{
    cl_int err = clWaitForEvents(1, &t->done[slot]);
    clReleaseEvent(t->done[slot]);
    t->done[slot] = NULL;
    if (err != CL_SUCCESS)
        return (clt_status)err;
    int n = t->n[slot], classes = cnn_get_config(t->net)->classes;
    const int32_t *labels = cnn_batch_labels(t->net, t->packed[slot], n);
    for (int i = 0; i < n; i++) {
        const float *row = t->logits[slot] + (size_t)i * classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (row[j] > row[best])
                best = j;
        s->correct += best == labels[i];
    }
    s->loss += (double)t->loss[slot] * n;
    s->images += n;
    return CLT_STATUS_SUCCESS;
}

/* After a failure: let the queue drain, then drop pending events. */
static void abandon(trainer *t)
{
    clt_finish(cnn_context(t->net));
    for (int s = 0; s < SLOTS; s++)
        if (t->done[s]) {
            clWaitForEvents(1, &t->done[s]);
            clReleaseEvent(t->done[s]);
            t->done[s] = NULL;
        }
}

clt_status trainer_epoch(trainer *t, const idx_set *data, int count, int train, epoch_stats *out,
                         progress_fn progress, void *user)
{
    memset(out, 0, sizeof *out);
    double start = now_s();
    int batch = cnn_get_config(t->net)->max_batch;
    if (count < 1 || count > data->count)
        return CLT_STATUS_INVALID_VALUE;
    clt_status st = make_order(t, count, train);
    int batches = (count + batch - 1) / batch;
    for (int b = 0; b < batches && st == CLT_STATUS_SUCCESS; b++) {
        int slot = b % SLOTS, first = b * batch;
        pack(t, slot, data, t->order + first, count - first < batch ? count - first : batch);
        st = enqueue_step(t, slot, train);
        if (st == CLT_STATUS_SUCCESS && b > 0)
            st = collect(t, (b - 1) % SLOTS, out);
        if (st == CLT_STATUS_SUCCESS && progress && b > 0)
            progress(out->images, count, out->loss / out->images, now_s() - start, user);
    }
    if (st == CLT_STATUS_SUCCESS)
        st = collect(t, (batches - 1) % SLOTS, out);
    if (st != CLT_STATUS_SUCCESS) {
        abandon(t);
        return st;
    }
    out->loss /= out->images;
    out->seconds = now_s() - start;
    if (progress)
        progress(out->images, count, out->loss, out->seconds, user);
    return CLT_STATUS_SUCCESS;
}
