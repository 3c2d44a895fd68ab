/* SPDX-License-Identifier: PostgreSQL */
/* JSON string escaping for log records and `status --json`. */
#ifndef CN_JSON_H
#define CN_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes src as the inside of a JSON string: '"' and '\' escaped, control
 * characters as \n, \t, ... or \u00XX, bytes that are not valid UTF-8 as
 * \ufffd, so the output is always valid JSON whatever the input.
 */
void json_write_escaped(FILE *out, const char *src, size_t len);

/* As above with the surrounding quotes; NULL becomes null. */
void json_write_string(FILE *out, const char *src);

#endif
