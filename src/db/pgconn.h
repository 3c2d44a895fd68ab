/* SPDX-License-Identifier: PostgreSQL */
/* Asynchronous libpq session on a libev loop: connect, pipelined batches, notifications. */
#ifndef CN_PGCONN_H
#define CN_PGCONN_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

struct pgconn;

/*
 * What a session tells its owner.  Every callback may close the session or
 * queue the next batch; pgconn notices and stops touching the old one.
 */
struct pgconn_handlers {
	void (*connected)(struct pgconn *c);
	/* Connecting failed or the session was lost; already closed. */
	void (*failed)(struct pgconn *c, const char *why);
	/* One result of one statement of the current batch; borrowed. */
	void (*result)(struct pgconn *c, const PGresult *res);
	/* The batch's sync point was reached: all its results were delivered. */
	void (*batch_done)(struct pgconn *c);
	/* A notification; the handler owns it and releases it with PQfreemem. */
	void (*notify)(struct pgconn *c, PGnotify *n);
	/* A notice or warning from the server, on one line. */
	void (*notice)(struct pgconn *c, const char *message);
};

struct pgconn {
	ev_io io;		/* first member: the io callback casts back to us */
	ev_timer connect_timer;
	struct ev_loop *loop;
	PGconn *conn;
	const struct pgconn_handlers *handlers;
	void *owner;
	unsigned generation;	/* bumped by every close */
	int syncs_pending;	/* batches sent whose sync result has not come */
	bool connecting;
	bool flushing;		/* output is queued in libpq: also wait for writable */
	char error[512];	/* the last failure, on one line */
};

void pgconn_init(struct pgconn *c, struct ev_loop *loop,
		 const struct pgconn_handlers *handlers, void *owner);

/*
 * Starts connecting without blocking (see PQconnectStartParams; host names
 * are resolved by libpq synchronously, hostaddr avoids that).  Returns false
 * with c->error set if the attempt could not even start.
 */
bool pgconn_start(struct pgconn *c, const char *const *keywords,
		  const char *const *values, double timeout_seconds);

/*
 * A batch is any number of pgconn_send() calls closed by pgconn_sync(); it
 * runs as one pipeline, one round trip.  False means the session is broken
 * (c->error says why) and the caller should close it.
 */
bool pgconn_send(struct pgconn *c, const char *sql, int nparams,
		 const char *const *values);
bool pgconn_sync(struct pgconn *c);
/* Statement preparation and execution inside a batch; as pgconn_send. */
bool pgconn_prepare(struct pgconn *c, const char *name, const char *sql, int nparams,
		    const Oid *types);
bool pgconn_send_prepared(struct pgconn *c, const char *name, int nparams,
			  const char *const *values);

void pgconn_close(struct pgconn *c);

/*
 * How long ago the kernel last received anything from the server's host on this TCP
 * session (data or an acknowledgement, keepalive probes' included), in ms; -1 when that
 * cannot be told (no session, not TCP).
 */
long pgconn_transport_silence_ms(const struct pgconn *c);

/* Copies a libpq message into buf as one line (newlines become spaces). */
void pgconn_one_line(char *buf, size_t size, const char *message);
/* ... the whole of it, in memory the caller frees; NULL if there is none. */
char *pgconn_one_line_dup(const char *message);

#endif
