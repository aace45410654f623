/* The small CNN that `cltool train` trains, built only on clt's public API:
 *
 *   x (N x 1 x H x W) -> conv 3x3 pad 1 (1 -> c1) + bias -> ReLU -> max pool 2
 *     -> conv 3x3 pad 1 (c1 -> c2) + bias -> ReLU -> max pool 2
 *     -> linear (c2 * H/4 * W/4 -> classes) + bias -> softmax cross-entropy
 *
 * All parameters live in one device buffer (so are their gradients and
 * momentum buffers): one SGD call updates them all. Everything of a step
 * runs on the context's queue; the host uploads one packed batch (images and
 * labels in one write) and reads back the loss and the logits. */
#ifndef CLTOOL_CNN_H
#define CLTOOL_CNN_H

#include "clt.h"

#include <stdint.h>

typedef enum cnn_param {
    CNN_CONV1_W, /* c1 x 1 x 3 x 3 */
    CNN_CONV1_B, /* c1 */
    CNN_CONV2_W, /* c2 x c1 x 3 x 3 */
    CNN_CONV2_B, /* c2 */
    CNN_FC_W,    /* classes x (c2 * H/4 * W/4), as torch.nn.Linear.weight */
    CNN_FC_B,    /* classes */
    CNN_PARAMS
} cnn_param;

typedef struct cnn_config {
    int h, w;           /* image size, each >= 4 (28 x 28) */
    int c1, c2;         /* channels of the two convolutions (16, 32) */
    int classes;        /* outputs (10) */
    int max_batch;      /* largest batch a step may take */
    clt_conv_algo algo; /* for every convolution pass that supports it, else AUTO */
} cnn_config;

/* The default model for images of h x w: 16 and 32 channels, 10 classes. */
cnn_config cnn_default_config(int h, int w, int max_batch, clt_conv_algo algo);

/* One parameter tensor: its name, shape and place in the parameter buffer. */
typedef struct cnn_tensor {
    const char *name; /* "conv1.weight", ... (PyTorch's state_dict names) */
    int rank;
    int dims[4];
    size_t offset, count; /* in floats */
} cnn_tensor;

/* The layout of cfg's parameters: fills t[CNN_PARAMS] and returns the total
 * number of floats. */
size_t cnn_layout(const cnn_config *cfg, cnn_tensor t[CNN_PARAMS]);

/* PyTorch's default initialisation of Conv2d and Linear: weights and biases
 * uniform in +-1/sqrt(fan_in), from a generator seeded with `seed`. params
 * holds cnn_layout's total. */
void cnn_init_params(const cnn_config *cfg, uint64_t seed, float *params);

/* Seconds spent per stage, when profiling is on (see cnn_set_profile). */
typedef enum cnn_stage {
    CNN_UPLOAD,
    CNN_CONV1_FWD,
    CNN_POOL1_FWD,
    CNN_CONV2_FWD,
    CNN_POOL2_FWD,
    CNN_FC_FWD,
    CNN_LOSS_FWD,
    CNN_LOSS_BWD,
    CNN_FC_BWD,
    CNN_RELU2_BWD, /* on the pooled gradient, before the pooling's */
    CNN_POOL2_BWD,
    CNN_CONV2_BWD_W,
    CNN_CONV2_BWD_X,
    CNN_RELU1_BWD,
    CNN_POOL1_BWD,
    CNN_CONV1_BWD_W,
    CNN_SGD,
    CNN_READBACK,
    CNN_STAGES
} cnn_stage;

const char *cnn_stage_name(cnn_stage s);

typedef struct cnn cnn;

/* Creates the network's device buffers on ctx (parameters zero until
 * cnn_set_params). Returns a clt status: clt's reason is then in
 * clt_context_last_error(ctx); OpenCL's own failures keep their code
 * (CLT_STATUS_CL_*), host allocation fails as CLT_STATUS_OUT_OF_HOST_MEMORY. */
clt_status cnn_create(clt_context_t ctx, const cnn_config *cfg, cnn **out);
void cnn_destroy(cnn *net);

clt_context_t cnn_context(const cnn *net);
const cnn_config *cnn_get_config(const cnn *net);
const cnn_tensor *cnn_tensors(const cnn *net); /* CNN_PARAMS entries */
size_t cnn_param_count(const cnn *net);        /* floats of all parameters */
/* Which convolution passes could not take cfg->algo and use AUTO ("" if
 * none), e.g. "conv2 backward weights: winograd -> auto". */
const char *cnn_algo_note(const cnn *net);

/* Uploads all parameters (cnn_param_count floats, in cnn_layout's order)
 * and zeroes the momentum buffers. Blocking. */
clt_status cnn_set_params(cnn *net, const float *params);
/* Reads all parameters, or their gradients from the last cnn_backward. */
clt_status cnn_get_params(cnn *net, float *params);
clt_status cnn_get_grads(cnn *net, float *grads);

/* A packed batch on the host: n * h * w floats (the images), then n int32
 * labels. cnn_batch_bytes gives its size for n images. */
size_t cnn_batch_bytes(const cnn *net, int n);
float *cnn_batch_images(void *packed);
int32_t *cnn_batch_labels(const cnn *net, void *packed, int n);

/* Enqueues the upload of a packed batch of n <= max_batch images (one
 * write). Non-blocking: `packed` must stay unchanged until work enqueued
 * after it has finished (e.g. the event of cnn_read_results). */
clt_status cnn_upload(cnn *net, int n, const void *packed);
/* Enqueues the forward pass of the uploaded batch: logits and mean loss. */
clt_status cnn_forward(cnn *net, int n);
/* Enqueues the backward pass: the gradient of the mean loss with respect to
 * every parameter (requires cnn_forward of the same batch). */
clt_status cnn_backward(cnn *net, int n);
/* Enqueues one SGD-with-momentum step over all parameters. */
clt_status cnn_sgd(cnn *net, float lr, float momentum);
/* Enqueues non-blocking reads of the mean loss (1 float) and the logits
 * (n * classes floats); *done (may be NULL) gets an event to wait on,
 * which the caller releases. */
clt_status cnn_read_results(cnn *net, int n, float *loss, float *logits, cl_event *done);

/* With a non-NULL seconds[CNN_STAGES], every stage waits for the device and
 * adds its wall time there (slower; for finding where time goes). NULL
 * turns profiling off. */
void cnn_set_profile(cnn *net, double *seconds);

#endif
