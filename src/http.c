/* The node's HTTP status endpoint (libmicrohttpd), driven from the node's libev loop.
 *
 * libmicrohttpd parses HTTP (we write no parser); in its external-epoll mode
 * it exposes one epoll descriptor, which we watch on the node's loop and
 * answer with MHD_run(), so HTTP shares the single thread without ever
 * blocking it: sockets are non-blocking, every response is built from memory,
 * and slow or idle clients are cut off by MHD's connection limits and timeout.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "listen_addr.h"
#include "http_pages.h"
#include "log.h"
#include "node.h"

#define HTTP_CONNECTION_LIMIT 64
#define HTTP_PER_IP_LIMIT 32
#define HTTP_IDLE_TIMEOUT_S 10
/* Request line and headers must fit here; larger requests are refused by MHD. */
#define HTTP_CONNECTION_MEMORY 32768

struct http_server {
	ev_io io;		/* first: on MHD's epoll descriptor */
	ev_timer timer;		/* MHD's own timeouts */
	struct ev_loop *loop;
	struct MHD_Daemon *daemon;
	struct node *node;
	int listen_fd;
	char own_host[256];	/* this machine's name, for Host checks */
};

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
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
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
	h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				     on_request, h,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTION_LIMIT,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) HTTP_PER_IP_LIMIT,
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
	}
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	free(h);
}
