/* SPDX-License-Identifier: PostgreSQL */
/* Which partition an event belongs to; the same computation as sql/008's key_of() and
 * partition_of(), so that producers, operators and nodes agree. */
#include <stdio.h>
#include <string.h>

#include "json_field.h"
#include "event_route.h"

#define FNV32_OFFSET_BASIS 2166136261u
#define FNV32_PRIME 16777619u

bool
partition_rule_parse(const char *text, struct partition_rule *rule, const char **why)
{
	const char *arg = NULL;

	memset(rule, 0, sizeof(*rule));
	if (strcmp(text, "payload") == 0) {
		rule->kind = KEY_PAYLOAD;
		return true;
	}
	if (strncmp(text, "prefix:", 7) == 0) {
		rule->kind = KEY_PREFIX;
		arg = text + 7;
	} else if (strncmp(text, "json:", 5) == 0) {
		rule->kind = KEY_JSON;
		arg = text + 5;
	} else {
		*why = "is not 'payload', 'prefix:SEPARATOR' or 'json:FIELD'";
		return false;
	}
	if (arg[0] == '\0') {
		*why = rule->kind == KEY_PREFIX ? "names no separator after 'prefix:'" :
		    "names no field after 'json:'";
		return false;
	}
	if (strlen(arg) > PARTITION_RULE_ARG_MAX) {
		*why = "is longer than 63 bytes after its 'prefix:' or 'json:'";
		return false;
	}
	for (const unsigned char *p = (const unsigned char *) arg; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			*why = "holds a control character";
			return false;
		}
	snprintf(rule->arg, sizeof(rule->arg), "%s", arg);
	return true;
}

void
partition_rule_format(const struct partition_rule *rule, char *buf, size_t size)
{
	switch (rule->kind) {
	case KEY_PREFIX:
		snprintf(buf, size, "prefix:%s", rule->arg);
		break;
	case KEY_JSON:
		snprintf(buf, size, "json:%s", rule->arg);
		break;
	case KEY_PAYLOAD:
	default:
		snprintf(buf, size, "payload");
		break;
	}
}

static uint32_t
fnv_update(uint32_t hash, const char *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		hash ^= (unsigned char) bytes[i];
		hash *= FNV32_PRIME;
	}
	return hash;
}

/* A json_sink that hashes: a JSON key is hashed as it is read, never stored, since a
 * number's text can be far longer than the payload ("1e131071" prints 131,072 digits). */
static void
hash_sink(void *arg, const char *bytes, size_t len)
{
	uint32_t *hash = arg;

	*hash = fnv_update(*hash, bytes, len);
}

uint32_t
partition_hash(const char *key, size_t len)
{
	return fnv_update(FNV32_OFFSET_BASIS, key, len);
}

int
partition_of_key(const char *key, size_t len, int partitions)
{
	if (partitions <= 1)
		return 0;
	return (int) (partition_hash(key, len) % (uint32_t) partitions);
}

/* The first occurrence of needle in haystack (memmem is a GNU extension). */
static const char *
find_bytes(const char *haystack, size_t len, const char *needle, size_t nlen)
{
	for (size_t i = 0; nlen > 0 && i + nlen <= len; i++)
		if (haystack[i] == needle[0] && memcmp(haystack + i, needle, nlen) == 0)
			return haystack + i;
	return NULL;
}

int
partition_of_payload(const struct partition_rule *rule, const char *payload, size_t len,
		     int partitions)
{
	uint32_t hash = FNV32_OFFSET_BASIS;
	const char *sep;

	if (partitions <= 1)
		return 0;
	switch (rule->kind) {
	case KEY_PREFIX:
		/* A valid UTF-8 separator matches valid UTF-8 text only at character
		 * boundaries, so bytes give what strpos() gives. */
		sep = find_bytes(payload, len, rule->arg, strlen(rule->arg));
		if (sep != NULL)
			len = (size_t) (sep - payload);
		break;
	case KEY_JSON:
		if (json_field(payload, len, rule->arg, hash_sink, &hash))
			return (int) (hash % (uint32_t) partitions);
		break;
	case KEY_PAYLOAD:
	default:
		break;
	}
	return partition_of_key(payload, len, partitions);
}
