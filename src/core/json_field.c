/* SPDX-License-Identifier: PostgreSQL */
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

#include "json_field.h"
#include "json_lex.h"

/* Levels kept on the C stack: a text of at most this many bytes cannot nest deeper. */
#define NEST_LOCAL_LEVELS 8192

/* Per open level, whether it is an object (1) or an array (0). */
struct nest {
	unsigned char local[NEST_LOCAL_LEVELS / 8];
	unsigned char *bits;	/* local, or allocated for a longer text */
	size_t depth;
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
		if (!json_read_string(&r->c, NULL, NULL))
			return false;
	} else {
		if (!json_read_string(&r->c, name_match_sink, &m))
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
		return json_read_string(&r->c, NULL, NULL);
	case 't':
		*kind = FOUND_TRUE;
		return json_read_literal(&r->c, "true");
	case 'f':
		*kind = FOUND_FALSE;
		return json_read_literal(&r->c, "false");
	case 'n':
		*kind = FOUND_OTHER;
		return json_read_literal(&r->c, "null");
	default:
		*kind = FOUND_NUMBER;
		return json_read_number(&r->c, num);
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
		json_skip_space(&r->c);
		if (r->c.p >= r->c.end || !read_token(r))
			return false;
	}
	json_skip_space(&r->c);
	return r->c.p == r->c.end;
}

/* The found value's text, as ->> gives it. */
static bool
emit_found(const struct found *f, const unsigned char *end, json_sink *sink, void *arg)
{
	struct cursor c = {.p = f->string, .end = end};

	switch (f->kind) {
	case FOUND_STRING:
		return json_read_string(&c, sink, arg);
	case FOUND_NUMBER:
		json_emit_number(&f->number, sink, arg);
		return true;
	case FOUND_TRUE:
		json_emit(sink, arg, "true", 4);
		return true;
	case FOUND_FALSE:
		json_emit(sink, arg, "false", 5);
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

	json_skip_space(&r.c);
	if (r.c.p >= r.c.end || *r.c.p != '{')
		return false;	/* not an object, or not JSON: no field either way */
	if (!nest_init(&r.nest, len))
		return false;
	ok = read_document(&r);
	nest_free(&r.nest);
	return ok && emit_found(&r.found, r.c.end, sink, arg);
}
