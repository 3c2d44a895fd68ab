/* SPDX-License-Identifier: PostgreSQL */
/* The tokens of PostgreSQL 15's JSON as jsonb reads them: strings de-escaped (jsonb
 * refuses \u0000 and unpaired surrogates), numbers checked as numeric_in checks them and
 * printed as jsonb prints them, literals and whitespace.  json_field.c reads the structure
 * around them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "json_lex.h"

/* Collects output bytes so that the sink sees few, larger pieces. */
struct out_buf {
	json_sink *sink;
	void *arg;
	size_t len;
	char buf[256];
};

void
json_emit(json_sink *sink, void *arg, const void *bytes, size_t len)
{
	if (sink != NULL && len > 0)
		sink(arg, bytes, len);
}

/* PostgreSQL's JSON whitespace: these four and nothing else (no \f, no NBSP, no BOM). */
void
json_skip_space(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int
hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
read_hex4(struct cursor *c, unsigned *cp)
{
	*cp = 0;
	if (c->end - c->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int v = hex_value(*c->p++);

		if (v < 0)
			return false;
		*cp = *cp << 4 | (unsigned) v;
	}
	return true;
}

static size_t
utf8_encode(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char) (0xC0 | cp >> 6);
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char) (0xE0 | cp >> 12);
		out[1] = (char) (0x80 | (cp >> 6 & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | cp >> 18);
	out[1] = (char) (0x80 | (cp >> 12 & 0x3F));
	out[2] = (char) (0x80 | (cp >> 6 & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * A \u escape (c->p after the 'u'), with jsonb's rules: a high surrogate must be followed
 * at once by a \u low one, a low one alone is refused, and so is \u0000 (text cannot hold
 * NUL).  Anything else is a character, written as UTF-8.
 */
static bool
read_unicode_escape(struct cursor *c, json_sink *sink, void *arg)
{
	unsigned cp, low;
	char utf8[4];

	if (!read_hex4(c, &cp))
		return false;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return false;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
			return false;
		c->p += 2;
		if (!read_hex4(c, &low) || low < 0xDC00 || low > 0xDFFF)
			return false;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
	}
	if (cp == 0)
		return false;
	json_emit(sink, arg, utf8, utf8_encode(cp, utf8));
	return true;
}

/* An escape (c->p at the backslash); its character goes to sink. */
static bool
read_escape(struct cursor *c, json_sink *sink, void *arg)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	const char *at;

	if (c->end - c->p < 2)
		return false;
	if (c->p[1] == 'u') {
		c->p += 2;
		return read_unicode_escape(c, sink, arg);
	}
	at = c->p[1] != '\0' ? strchr(from, c->p[1]) : NULL;
	if (at == NULL)
		return false;
	c->p += 2;
	json_emit(sink, arg, &to[at - from], 1);
	return true;
}

/*
 * A string (c->p at its opening quote), its text unescaped to sink if sink is not NULL.
 * Raw control characters and bytes that are not UTF-8 are refused (PostgreSQL never holds
 * such text in a UTF8 database: its cast could not even be asked).
 */
bool
json_read_string(struct cursor *c, json_sink *sink, void *arg)
{
	const unsigned char *run = ++c->p;	/* bytes that pass through unchanged */

	while (c->p < c->end) {
		unsigned char ch = *c->p;
		size_t n;

		if (ch == '"') {
			json_emit(sink, arg, run, (size_t) (c->p - run));
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			json_emit(sink, arg, run, (size_t) (c->p - run));
			if (!read_escape(c, sink, arg))
				return false;
			run = c->p;
			continue;
		}
		n = utf8_sequence_length(c->p, (size_t) (c->end - c->p));
		if (n == 0)
			return false;
		c->p += n;
	}
	return false;
}

static bool
is_digit(const struct cursor *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* A run of digits, at least one; returns its length (0: none there). */
static size_t
read_digits(struct cursor *c)
{
	const unsigned char *start = c->p;

	while (is_digit(c))
		c->p++;
	return (size_t) (c->p - start);
}

/* An exponent's digits, saturating: any magnitude from the limit on is refused alike. */
static bool
read_exponent(struct cursor *c, int64_t *exponent)
{
	bool negative = false;
	int64_t e = 0;

	if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
		negative = *c->p++ == '-';
	if (!is_digit(c))
		return false;
	for (; is_digit(c); c->p++)
		if (e < NUMERIC_EXPONENT_LIMIT)
			e = e * 10 + (*c->p - '0');
	*exponent = negative ? -e : e;
	return true;
}

/* The syntax of a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
read_number_syntax(struct cursor *c, struct number *num)
{
	memset(num, 0, sizeof(*num));
	if (c->p < c->end && *c->p == '-') {
		num->negative = true;
		c->p++;
	}
	num->int_digits = c->p;
	if (c->p < c->end && *c->p == '0') {
		c->p++;
		num->int_len = 1;	/* "01" is refused by what must follow a value */
	} else if ((num->int_len = read_digits(c)) == 0)
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		num->frac_digits = c->p;
		if ((num->frac_len = read_digits(c)) == 0)
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		return read_exponent(c, &num->exponent);
	}
	return true;
}

static size_t
number_digits(const struct number *num)
{
	return num->int_len + num->frac_len;
}

/* The i-th digit of int_digits and frac_digits together; '0' outside them. */
static char
digit_at(const struct number *num, int64_t i)
{
	if (i < 0 || i >= (int64_t) number_digits(num))
		return '0';
	if (i < (int64_t) num->int_len)
		return (char) num->int_digits[i];
	return (char) num->frac_digits[i - (int64_t) num->int_len];
}

/* The index of the first digit that is not 0; number_digits() for zero. */
static int64_t
first_significant(const struct number *num)
{
	int64_t i = 0;

	while (i < (int64_t) number_digits(num) && digit_at(num, i) == '0')
		i++;
	return i;
}

/* The index of the digit that lands in the units place. */
static int64_t
units_index(const struct number *num)
{
	return (int64_t) num->int_len - 1 + num->exponent;
}

/* Digits after the point, as numeric_in counts them: the literal's less its exponent. */
static int64_t
display_scale(const struct number *num)
{
	int64_t scale = (int64_t) num->frac_len - num->exponent;

	return scale > 0 ? scale : 0;
}

/* Whether numeric_in takes the number, or says "value overflows numeric format". */
static bool
numeric_accepts(const struct number *num)
{
	int64_t first = first_significant(num);

	if (num->exponent >= NUMERIC_EXPONENT_LIMIT || num->exponent <= -NUMERIC_EXPONENT_LIMIT)
		return false;
	if (display_scale(num) > NUMERIC_DSCALE_MAX)
		return false;
	/* Zero has no significant digit and no weight to overflow. */
	return first == (int64_t) number_digits(num) ||
	    units_index(num) - first <= NUMERIC_POSITION_MAX;
}

bool
json_read_number(struct cursor *c, struct number *num)
{
	return read_number_syntax(c, num) && numeric_accepts(num);
}

static void
out_flush(struct out_buf *o)
{
	json_emit(o->sink, o->arg, o->buf, o->len);
	o->len = 0;
}

static void
out_char(struct out_buf *o, char ch)
{
	if (o->len == sizeof(o->buf))
		out_flush(o);
	o->buf[o->len++] = ch;
}

/*
 * A number as numeric_out prints it: no exponent, no leading zeros, "0" before the point
 * of a value below 1, display_scale() digits after it, and no sign on zero.
 */
void
json_emit_number(const struct number *num, json_sink *sink, void *arg)
{
	struct out_buf o = {.sink = sink, .arg = arg};
	int64_t first = first_significant(num);
	int64_t units = units_index(num);
	int64_t scale = display_scale(num);
	bool zero = first == (int64_t) number_digits(num);

	if (num->negative && !zero)
		out_char(&o, '-');
	if (!zero && first <= units)
		for (int64_t i = first; i <= units; i++)
			out_char(&o, digit_at(num, i));
	else
		out_char(&o, '0');
	if (scale > 0)
		out_char(&o, '.');
	for (int64_t i = 1; i <= scale; i++)
		out_char(&o, digit_at(num, units + i));
	out_flush(&o);
}

bool
json_read_literal(struct cursor *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t) (c->end - c->p) < len || memcmp(c->p, word, len) != 0)
		return false;
	c->p += len;
	return true;
}
