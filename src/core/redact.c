/* SPDX-License-Identifier: PostgreSQL */
/* Hiding the passwords of a libpq connection string where other local users can read it.
 *
 * A --dbname value sits in the process's argument strings, which every local user reads
 * in /proc/PID/cmdline (ps).  libpq decides what is a password (PQconninfoParse, its
 * options marked "*"); the scanners below only find where each one was written, mirroring
 * libpq's own parsers (fe-connect.c), and the result is parsed again: whatever still
 * shows a secret is overwritten whole. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "redact.h"

static void
mask(char *from, const char *to)
{
	for (; from < to; from++)
		*from = 'x';
}

/* Whether keyword[0..len) is one libpq hides (its display character is '*'). */
static bool
is_secret(const PQconninfoOption *opts, const char *keyword, size_t len)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strlen(o->keyword) == len && memcmp(o->keyword, keyword, len) == 0)
			return o->dispchar != NULL && o->dispchar[0] == '*';
	return false;
}

/* keyword = value ..., values bare (backslash escapes the next byte) or in single quotes. */
static void
redact_keywords(char *s, const PQconninfoOption *opts)
{
	char *p = s;

	while (*p) {
		const char *key, *key_end;
		char *value, *value_end;

		if (isspace((unsigned char) *p)) {
			p++;
			continue;
		}
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char) *p))
			p++;
		key_end = p;
		while (isspace((unsigned char) *p))
			p++;
		if (*p != '=')
			return;	/* not as libpq read it: the check after finds what is left */
		p++;
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\'') {
			value = ++p;
			while (*p && *p != '\'')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			value_end = p;
			if (*p)
				p++;
		} else {
			value = p;
			while (*p && !isspace((unsigned char) *p))
				p += (*p == '\\' && p[1]) ? 2 : 1;
			value_end = p;
		}
		if (is_secret(opts, key, (size_t) (key_end - key)))
			mask(value, value_end);
	}
}

static int
hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A query parameter's keyword, percent-decoded as libpq decodes it; false if it is too
 * long to be any keyword. */
static bool
decode_keyword(const char *from, const char *to, char *out, size_t size)
{
	size_t n = 0;

	while (from < to) {
		int hi, lo;

		if (n + 1 >= size)
			return false;
		if (*from == '%' && to - from >= 3 && (hi = hex_value(from[1])) >= 0 &&
		    (lo = hex_value(from[2])) >= 0) {
			out[n++] = (char) (hi << 4 | lo);
			from += 3;
		} else
			out[n++] = *from++;
	}
	out[n] = '\0';
	return true;
}

/* scheme://[user[:password]@][hosts][/dbname][?keyword=value&...] */
static void
redact_uri(char *s, size_t prefix, const PQconninfoOption *opts)
{
	char *start = s + prefix, *p = start, *query;

	/* libpq: user info is whatever comes before an '@' that precedes any '/'. */
	while (*p && *p != '@' && *p != '/')
		p++;
	if (*p == '@') {
		char *colon = memchr(start, ':', (size_t) (p - start));

		if (colon)
			mask(colon + 1, p);
		start = p + 1;
	}
	if ((query = strchr(start, '?')) == NULL)
		return;
	for (p = query + 1; *p;) {
		char *key = p, *eq = NULL, keyword[64];

		while (*p && *p != '&') {
			if (*p == '=' && eq == NULL)
				eq = p;
			p++;
		}
		if (eq && decode_keyword(key, eq, keyword, sizeof(keyword)) &&
		    is_secret(opts, keyword, strlen(keyword)))
			mask(eq + 1, p);
		if (*p)
			p++;
	}
}

/* Whether s, as libpq parses it, still carries a secret that is not all 'x', or any of
 * the original secrets still appears in it. */
static bool
still_shows(const char *s, const PQconninfoOption *before)
{
	PQconninfoOption *after = PQconninfoParse(s, NULL);
	bool shows = after == NULL;

	for (const PQconninfoOption *o = after; o && o->keyword && !shows; o++)
		if (o->dispchar && o->dispchar[0] == '*' && o->val)
			shows = strspn(o->val, "x") != strlen(o->val);
	for (const PQconninfoOption *o = before; o->keyword && !shows; o++)
		if (o->dispchar && o->dispchar[0] == '*' && o->val && strlen(o->val) >= 4)
			shows = strstr(s, o->val) != NULL;
	if (after)
		PQconninfoFree(after);
	return shows;
}

bool
redact_conninfo(char *conninfo)
{
	static const char *const schemes[] = {"postgresql://", "postgres://"};
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	bool secret = opts == NULL;	/* unparseable: it may hold anything */
	size_t prefix = 0;

	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->dispchar && o->dispchar[0] == '*' && o->val && o->val[0])
			secret = true;
	if (!secret) {
		PQconninfoFree(opts);
		return false;
	}
	if (opts != NULL) {
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (strncmp(conninfo, schemes[i], strlen(schemes[i])) == 0)
				prefix = strlen(schemes[i]);
		if (prefix)
			redact_uri(conninfo, prefix, opts);
		else
			redact_keywords(conninfo, opts);
	}
	if (opts == NULL || still_shows(conninfo, opts))
		mask(conninfo, conninfo + strlen(conninfo));
	PQconninfoFree(opts);
	return true;
}
