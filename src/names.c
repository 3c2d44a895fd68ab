/* Validation of operator-supplied names: node, cluster and channel names. */
#include <string.h>

#include "names.h"

const char *
name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "is empty";
	if (len > NAME_MAX_BYTES)
		return "is longer than 63 bytes";
	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return "contains a control character";
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
