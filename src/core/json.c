/* SPDX-License-Identifier: PostgreSQL */
/* JSON string escaping for log records and `status --json`. */
#include <string.h>

#include "escape.h"
#include "json.h"

void
json_write_escaped(FILE *out, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t seq;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20 || c == 0x7F) {
				fprintf(out, "\\u%04x", c);
				break;
			}
			seq = utf8_sequence_length(s + i, len - i);
			if (seq == 0) {
				fputs("\\ufffd", out);
				break;
			}
			if (code_point_is_hazard(utf8_code_point(s + i, seq))) {
				/* C1 controls and bidi overrides: valid JSON, but not for terminals */
				fprintf(out, "\\u%04x", utf8_code_point(s + i, seq));
				i += seq;
				continue;
			}
			fwrite(s + i, 1, seq, out);
			i += seq;
			continue;
		}
		i++;
	}
}

void
json_write_string(FILE *out, const char *src)
{
	if (src == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	json_write_escaped(out, src, strlen(src));
	fputc('"', out);
}
