/* Escaping of untrusted text (payloads, channel names) for one-line log records. */
#ifndef CN_ESCAPE_H
#define CN_ESCAPE_H

#include <stddef.h>

/* Worst case: every byte becomes a four-byte "\xHH" escape. */
#define ESCAPE_MAX_LEN(n) ((n) * 4 + 1)

/*
 * Writes src[0..srclen) into dst so that it fits on one log line between
 * double quotes: '"' and '\' are backslash-escaped, \n \r \t get their usual
 * escapes, other control bytes, DEL and bytes that are not part of valid
 * UTF-8 become \xHH.  Valid UTF-8 passes through unchanged so that readers
 * see the text as it was sent.  Always NUL-terminates when dstsize > 0.
 * Returns the length the full escaped text needs (as snprintf does), so a
 * result >= dstsize means it was truncated.
 */
size_t escape_for_log(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Length of the valid UTF-8 sequence starting at s (1-4), or 0 if invalid. */
size_t utf8_sequence_length(const unsigned char *s, size_t avail);

#endif
