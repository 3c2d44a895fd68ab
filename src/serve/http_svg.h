/* SPDX-License-Identifier: PostgreSQL */
/* The page's drawings, as inline SVG written by the server (no JavaScript, no external
 * assets): the terms of each partition over the last 10 minutes, and this node's steps and
 * notifications per second over the same window. */
#ifndef CN_HTTP_SVG_H
#define CN_HTTP_SVG_H

#include <stdio.h>

#include "stats.h"
#include "view.h"

/* A row per partition, a bar per term, coloured by leader; in red, from a term's last
 * commit to the next term's start.
 * `view_age`: seconds since the view was read. */
void svg_timeline(FILE *out, const struct cluster_view *v, int partitions, double view_age);

/* Two lines, steps and notifications per second, the last RATE_SECONDS up to `now`. */
void svg_rates(FILE *out, const struct node_stats *s, double now);

#endif
