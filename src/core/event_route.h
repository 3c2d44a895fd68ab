/* SPDX-License-Identifier: PostgreSQL */
/* Which partition an event belongs to: its key (the payload, the text before a separator,
 * or a top-level JSON field) hashed with FNV-1a-32 modulo the partition count, exactly as
 * clustered_nodes.key_of() and clustered_nodes.partition_of() do in SQL (sql/008). */
#ifndef CN_EVENT_ROUTE_H
#define CN_EVENT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_PARTITIONS 64
/* A separator or field name: short, so that a rule fits anywhere it is shown. */
#define PARTITION_RULE_ARG_MAX 63

enum partition_key_kind {
	KEY_PAYLOAD,		/* the whole payload */
	KEY_PREFIX,		/* the text before the first separator (all of it without one) */
	KEY_JSON,		/* a top-level string, number or boolean field (the payload without) */
};

struct partition_rule {
	enum partition_key_kind kind;
	char arg[PARTITION_RULE_ARG_MAX + 1];	/* the separator or the field */
};

/* Parses "payload", "prefix:SEP" or "json:FIELD"; false with a short reason. */
bool partition_rule_parse(const char *text, struct partition_rule *rule, const char **why);
/* The rule as the database records it (clusters.partition_key). */
void partition_rule_format(const struct partition_rule *rule, char *buf, size_t size);

/* FNV-1a-32 of the key's bytes (UTF-8), the hash partition_of() uses. */
uint32_t partition_hash(const char *key, size_t len);
/* The partition of a key among `partitions` (1..MAX_PARTITIONS). */
int partition_of_key(const char *key, size_t len, int partitions);
/* The partition of a payload under a rule. */
int partition_of_payload(const struct partition_rule *rule, const char *payload, size_t len,
			 int partitions);

#endif
