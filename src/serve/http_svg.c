/* SPDX-License-Identifier: PostgreSQL */
/* The page's drawings, as inline SVG written by the server (no JavaScript, no external
 * assets): a timeline of the terms of each partition over the last 10 minutes (from the
 * history the node reads with its view, sql/014), gaps without a leader marked; and this
 * node's steps and notifications per second over the same window (from its own ring,
 * stats.c).  Names go through html_text(): members write them. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "html.h"
#include "http_svg.h"

#define WIDTH 900
#define LABEL_W 96		/* the partition labels' column */
#define PLOT_W (WIDTH - LABEL_W - 24)
#define ROW_H 20
#define AXIS_H 20
#define RATES_H 80

static double
dmax(double a, double b)
{
	return a > b ? a : b;
}

/* x of a moment `ago` seconds before now, in a window of `window` seconds ending now. */
static double
x_in(double ago, double window)
{
	if (ago < 0)
		ago = 0;
	if (ago > window)
		ago = window;
	return LABEL_W + PLOT_W * (1.0 - ago / window);
}

static double
x_of(double ago)
{
	return x_in(ago, RATE_SECONDS);
}

/* A leader's colour: the same name, the same hue, on every node's page. */
static unsigned
hue_of(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % 360;
}

/* Tick marks every `step` seconds back from now, over `window`, labelled in s or min. */
static void
axis(FILE *out, double top, double window, double step)
{
	for (double ago = 0; ago <= window + 0.001; ago += step) {
		double x = x_in(ago, window);

		fprintf(out, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"%s\" "
			"fill=\"#666\">", x, x, top, x, top + 14, ago == 0 ? "end" : "middle");
		if (ago == 0)
			fputs("now", out);
		else if (step >= 60)
			fprintf(out, "-%.0f min", ago / 60);
		else
			fprintf(out, "-%.0f s", ago);
		fputs("</text>\n", out);
	}
}

/* The window the terms need: back to the oldest start shown, between 30 s and 10 min, and
 * a tick step that gives five or so marks. */
static void
timeline_window(const struct cluster_view *v, double view_age, double *window, double *step)
{
	static const double steps[] = {5, 10, 15, 30, 60, 120};
	double oldest = 0;

	for (int i = 0; i < v->nterms; i++)
		oldest = dmax(oldest, v->terms[i].began_ago + view_age);
	*window = oldest * 1.1;
	if (*window < 30)
		*window = 30;
	if (*window > VIEW_TERMS_SECONDS)
		*window = VIEW_TERMS_SECONDS;
	*step = steps[5];
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (*window / steps[i] <= 6) {
			*step = steps[i];
			break;
		}
}

void
svg_timeline(FILE *out, const struct cluster_view *v, int partitions, double view_age)
{
	double height = partitions * ROW_H + AXIS_H, window, step;

	timeline_window(v, view_age, &window, &step);
	fprintf(out, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%.0f\" viewBox=\"0 0 %d %.0f\" shape-rendering=\"crispEdges\" "
		"role=\"img\" aria-label=\"terms of each partition over the last %.0f s\">\n", WIDTH,
		height, WIDTH, height, window);
	axis(out, partitions * ROW_H, window, step);
	for (int p = 0; p < partitions; p++)
		fprintf(out, "<text x=\"4\" y=\"%d\" font-size=\"12\">%s %d</text>\n",
			p * ROW_H + 14, partitions > 1 ? "partition" : "leader", p);
	for (int i = 0; i < v->nterms; i++) {
		const struct term_view *t = &v->terms[i];
		double x0 = x_in(t->began_ago + view_age, window);
		double x1 = x_in(t->ended_ago < 0 ? 0 : t->ended_ago + view_age, window);
		double y = t->partition * ROW_H + 2;

		if (t->partition < 0 || t->partition >= partitions)
			continue;
		fprintf(out, "<g class=\"term\"><title>term %lld: ", t->term);
		html_text(out, t->leader);
		fprintf(out, " (%s)</title><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%d\" "
			"fill=\"hsl(%u,55%%,62%%)\"/>", t->reason, x0, y, dmax(x1 - x0, 1.0), ROW_H - 4,
			hue_of(t->leader));
		if (x1 - x0 > 60) {
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x0 + 3, y + 12);
			html_text(out, t->leader);
			fputs("</text>", out);
		}
		fputs("</g>\n", out);
	}
	/* Over the bars: between a term's last commit and the next one's start nothing was
	 * committed in the partition (the history's gap; at least 3 px wide, so that a gap of
	 * milliseconds still shows). */
	for (int i = 0; i + 1 < v->nterms; i++) {
		const struct term_view *t = &v->terms[i], *next = &v->terms[i + 1];
		double g0, g1;

		if (next->partition != t->partition || t->ended_ago < 0 || t->partition < 0 ||
		    t->partition >= partitions)
			continue;
		g0 = x_in(t->ended_ago + view_age, window);
		g1 = x_in(next->began_ago + view_age, window);
		fprintf(out, "<rect class=\"gap\" x=\"%.0f\" y=\"%d\" width=\"%.0f\" height=\"%d\" "
			"fill=\"#d22\"><title>%.0f ms from the last commit of one term to the "
			"next term's start</title></rect>\n",
			g0 - 1, t->partition * ROW_H + 2, dmax(g1 - g0, 3.0), ROW_H - 4,
			dmax((t->ended_ago - next->began_ago) * 1000.0, 0.0));
	}
	fputs("</svg>\n", out);
}

/* One polyline of a per-second count over the window. */
static void
rate_line(FILE *out, const struct node_stats *s, long long now_s, bool notifications,
	  double max)
{
	fprintf(out, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		"points=\"", notifications ? "notifications-line" : "steps-line",
		notifications ? "#1f6fd1" : "#0a6d2c");
	for (int ago = RATE_SECONDS - 1; ago >= 0; ago--) {
		struct rate_second r = stats_second(s, now_s - ago);
		double value = notifications ? r.notifications : r.steps;

		fprintf(out, "%.1f,%.1f ", x_of((double) ago), RATES_H - 4 - (RATES_H - 8) * value / max);
	}
	fputs("\"/>\n", out);
}

void
svg_rates(FILE *out, const struct node_stats *s, double now)
{
	long long now_s = (long long) now;
	double max = 1;

	for (int ago = 0; ago < RATE_SECONDS; ago++) {
		struct rate_second r = stats_second(s, now_s - ago);

		max = dmax(max, dmax(r.steps, r.notifications));
	}
	fprintf(out, "<svg id=\"rates\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\" role=\"img\" "
		"aria-label=\"steps and "
		"notifications per second over the last 10 minutes\">\n", WIDTH, RATES_H + AXIS_H,
		WIDTH, RATES_H + AXIS_H);
	axis(out, RATES_H, RATE_SECONDS, 120);
	fprintf(out, "<text x=\"4\" y=\"14\" font-size=\"12\">%.0f/s</text>"
		"<text x=\"4\" y=\"%d\" font-size=\"12\">0</text>\n"
		"<text x=\"4\" y=\"32\" font-size=\"11\" fill=\"#0a6d2c\">steps</text>"
		"<text x=\"4\" y=\"46\" font-size=\"11\" fill=\"#1f6fd1\">notifications</text>\n",
		max, RATES_H - 4);
	rate_line(out, s, now_s, false, max);
	rate_line(out, s, now_s, true, max);
	fputs("</svg>\n", out);
}
