/* SPDX-License-Identifier: PostgreSQL */
/* Parsing of the status endpoint's listen address: "ADDR:PORT", "[ADDR6]:PORT" or "PORT". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <strings.h>

#include "listen_addr.h"

bool
listen_addr_parse(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
		  const char **why)
{
	const char *colon = strrchr(spec, ':');
	const char *port_text = colon ? colon + 1 : spec;
	size_t host_len = colon ? (size_t) (colon - spec) : 0;
	char *end;
	long value;

	if (spec[0] == '\0') {
		*why = "is empty";
		return false;
	}
	value = strtol(port_text, &end, 10);
	if (*port_text == '\0' || *end != '\0' || value < 1 || value > 65535) {
		*why = "needs a port from 1 to 65535 (ADDR:PORT, [ADDR6]:PORT or PORT)";
		return false;
	}
	if (colon == NULL) {
		snprintf(host, hostlen, "127.0.0.1");
	} else {
		if (host_len >= 2 && spec[0] == '[' && spec[host_len - 1] == ']') {
			spec++;
			host_len -= 2;
		}
		if (host_len == 0 || host_len >= hostlen) {
			*why = "needs an address before the port";
			return false;
		}
		memcpy(host, spec, host_len);
		host[host_len] = '\0';
	}
	snprintf(port, portlen, "%ld", value);
	return true;
}

/* Whether name (len bytes) equals the word, ignoring case. */
static bool
same_name(const char *name, size_t len, const char *word, size_t word_len)
{
	return len > 0 && len == word_len && strncasecmp(name, word, len) == 0;
}

bool
host_header_allowed(const char *host, const char *own_host, const char *extra)
{
	char literal[64];
	const char *name = host;
	size_t len, own_short;
	unsigned char addr[16];

	if (host == NULL)
		return true;	/* HTTP/1.0 without Host: no browser sends that */
	if (host[0] == '[') {	/* [v6]:port */
		const char *end = strchr(host, ']');

		if (end == NULL || (size_t) (end - host - 1) >= sizeof(literal))
			return false;
		memcpy(literal, host + 1, (size_t) (end - host - 1));
		literal[end - host - 1] = '\0';
		return inet_pton(AF_INET6, literal, addr) == 1 && (end[1] == '\0' || end[1] == ':');
	}
	len = strcspn(host, ":");
	if (len < sizeof(literal)) {
		memcpy(literal, host, len);
		literal[len] = '\0';
		if (inet_pton(AF_INET, literal, addr) == 1)
			return true;
	}
	own_short = strcspn(own_host, ".");
	if (same_name(name, len, "localhost", 9) || same_name(name, len, own_host, strlen(own_host)) ||
	    same_name(name, len, own_host, own_short))
		return true;
	for (const char *p = extra; *p;) {
		size_t word;

		while (*p == ',' || *p == ' ')
			p++;
		word = strcspn(p, ", ");
		if (same_name(name, len, p, word))
			return true;
		p += word;
	}
	return false;
}
