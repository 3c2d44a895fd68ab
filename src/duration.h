/* Parsing of durations given by operators: "250ms", "10s", "1min", bare ms. */
#ifndef CN_DURATION_H
#define CN_DURATION_H

#include <stdbool.h>

/*
 * Parses text as a duration in milliseconds: a non-negative integer with an
 * optional unit ms, s, min or h; a bare number means milliseconds.  Accepts
 * only values in [min_ms, max_ms].  On failure returns false and sets *why to
 * a short reason.
 */
bool parse_duration_ms(const char *text, unsigned long min_ms,
		       unsigned long max_ms, unsigned long *out, const char **why);

#endif
