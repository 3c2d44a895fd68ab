/* SPDX-License-Identifier: PostgreSQL */
/* Text-array literals for query parameters ('{"a","b c"}'), so lists travel as one $n. */
#ifndef CN_PGARRAY_H
#define CN_PGARRAY_H

#include <stddef.h>

/*
 * Writes a PostgreSQL array literal of the n strings into buf: every
 * element double-quoted, '"' and '\' backslash-escaped.  Returns the length
 * needed (as snprintf); a result >= size means it did not fit.
 */
size_t pg_text_array(char *buf, size_t size, const char *const *items, int n);

/* The same for integers: '{1,2,3}'. */
size_t pg_int_array(char *buf, size_t size, const long long *items, int n);

#endif
