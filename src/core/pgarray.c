/* SPDX-License-Identifier: PostgreSQL */
/* Text-array literals for query parameters ('{"a","b c"}'), so lists travel as one $n. */
#include <stdio.h>

#include "pgarray.h"

static void
put(char *buf, size_t size, size_t *pos, char c)
{
	if (*pos + 1 < size)
		buf[*pos] = c;
	(*pos)++;
}

size_t
pg_text_array(char *buf, size_t size, const char *const *items, int n)
{
	size_t pos = 0;

	put(buf, size, &pos, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			put(buf, size, &pos, ',');
		put(buf, size, &pos, '"');
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				put(buf, size, &pos, '\\');
			put(buf, size, &pos, *p);
		}
		put(buf, size, &pos, '"');
	}
	put(buf, size, &pos, '}');
	if (size > 0)
		buf[pos < size ? pos : size - 1] = '\0';
	return pos;
}

size_t
pg_int_array(char *buf, size_t size, const long long *items, int n)
{
	size_t pos = 0;

	put(buf, size, &pos, '{');
	for (int i = 0; i < n; i++) {
		char num[24];
		int len = snprintf(num, sizeof(num), "%s%lld", i ? "," : "", items[i]);

		for (int k = 0; k < len; k++)
			put(buf, size, &pos, num[k]);
	}
	put(buf, size, &pos, '}');
	if (size > 0)
		buf[pos < size ? pos : size - 1] = '\0';
	return pos;
}
