/* SVG charts (see svgplot.h). */
#include "svgplot.h"

#include <math.h>
#include <string.h>

#define FONT "font-family=\"sans-serif\""

void svg_begin(FILE *f, int width, int height)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n"
            "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            width, height, width, height, width, height);
}

int svg_end(FILE *f)
{
    fprintf(f, "</svg>\n");
    return ferror(f) ? -1 : 0;
}

static void escaped(FILE *f, const char *text)
{
    for (const char *c = text; *c; c++)
        switch (*c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*c, f);
        }
}

void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *text)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" " FONT ">", x, y,
            anchor, size);
    escaped(f, text);
    fputs("</text>\n", f);
}

double svg_fx(const svg_frame *fr, double x)
{
    return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * fr->width;
}

double svg_fy(const svg_frame *fr, double y)
{
    return fr->top + fr->height - (y - fr->y0) / (fr->y1 - fr->y0) * fr->height;
}

double svg_nice_step(double range, int ticks)
{
    double raw = range / (ticks > 0 ? ticks : 1);
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag * (1 - 1e-9); /* 2.0000000001 is 2 */
    return (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 5.0 ? 5.0 : 10.0) * mag;
}

void svg_nice_range(double *lo, double *hi, int ticks)
{
    if (!(*hi > *lo)) { /* flat (or unordered) */
        double pad = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1.0;
        *lo -= pad;
        *hi += pad;
    }
    double step = svg_nice_step(*hi - *lo, ticks);
    *lo = floor(*lo / step) * step;
    *hi = ceil(*hi / step) * step;
}

void svg_axes_y(FILE *f, const svg_frame *fr, const char *fmt, const char *label, const char *title)
{
    double step = svg_nice_step(fr->y1 - fr->y0, 5);
    char buf[64];
    for (double v = ceil(fr->y0 / step - 1e-9) * step; v <= fr->y1 + step * 1e-9; v += step) {
        double y = svg_fy(fr, v);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\" "
                "stroke-width=\"1\"/>\n",
                fr->left, y, fr->left + fr->width, y);
        snprintf(buf, sizeof buf, fmt, fabs(v) < step * 1e-9 ? 0.0 : v);
        svg_text(f, fr->left - 6, y + 4, "end", 11, buf);
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#444444\" stroke-width=\"1\"/>\n",
            fr->left, fr->top, fr->width, fr->height);
    if (label && *label) {
        double x = fr->left - 48, y = fr->top + fr->height / 2;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" " FONT
                " transform=\"rotate(-90 %.1f %.1f)\">",
                x, y, x, y);
        escaped(f, label);
        fputs("</text>\n", f);
    }
    if (title && *title)
        svg_text(f, fr->left + fr->width / 2, fr->top - 10, "middle", 14, title);
}

void svg_axis_x(FILE *f, const svg_frame *fr, double step, const char *fmt, const char *label)
{
    char buf[64];
    double base = fr->top + fr->height;
    for (double v = ceil(fr->x0 / step - 1e-9) * step; v <= fr->x1 + step * 1e-9; v += step) {
        double x = svg_fx(fr, v);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\" "
                "stroke-width=\"1\"/>\n",
                x, base, x, base + 4);
        snprintf(buf, sizeof buf, fmt, v);
        svg_text(f, x, base + 16, "middle", 11, buf);
    }
    if (label && *label)
        svg_text(f, fr->left + fr->width / 2, base + 34, "middle", 12, label);
}

void svg_legend(FILE *f, double x, double y, const svg_series *s, int n)
{
    for (int i = 0; i < n; i++) {
        double row = y + 16.0 * i;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x, row,
                s[i].color);
        svg_text(f, x + 18, row + 10, "start", 11, s[i].name);
    }
}

static void data_range(const svg_line_chart_spec *c, double *xlo, double *xhi, double *ylo,
                       double *yhi, int *whole_x)
{
    *xlo = *ylo = INFINITY;
    *xhi = *yhi = -INFINITY;
    *whole_x = 1;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            *xlo = fmin(*xlo, x);
            *xhi = fmax(*xhi, x);
            *ylo = fmin(*ylo, y);
            *yhi = fmax(*yhi, y);
            *whole_x &= x == floor(x);
        }
    if (!(*xlo <= *xhi)) { /* no finite point */
        *xlo = *ylo = 0;
        *xhi = *yhi = 1;
    }
}

static void polyline(FILE *f, const svg_frame *fr, const svg_series *s)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s->color);
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            fprintf(f, "%.1f,%.1f ", svg_fx(fr, s->x[i]), svg_fy(fr, s->y[i]));
    fprintf(f, "\"/>\n");
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    svg_fx(fr, s->x[i]), svg_fy(fr, s->y[i]), s->color);
}

void svg_line_chart(FILE *f, double left, double top, double width, double height,
                    const svg_line_chart_spec *c)
{
    double xlo, xhi, ylo, yhi;
    int whole_x;
    data_range(c, &xlo, &xhi, &ylo, &yhi, &whole_x);
    if (c->y_min != 0 || c->y_max != 0) {
        ylo = c->y_min;
        yhi = c->y_max;
    } else {
        svg_nice_range(&ylo, &yhi, 5);
    }
    double xstep = whole_x ? fmax(1.0, svg_nice_step(fmax(xhi - xlo, 1.0), 8))
                           : svg_nice_step(fmax(xhi - xlo, 1e-9), 8);
    if (xhi - xlo < xstep) { /* a single point: centre it */
        xlo -= xstep / 2;
        xhi += xstep / 2;
    }
    /* room for tick labels and axis titles inside the given rectangle */
    svg_frame fr = {left + 64, top + 28, width - 64 - 130, height - 28 - 44, xlo, xhi, ylo, yhi};
    svg_axes_y(f, &fr, c->y_format ? c->y_format : "%g", c->y_label, c->title);
    svg_axis_x(f, &fr, xstep, "%g", c->x_label);
    for (int s = 0; s < c->n_series; s++)
        if (c->series[s].n > 0)
            polyline(f, &fr, &c->series[s]);
    svg_legend(f, fr.left + fr.width + 12, fr.top + 4, c->series, c->n_series);
}
