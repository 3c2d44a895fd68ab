/* SPDX-License-Identifier: PostgreSQL */
/* The coordination session: one libpq connection on the loop, batches that name their own
 * completion, the answer deadline and reconnect backoff.  It knows nothing of roles. */
#ifndef CN_SESSION_H
#define CN_SESSION_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

#include "backoff.h"
#include "pgconn.h"

/* Reads the rows of one statement (called only for a statement that returned rows). */
typedef void (*stmt_reader)(void *ctx, const PGresult *res);

/* How a batch ended.  On failure, the first statement that failed is named by the tag and
 * item its sender gave it, so nobody counts statements. */
struct batch_outcome {
	bool failed;
	int failed_tag;
	int failed_item;
	char sqlstate[6];
	char error[512];	/* the message on one line, cut to fit: for log lines */
	/* The whole message on one line, never cut (NULL if memory ran out): what a dead
	 * letter keeps.  Valid only while the completion runs. */
	const char *whole_error;
};

/* Called once per batch, when its sync point is reached: every reader has run by then. */
typedef void (*batch_done_fn)(void *ctx, const struct batch_outcome *outcome);

/* What the session tells its owner.  connected and lost are required; the others may be
 * NULL: nothing to tell (a notification is then freed, an overdue answer waited for). */
struct session_hooks {
	/* A connection attempt has started. */
	void (*connecting)(void *owner);
	/* Connected; ready for batches. */
	void (*connected)(void *owner);
	/* The session is gone (lost, refused, or reset by someone); nothing in flight will
	 * complete.  A reconnect is scheduled unless session_stop() was called. */
	void (*lost)(void *owner, const char *reason);
	/* A notification; the owner releases it with PQfreemem. */
	void (*notify)(void *owner, PGnotify *note);
	/* The oldest batch sent with an answer deadline has waited past it, and nothing has
	 * come from the server's host for the deadline either: the server may be gone. */
	void (*overdue)(void *owner, unsigned long waited_ms, long silence_ms);
};

/* One statement of a batch in flight. */
struct batch_stmt {
	int tag;
	int item;
	stmt_reader reader;
	void *reader_ctx;
	int cached;		/* a cached statement's PREPARE: its index, else -1 */
};

struct batch {
	struct batch_stmt *stmts;
	int nstmts;
	int capacity;
	int next;		/* the statement whose result comes next */
	bool bounded;		/* the answer is due within the deadline */
	double sent_at;		/* ev_now() when sent */
	batch_done_fn done;
	void *done_ctx;
	struct batch_outcome outcome;
	char *whole_error;	/* owns outcome.whole_error */
};

/* Batches in flight at once: a step may queue behind a lease renewal; in a partitioned
 * cluster, each of up to 64 partitions may have a renewal and a fetch or step out. */
#define SESSION_MAX_BATCHES 160

/* Statements prepared once per connection (session_add_cached). */
#define SESSION_MAX_CACHED 24

struct session {
	struct pgconn pg;
	struct ev_loop *loop;
	const struct session_hooks *hooks;
	void *owner;
	const char *const *keywords;	/* what to connect with; owned by the caller */
	const char *const *values;
	double connect_timeout_s;
	unsigned long deadline_ms;
	struct backoff backoff;
	ev_timer retry_timer;	/* disconnected: reconnect */
	ev_timer deadline_timer;	/* the oldest bounded batch's answer is due */
	struct batch ring[SESSION_MAX_BATCHES];	/* in flight, oldest first */
	unsigned head;
	unsigned count;
	bool building;		/* ring[tail] is being filled */
	bool up;		/* connected, batches may be sent */
	bool stopped;		/* no reconnects any more */
	bool slow_reported;	/* an answer is overdue from a server that is still there */
	bool healthy;		/* the database answered sensibly since we connected */
	double outage_since;	/* when a healthy session was lost (fast retries for a while) */
	/* Why the last reset happened, until the session is healthy again: a retry for the
	 * same reason is announced at debug, not info (the owner reports the cause). */
	char last_reset[640];
	long long schema_version;	/* as setup read it on this connection (0 until then) */
	/* Its user's note: LISTEN was sent for the cluster's channels (one listener, sql/015:
	 * every partition's handler step then restores them, not only partition 0's). */
	bool listening;
	struct {
		const char *sql;	/* the caller's constant: known by its address */
		char name[32];
		bool prepared;	/* on this connection */
	} cached[SESSION_MAX_CACHED];
	int ncached;
};

void session_init(struct session *s, struct ev_loop *loop, const struct session_hooks *hooks,
		  void *owner);
/* Connection keywords/values (NULL-terminated, as PQconnectStartParams), the connect
 * timeout, and how long an answer may take before the owner hears it is overdue. */
void session_configure(struct session *s, const char *const *keywords, const char *const *values,
		       double connect_timeout_s, unsigned long deadline_ms);
/* Starts connecting now. */
void session_connect(struct session *s);
/* Drops the session (releasing its locks and LISTENs), tells the owner why, and reconnects
 * after a backoff.  Callers return at once afterwards: their state may be reset. */
void session_reset(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the connection and connects again at once, without telling the owner it was lost
 * (it asked): what was in flight is forgotten.  A lock wait cannot be cancelled from the
 * client without another connection; it can be abandoned this way (the server's backend
 * ends when its wait does). */
void session_reconnect(struct session *s);
/* Closes for good: no reconnect, no hooks. */
void session_stop(struct session *s);
void session_free(struct session *s);
/* The database answered sensibly: the next failure backs off from the start again. */
void session_healthy(struct session *s);
bool session_is_up(const struct session *s);

/*
 * A batch: session_add*() any number of statements, then session_send() with the
 * completion.  They run as one pipeline, one round trip.  Each returns false when the
 * session is not up or broke (it has then been reset: return at once).
 */
bool session_add(struct session *s, int tag, int item, const char *sql, int nparams,
		 const char *const *params, stmt_reader reader, void *reader_ctx);
bool session_add_prepared(struct session *s, int tag, int item, const char *name, int nparams,
			  const char *const *params, stmt_reader reader, void *reader_ctx);
/* As session_add(), for a statement sent often: sql must be a constant (it is known by its
 * address).  Parsed and planned once per connection, not at every use: the first use on a
 * connection prepares it in the same batch. */
bool session_add_cached(struct session *s, int tag, int item, const char *sql, int nparams,
			const char *const *params, stmt_reader reader, void *reader_ctx);
bool session_add_prepare(struct session *s, int tag, const char *name, const char *sql,
			 int nparams, const Oid *types);
/* bounded: the answer is due within the deadline (false for a lock wait).  A batch with no
 * statement is a bare sync: its completion runs once every batch before it is back. */
bool session_send(struct session *s, batch_done_fn done, void *done_ctx, bool bounded);

/* An identifier quoted for SQL text (PQescapeIdentifier), or NULL after resetting. */
char *session_quote_identifier(struct session *s, const char *name);
/* "host=… port=… dbname=… user=… backend_pid=…" of the connected session. */
void session_describe(const struct session *s, char *buf, size_t size);
/* The server process of the session (0 without one): who sent a notification. */
int session_backend_pid(const struct session *s);

#endif
