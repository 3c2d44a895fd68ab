/* SPDX-License-Identifier: PostgreSQL */
/* Test tool: the node's partition for each payload on stdin, for t_json_routing.sh to set
 * beside what clustered_nodes.partition_of(key_of(...)) says in SQL.
 *
 *   route_payloads K...
 *
 * Each input line is "RULE PAYLOAD", both hex-encoded (a payload may hold any character but
 * NUL, newlines included).  Each output line is partition_of_payload() of that payload under
 * that rule, for each K given, separated by spaces: exactly the call the node makes for a
 * plain notification (src/node/leads.c), without a database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_route.h"

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n hex digits at hex into out (n / 2 bytes, NUL-terminated); false if not hex. */
static bool
unhex(const char *hex, size_t n, char *out)
{
	if (n % 2 != 0)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (char) (hi << 4 | lo);
	}
	out[n / 2] = '\0';
	return true;
}

/* One input line: its rule and payload decoded and routed, or false if it is malformed. */
static bool
route_line(char *line, size_t len, int argc, char **argv)
{
	char *space = memchr(line, ' ', len);
	char rule_text[2 * PARTITION_RULE_ARG_MAX + 16];
	struct partition_rule rule;
	const char *why = NULL;
	size_t rule_hex, payload_hex;
	char *payload;

	if (space == NULL)
		return false;
	rule_hex = (size_t) (space - line);
	payload_hex = len - rule_hex - 1;
	if (rule_hex / 2 >= sizeof(rule_text) || !unhex(line, rule_hex, rule_text) ||
	    !partition_rule_parse(rule_text, &rule, &why))
		return false;
	payload = malloc(payload_hex / 2 + 1);
	if (payload == NULL || !unhex(space + 1, payload_hex, payload) ||
	    strlen(payload) != payload_hex / 2) {
		free(payload);
		return false;	/* a NUL: no notification can carry one */
	}
	for (int i = 1; i < argc; i++)
		printf("%s%d", i > 1 ? " " : "",
		       partition_of_payload(&rule, payload, payload_hex / 2, atoi(argv[i])));
	putchar('\n');
	free(payload);
	return true;
}

int
main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: route_payloads K... <lines of 'RULE_HEX PAYLOAD_HEX'\n");
		return 2;
	}
	while ((len = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!route_line(line, (size_t) len, argc, argv)) {
			fprintf(stderr, "route_payloads: line %ld is not 'RULE_HEX PAYLOAD_HEX'\n", lineno);
			return 1;
		}
	}
	free(line);
	return 0;
}
