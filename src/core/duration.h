/* SPDX-License-Identifier: PostgreSQL */
/* Parsing of durations and sizes given by operators: "250ms", "10s", "1min"; "64MB". */
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

/* The same for a size in bytes: an integer with an optional unit B, kB, MB or GB
 * (powers of 1024, as PostgreSQL reads them); a bare number means bytes. */
bool parse_size_bytes(const char *text, unsigned long min_bytes, unsigned long max_bytes,
		      unsigned long *out, const char **why);

#endif
