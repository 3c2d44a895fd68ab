/* Parsing of the status endpoint's listen address: "ADDR:PORT", "[ADDR6]:PORT" or "PORT". */
#ifndef CN_LISTEN_ADDR_H
#define CN_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Splits spec into host and port; a bare port means 127.0.0.1.  Whether the
 * host is a numeric address is left to getaddrinfo at bind time.  False with
 * a short reason for an empty spec, a missing address or a bad port.
 */
bool listen_addr_parse(const char *spec, char *host, size_t hostlen, char *port,
		       size_t portlen, const char **why);

#endif
