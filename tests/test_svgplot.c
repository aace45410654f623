/* cltool's SVG charts (tools/svgplot.c): nice axis steps and ranges, text
 * escaping, and a line chart that holds one polyline per series with its
 * finite points only, inside one self-contained document. No device. */
#include "svgplot.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs the headers above */
#include <cmocka.h>

/* Everything written to f, as a string (the caller frees it). */
static char *contents(FILE *f)
{
    long n = ftell(f);
    assert_true(n > 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    return s;
}

static int count(const char *s, const char *needle)
{
    int c = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        c++;
    return c;
}

static void test_nice_steps(void **state)
{
    (void)state;
    assert_true(svg_nice_step(1.0, 5) == 0.2);
    assert_true(fabs(svg_nice_step(0.84, 5) - 0.2) < 1e-12);
    assert_true(svg_nice_step(10.0, 4) == 5.0);
    assert_true(fabs(svg_nice_step(0.003, 3) - 0.001) < 1e-15);
    assert_true(svg_nice_step(70.0, 5) == 20.0);
    double lo = 1.4422, hi = 2.2772;
    svg_nice_range(&lo, &hi, 5);
    assert_true(fabs(lo - 1.4) < 1e-12 && fabs(hi - 2.4) < 1e-12);
    lo = hi = 3.0; /* flat: opened around the value */
    svg_nice_range(&lo, &hi, 5);
    assert_true(lo < 3.0 && hi > 3.0);
}

static void test_text_is_escaped(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    svg_text(f, 1, 2, "start", 10, "a<b & \"c\">");
    char *s = contents(f);
    assert_non_null(strstr(s, ">a&lt;b &amp; &quot;c&quot;&gt;</text>"));
    free(s);
    fclose(f);
}

static void test_line_chart(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    double x[] = {1, 2, 3, 4}, y1[] = {2.3, 1.1, NAN, 0.5}, y2[] = {60, 70, 80, 85};
    svg_series s[] = {{"train <loss>", "#1f77b4", x, y1, 4}, {"test", "#ff7f0e", x, y2, 4}};
    svg_line_chart_spec spec = {"Title & more", "epoch", "value", "%g", s, 2, 0, 0};
    svg_begin(f, 640, 320);
    svg_line_chart(f, 0, 0, 640, 320, &spec);
    assert_int_equal(svg_end(f), 0);
    char *out = contents(f);
    assert_true(strncmp(out, "<?xml", 5) == 0);
    assert_non_null(strstr(out, "</svg>\n"));
    assert_int_equal(count(out, "<svg "), 1);
    assert_int_equal(count(out, "<polyline"), 2);
    assert_int_equal(count(out, "<circle"), 7); /* the NaN point is left out */
    assert_non_null(strstr(out, "Title &amp; more"));
    assert_non_null(strstr(out, "train &lt;loss&gt;"));
    assert_null(strstr(out, "href")); /* nothing outside the file */
    assert_null(strstr(out, "nan"));
    free(out);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_steps),
        cmocka_unit_test(test_text_is_escaped),
        cmocka_unit_test(test_line_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
