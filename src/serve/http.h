/* SPDX-License-Identifier: PostgreSQL */
/* The node's HTTP status endpoint (libmicrohttpd), driven from the node's libev loop. */
#ifndef CN_HTTP_H
#define CN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct node;
struct http_server;

/*
 * Binds and starts serving node n's status from loop.  NULL with a one-line
 * reason in err (port in use, bad address, ...).  The URL it serves is
 * written to url.
 */
struct http_server *http_start(struct ev_loop *loop, const char *spec, struct node *n,
			       char *url, size_t urllen, char *err, size_t errlen);
void http_stop(struct http_server *h);

#endif
