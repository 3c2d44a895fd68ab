/* SPDX-License-Identifier: PostgreSQL */
/* The status endpoint's addresses: its listen address ("ADDR:PORT", "[ADDR6]:PORT" or
 * "PORT"), and which Host headers it answers. */
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

/*
 * Whether a request's Host header (NULL: none was sent) names this endpoint: an IP
 * literal (a DNS-rebinding page cannot produce one for a name it controls), "localhost",
 * this machine's host name (own_host, short or full), or one of the comma-separated
 * names in extra (the http_hosts setting); an optional :port is ignored, case too.
 */
bool host_header_allowed(const char *host, const char *own_host, const char *extra);

#endif
