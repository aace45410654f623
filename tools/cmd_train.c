/* cltool train: trains the small CNN of cnn.h on Fashion-MNIST (or any idx
 * set of the same kind) through clt's public API. */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "cltool.h"

#include "cnn.h"
#include "idx.h"
#include "svgplot.h"
#include "trainer.h"
#include "weights.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define CLASSES 10

typedef struct options {
    int epochs, batch, limit, eval, profile;
    float lr, momentum;
    unsigned long long seed;
    const char *device, *data, *save, *load, *plot;
    clt_conv_algo algo;
} options;

static void print_help(void)
{
    printf("usage: cltool train [options]\n\n"
           "Trains a small CNN on Fashion-MNIST with clt on the selected device:\n"
           "  conv 3x3 pad 1 (1->16) -> ReLU -> max pool 2 -> conv 3x3 pad 1 (16->32) -> ReLU\n"
           "  -> max pool 2 -> linear (32*7*7 -> 10) -> softmax cross-entropy,\n"
           "SGD with momentum, PyTorch's default initialisation, pixels scaled to [0, 1]\n"
           "(no mean/std normalisation), a new shuffle every epoch, the last batch partial.\n\n"
           "options:\n"
           "  --epochs N      training epochs (5)\n"
           "  --batch N       images per step (64)\n"
           "  --lr X          learning rate (0.02)\n"
           "  --momentum X    SGD momentum (0.9)\n"
           "  --algo NAME     convolution algorithm: auto (default), direct, im2col, gemm1x1,\n"
           "                  winograd, winograd4; a pass the algorithm cannot run uses auto,\n"
           "                  with a note\n"
           "  --device SEL    cpu, gpu, P:D or part of a device name (CLT_DEVICE)\n"
           "  --data DIR      the idx files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]\n"
           "                  (" DEFAULT_DATA ", Debian's dataset-fashion-mnist)\n"
           "  --limit N       train on the first N training images only\n"
           "  --seed N        seed of the initial weights and of the shuffles (1)\n"
           "  --save FILE     write the trained weights to FILE\n"
           "  --load FILE     start from the weights in FILE\n"
           "  --eval          only measure the test accuracy of the --load model\n"
           "  --plot FILE     write loss and accuracy per epoch as a self-contained SVG\n"
           "  --profile       time every layer, forward and backward (waits after each: slower)\n\n"
           "Per epoch, a line on stdout:\n"
           "  epoch=E loss=L train_acc=A%% test_acc=T%% test_loss=TL images_per_s=R time_s=S "
           "test_s=TS\n"
           "loss and train_acc over the epoch's steps; images_per_s and time_s of training;\n"
           "test_s of the test pass. A progress bar goes to stderr when it is a terminal.\n\n"
           "Weights file (--save, --load), every integer unsigned 32-bit little-endian:\n"
           "  \"CLTW\", version 1, tensor count, then per tensor: name length, name (ASCII,\n"
           "  e.g. conv1.weight, conv1.bias, conv2.weight, conv2.bias, fc.weight, fc.bias),\n"
           "  rank, dims (outermost first), float32 little-endian data, row-major.\n"
           "--load refuses a wrong magic or version, a truncated file, other names or\n"
           "shapes and trailing bytes (exit 2).\n");
}

/* ---- option parsing ---- */

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    *out = strtoull(s, &end, 10);
    return errno || end == s || *end ? -1 : 0;
}

/* One option with its value; returns 0, 1 if `name` is not a value option,
 * or a usage error. */
static int parse_value(options *o, const char *name, const char *v)
{
    int bad = 0;
    if (!strcmp(name, "--epochs"))
        bad = parse_int(v, 1, 100000, &o->epochs);
    else if (!strcmp(name, "--batch"))
        bad = parse_int(v, 1, 65536, &o->batch);
    else if (!strcmp(name, "--limit"))
        bad = parse_int(v, 1, 2000000000, &o->limit);
    else if (!strcmp(name, "--lr"))
        bad = parse_float(v, &o->lr);
    else if (!strcmp(name, "--momentum"))
        bad = parse_float(v, &o->momentum);
    else if (!strcmp(name, "--seed"))
        bad = parse_seed(v, &o->seed);
    else if (!strcmp(name, "--algo"))
        bad = clt_conv_algo_from_name(v, &o->algo) != CLT_STATUS_SUCCESS;
    else if (!strcmp(name, "--device"))
        o->device = v;
    else if (!strcmp(name, "--data"))
        o->data = v;
    else if (!strcmp(name, "--save"))
        o->save = v;
    else if (!strcmp(name, "--load"))
        o->load = v;
    else if (!strcmp(name, "--plot"))
        o->plot = v;
    else
        return 1;
    return bad ? usage_error("train", "bad value \"%s\" for %s", v, name) : 0;
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.epochs = 5,
                   .batch = 64,
                   .lr = 0.02f,
                   .momentum = 0.9f,
                   .seed = 1,
                   .data = DEFAULT_DATA,
                   .algo = CLT_CONV_ALGO_AUTO};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--eval")) {
            o->eval = 1;
            continue;
        }
        if (!strcmp(a, "--profile")) {
            o->profile = 1;
            continue;
        }
        int rc = i + 1 < argc ? parse_value(o, a, argv[i + 1]) : 1;
        if (rc == 1)
            return usage_error(
                "train",
                i + 1 < argc || a[0] != '-' ? "unexpected argument \"%s\"" : "%s needs a value", a);
        if (rc)
            return rc;
        i++;
    }
    if (o->eval && !o->load)
        return usage_error("train", "--eval needs --load FILE");
    return EXIT_OK;
}

/* ---- data ---- */

static int input_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A problem with the input files: exit code 2. */
static int input_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cltool train: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int load_set(const char *dir, const char *prefix, idx_set *out)
{
    char images[4096], labels[4096], err[4096 + 256];
    char stem[64];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
    int have = idx_find(dir, stem, images, sizeof images);
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
    have &= idx_find(dir, stem, labels, sizeof labels);
    if (!have)
        return input_error("%s: no %s set (%s-images-idx3-ubyte[.gz] and "
                           "%s-labels-idx1-ubyte[.gz])\nInstall Debian's dataset-fashion-mnist "
                           "(tools/install-deps.sh) or give --data DIR.",
                           dir, prefix, prefix, prefix);
    if (idx_load_set(images, labels, CLASSES, out, err, sizeof err))
        return input_error("%s", err);
    return EXIT_OK;
}

/* ---- output ---- */

typedef struct progress_state {
    const char *phase;
    double last;
} progress_state;

/* A bar on stderr, redrawn at most ten times a second; erased at the end. */
static void progress_bar(int done, int total, double loss, double seconds, void *user)
{
    progress_state *p = user;
    if (done < total && seconds - p->last < 0.1)
        return;
    p->last = seconds;
    if (done >= total) {
        fprintf(stderr, "\r\033[K");
        return;
    }
    char bar[31];
    int fill = (int)(30.0 * done / total);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    double rate = seconds > 0 ? done / seconds : 0;
    fprintf(stderr, "\r%-5s [%s] %3d%% %d/%d loss=%.4f %.0f img/s eta %.0fs\033[K", p->phase, bar,
            (int)(100.0 * done / total), done, total, loss, rate,
            rate > 0 ? (total - done) / rate : 0.0);
    fflush(stderr);
}

/* Per-epoch history for the plot. */
typedef struct history {
    double *epoch, *loss, *test_loss, *train_acc, *test_acc;
    int n;
} history;

static int write_plot(const char *path, const history *h)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cltool train: %s: cannot create: %s\n", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    svg_series losses[] = {{"train loss", "#1f77b4", h->epoch, h->loss, h->n},
                           {"test loss", "#ff7f0e", h->epoch, h->test_loss, h->n}};
    svg_series accs[] = {{"train accuracy", "#1f77b4", h->epoch, h->train_acc, h->n},
                         {"test accuracy", "#ff7f0e", h->epoch, h->test_acc, h->n}};
    svg_line_chart_spec loss_chart = {
        "Loss per epoch (softmax cross-entropy)", "epoch", "loss", "%.2f", losses, 2, 0, 0};
    svg_line_chart_spec acc_chart = {
        "Accuracy per epoch", "epoch", "accuracy (%)", "%g", accs, 2, 0, 0};
    svg_begin(f, 720, 640);
    svg_line_chart(f, 0, 10, 720, 300, &loss_chart);
    svg_line_chart(f, 0, 330, 720, 300, &acc_chart);
    int bad = svg_end(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "cltool train: %s: write failed\n", path);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static void print_profile(const double *s, int steps)
{
    double total = 0;
    for (int i = 0; i < CNN_STAGES; i++)
        total += s[i];
    printf("profile: %d steps, %.3f s in stages (each waited for)\n", steps, total);
    for (int i = 0; i < CNN_STAGES; i++)
        printf("  %-24s %8.3f s %8.3f ms/step %5.1f%%\n", cnn_stage_name((cnn_stage)i), s[i],
               1e3 * s[i] / (steps ? steps : 1), total > 0 ? 100 * s[i] / total : 0.0);
}

/* ---- the run ---- */

typedef struct run_state {
    options o;
    idx_set train, test;
    clt_context_t ctx;
    cnn *net;
    trainer *tr;
    float *params;
    history h;
} run_state;

/* The training images used: all, or the first --limit. */
static int train_count(const run_state *r)
{
    return r->o.limit && r->o.limit < r->train.count ? r->o.limit : r->train.count;
}

static int setup_model(run_state *r)
{
    /* no batch needs more room than the larger set holds */
    int most = r->test.count > train_count(r) ? r->test.count : train_count(r);
    int batch = r->o.batch < most ? r->o.batch : most;
    cnn_config cfg = cnn_default_config(r->test.rows, r->test.cols, batch, r->o.algo);
    clt_status st = cnn_create(r->ctx, &cfg, &r->net);
    if (st != CLT_STATUS_SUCCESS)
        return fail(r->ctx, st, "creating the network");
    if (*cnn_algo_note(r->net))
        fprintf(stderr, "cltool train: note: %s\n", cnn_algo_note(r->net));
    r->params = malloc(cnn_param_count(r->net) * sizeof *r->params);
    if (!r->params)
        return fail(r->ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "allocating parameters");
    cnn_init_params(&cfg, r->o.seed, r->params);
    if (r->o.load) {
        char err[4096 + 256];
        if (weights_load(r->o.load, cnn_tensors(r->net), CNN_PARAMS, r->params, err, sizeof err))
            return input_error("%s", err);
    }
    st = cnn_set_params(r->net, r->params);
    if (st == CLT_STATUS_SUCCESS)
        st = trainer_create(r->net, r->o.lr, r->o.momentum, r->o.seed ^ 0x5eed5eedull, &r->tr);
    return st == CLT_STATUS_SUCCESS ? EXIT_OK : fail(r->ctx, st, "setting up training");
}

static int test_pass(run_state *r, epoch_stats *s)
{
    progress_state p = {"test", -1};
    int tty = isatty(fileno(stderr));
    clt_status st =
        trainer_epoch(r->tr, &r->test, r->test.count, 0, s, tty ? progress_bar : NULL, &p);
    return st == CLT_STATUS_SUCCESS ? EXIT_OK : fail(r->ctx, st, "testing");
}

static int history_alloc(history *h, int epochs)
{
    double **arrays[] = {&h->epoch, &h->loss, &h->test_loss, &h->train_acc, &h->test_acc};
    for (int i = 0; i < 5; i++)
        if (!(*arrays[i] = calloc((size_t)epochs, sizeof(double))))
            return -1;
    return 0;
}

static void history_free(history *h)
{
    free(h->epoch);
    free(h->loss);
    free(h->test_loss);
    free(h->train_acc);
    free(h->test_acc);
}

static int train_epochs(run_state *r)
{
    const options *o = &r->o;
    int count = train_count(r);
    int tty = isatty(fileno(stderr));
    double profile[CNN_STAGES] = {0};
    int steps = 0;
    if (history_alloc(&r->h, o->epochs))
        return fail(r->ctx, CLT_STATUS_OUT_OF_HOST_MEMORY, "allocating the history");
    for (int e = 1; e <= o->epochs; e++) {
        epoch_stats tr, te;
        progress_state p = {"train", -1};
        cnn_set_profile(r->net, o->profile ? profile : NULL);
        clt_status st =
            trainer_epoch(r->tr, &r->train, count, 1, &tr, tty ? progress_bar : NULL, &p);
        cnn_set_profile(r->net, NULL);
        if (st != CLT_STATUS_SUCCESS)
            return fail(r->ctx, st, "training");
        steps += (count + o->batch - 1) / o->batch;
        int rc = test_pass(r, &te);
        if (rc)
            return rc;
        double train_acc = 100.0 * tr.correct / tr.images,
               test_acc = 100.0 * te.correct / te.images;
        printf("epoch=%d loss=%.4f train_acc=%.2f%% test_acc=%.2f%% test_loss=%.4f "
               "images_per_s=%.1f time_s=%.2f test_s=%.2f\n",
               e, tr.loss, train_acc, test_acc, te.loss, tr.images / tr.seconds, tr.seconds,
               te.seconds);
        fflush(stdout);
        history *h = &r->h;
        h->epoch[h->n] = e;
        h->loss[h->n] = tr.loss;
        h->test_loss[h->n] = te.loss;
        h->train_acc[h->n] = train_acc;
        h->test_acc[h->n++] = test_acc;
    }
    if (o->profile)
        print_profile(profile, steps);
    return EXIT_OK;
}

static int save_weights(run_state *r)
{
    char err[4096 + 256];
    clt_status st = cnn_get_params(r->net, r->params);
    if (st != CLT_STATUS_SUCCESS)
        return fail(r->ctx, st, "reading the weights");
    if (weights_save(r->o.save, cnn_tensors(r->net), CNN_PARAMS, r->params, err, sizeof err)) {
        fprintf(stderr, "cltool train: %s\n", err);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static int run(run_state *r)
{
    const options *o = &r->o;
    int rc = load_set(o->data, "t10k", &r->test);
    if (!rc && !o->eval)
        rc = load_set(o->data, "train", &r->train);
    if (rc)
        return rc;
    if (!o->eval && (r->train.rows != r->test.rows || r->train.cols != r->test.cols))
        return input_error("training images are %dx%d, test images %dx%d", r->train.rows,
                           r->train.cols, r->test.rows, r->test.cols);
    if (r->test.rows < 4 || r->test.cols < 4)
        return input_error("images of %dx%d are too small (4x4 at least)", r->test.rows,
                           r->test.cols);
    if ((rc = open_context(o->device, &r->ctx)) || (rc = setup_model(r)))
        return rc;
    clt_device_info dev;
    clt_context_device_info(r->ctx, &dev);
    printf("device=\"%s\" params=%zu train=%d test=%d batch=%d lr=%g momentum=%g algo=%s "
           "seed=%llu\n",
           dev.name, cnn_param_count(r->net), o->eval ? 0 : train_count(r), r->test.count, o->batch,
           o->lr, o->momentum, clt_conv_algo_name(o->algo), o->seed);
    if (o->eval) {
        epoch_stats te;
        if ((rc = test_pass(r, &te)))
            return rc;
        printf("test_acc=%.2f%% test_loss=%.4f images_per_s=%.1f time_s=%.2f\n",
               100.0 * te.correct / te.images, te.loss, te.images / te.seconds, te.seconds);
        return EXIT_OK;
    }
    if ((rc = train_epochs(r)))
        return rc;
    if (o->save && (rc = save_weights(r)))
        return rc;
    return o->plot ? write_plot(o->plot, &r->h) : EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (is_help(argv[i])) {
            print_help();
            return EXIT_OK;
        }
    run_state r = {0};
    int rc = parse(argc, argv, &r.o);
    if (rc)
        return rc;
    rc = run(&r);
    history_free(&r.h);
    free(r.params);
    trainer_destroy(r.tr);
    cnn_destroy(r.net);
    clt_context_destroy(r.ctx);
    idx_free(&r.train);
    idx_free(&r.test);
    return rc;
}
