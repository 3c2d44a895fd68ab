/* SPDX-License-Identifier: PostgreSQL */
/* Parsing of durations and sizes given by operators: "250ms", "10s", "1min"; "64MB". */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

struct unit {
	const char *suffix;
	unsigned long factor;
};

static const struct unit time_units[] = {
	{"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60 * 1000}, {"h", 60 * 60 * 1000}, {NULL, 0},
};

static const struct unit size_units[] = {
	{"", 1}, {"B", 1}, {"kB", 1024}, {"MB", 1024 * 1024}, {"GB", 1024UL * 1024 * 1024},
	{NULL, 0},
};

static bool
parse_with_units(const char *text, const struct unit *units, unsigned long min,
		 unsigned long max, unsigned long *out, const char **why, const char *bad_number,
		 const char *bad_unit)
{
	char *end;
	unsigned long long value;

	/* strtoull accepts "-1" and leading blanks; we want digits only. */
	if (!isdigit((unsigned char) text[0])) {
		*why = bad_number;
		return false;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno == ERANGE) {
		*why = "is out of range";
		return false;
	}
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcmp(end, u->suffix) != 0)
			continue;
		if (value > max / u->factor + 1 || value * u->factor < min || value * u->factor > max) {
			*why = "is out of range";
			return false;
		}
		*out = (unsigned long) (value * u->factor);
		return true;
	}
	*why = bad_unit;
	return false;
}

bool
parse_duration_ms(const char *text, unsigned long min_ms, unsigned long max_ms,
		  unsigned long *out, const char **why)
{
	return parse_with_units(text, time_units, min_ms, max_ms, out, why,
				"must be a non-negative integer with an optional unit (ms, s, min, h)",
				"has an unknown unit (use ms, s, min or h)");
}

bool
parse_size_bytes(const char *text, unsigned long min_bytes, unsigned long max_bytes,
		 unsigned long *out, const char **why)
{
	return parse_with_units(text, size_units, min_bytes, max_bytes, out, why,
				"must be a non-negative integer with an optional unit (B, kB, MB, GB)",
				"has an unknown unit (use B, kB, MB or GB)");
}
