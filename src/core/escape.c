/* SPDX-License-Identifier: PostgreSQL */
/* Escaping of untrusted text (payloads, channel names, other members' rows) for one-line
 * log records and for the status page. */
#include <stdio.h>
#include <string.h>

#include "escape.h"

size_t
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;	/* allowed range of the 2nd byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;	/* no UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;	/* nothing above U+10FFFF */
	} else
		return 0;

	if (avail < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

unsigned
utf8_code_point(const unsigned char *s, size_t len)
{
	switch (len) {
	case 1:
		return s[0];
	case 2:
		return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
	case 3:
		return ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
	default:
		return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
		    (s[3] & 0x3Fu);
	}
}

int
code_point_is_hazard(unsigned cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

int
utf8_valid(const char *text)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t len = strlen(text);

	for (size_t i = 0; i < len;) {
		size_t seq = utf8_sequence_length(s + i, len - i);

		if (seq == 0)
			return 0;
		i += seq;
	}
	return 1;
}

/* Appends one byte if it fits; always counts it. */
static void
put(char *dst, size_t dstsize, size_t *pos, char c)
{
	if (*pos + 1 < dstsize)
		dst[*pos] = c;
	(*pos)++;
}

static void
put_hex(char *dst, size_t dstsize, size_t *pos, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	put(dst, dstsize, pos, '\\');
	put(dst, dstsize, pos, 'x');
	put(dst, dstsize, pos, hex[c >> 4]);
	put(dst, dstsize, pos, hex[c & 0xF]);
}

/* Escapes one unit at s[i] (a byte or a UTF-8 sequence); returns how many bytes it took.
 * `quotes`: also escape '"' and '\' and name \n, \r, \t. */
static size_t
escape_one(char *dst, size_t dstsize, size_t *pos, const unsigned char *s, size_t avail,
	   int quotes)
{
	unsigned char c = s[0];
	size_t seq;
	unsigned cp;

	if (quotes) {
		const char *named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
		    c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

		if (named) {
			put(dst, dstsize, pos, named[0]);
			put(dst, dstsize, pos, named[1]);
			return 1;
		}
	}
	seq = utf8_sequence_length(s, avail);
	if (seq == 0) {
		put_hex(dst, dstsize, pos, c);
		return 1;
	}
	cp = utf8_code_point(s, seq);
	if (code_point_is_hazard(cp)) {
		char u[16];

		if (cp < 0x80) {
			put_hex(dst, dstsize, pos, c);
			return 1;
		}
		snprintf(u, sizeof(u), "\\u{%04x}", cp);
		for (const char *p = u; *p; p++)
			put(dst, dstsize, pos, *p);
		return seq;
	}
	for (size_t k = 0; k < seq; k++)
		put(dst, dstsize, pos, (char) s[k]);
	return seq;
}

static size_t
escape_all(char *dst, size_t dstsize, const char *src, size_t srclen, int quotes)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t pos = 0;

	for (size_t i = 0; i < srclen;)
		i += escape_one(dst, dstsize, &pos, s + i, srclen - i, quotes);
	if (dstsize > 0)
		dst[pos < dstsize ? pos : dstsize - 1] = '\0';
	return pos;
}

size_t
escape_for_log(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	return escape_all(dst, dstsize, src, srclen, 1);
}

size_t
escape_hazards(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	return escape_all(dst, dstsize, src, srclen, 0);
}

size_t
escape_for_html(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t pos = 0;

	for (size_t i = 0; i < srclen;) {
		const char *entity = s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" :
		    s[i] == '&' ? "&amp;" : s[i] == '"' ? "&quot;" : s[i] == '\'' ? "&#39;" : NULL;

		if (entity == NULL) {
			/* A character reference would not help with the hazards: the browser turns
			 * &#x202e; back into the override it names.  They are shown as the log
			 * shows them instead. */
			i += escape_one(dst, dstsize, &pos, s + i, srclen - i, 0);
			continue;
		}
		for (; *entity; entity++)
			put(dst, dstsize, &pos, *entity);
		i++;
	}
	if (dstsize > 0)
		dst[pos < dstsize ? pos : dstsize - 1] = '\0';
	return pos;
}
