/* SPDX-License-Identifier: PostgreSQL */
/* The node's HTTP status endpoint (libmicrohttpd), driven from the node's libev loop.
 *
 * libmicrohttpd parses HTTP (we write no parser); in its external-epoll mode
 * it exposes one epoll descriptor, which we watch on the node's loop and
 * answer with MHD_run(), so HTTP shares the single thread without ever
 * blocking it: sockets are non-blocking and every response is built from memory.
 *
 * Health probes must get through whatever else holds connections: the prober usually
 * shares its address with everyone on the machine (loopback), so refusing an address
 * that has too many connections would refuse the probe too (and a supervisor would
 * restart a healthy node).  So no newcomer is refused.  Instead, when one finds its
 * address holding HTTP_CONNECTIONS_PER_ADDRESS, or everyone HTTP_CONNECTIONS, the
 * connection that has gone longest without completing a request is shut down to make
 * room, once it has had HTTP_GRACE_S to send one; and none may go more than
 * HTTP_LIFETIME_S without completing one, however it trickles bytes (each byte resets
 * MHD's inactivity timeout).  A probe completes in milliseconds; what gets cut is what
 * holds on.  The grace matters against a client that reconnects whenever it is cut:
 * cutting the oldest regardless, its stream of connects would push out a probe whose
 * request had not arrived yet (its sender waiting for a CPU).  Only near the
 * descriptors there are is a connection cut within its grace: MHD would refuse the next.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "listen_addr.h"
#include "http_pages.h"
#include "log.h"
#include "node.h"

/* Ours: beyond either, the connection longest without a completed request makes room
 * (at most; fewer when descriptors are short). */
#define HTTP_CONNECTIONS 256
#define HTTP_CONNECTIONS_PER_ADDRESS (HTTP_CONNECTIONS / 2)
/* A connection must complete a request within this long of opening or of its last one, */
#define HTTP_LIFETIME_S 5.0
/* ... and may not be cut to make room for others before this. */
#define HTTP_GRACE_S 1.0
/* Descriptors kept for the rest of the node (database sessions, log, handlers' pipes). */
#define HTTP_FD_RESERVE 128
#define HTTP_IDLE_TIMEOUT_S 10	/* MHD's own, a backstop */
/* Request line and headers must fit here; larger requests are refused by MHD. */
#define HTTP_CONNECTION_MEMORY 32768
#define HTTP_CUT_REPORT_S 60.0	/* at most one warning this often while connections are cut */

/* One open connection, as MHD_OPTION_NOTIFY_CONNECTION reports it. */
struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	int family;
	unsigned char addr[16];	/* the client's IPv4 or IPv6 address */
	double since;		/* opened, or completed its last request */
	bool cut;		/* shut down by us; MHD closes it when it reads the EOF */
};

struct http_server {
	ev_io io;		/* first: on MHD's epoll descriptor */
	ev_timer timer;		/* MHD's own timeouts */
	ev_timer lifetime;	/* the next HTTP_LIFETIME_S deadline */
	struct ev_loop *loop;
	struct MHD_Daemon *daemon;
	struct node *node;
	int listen_fd;
	char own_host[256];	/* this machine's name, for Host checks */
	struct http_conn *head, *tail;	/* open connections, in the order they opened */
	int limit, per_address;	/* ours, fitted to the descriptors there are */
	int hard;		/* this many live: cut even within the grace */
	unsigned long cut_since_report;
	double reported_at;
};

/*
 * Ends c without closing its descriptor: MHD owns it and would otherwise never learn it
 * was closed (and might act on a descriptor number reused meanwhile).  After shutdown()
 * MHD reads an EOF and closes the connection itself.
 */
static void
cut(struct http_server *h, struct http_conn *c, const char *why)
{
	double now = ev_now(h->loop);

	shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
	h->cut_since_report++;
	if (now - h->reported_at >= HTTP_CUT_REPORT_S) {
		log_warn("status endpoint: %lu connection(s) ended early (latest: %s; limits: %d "
			 "connections, %d per address, %.0f s to complete a request)",
			 h->cut_since_report, why, h->limit, h->per_address, HTTP_LIFETIME_S);
		h->cut_since_report = 0;
		h->reported_at = now;
	}
}

static bool
address_of(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	*family = sa ? sa->sa_family : AF_UNSPEC;
	if (*family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *) (const void *) sa)->sin_addr, 4);
	else if (*family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr, 16);
	else
		return false;
	return true;
}

/* The live connection longest without a completed request, of one address if family is
 * not AF_UNSPEC, and how many live connections there are. */
static struct http_conn *
oldest(const struct http_server *h, int family, const unsigned char addr[16], int *count)
{
	struct http_conn *best = NULL;

	*count = 0;
	for (struct http_conn *c = h->head; c; c = c->next) {
		if (c->cut || (family != AF_UNSPEC &&
			       (c->family != family || memcmp(c->addr, addr, 16) != 0)))
			continue;
		(*count)++;
		if (best == NULL || c->since < best->since)
			best = c;
	}
	return best;
}

/* MHD's accept policy: every newcomer is accepted, after making room for it. */
static enum MHD_Result
admit(void *cls, const struct sockaddr *sa, socklen_t salen)
{
	struct http_server *h = cls;
	double now = ev_now(h->loop);
	struct http_conn *c;
	unsigned char addr[16];
	int family, count;

	(void) salen;
	if (address_of(sa, &family, addr) && (c = oldest(h, family, addr, &count)) &&
	    count >= h->per_address && now - c->since >= HTTP_GRACE_S)
		cut(h, c, "too many connections from one address");
	if ((c = oldest(h, AF_UNSPEC, NULL, &count)) == NULL)
		return MHD_YES;
	if (count >= h->hard)
		cut(h, c, "too many connections for the descriptors there are");
	else if (count >= h->limit && now - c->since >= HTTP_GRACE_S)
		cut(h, c, "too many connections");
	return MHD_YES;
}

static void
arm_lifetime(struct http_server *h)
{
	double now = ev_now(h->loop), next = 0;

	for (struct http_conn *c = h->head; c; c = c->next)
		if (!c->cut && (next == 0 || c->since + HTTP_LIFETIME_S < next))
			next = c->since + HTTP_LIFETIME_S;
	ev_timer_stop(h->loop, &h->lifetime);
	if (next > 0) {
		ev_timer_set(&h->lifetime, next > now ? next - now : 0., 0.);
		ev_timer_start(h->loop, &h->lifetime);
	}
}

static void
lifetime_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *h = (struct http_server *) ((char *) w - offsetof(struct http_server, lifetime));
	double now = ev_now(loop);

	(void) revents;
	for (struct http_conn *c = h->head; c; c = c->next)
		if (!c->cut && now - c->since >= HTTP_LIFETIME_S)
			cut(h, c, "no request completed in time");
	arm_lifetime(h);
}

static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
	      enum MHD_ConnectionNotificationCode code)
{
	struct http_server *h = cls;
	struct http_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *peer =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		/* Untracked if this fails: MHD's own limit and timeout still bound it. */
		if (fd == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->fd = fd->connect_fd;
		address_of(peer ? peer->client_addr : NULL, &c->family, c->addr);
		c->since = ev_now(h->loop);
		c->prev = h->tail;
		if (h->tail)
			h->tail->next = c;
		else
			h->head = c;
		h->tail = c;
		*socket_context = c;
		if (!ev_is_active(&h->lifetime)) {
			ev_timer_set(&h->lifetime, HTTP_LIFETIME_S, 0.);
			ev_timer_start(h->loop, &h->lifetime);
		}
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && c != NULL) {
		if (c->prev)
			c->prev->next = c->next;
		else
			h->head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		else
			h->tail = c->prev;
		free(c);
		*socket_context = NULL;
	}
}

/* A request answered in full: the connection's time starts again (keep-alive). */
static void
on_completed(void *cls, struct MHD_Connection *mc, void **state, enum MHD_RequestTerminationCode toe)
{
	struct http_server *h = cls;
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	(void) state;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && info && info->socket_context)
		((struct http_conn *) info->socket_context)->since = ev_now(h->loop);
}

/* Our limits, and MHD's cap above them: connections in their grace may go over ours,
 * those we cut hold a descriptor until MHD's next pass, and MHD refuses anything over its
 * cap before asking admit(). */
static unsigned
fit_limits(struct http_server *h)
{
	struct rlimit rl;
	rlim_t fds = 1024;
	unsigned cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fds = rl.rlim_cur;	/* RLIM_INFINITY is the largest value */
	cap = fds > 4 * HTTP_CONNECTIONS + HTTP_FD_RESERVE ? 4 * HTTP_CONNECTIONS :
	    fds > HTTP_FD_RESERVE + 16 ? (unsigned) (fds - HTTP_FD_RESERVE) : 16;
	h->limit = (int) (cap / 2 < HTTP_CONNECTIONS ? cap / 2 : HTTP_CONNECTIONS);
	h->per_address = h->limit / 2 < HTTP_CONNECTIONS_PER_ADDRESS ?
	    (h->limit / 2 > 0 ? h->limit / 2 : 1) : HTTP_CONNECTIONS_PER_ADDRESS;
	h->hard = (int) (cap - cap / 8);
	return cap;
}

static void
reschedule(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG timeout_ms;

	ev_timer_stop(h->loop, &h->timer);
	if (MHD_get_timeout(h->daemon, &timeout_ms) == MHD_YES) {
		ev_timer_set(&h->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(h->loop, &h->timer);
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_server *h = (struct http_server *) w;

	(void) loop;
	(void) revents;
	MHD_run(h->daemon);
	reschedule(h);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *h = (struct http_server *) ((char *) w - offsetof(struct http_server, timer));

	(void) loop;
	(void) revents;
	MHD_run(h->daemon);
	reschedule(h);
}

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void) cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("http: %s", line);
}

static enum MHD_Result
send_page(struct MHD_Connection *c, unsigned status, const char *type, char *body,
	  size_t len, bool allow_header)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow_header)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	struct http_server *h = cls;
	struct page page;
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	static int seen;	/* any non-NULL marks a request whose headers were seen */

	(void) version;
	(void) upload_data;
	/* A page of another origin whose name resolves to us (DNS rebinding) must not read
	 * payloads: only Host values that name this endpoint are answered. */
	if (!host_header_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
				 h->own_host, node_config(h->node)->http_hosts)) {
		char *text = strdup("misdirected request: the Host header does not name this "
				    "endpoint (see http_hosts)\n");

		return text ? send_page(c, MHD_HTTP_MISDIRECTED_REQUEST, "text/plain; charset=utf-8",
					text, strlen(text), false) : MHD_NO;
	}
	/* Anything but GET and HEAD is answered on the first call: its body is never read
	 * (and MHD closes such a connection). */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		char *text = strdup("method not allowed: use GET\n");

		return text ? send_page(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
					text, strlen(text), true) : MHD_NO;
	}
	/* GET and HEAD are answered once the request is complete, so that MHD may keep the
	 * connection for the next probe; a body sent with them is discarded as it comes. */
	if (*state == NULL) {
		*state = &seen;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if ((out = open_memstream(&body, &len)) == NULL)
		return MHD_NO;
	http_render(h->node, url, out, &page);
	if (fclose(out) != 0) {
		free(body);
		return MHD_NO;
	}
	return send_page(c, page.status, page.content_type, body, len, false);
}

struct http_server *
http_start(struct ev_loop *loop, const char *spec, struct node *n, char *url, size_t urllen,
	   char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char host[256], port[8];
	const char *why;
	const union MHD_DaemonInfo *info;
	struct http_server *h;
	int fd, one = 1, rc;

	if (!listen_addr_parse(spec, host, sizeof(host), port, sizeof(port), &why)) {
		snprintf(err, errlen, "http '%s' %s", spec, why);
		return NULL;
	}
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "http '%s': '%s' is not a numeric address: %s", spec, host,
			 gai_strerror(rc));
		return NULL;
	}
	/* A long accept queue: a probe's SYN dropped behind a flood of connects would be
	 * retried only after a second; queued, it waits while they are accepted and cut. */
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->loop = loop;
	h->node = n;
	if (gethostname(h->own_host, sizeof(h->own_host)) != 0)
		h->own_host[0] = '\0';
	h->own_host[sizeof(h->own_host) - 1] = '\0';
	h->listen_fd = fd;
	ev_init(&h->lifetime, lifetime_cb);
	/* No per-address limit in MHD: it refuses, and a refused probe is a failed one. */
	h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, admit, h,
				     on_request, h,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, fit_limits(h),
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_IDLE_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONNECTION_MEMORY,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
				     MHD_OPTION_END);
	info = h->daemon ? MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (info == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server on %s", spec);
		http_stop(h);
		return NULL;
	}
	h->listen_fd = -1;	/* MHD owns and closes it from now on */
	ev_io_init(&h->io, io_cb, info->epoll_fd, EV_READ);
	ev_io_start(loop, &h->io);
	ev_init(&h->timer, timer_cb);
	reschedule(h);
	/* A wildcard address is no use in a URL for others: name the host instead. */
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	snprintf(url, urllen, strchr(host, ':') ? "http://[%s]:%s/" : "http://%s:%s/", host, port);
	return h;
}

void
http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	if (h->loop) {
		ev_io_stop(h->loop, &h->io);
		ev_timer_stop(h->loop, &h->timer);
		ev_timer_stop(h->loop, &h->lifetime);
	}
	if (h->daemon)
		MHD_stop_daemon(h->daemon);	/* reports every connection closed: frees them */
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	free(h);
}
