/* Self-contained SVG charts (no scripts, fonts or links outside the file):
 * a document, framed plot areas with nice axis ticks, legends, and a line
 * chart built from them. A bar chart can reuse the same pieces. */
#ifndef CLTOOL_SVGPLOT_H
#define CLTOOL_SVGPLOT_H

#include <stdio.h>

/* A plot area: its rectangle in the document, and the data ranges it maps
 * (x0..x1 left to right, y0..y1 bottom to top). */
typedef struct svg_frame {
    double left, top, width, height;
    double x0, x1, y0, y1;
} svg_frame;

/* Opens a document of width x height pixels on a white background. */
void svg_begin(FILE *f, int width, int height);
/* Closes it. Returns 0, or -1 if any write on f failed. */
int svg_end(FILE *f);

/* Text with &, <, > and quotes escaped. anchor: "start", "middle", "end". */
void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *text);

/* Document coordinates of data coordinates. */
double svg_fx(const svg_frame *fr, double x);
double svg_fy(const svg_frame *fr, double y);

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` steps over
 * range (> 0). */
double svg_nice_step(double range, int ticks);
/* Widens lo..hi outward to multiples of a nice step (about `ticks` steps);
 * a flat range is opened around its value. */
void svg_nice_range(double *lo, double *hi, int ticks);

/* The frame's border, horizontal grid lines with y tick labels (printf
 * format fmt, e.g. "%g"), the axis label and a title above. */
void svg_axes_y(FILE *f, const svg_frame *fr, const char *fmt, const char *label,
                const char *title);
/* Vertical ticks with labels at x values step apart, and the axis label. */
void svg_axis_x(FILE *f, const svg_frame *fr, double step, const char *fmt, const char *label);

/* One named series of points. */
typedef struct svg_series {
    const char *name;
    const char *color; /* any SVG colour, e.g. "#1f77b4" */
    const double *x, *y;
    int n;
} svg_series;

/* A legend box at (x, y): a colour swatch and the name of each series. */
void svg_legend(FILE *f, double x, double y, const svg_series *s, int n);

typedef struct svg_line_chart_spec {
    const char *title, *x_label, *y_label;
    const char *y_format; /* tick labels, e.g. "%.2f" or "%g%%" */
    const svg_series *series;
    int n_series;
    /* y range: both 0 to fit the data, else fixed */
    double y_min, y_max;
} svg_line_chart_spec;

/* A line chart with markers in the rectangle (left, top, width, height) of
 * the document, axes fitted to the data (x ticks at whole numbers when the
 * x values are). Series with n = 0 are skipped. */
void svg_line_chart(FILE *f, double left, double top, double width, double height,
                    const svg_line_chart_spec *spec);

#endif
