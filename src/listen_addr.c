/* Parsing of the status endpoint's listen address: "ADDR:PORT", "[ADDR6]:PORT" or "PORT". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
