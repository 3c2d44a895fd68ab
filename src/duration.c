/* Parsing of durations given by operators: "250ms", "10s", "1min", bare ms. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static const struct {
	const char *suffix;
	unsigned long factor;
} units[] = {
	{"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60 * 1000}, {"h", 60 * 60 * 1000},
};

bool
parse_duration_ms(const char *text, unsigned long min_ms, unsigned long max_ms,
		  unsigned long *out, const char **why)
{
	char *end;
	unsigned long long value;

	/* strtoull accepts "-1" and leading blanks; we want digits only. */
	if (!isdigit((unsigned char) text[0])) {
		*why = "must be a non-negative integer with an optional unit (ms, s, min, h)";
		return false;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno == ERANGE) {
		*why = "is out of range";
		return false;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (value > max_ms / units[i].factor + 1 ||
		    value * units[i].factor < min_ms || value * units[i].factor > max_ms) {
			*why = "is out of range";
			return false;
		}
		*out = (unsigned long) (value * units[i].factor);
		return true;
	}
	*why = "has an unknown unit (use ms, s, min or h)";
	return false;
}
