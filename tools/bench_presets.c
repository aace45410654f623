/* Benchmark shapes: the distinct layers of ResNet-50 and VGG-16 (224x224
 * inputs, torchvision's v1.5 ResNet with the stride on the 3x3), and a
 * small set that finishes within a minute on two CPU cores. */
#include "bench.h"

#include <string.h>

typedef struct layer {
    const char *name;
    int c, h, k, r, stride, pad;
} layer;

static const layer resnet50[] = {
    {"conv1", 3, 224, 64, 7, 2, 3},          {"l1.a 1x1", 64, 56, 64, 1, 1, 0},
    {"l1.b 3x3", 64, 56, 64, 3, 1, 1},       {"l1.c 1x1", 64, 56, 256, 1, 1, 0},
    {"l1.r 1x1", 256, 56, 64, 1, 1, 0},      {"l2.a 1x1", 256, 56, 128, 1, 1, 0},
    {"l2.b 3x3/2", 128, 56, 128, 3, 2, 1},   {"l2.c 1x1", 128, 28, 512, 1, 1, 0},
    {"l2.d 1x1/2", 256, 56, 512, 1, 2, 0},   {"l2.r 1x1", 512, 28, 128, 1, 1, 0},
    {"l2.b 3x3", 128, 28, 128, 3, 1, 1},     {"l3.a 1x1", 512, 28, 256, 1, 1, 0},
    {"l3.b 3x3/2", 256, 28, 256, 3, 2, 1},   {"l3.c 1x1", 256, 14, 1024, 1, 1, 0},
    {"l3.d 1x1/2", 512, 28, 1024, 1, 2, 0},  {"l3.r 1x1", 1024, 14, 256, 1, 1, 0},
    {"l3.b 3x3", 256, 14, 256, 3, 1, 1},     {"l4.a 1x1", 1024, 14, 512, 1, 1, 0},
    {"l4.b 3x3/2", 512, 14, 512, 3, 2, 1},   {"l4.c 1x1", 512, 7, 2048, 1, 1, 0},
    {"l4.d 1x1/2", 1024, 14, 2048, 1, 2, 0}, {"l4.r 1x1", 2048, 7, 512, 1, 1, 0},
    {"l4.b 3x3", 512, 7, 512, 3, 1, 1},
};

static const layer vgg16[] = {
    {"c1.1", 3, 224, 64, 3, 1, 1},   {"c1.2", 64, 224, 64, 3, 1, 1},
    {"c2.1", 64, 112, 128, 3, 1, 1}, {"c2.2", 128, 112, 128, 3, 1, 1},
    {"c3.1", 128, 56, 256, 3, 1, 1}, {"c3.2", 256, 56, 256, 3, 1, 1},
    {"c4.1", 256, 28, 512, 3, 1, 1}, {"c4.2", 512, 28, 512, 3, 1, 1},
    {"c5.x", 512, 14, 512, 3, 1, 1},
};

/* A handful of varied layers, small enough for every algorithm on PoCL. */
static const layer small[] = {
    {"3x3 s1", 32, 28, 32, 3, 1, 1}, {"1x1", 64, 28, 64, 1, 1, 0}, {"3x3 s2", 32, 32, 64, 3, 2, 1},
    {"7x7 s2", 3, 64, 16, 7, 2, 3},  {"5x5", 16, 24, 32, 5, 1, 2},
};

static clt_conv2d_desc conv_of(const layer *l, int n)
{
    return (clt_conv2d_desc){.n = n,
                             .c = l->c,
                             .h = l->h,
                             .w = l->h,
                             .k = l->k,
                             .kernel_h = l->r,
                             .kernel_w = l->r,
                             .pad_h = l->pad,
                             .pad_w = l->pad,
                             .stride_h = l->stride,
                             .stride_w = l->stride,
                             .dilation_h = 1,
                             .dilation_w = 1,
                             .groups = 1};
}

static int from_layers(const char *prefix, const layer *ls, int count, int n, bench_shape *out,
                       int cap)
{
    int i = 0;
    for (; i < count && i < cap; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].name, sizeof out[i].name, "%s%s", prefix, ls[i].name);
        out[i].conv = conv_of(&ls[i], n);
    }
    return i;
}

/* ResNet-50's pooling (max 3x3/2 after conv1, the final 7x7 average) and
 * VGG's 2x2 max pool. */
static int pool_shapes(int n, bench_shape *out, int cap)
{
    const struct {
        const char *name;
        int c, h, k, s, p;
        clt_pool_mode mode;
    } ps[] = {
        {"r50 max 3x3/2", 64, 112, 3, 2, 1, CLT_POOL_MAX},
        {"vgg max 2x2/2", 128, 112, 2, 2, 0, CLT_POOL_MAX},
        {"r50 avg 7x7", 2048, 7, 7, 7, 0, CLT_POOL_AVG},
    };
    int i = 0;
    for (; i < 3 && i < cap; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].name, sizeof out[i].name, "%s", ps[i].name);
        out[i].pool = (clt_pool2d_desc){.n = n,
                                        .c = ps[i].c,
                                        .h = ps[i].h,
                                        .w = ps[i].h,
                                        .mode = ps[i].mode,
                                        .kernel_h = ps[i].k,
                                        .kernel_w = ps[i].k,
                                        .stride_h = ps[i].s,
                                        .stride_w = ps[i].s,
                                        .pad_h = ps[i].p,
                                        .pad_w = ps[i].p};
    }
    return i;
}

/* Square GEMMs and the GEMMs of ResNet-50's im2col at batch 4. */
static int gemm_shapes(bench_shape *out, int cap)
{
    const int g[][3] = {{512, 512, 512},  {1024, 1024, 1024}, {64, 12544, 576}, {64, 12544, 64},
                        {256, 12544, 64}, {128, 3136, 1152},  {512, 3136, 128}, {256, 784, 2304},
                        {1024, 784, 256}, {512, 196, 4608},   {2048, 196, 512}};
    int i = 0;
    for (; i < (int)(sizeof g / sizeof g[0]) && i < cap; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].m = g[i][0];
        out[i].n = g[i][1];
        out[i].k = g[i][2];
        snprintf(out[i].name, sizeof out[i].name, "%dx%dx%d", g[i][0], g[i][1], g[i][2]);
    }
    return i;
}

#define COUNT(a) ((int)(sizeof a / sizeof a[0]))

int bench_preset(const char *name, bench_op op, int batch, bool gpu, bench_shape *shapes, int cap)
{
    bool big = !strcmp(name, "resnet50") || !strcmp(name, "vgg16");
    int n = batch > 0 ? batch : big ? (gpu ? 32 : 4) : 2;
    if (op == OP_GEMM)
        return gemm_shapes(shapes, cap);
    if (op == OP_POOL)
        return pool_shapes(n, shapes, cap);
    if (!strcmp(name, "small"))
        return from_layers("", small, COUNT(small), n, shapes, cap);
    if (!strcmp(name, "resnet50"))
        return from_layers("r50 ", resnet50, COUNT(resnet50), n, shapes, cap);
    if (!strcmp(name, "vgg16"))
        return from_layers("vgg ", vgg16, COUNT(vgg16), n, shapes, cap);
    return -1;
}
