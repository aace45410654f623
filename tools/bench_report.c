/* cltool bench: the human table, CSV, JSON and the SVG bar chart. */
#include "bench.h"

#include <math.h>
#include <string.h>

static const char *dims(int a, int b, char *out, size_t cap)
{
    if (a == b)
        snprintf(out, cap, "%d", a);
    else
        snprintf(out, cap, "%dx%d", a, b);
    return out;
}

/* The geometry columns of a row as one string (table) or CSV fields. */
static void geometry(bench_op op, const bench_shape *s, bool csv, char *out, size_t cap)
{
    char st[16], pd[16], dl[16];
    if (op == OP_GEMM) {
        snprintf(out, cap, csv ? "0,0,0,0,0,0,0,1,0,1,1" : "m=%d n=%d k=%d", s->m, s->n, s->k);
        return;
    }
    if (op == OP_POOL) {
        const clt_pool2d_desc *p = &s->pool;
        dims(p->stride_h, p->stride_w, st, sizeof st);
        dims(p->pad_h, p->pad_w, pd, sizeof pd);
        if (csv) /* k is 0 for pooling */
            snprintf(out, cap, "%d,%d,%d,%d,0,%d,%d,%s,%s,1,1", p->n, p->c, p->h, p->w, p->kernel_h,
                     p->kernel_w, st, pd);
        else
            snprintf(out, cap, "n%d c%d %dx%d %s %dx%d s%s p%s", p->n, p->c, p->h, p->w,
                     p->mode == CLT_POOL_MAX ? "max" : "avg", p->kernel_h, p->kernel_w, st, pd);
        return;
    }
    const clt_conv2d_desc *d = &s->conv;
    dims(d->stride_h, d->stride_w, st, sizeof st);
    dims(d->pad_h, d->pad_w, pd, sizeof pd);
    dims(d->dilation_h, d->dilation_w, dl, sizeof dl);
    if (csv)
        snprintf(out, cap, "%d,%d,%d,%d,%d,%d,%d,%s,%s,%s,%d", d->n, d->c, d->h, d->w, d->k,
                 d->kernel_h, d->kernel_w, st, pd, dl, d->groups);
    else
        snprintf(out, cap, "n%d c%d %dx%d k%d %dx%d s%s p%s d%s g%d", d->n, d->c, d->h, d->w, d->k,
                 d->kernel_h, d->kernel_w, st, pd, dl, d->groups);
}

static void header_lines(FILE *f, const char *prefix, const bench_opts *o, const bench_header *h)
{
    fprintf(f, "%sclt %s bench: op %s, preset %s\n", prefix, CLT_VERSION_STRING,
            bench_op_name(o->op), h->preset);
    fprintf(f, "%sdevice %d:%d %s \"%s\" (%s), driver %s, %u compute units\n", prefix,
            h->dev.platform_index, h->dev.device_index, clt_device_type_name(h->dev.type),
            h->dev.name, h->dev.platform_name, h->dev.driver_version, h->dev.compute_units);
    if (h->cold_ms >= 0)
        fprintf(f,
                "%skernels: cold load %.1f ms (empty clt and PoCL caches), warm load %.1f ms "
                "(%.0fx faster)\n",
                prefix, h->cold_ms, h->warm_ms, h->warm_ms > 0 ? h->cold_ms / h->warm_ms : 0.0);
}

/* A row's GFLOP/s from its median run, or from its fastest. */
static double rate(const bench_row *r, bool fastest)
{
    return fastest ? (r->min_ms > 0 ? r->flops / (r->min_ms * 1e-3) * 1e-9 : 0) : r->gflops;
}

/* Geometric means over the shapes: clt's best row per shape, and its ratio
 * to each peer measured on the same shapes; from the median runs, or from
 * each row's fastest run. */
static void print_summary(FILE *f, const bench_row *rows, int n, bool fastest)
{
    const char *peers[4];
    int np = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (rows[i].peer && j < np && strcmp(peers[j], rows[i].algo))
            j++;
        if (rows[i].peer && j == np && np < 4)
            peers[np++] = rows[i].algo;
    }
    double log_best = 0, log_ratio[4] = {0};
    int shapes = 0, with_peer[4] = {0};
    for (int i = 0; i < n;) {
        int end = i;
        double best = 0, peer[4] = {0};
        for (; end < n && rows[end].shape == rows[i].shape; end++) {
            double g = rate(&rows[end], fastest);
            if (!rows[end].peer && g > best)
                best = g;
            for (int j = 0; j < np; j++)
                if (rows[end].peer && !strcmp(rows[end].algo, peers[j]))
                    peer[j] = g;
        }
        if (best > 0) {
            shapes++;
            log_best += log(best);
            for (int j = 0; j < np; j++)
                if (peer[j] > 0) {
                    log_ratio[j] += log(best / peer[j]);
                    with_peer[j]++;
                }
        }
        i = end;
    }
    if (!shapes)
        return;
    if (fastest)
        fprintf(f, "from each row's fastest run instead: %.1f GFLOP/s", exp(log_best / shapes));
    else
        fprintf(f, "\ngeomean over %d shapes: clt's best algorithm %.1f GFLOP/s", shapes,
                exp(log_best / shapes));
    for (int j = 0; j < np; j++)
        if (with_peer[j])
            fprintf(f, "; %.2fx %s (%d shapes)", exp(log_ratio[j] / with_peer[j]), peers[j],
                    with_peer[j]);
    fprintf(f, "\n");
}

void bench_print_table(FILE *f, const bench_opts *o, const bench_header *h, const bench_row *rows,
                       int n)
{
    header_lines(f, "", o, h);
    fprintf(f,
            "time: median and min of timed runs after 2 warm-ups; error: max |got - ref| / max "
            "|ref| over %d sampled outputs against a double-precision host reference\n\n",
            o->samples);
    fprintf(f, "%-16s %-40s %-24s %10s %10s %10s %9s %11s\n", "shape", "geometry", "algorithm",
            "median ms", "min ms", "GFLOP/s", "vs direct", "max rel err");
    const bench_shape *last = NULL;
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char geo[96], speed[16] = "", algo[48];
        geometry(o->op, r->shape, false, geo, sizeof geo);
        if (r->speedup > 0)
            snprintf(speed, sizeof speed, "%.2fx", r->speedup);
        bool first = r->shape != last;
        snprintf(algo, sizeof algo, r->note[0] ? "%s (%s)" : "%s", r->algo, r->note);
        fprintf(f, "%-16s %-40s %-24s %10.3f %10.3f %10.1f %9s %11.2e\n",
                first ? r->shape->name : "", first ? geo : "", algo, r->median_ms, r->min_ms,
                r->gflops, speed, r->max_rel_err);
        last = r->shape;
    }
    print_summary(f, rows, n, false);
    print_summary(f, rows, n, true); /* what the kernels reach between a noisy host's stalls */
}

void bench_print_csv(FILE *f, const bench_opts *o, const bench_row *rows, int n)
{
    fprintf(f, "op,n,c,h,w,k,r,s,stride,pad,dilation,groups,algo,median_ms,min_ms,gflops,"
               "max_rel_err,speedup_vs_direct,runs,peer,shape,gemm_m,gemm_n,gemm_k\n");
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char geo[128];
        geometry(o->op, r->shape, true, geo, sizeof geo);
        fprintf(f, "%s,%s,%s,%.4f,%.4f,%.3f,%.3e,%.3f,%d,%d,\"%s\",%d,%d,%d\n",
                bench_op_name(o->op), geo, r->algo, r->median_ms, r->min_ms, r->gflops,
                r->max_rel_err, r->speedup, r->runs, r->peer ? 1 : 0, r->shape->name, r->shape->m,
                r->shape->n, r->shape->k);
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void bench_print_json(FILE *f, const bench_opts *o, const bench_header *h, const bench_row *rows,
                      int n)
{
    fprintf(f,
            "{\n  \"clt_version\": \"%s\",\n  \"op\": \"%s\",\n  \"preset\": ", CLT_VERSION_STRING,
            bench_op_name(o->op));
    json_string(f, h->preset);
    fprintf(f, ",\n  \"device\": {\"index\": \"%d:%d\", \"type\": \"%s\", \"name\": ",
            h->dev.platform_index, h->dev.device_index, clt_device_type_name(h->dev.type));
    json_string(f, h->dev.name);
    fprintf(f, ", \"platform\": ");
    json_string(f, h->dev.platform_name);
    fprintf(f, ", \"driver\": ");
    json_string(f, h->dev.driver_version);
    fprintf(f, ", \"compute_units\": %u},\n", h->dev.compute_units);
    if (h->cold_ms >= 0)
        fprintf(f, "  \"kernels_cold_load_ms\": %.2f,\n  \"kernels_warm_load_ms\": %.2f,\n",
                h->cold_ms, h->warm_ms);
    fprintf(f, "  \"error_samples\": %d,\n  \"rows\": [\n", o->samples);
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char geo[128];
        geometry(o->op, r->shape, true, geo, sizeof geo);
        fprintf(f, "    {\"shape\": ");
        json_string(f, r->shape->name);
        fprintf(f,
                ", \"geometry_csv\": \"%s\", \"algo\": \"%s\", \"peer\": %s, "
                "\"median_ms\": %.4f, \"min_ms\": %.4f, \"gflops\": %.3f, "
                "\"max_rel_err\": %.3e, \"speedup_vs_direct\": %.3f, \"runs\": %d}%s\n",
                geo, r->algo, r->peer ? "true" : "false", r->median_ms, r->min_ms, r->gflops,
                r->max_rel_err, r->speedup, r->runs, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* ---- SVG: grouped bars of GFLOP/s per shape, one colour per algorithm ---- */

static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

/* Distinct algorithm names in order of appearance. */
static int algo_list(const bench_row *rows, int n, const char **names, int cap)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < k && strcmp(names[j], rows[i].algo))
            j++;
        if (j == k && k < cap)
            names[k++] = rows[i].algo;
    }
    return k;
}

int bench_write_svg(const char *path, const bench_opts *o, const bench_header *h,
                    const bench_row *rows, int n)
{
    static const char *colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                    "#76b7b2", "#b07aa1", "#9c755f", "#edc948"};
    const char *names[8];
    int na = algo_list(rows, n, names, 8);
    int shapes = 0;
    double top = 1;
    for (int i = 0; i < n; i++) {
        shapes += i == 0 || rows[i].shape != rows[i - 1].shape;
        top = fmax(top, rows[i].gflops);
    }
    double step = pow(10, floor(log10(top))); /* tick spacing */
    if (top / step < 4)
        step /= 2;
    top = ceil(top / step) * step;
    int group = 14 * na + 16, left = 70, plot_h = 320, top_y = 60;
    int width = left + shapes * group + 200, height = top_y + plot_h + 150;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cltool bench: cannot write %s\n", path);
        return EXIT_RUNTIME;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
            "height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"24\" font-size=\"15\">clt "
            "bench, %s: GFLOP/s (median) on ",
            width, height, left, bench_op_name(o->op));
    svg_text(f, h->dev.name);
    fprintf(f, "</text>\n");
    for (double v = 0; v <= top + 1e-9; v += step) {
        double y = top_y + plot_h - v / top * plot_h;
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                left, left + shapes * group, y, y, left - 6, y + 4, v);
    }
    int g = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || rows[i].shape != rows[i - 1].shape) {
            g++;
            double cx = left + g * group + group / 2.0;
            fprintf(f, "<text transform=\"translate(%.1f,%d) rotate(40)\" font-size=\"11\">",
                    cx - 8, top_y + plot_h + 14);
            svg_text(f, rows[i].shape->name);
            fprintf(f, "</text>\n");
        }
        int a = 0;
        while (a < na && strcmp(names[a], rows[i].algo))
            a++;
        double bh = rows[i].gflops / top * plot_h;
        fprintf(f,
                "<rect x=\"%d\" y=\"%.1f\" width=\"12\" height=\"%.1f\" fill=\"%s\"><title>%s "
                "%s: %.1f GFLOP/s, %.3f ms</title></rect>\n",
                left + g * group + 8 + 14 * a, top_y + plot_h - bh, bh, colours[a % 8],
                rows[i].algo, rows[i].shape->name, rows[i].gflops, rows[i].median_ms);
    }
    for (int a = 0; a < na; a++)
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" "
                "y=\"%d\">%s</text>\n",
                left + shapes * group + 20, top_y + 20 * a, colours[a % 8],
                left + shapes * group + 38, top_y + 20 * a + 11, names[a]);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
