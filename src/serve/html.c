/* SPDX-License-Identifier: PostgreSQL */
/* Hostile text into HTML (element content or a quoted attribute), for the page and its
 * drawings.  Most of what the page shows is hostile: other members' rows are written by
 * other processes, payloads by any producer.  Besides markup, control characters and bidi
 * overrides are shown escaped, as the log shows them (escape_for_html()). */
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "html.h"

void
html_text(FILE *out, const char *s)
{
	char small[512], *buf = small;
	size_t len = strlen(s), need = escape_for_html(NULL, 0, s, len);

	if (need >= sizeof(small) && (buf = malloc(need + 1)) == NULL) {
		fputs("(out of memory)", out);
		return;
	}
	escape_for_html(buf, need + 1, s, len);
	fwrite(buf, 1, need, out);
	if (buf != small)
		free(buf);
}
