/* SPDX-License-Identifier: PostgreSQL */
/* One top-level field of a JSON object, as PostgreSQL's `payload::jsonb ->> field` reads it
 * (for partition keys): the same text, or "not found" where PostgreSQL would not give one. */
#ifndef CN_JSON_FIELD_H
#define CN_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>

/* Receives the value's text in pieces, in order (a number's text can be 147,000 bytes
 * long from a 20-byte literal, so it is streamed rather than stored). */
typedef void json_sink(void *arg, const char *bytes, size_t len);

/*
 * If text (len bytes) is what PostgreSQL 15's jsonb accepts, its top level is an object,
 * and the last member named field holds a string, a number or a boolean, passes that
 * value's text as ->> gives it to sink (a string unescaped; a number as numeric_out
 * prints it: "1e2" is "100", "-0" is "0", "1.50" stays "1.50", "1e-3" is "0.001";
 * "true"/"false") and returns true.  Otherwise (text jsonb refuses: bad syntax, \u0000,
 * a lone surrogate, invalid UTF-8, a number out of numeric's range anywhere; not an
 * object; no such member; null, an object or an array) returns false without calling
 * sink.  Any nesting depth is read without recursion.
 */
bool json_field(const char *text, size_t len, const char *field, json_sink *sink, void *arg);

#endif
