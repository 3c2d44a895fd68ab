/* SPDX-License-Identifier: PostgreSQL */
/* Asynchronous libpq session on a libev loop: connect, pipelined batches, notifications. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "escape.h"
#include "pgconn.h"
#include "util.h"

void
pgconn_one_line(char *buf, size_t size, const char *message)
{
	size_t len;

	snprintf(buf, size, "%s", message ? message : "");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	len = strlen(buf);
	/* Truncation may have cut a UTF-8 character: such text would be refused
	 * where it is stored (dead_letters.error), so cut before it. */
	for (size_t i = 0; i < len;) {
		size_t seq = utf8_sequence_length((const unsigned char *) buf + i, len - i);

		if (seq == 0 && len - i < 4 && (unsigned char) buf[i] >= 0xC2) {
			buf[i] = '\0';
			len = i;
			break;
		}
		i += seq ? seq : 1;
	}
	while (len > 0 && buf[len - 1] == ' ')
		buf[--len] = '\0';
	if (len == 0)
		snprintf(buf, size, "unknown error");
}

char *
pgconn_one_line_dup(const char *message)
{
	size_t size = strlen(message ? message : "") + sizeof("unknown error");
	char *buf = malloc(size);

	if (buf != NULL)
		pgconn_one_line(buf, size, message);	/* room for all: nothing is cut */
	return buf;
}

/*
 * Points the io watcher at the session's current socket and wanted events.
 * While connecting, libpq may close a socket and open the next host's, which
 * can get the same descriptor number; epoll forgets a closed descriptor, so
 * then the watcher must be re-armed even though nothing seems to change.
 */
static void
watch_socket(struct pgconn *c, int events, bool rearm)
{
	int fd = PQsocket(c->conn);

	if (ev_is_active(&c->io)) {
		if (!rearm && c->io.fd == fd && (c->io.events & (EV_READ | EV_WRITE)) == events)
			return;
		ev_io_stop(c->loop, &c->io);
	}
	if (fd < 0)
		return;
	ev_io_set(&c->io, fd, events);
	ev_io_start(c->loop, &c->io);
}

static void
watch(struct pgconn *c, int events)
{
	watch_socket(c, events, false);
}

/* Closes the session and reports why to the owner. */
static void
fail(struct pgconn *c, const char *why)
{
	char reason[sizeof(c->error)];

	pgconn_one_line(reason, sizeof(reason), why);
	pgconn_close(c);
	snprintf(c->error, sizeof(c->error), "%s", reason);
	c->handlers->failed(c, c->error);
}

/* Hands every notification libpq has parsed to the owner; false if it closed us. */
static bool
deliver_notifications(struct pgconn *c)
{
	unsigned generation = c->generation;
	PGnotify *n;

	while (c->conn != NULL && (n = PQnotifies(c->conn)) != NULL) {
		c->handlers->notify(c, n);
		if (c->generation != generation)
			return false;
	}
	return true;
}

/*
 * Delivers every result libpq can give without blocking.  In pipeline mode
 * PQgetResult returns NULL once after each statement's results; two NULLs in
 * a row mean nothing more has arrived yet.
 */
static void
deliver_results(struct pgconn *c)
{
	unsigned generation = c->generation;
	int nulls = 0;

	if (!deliver_notifications(c))
		return;
	while (c->syncs_pending > 0 && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);

		if (!deliver_notifications(c)) {
			PQclear(res);
			return;
		}
		if (res == NULL) {
			if (++nulls >= 2)
				break;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			c->syncs_pending--;
			c->handlers->batch_done(c);
		} else {
			c->handlers->result(c, res);
			PQclear(res);
		}
		if (c->generation != generation)
			return;
	}
	if (PQstatus(c->conn) == CONNECTION_BAD)
		fail(c, PQerrorMessage(c->conn));
}

static bool
flush_output(struct pgconn *c)
{
	int rc = PQflush(c->conn);

	if (rc < 0)
		return false;
	c->flushing = rc > 0;
	watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
	return true;
}

/* Server notices (e.g. "terminating connection due to ...") go to our log, on one line. */
static void
on_notice(void *arg, const char *message)
{
	struct pgconn *c = arg;
	char line[512];

	pgconn_one_line(line, sizeof(line), message);
	if (c->handlers->notice)
		c->handlers->notice(c, line);
}

static void
connect_step(struct pgconn *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		watch_socket(c, EV_READ, true);
		return;
	case PGRES_POLLING_WRITING:
		watch_socket(c, EV_WRITE, true);
		return;
	case PGRES_POLLING_OK:
		ev_timer_stop(c->loop, &c->connect_timer);
		if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1) {
			fail(c, PQerrorMessage(c->conn));
			return;
		}
		c->connecting = false;
		watch(c, EV_READ);
		c->handlers->connected(c);
		return;
	default:
		fail(c, PQerrorMessage(c->conn));
		return;
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pgconn *c = (struct pgconn *) w;

	(void) loop;
	if (c->connecting) {
		connect_step(c);
		return;
	}
	if ((revents & EV_READ) && !PQconsumeInput(c->conn)) {
		fail(c, PQerrorMessage(c->conn));
		return;
	}
	if (c->flushing && !flush_output(c)) {
		fail(c, PQerrorMessage(c->conn));
		return;
	}
	deliver_results(c);
}

static void
connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgconn *c = container_of(w, struct pgconn, connect_timer);

	(void) loop;
	(void) revents;
	fail(c, "timed out while connecting");
}

void
pgconn_init(struct pgconn *c, struct ev_loop *loop,
	    const struct pgconn_handlers *handlers, void *owner)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->handlers = handlers;
	c->owner = owner;
	ev_init(&c->io, io_cb);
	ev_init(&c->connect_timer, connect_timeout_cb);
}

bool
pgconn_start(struct pgconn *c, const char *const *keywords,
	     const char *const *values, double timeout_seconds)
{
	pgconn_close(c);
	c->conn = PQconnectStartParams(keywords, values, 1);
	if (c->conn == NULL) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		return false;
	}
	if (PQstatus(c->conn) == CONNECTION_BAD) {
		pgconn_one_line(c->error, sizeof(c->error), PQerrorMessage(c->conn));
		pgconn_close(c);
		return false;
	}
	PQsetNoticeProcessor(c->conn, on_notice, c);
	c->connecting = true;
	/* libpq: before the first PQconnectPoll, behave as if it asked to write. */
	watch(c, EV_WRITE);
	ev_timer_set(&c->connect_timer, timeout_seconds, 0.);
	ev_timer_start(c->loop, &c->connect_timer);
	return true;
}

/* Whether libpq took the statement; if not, c->error says why. */
static bool
accepted(struct pgconn *c, int libpq_result)
{
	if (libpq_result)
		return true;
	pgconn_one_line(c->error, sizeof(c->error), c->conn ? PQerrorMessage(c->conn) : "no session");
	return false;
}

bool
pgconn_send(struct pgconn *c, const char *sql, int nparams, const char *const *values)
{
	return accepted(c, c->conn && PQsendQueryParams(c->conn, sql, nparams, NULL, values, NULL,
							 NULL, 0));
}

bool
pgconn_prepare(struct pgconn *c, const char *name, const char *sql, int nparams, const Oid *types)
{
	return accepted(c, c->conn && PQsendPrepare(c->conn, name, sql, nparams, types));
}

bool
pgconn_send_prepared(struct pgconn *c, const char *name, int nparams, const char *const *values)
{
	return accepted(c, c->conn && PQsendQueryPrepared(c->conn, name, nparams, values, NULL, NULL,
							   0));
}

bool
pgconn_sync(struct pgconn *c)
{
	if (!accepted(c, c->conn && PQpipelineSync(c->conn)))
		return false;
	c->syncs_pending++;
	if (!flush_output(c)) {
		pgconn_one_line(c->error, sizeof(c->error), PQerrorMessage(c->conn));
		return false;
	}
	return true;
}

void
pgconn_close(struct pgconn *c)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->connect_timer);
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	c->connecting = false;
	c->flushing = false;
	c->syncs_pending = 0;
	c->generation++;
}

long
pgconn_transport_silence_ms(const struct pgconn *c)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	int fd = c->conn ? PQsocket(c->conn) : -1;

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
	    len < sizeof(info))
		return -1;	/* a Unix socket, for one: nothing between us to be cut */
	return (long) (info.tcpi_last_ack_recv < info.tcpi_last_data_recv ?
		       info.tcpi_last_ack_recv : info.tcpi_last_data_recv);
}
