/* SPDX-License-Identifier: PostgreSQL */
/* Escaping of untrusted text (payloads, channel names, other members' rows) for one-line
 * log records and for the status page. */
#ifndef CN_ESCAPE_H
#define CN_ESCAPE_H

#include <stddef.h>

/* Worst case: every byte becomes a four-byte "\xHH" escape (a three-byte bidi override
 * becomes the eight bytes of "\u{202e}", less per byte). */
#define ESCAPE_MAX_LEN(n) ((n) * 4 + 1)

/*
 * Writes src[0..srclen) into dst so that it fits on one log line between
 * double quotes: '"' and '\' are backslash-escaped, \n \r \t get their usual
 * escapes, other control bytes, DEL and bytes that are not part of valid
 * UTF-8 become \xHH, C1 controls (U+0080-U+009F) and bidirectional overrides and
 * isolates (U+202A-U+202E, U+2066-U+2069) become \u{hhhh}: nothing that could drive
 * a terminal or reorder what a person reads.  Valid UTF-8 passes through unchanged so that readers
 * see the text as it was sent.  Always NUL-terminates when dstsize > 0.
 * Returns the length the full escaped text needs (as snprintf does), so a
 * result >= dstsize means it was truncated.
 */
size_t escape_for_log(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Length of the valid UTF-8 sequence starting at s (1-4), or 0 if invalid. */
size_t utf8_sequence_length(const unsigned char *s, size_t avail);

/* The code point of a valid sequence of len bytes at s. */
unsigned utf8_code_point(const unsigned char *s, size_t len);

/* Whether a code point must not reach a person raw: C0 and C1 controls, DEL, bidi
 * overrides and isolates. */
int code_point_is_hazard(unsigned cp);

/* As escape_for_log(), but only the hazards: quotes and backslashes stay, so text that
 * was escaped already passes unchanged (the text log runs every record through it). */
size_t escape_hazards(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Worst case of escape_for_html(): every byte a six-byte "&quot;". */
#define ESCAPE_HTML_MAX_LEN(n) ((n) * 6 + 1)

/*
 * Writes src[0..srclen) into dst as HTML text (element content or a quoted attribute
 * value): < > & " ' become character references, and the hazards and bytes that are
 * not valid UTF-8 are written as escape_for_log() writes them (\xHH, \u{hhhh}), so
 * that nothing invisible or reordering reaches the page.  dst may be NULL when dstsize
 * is 0.  NUL-terminates when dstsize > 0; returns the length the whole text needs.
 */
size_t escape_for_html(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Whether text is valid UTF-8 throughout. */
int utf8_valid(const char *text);

#endif
