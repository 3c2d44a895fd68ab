/* Escaping of untrusted text (payloads, channel names) for one-line log records. */
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

/* Appends one byte if it fits; always counts it. */
static void
put(char *dst, size_t dstsize, size_t *pos, char c)
{
	if (*pos + 1 < dstsize)
		dst[*pos] = c;
	(*pos)++;
}

size_t
escape_for_log(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *) src;
	size_t pos = 0;
	size_t i = 0;

	while (i < srclen) {
		unsigned char c = s[i];
		size_t seq;

		switch (c) {
		case '"':
		case '\\':
			put(dst, dstsize, &pos, '\\');
			put(dst, dstsize, &pos, (char) c);
			i++;
			continue;
		case '\n':
			put(dst, dstsize, &pos, '\\');
			put(dst, dstsize, &pos, 'n');
			i++;
			continue;
		case '\r':
			put(dst, dstsize, &pos, '\\');
			put(dst, dstsize, &pos, 'r');
			i++;
			continue;
		case '\t':
			put(dst, dstsize, &pos, '\\');
			put(dst, dstsize, &pos, 't');
			i++;
			continue;
		default:
			break;
		}
		seq = (c < 0x20 || c == 0x7F) ? 0 : utf8_sequence_length(s + i, srclen - i);
		if (seq == 0) {
			put(dst, dstsize, &pos, '\\');
			put(dst, dstsize, &pos, 'x');
			put(dst, dstsize, &pos, hex[c >> 4]);
			put(dst, dstsize, &pos, hex[c & 0xF]);
			i++;
			continue;
		}
		for (size_t k = 0; k < seq; k++)
			put(dst, dstsize, &pos, (char) s[i + k]);
		i += seq;
	}
	if (dstsize > 0)
		dst[pos < dstsize ? pos : dstsize - 1] = '\0';
	return pos;
}
