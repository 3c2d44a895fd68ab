/* SPDX-License-Identifier: PostgreSQL */
/* Validation of operator-supplied names: node, cluster and channel names. */
#include <string.h>

#include "escape.h"
#include "names.h"

const char *
name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "is empty";
	if (len > NAME_MAX_BYTES)
		return "is longer than 63 bytes";
	if (!utf8_valid(name))
		return "is not valid UTF-8";
	for (const unsigned char *p = (const unsigned char *) name; *p;) {
		size_t seq = utf8_sequence_length(p, strlen((const char *) p));

		if (code_point_is_hazard(utf8_code_point(p, seq)))
			return "contains a control character";
		p += seq;
	}
	return NULL;
}

const char *
channel_problem(const char *channel)
{
	const char *why = name_problem(channel);

	if (why)
		return why;
	if (strcmp(channel, HANDOFF_CHANNEL) == 0)
		return "is reserved for leader handoff";
	if (strcmp(channel, EVENTS_CHANNEL) == 0)
		return "is reserved for durable events' wake-ups";
	return NULL;
}
