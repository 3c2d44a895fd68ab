/* One top-level field of a JSON object, as PostgreSQL 15's `payload::jsonb ->> field` reads it.
 *
 * The key must agree with clustered_nodes.key_of() for every payload, and key_of() keys by
 * the whole payload wherever the cast to jsonb fails: so this reader refuses exactly what
 * the cast refuses and accepts everything else.  Beyond RFC 8259 syntax, jsonb de-escapes
 * every string, member names and nested ones too, and refuses \u0000 and unpaired
 * surrogates there; it converts every number with numeric_in, which refuses values out of
 * numeric's range; the last of duplicate members wins.  Each rule was checked against
 * PostgreSQL 15.18 (tests/unit/test_event_route.c, tests/integration/t_json_routing.sh).
 * A UTF8 database is assumed, as everywhere in the project (keys are hashed as UTF-8).
 *
 * One pass and no recursion: the nesting is a bit stack (object or array per level), so a
 * deep payload cannot exhaust the event loop's stack.  PostgreSQL's parser recurses and
 * stops at max_stack_depth; at its 2MB default it reads some 13,000 levels (measured),
 * far more than the ~4,000 a NOTIFY payload (< 8000 bytes) can hold, so there they agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
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

/* Levels kept on the C stack: a text of at most this many bytes cannot nest deeper. */
#define NEST_LOCAL_LEVELS 8192

struct cursor {
	const unsigned char *p;
	const unsigned char *end;
};

/* Per open level, whether it is an object (1) or an array (0). */
struct nest {
	unsigned char local[NEST_LOCAL_LEVELS / 8];
	unsigned char *bits;	/* local, or allocated for a longer text */
	size_t depth;
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

enum expect {
	EXPECT_VALUE,		/* after ':' or an array's ',' */
	EXPECT_VALUE_OR_END,	/* after '[' */
	EXPECT_NAME,		/* after an object's ',' */
	EXPECT_NAME_OR_END,	/* after '{' */
	EXPECT_COLON,
	EXPECT_COMMA_OR_END,	/* after a value */
};

/* What the last top-level member named field holds. */
enum found_kind {
	FOUND_NONE,
	FOUND_OTHER,		/* null, an object or an array: ->> gives no key */
	FOUND_STRING,
	FOUND_NUMBER,
	FOUND_TRUE,
	FOUND_FALSE,
};

struct found {
	enum found_kind kind;
	const unsigned char *string;	/* at its opening quote */
	struct number number;
};

struct reader {
	struct cursor c;
	struct nest nest;
	enum expect expect;
	const char *field;
	size_t field_len;
	bool member_is_field;	/* the top-level member being read is named field */
	struct found found;
};

/* Compares a member name, unescaped in pieces, with the wanted field. */
struct name_match {
	const char *field;
	size_t field_len;
	size_t pos;
	bool differs;
};

/* Collects output bytes so that the sink sees few, larger pieces. */
struct out_buf {
	json_sink *sink;
	void *arg;
	size_t len;
	char buf[256];
};

static bool
nest_init(struct nest *n, size_t text_len)
{
	n->depth = 0;
	n->bits = n->local;
	/* Every level opens with a byte of its own, so text_len bits always suffice. */
	if (text_len > NEST_LOCAL_LEVELS)
		n->bits = malloc(text_len / 8 + 1);
	return n->bits != NULL;
}

static void
nest_free(struct nest *n)
{
	if (n->bits != n->local)
		free(n->bits);
}

static void
nest_push(struct nest *n, bool object)
{
	size_t i = n->depth++;
	unsigned char bit = (unsigned char) (1u << (i % 8));

	if (object)
		n->bits[i / 8] |= bit;
	else
		n->bits[i / 8] &= (unsigned char) ~bit;
}

static bool
nest_in_object(const struct nest *n)
{
	size_t i = n->depth - 1;

	return (n->bits[i / 8] >> (i % 8) & 1) != 0;
}

static void
emit(json_sink *sink, void *arg, const void *bytes, size_t len)
{
	if (sink != NULL && len > 0)
		sink(arg, bytes, len);
}

/* PostgreSQL's JSON whitespace: these four and nothing else (no \f, no NBSP, no BOM). */
static void
skip_space(struct cursor *c)
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
	emit(sink, arg, utf8, utf8_encode(cp, utf8));
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
	emit(sink, arg, &to[at - from], 1);
	return true;
}

/*
 * A string (c->p at its opening quote), its text unescaped to sink if sink is not NULL.
 * Raw control characters and bytes that are not UTF-8 are refused (PostgreSQL never holds
 * such text in a UTF8 database: its cast could not even be asked).
 */
static bool
read_string(struct cursor *c, json_sink *sink, void *arg)
{
	const unsigned char *run = ++c->p;	/* bytes that pass through unchanged */

	while (c->p < c->end) {
		unsigned char ch = *c->p;
		size_t n;

		if (ch == '"') {
			emit(sink, arg, run, (size_t) (c->p - run));
			c->p++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			emit(sink, arg, run, (size_t) (c->p - run));
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

static bool
read_number(struct cursor *c, struct number *num)
{
	return read_number_syntax(c, num) && numeric_accepts(num);
}

static void
out_flush(struct out_buf *o)
{
	emit(o->sink, o->arg, o->buf, o->len);
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
static void
emit_number(const struct number *num, json_sink *sink, void *arg)
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

static bool
read_literal(struct cursor *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t) (c->end - c->p) < len || memcmp(c->p, word, len) != 0)
		return false;
	c->p += len;
	return true;
}

static void
name_match_sink(void *arg, const char *bytes, size_t len)
{
	struct name_match *m = arg;

	if (m->differs || m->pos + len > m->field_len || memcmp(m->field + m->pos, bytes, len) != 0)
		m->differs = true;
	else
		m->pos += len;
}

/* A member's name; at the top level, whether it is the wanted field. */
static bool
read_name(struct reader *r)
{
	struct name_match m = {.field = r->field, .field_len = r->field_len};

	if (*r->c.p != '"')
		return false;
	if (r->nest.depth != 1) {
		if (!read_string(&r->c, NULL, NULL))
			return false;
	} else {
		if (!read_string(&r->c, name_match_sink, &m))
			return false;
		r->member_is_field = !m.differs && m.pos == m.field_len;
	}
	r->expect = EXPECT_COLON;
	return true;
}

static void
open_level(struct reader *r, bool object)
{
	r->c.p++;
	nest_push(&r->nest, object);
	r->expect = object ? EXPECT_NAME_OR_END : EXPECT_VALUE_OR_END;
}

/* A closing '}' or ']', which must match the level it closes. */
static bool
close_level(struct reader *r)
{
	if (*r->c.p != (nest_in_object(&r->nest) ? '}' : ']'))
		return false;
	r->c.p++;
	r->nest.depth--;
	r->expect = EXPECT_COMMA_OR_END;
	return true;
}

/* A scalar value; what it is goes to *kind. */
static bool
read_scalar(struct reader *r, enum found_kind *kind, struct number *num)
{
	switch (*r->c.p) {
	case '"':
		*kind = FOUND_STRING;
		return read_string(&r->c, NULL, NULL);
	case 't':
		*kind = FOUND_TRUE;
		return read_literal(&r->c, "true");
	case 'f':
		*kind = FOUND_FALSE;
		return read_literal(&r->c, "false");
	case 'n':
		*kind = FOUND_OTHER;
		return read_literal(&r->c, "null");
	default:
		*kind = FOUND_NUMBER;
		return read_number(&r->c, num);
	}
}

/* A value: a container opens a level; a scalar is read whole.  The wanted member's
 * value is remembered (again for each duplicate: the last one wins, as in jsonb). */
static bool
read_value(struct reader *r)
{
	bool wanted = r->nest.depth == 1 && r->member_is_field;
	const unsigned char *start = r->c.p;
	enum found_kind kind;
	struct number num = {0};

	if (*r->c.p == '{' || *r->c.p == '[') {
		if (wanted)
			r->found.kind = FOUND_OTHER;
		open_level(r, *r->c.p == '{');
		return true;
	}
	if (!read_scalar(r, &kind, &num))
		return false;
	if (wanted) {
		r->found.kind = kind;
		r->found.string = start;
		r->found.number = num;
	}
	r->expect = EXPECT_COMMA_OR_END;
	return true;
}

/* One token where the grammar is at r->expect (r->c.p at its first byte). */
static bool
read_token(struct reader *r)
{
	unsigned char ch = *r->c.p;

	switch (r->expect) {
	case EXPECT_VALUE_OR_END:
		if (ch == ']')
			return close_level(r);
		/* fall through */
	case EXPECT_VALUE:
		return read_value(r);
	case EXPECT_NAME_OR_END:
		if (ch == '}')
			return close_level(r);
		/* fall through */
	case EXPECT_NAME:
		return read_name(r);
	case EXPECT_COLON:
		if (ch != ':')
			return false;
		r->c.p++;
		r->expect = EXPECT_VALUE;
		return true;
	case EXPECT_COMMA_OR_END:
		if (ch != ',')
			return close_level(r);
		r->c.p++;
		r->expect = nest_in_object(&r->nest) ? EXPECT_NAME : EXPECT_VALUE;
		return true;
	}
	return false;
}

/* The whole text, r->c.p at the top-level object's '{': valid to its end, or false. */
static bool
read_document(struct reader *r)
{
	open_level(r, true);
	while (r->nest.depth > 0) {
		skip_space(&r->c);
		if (r->c.p >= r->c.end || !read_token(r))
			return false;
	}
	skip_space(&r->c);
	return r->c.p == r->c.end;
}

/* The found value's text, as ->> gives it. */
static bool
emit_found(const struct found *f, const unsigned char *end, json_sink *sink, void *arg)
{
	struct cursor c = {.p = f->string, .end = end};

	switch (f->kind) {
	case FOUND_STRING:
		return read_string(&c, sink, arg);
	case FOUND_NUMBER:
		emit_number(&f->number, sink, arg);
		return true;
	case FOUND_TRUE:
		emit(sink, arg, "true", 4);
		return true;
	case FOUND_FALSE:
		emit(sink, arg, "false", 5);
		return true;
	case FOUND_NONE:
	case FOUND_OTHER:
	default:
		return false;
	}
}

bool
json_field(const char *text, size_t len, const char *field, json_sink *sink, void *arg)
{
	struct reader r = {
		.c = {.p = (const unsigned char *) text, .end = (const unsigned char *) text + len},
		.field = field,
		.field_len = strlen(field),
	};
	bool ok;

	skip_space(&r.c);
	if (r.c.p >= r.c.end || *r.c.p != '{')
		return false;	/* not an object, or not JSON: no field either way */
	if (!nest_init(&r.nest, len))
		return false;
	ok = read_document(&r);
	nest_free(&r.nest);
	return ok && emit_found(&r.found, r.c.end, sink, arg);
}
