/* SPDX-License-Identifier: PostgreSQL */
/* The tokens of PostgreSQL 15's JSON as jsonb reads them (src/core/json_lex.c), for
 * json_field.c's reader: strings de-escaped, numbers checked as numeric_in checks them
 * and printed as jsonb prints them, literals, whitespace. */
#ifndef CN_JSON_LEX_H
#define CN_JSON_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_field.h"

/*
 * numeric_in's limits (PostgreSQL's numeric.c): an exponent whose magnitude reaches
 * INT_MAX / 2 is refused outright; at most NUMERIC_DSCALE_MAX digits after the point; the
 * first significant digit in base-10000 digit NUMERIC_WEIGHT_MAX (32767) at most, that is
 * at decimal position 4 * 32767 + 3 (a value below 10^131072).
 */
#define NUMERIC_EXPONENT_LIMIT 1073741823
#define NUMERIC_DSCALE_MAX 16383
#define NUMERIC_POSITION_MAX 131071

/* Where reading is, in a text of known length. */
struct cursor {
	const unsigned char *p;
	const unsigned char *end;
};

/* A number's literal, in the parts numeric_in reads. */
struct number {
	const unsigned char *int_digits;
	size_t int_len;
	const unsigned char *frac_digits;
	size_t frac_len;
	bool negative;
	int64_t exponent;	/* its magnitude saturates at NUMERIC_EXPONENT_LIMIT * 10 */
};

/* Hands bytes to the sink (none: NULL sink, or no bytes). */
void json_emit(json_sink *sink, void *arg, const void *bytes, size_t len);
/* PostgreSQL's JSON whitespace: these four and nothing else (no \f, no NBSP, no BOM). */
void json_skip_space(struct cursor *c);
/* A string at its opening quote, its value de-escaped to the sink (NULL: only checked);
 * false where jsonb refuses it (\u0000, an unpaired surrogate, a bad escape, a control). */
bool json_read_string(struct cursor *c, json_sink *sink, void *arg);
/* A number, false where its syntax or numeric_in refuses it. */
bool json_read_number(struct cursor *c, struct number *num);
/* The number as `jsonb ->> field` prints it. */
void json_emit_number(const struct number *num, json_sink *sink, void *arg);
/* The literal word (true, false, null), false if something else is there. */
bool json_read_literal(struct cursor *c, const char *word);

#endif
