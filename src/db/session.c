/* SPDX-License-Identifier: PostgreSQL */
/* The coordination session: one libpq connection on the loop, batches that name their own
 * completion, the answer deadline and reconnect backoff.
 *
 * A batch is a pipeline closed by a sync.  Each statement is recorded with the tag and
 * item its sender chose and, if it returns rows, the reader of those rows; the batch
 * records the function that finishes it.  Batches in flight wait in a FIFO, so each
 * answer goes to what asked for it, whichever module sent it (pgqd's run/parse pairs,
 * made explicit for pipeline mode).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session.h"
#include "util.h"

#define RECONNECT_BASE_MS 100
#define RECONNECT_CAP_MS 5000
/* After losing a healthy session: retry at once, then every 50-100 ms for FAST_RETRY_S (an
 * HA manager's planned switchover stops writes for about a second), then back off up to
 * OUTAGE_CAP_MS until OUTAGE_S (a promotion after a lost primary takes seconds), and only
 * then up to RECONNECT_CAP_MS. */
#define FAST_RETRY_S 2.0
#define OUTAGE_S 60.0
#define OUTAGE_CAP_MS 1000
/* How often an overdue answer from a server that is still there is looked at again. */
#define SLOW_RECHECK_S 0.25

static struct batch *
oldest(struct session *s)
{
	return s->count > 0 ? &s->ring[s->head] : NULL;
}

/* The batch being built: the newest slot. */
static struct batch *
tail(struct session *s)
{
	return &s->ring[(s->head + s->count - 1) % SESSION_MAX_BATCHES];
}

/* The deadline follows the oldest batch in flight, if it is bounded. */
static void
arm_deadline(struct session *s)
{
	struct batch *b = oldest(s);
	double due;

	ev_timer_stop(s->loop, &s->deadline_timer);
	if (b == NULL || !b->bounded || (s->building && s->count == 1))
		return;
	due = b->sent_at + s->deadline_ms / 1000.0 - ev_now(s->loop);
	ev_timer_set(&s->deadline_timer, due > 0 ? due : 0., 0.);
	ev_timer_start(s->loop, &s->deadline_timer);
}

static void
forget_batches(struct session *s)
{
	s->head = 0;
	s->count = 0;
	s->building = false;
	ev_timer_stop(s->loop, &s->deadline_timer);
}

/* The wait before the next connection attempt. */
static unsigned
reconnect_delay(struct session *s)
{
	double now = ev_now(s->loop);

	if (s->healthy) {
		s->healthy = false;
		s->outage_since = now;
		backoff_reset(&s->backoff);
		return 0;
	}
	if (s->outage_since > 0 && now - s->outage_since < FAST_RETRY_S)
		return 50 + arc4random() % 51;
	if (s->outage_since > 0 && now - s->outage_since < OUTAGE_S) {
		unsigned delay = backoff_next(&s->backoff, arc4random());

		return delay < OUTAGE_CAP_MS ? delay : OUTAGE_CAP_MS / 2 + arc4random() % (OUTAGE_CAP_MS / 2 + 1);
	}
	return backoff_next(&s->backoff, arc4random());
}

/* The connection closed, with everything in flight on it. */
static void
drop_connection(struct session *s)
{
	pgconn_close(&s->pg);
	forget_batches(s);
	s->up = false;
	s->slow_reported = false;
}

void
session_reset(struct session *s, const char *fmt, ...)
{
	char reason[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (s->stopped)
		return;
	drop_connection(s);
	s->hooks->lost(s->owner, reason);
	if (s->stopped)
		return;		/* the owner decided to stop */
	{
		unsigned delay_ms = reconnect_delay(s);

		log_msg(strcmp(reason, s->last_reset) == 0 ? LEVEL_DEBUG : LEVEL_INFO,
			"reconnecting in %u ms", delay_ms);
		snprintf(s->last_reset, sizeof(s->last_reset), "%s", reason);
		ev_timer_set(&s->retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(s->loop, &s->retry_timer);
	}
}

/* ---- pgconn's events ---- */

static void
on_connected(struct pgconn *c)
{
	struct session *s = c->owner;

	s->up = true;
	for (int i = 0; i < s->ncached; i++)
		s->cached[i].prepared = false;	/* a new connection has none */
	s->hooks->connected(s->owner);
}

static void
on_failed(struct pgconn *c, const char *why)
{
	struct session *s = c->owner;

	session_reset(s, "%s: %s", s->up ? "session lost" : "connection attempt failed", why);
}

static void
on_result(struct pgconn *c, const PGresult *res)
{
	struct session *s = c->owner;
	struct batch *b = oldest(s);
	struct batch_stmt *st;

	if (b == NULL || b->next >= b->nstmts) {
		/* The server's farewell (FATAL: terminating connection ...) can come while only
		 * an empty batch, a bare sync, is waiting: it is the session's end, not a stray
		 * answer. */
		if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
			char why[512];

			pgconn_one_line(why, sizeof(why), PQresultErrorMessage(res));
			session_reset(s, "session lost: %s", why);
		} else
			session_reset(s, "an answer arrived that nothing asked for");
		return;
	}
	st = &b->stmts[b->next++];
	switch (PQresultStatus(res)) {
	case PGRES_FATAL_ERROR:
		if (st->cached >= 0)
			s->cached[st->cached].prepared = false;	/* its PREPARE failed */
		if (!b->outcome.failed) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			b->outcome.failed = true;
			b->outcome.failed_tag = st->tag;
			b->outcome.failed_item = st->item;
			snprintf(b->outcome.sqlstate, sizeof(b->outcome.sqlstate), "%s",
				 state ? state : "");
			pgconn_one_line(b->outcome.error, sizeof(b->outcome.error),
					PQresultErrorMessage(res));
			b->whole_error = pgconn_one_line_dup(PQresultErrorMessage(res));
			b->outcome.whole_error = b->whole_error;
		}
		break;
	case PGRES_PIPELINE_ABORTED:
		/* Skipped after an earlier failure: a cached statement's PREPARE did not run,
		 * and goes out again with its next use. */
		if (st->cached >= 0)
			s->cached[st->cached].prepared = false;
		if (!b->outcome.failed) {
			b->outcome.failed = true;
			b->outcome.failed_tag = st->tag;
			b->outcome.failed_item = st->item;
			snprintf(b->outcome.error, sizeof(b->outcome.error), "pipeline aborted");
		}
		break;
	case PGRES_TUPLES_OK:
		if (st->reader)
			st->reader(st->reader_ctx, res);
		break;
	default:
		break;
	}
}

static void
on_batch_done(struct pgconn *c)
{
	struct session *s = c->owner;
	struct batch *b = oldest(s);
	struct batch_outcome outcome;
	batch_done_fn done;
	void *ctx;
	char *whole_error;

	if (b == NULL || (s->building && s->count == 1)) {
		session_reset(s, "a sync arrived that nothing asked for");
		return;
	}
	/* Pop first: the completion may send the next batch. */
	outcome = b->outcome;
	done = b->done;
	ctx = b->done_ctx;
	whole_error = b->whole_error;	/* ours now: the slot may be reused by the completion */
	b->whole_error = NULL;
	s->head = (s->head + 1) % SESSION_MAX_BATCHES;
	s->count--;
	if (s->slow_reported) {
		s->slow_reported = false;
		log_info("the database answered after %.0f ms", (ev_now(s->loop) - b->sent_at) * 1000);
	}
	arm_deadline(s);
	done(ctx, &outcome);
	free(whole_error);
}

static void
on_notify(struct pgconn *c, PGnotify *note)
{
	struct session *s = c->owner;

	if (s->hooks->notify != NULL)
		s->hooks->notify(s->owner, note);
	else
		PQfreemem(note);	/* it listens to nothing */
}

static void
on_notice(struct pgconn *c, const char *message)
{
	(void) c;
	log_warn("server: %s", message);
}

static const struct pgconn_handlers pgconn_events = {
	.connected = on_connected,
	.failed = on_failed,
	.result = on_result,
	.batch_done = on_batch_done,
	.notify = on_notify,
	.notice = on_notice,
};

/* ---- timers ---- */

static void
retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, retry_timer);

	(void) loop;
	(void) revents;
	session_connect(s);
}

/*
 * An answer is overdue.  A server whose host still acknowledges our packets (keepalive
 * probes every idle second keep that knowledge fresh) is slow, not gone: it cannot free
 * our locks either, so we wait for it, looking again every SLOW_RECHECK_S.  Only a
 * silent transport means the server may be gone.
 */
static void
deadline_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = container_of(w, struct session, deadline_timer);
	struct batch *b = oldest(s);
	unsigned long waited;
	long silence;

	(void) revents;
	if (b == NULL)
		return;
	waited = (unsigned long) ((ev_now(loop) - b->sent_at) * 1000);
	silence = pgconn_transport_silence_ms(&s->pg);
	if (silence < 0 || (unsigned long) silence < s->deadline_ms) {
		if (!s->slow_reported)
			log_warn("no answer from the database for %lu ms, but its host is there (last "
				 "packet %ld ms ago): waiting for it", waited, silence);
		s->slow_reported = true;
		ev_timer_set(&s->deadline_timer, SLOW_RECHECK_S, 0.);
		ev_timer_start(loop, &s->deadline_timer);
		return;
	}
	if (s->hooks->overdue != NULL)
		s->hooks->overdue(s->owner, waited, silence);
}

/* ---- the API ---- */

void
session_init(struct session *s, struct ev_loop *loop, const struct session_hooks *hooks, void *owner)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->hooks = hooks;
	s->owner = owner;
	backoff_init(&s->backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
	pgconn_init(&s->pg, loop, &pgconn_events, s);
	ev_init(&s->retry_timer, retry_timer_cb);
	ev_init(&s->deadline_timer, deadline_timer_cb);
}

void
session_configure(struct session *s, const char *const *keywords, const char *const *values,
		  double connect_timeout_s, unsigned long deadline_ms)
{
	s->keywords = keywords;
	s->values = values;
	s->connect_timeout_s = connect_timeout_s;
	s->deadline_ms = deadline_ms;
}

void
session_reconnect(struct session *s)
{
	if (s->stopped)
		return;
	drop_connection(s);
	session_connect(s);
}

void
session_connect(struct session *s)
{
	if (s->stopped)
		return;
	ev_timer_stop(s->loop, &s->retry_timer);
	if (!pgconn_start(&s->pg, s->keywords, s->values, s->connect_timeout_s)) {
		unsigned delay_ms = backoff_next(&s->backoff, arc4random());

		log_warn("cannot connect: %s; retrying in %u ms", s->pg.error, delay_ms);
		ev_timer_set(&s->retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(s->loop, &s->retry_timer);
		return;
	}
	if (s->hooks->connecting != NULL)
		s->hooks->connecting(s->owner);
}

void
session_stop(struct session *s)
{
	s->stopped = true;
	s->up = false;
	ev_timer_stop(s->loop, &s->retry_timer);
	forget_batches(s);
	pgconn_close(&s->pg);
}

void
session_free(struct session *s)
{
	session_stop(s);
	for (unsigned i = 0; i < SESSION_MAX_BATCHES; i++) {
		free(s->ring[i].stmts);
		s->ring[i].stmts = NULL;
		free(s->ring[i].whole_error);
		s->ring[i].whole_error = NULL;
	}
}

void
session_healthy(struct session *s)
{
	backoff_reset(&s->backoff);
	s->healthy = true;
	s->outage_since = 0;
	s->last_reset[0] = '\0';
}

bool
session_is_up(const struct session *s)
{
	return s->up;
}

/* The batch the next statement joins: the one being built, or a fresh slot. */
static struct batch *
building_batch(struct session *s)
{
	struct batch *b;

	if (!s->up)
		return NULL;
	if (s->building)
		return tail(s);
	if (s->count == SESSION_MAX_BATCHES) {
		session_reset(s, "internal error: more than %d batches in flight",
			      SESSION_MAX_BATCHES);
		return NULL;
	}
	s->count++;
	s->building = true;
	b = tail(s);
	b->nstmts = 0;
	b->next = 0;
	memset(&b->outcome, 0, sizeof(b->outcome));
	free(b->whole_error);	/* a batch dropped with its session */
	b->whole_error = NULL;
	b->outcome.failed_tag = -1;
	b->outcome.failed_item = -1;
	return b;
}

static bool
record(struct session *s, struct batch *b, int tag, int item, stmt_reader reader, void *ctx)
{
	if (b->nstmts == b->capacity) {
		int capacity = b->capacity ? b->capacity * 2 : 16;
		struct batch_stmt *grown = realloc(b->stmts, (size_t) capacity * sizeof(*grown));

		if (grown == NULL) {
			session_reset(s, "out of memory building a batch");
			return false;
		}
		b->stmts = grown;
		b->capacity = capacity;
	}
	b->stmts[b->nstmts++] = (struct batch_stmt) {tag, item, reader, ctx, -1};
	return true;
}

/* What a statement is: a query with parameters, a prepared one, or a PREPARE. */
enum stmt_kind { STMT_QUERY, STMT_PREPARED, STMT_PREPARE };

static bool
add(struct session *s, enum stmt_kind kind, int tag, int item, const char *name, const char *sql,
    int nparams, const char *const *params, const Oid *types, stmt_reader reader, void *ctx)
{
	struct batch *b = building_batch(s);
	bool sent;

	if (b == NULL)
		return false;
	switch (kind) {
	case STMT_PREPARED:
		sent = pgconn_send_prepared(&s->pg, name, nparams, params);
		break;
	case STMT_PREPARE:
		sent = pgconn_prepare(&s->pg, name, sql, nparams, types);
		break;
	default:
		sent = pgconn_send(&s->pg, sql, nparams, params);
		break;
	}
	if (!sent) {
		session_reset(s, "session lost: could not send a query: %s", s->pg.error);
		return false;
	}
	return record(s, b, tag, item, reader, ctx);
}

bool
session_add(struct session *s, int tag, int item, const char *sql, int nparams,
	    const char *const *params, stmt_reader reader, void *reader_ctx)
{
	return add(s, STMT_QUERY, tag, item, NULL, sql, nparams, params, NULL, reader, reader_ctx);
}

bool
session_add_prepared(struct session *s, int tag, int item, const char *name, int nparams,
		     const char *const *params, stmt_reader reader, void *reader_ctx)
{
	return add(s, STMT_PREPARED, tag, item, name, NULL, nparams, params, NULL, reader,
		   reader_ctx);
}

bool
session_add_cached(struct session *s, int tag, int item, const char *sql, int nparams,
		   const char *const *params, stmt_reader reader, void *reader_ctx)
{
	int i;

	for (i = 0; i < s->ncached && s->cached[i].sql != sql; i++)
		;
	if (i == SESSION_MAX_CACHED)	/* full: parsed and planned each time, as before */
		return session_add(s, tag, item, sql, nparams, params, reader, reader_ctx);
	if (i == s->ncached) {
		s->cached[i].sql = sql;
		snprintf(s->cached[i].name, sizeof(s->cached[i].name), "clustered_nodes_%d", i);
		s->ncached++;
	}
	/* Prepared statements outlive transactions: a PREPARE that ran stays, whatever the
	 * rest of its batch does; one skipped because an earlier statement of its batch
	 * failed is marked unprepared again when its answer (PIPELINE_ABORTED) comes. */
	if (!s->cached[i].prepared) {
		if (!add(s, STMT_PREPARE, tag, 0, s->cached[i].name, sql, nparams, NULL, NULL, NULL,
			 NULL))
			return false;
		s->cached[i].prepared = true;
		tail(s)->stmts[tail(s)->nstmts - 1].cached = i;	/* the PREPARE just recorded */
	}
	return add(s, STMT_PREPARED, tag, item, s->cached[i].name, NULL, nparams, params, NULL,
		   reader, reader_ctx);
}

bool
session_add_prepare(struct session *s, int tag, const char *name, const char *sql, int nparams,
		    const Oid *types)
{
	return add(s, STMT_PREPARE, tag, 0, name, sql, nparams, NULL, types, NULL, NULL);
}

bool
session_send(struct session *s, batch_done_fn done, void *done_ctx, bool bounded)
{
	struct batch *b;

	/* A batch may be empty: a bare sync, answered in order like any other, tells its
	 * completion that everything sent before it is back. */
	if (!s->up || (!s->building && building_batch(s) == NULL))
		return false;
	b = tail(s);
	b->done = done;
	b->done_ctx = done_ctx;
	b->bounded = bounded;
	b->sent_at = ev_now(s->loop);
	s->building = false;
	if (!pgconn_sync(&s->pg)) {
		session_reset(s, "session lost: could not send a query: %s", s->pg.error);
		return false;
	}
	if (!ev_is_active(&s->deadline_timer))
		arm_deadline(s);
	return true;
}

char *
session_quote_identifier(struct session *s, const char *name)
{
	char *quoted;

	if (s->pg.conn == NULL)
		return NULL;
	quoted = PQescapeIdentifier(s->pg.conn, name, strlen(name));
	if (quoted == NULL) {
		char why[512];

		pgconn_one_line(why, sizeof(why), PQerrorMessage(s->pg.conn));
		session_reset(s, "%s", why);
		return NULL;
	}
	return quoted;
}

void
session_describe(const struct session *s, char *buf, size_t size)
{
	PGconn *c = s->pg.conn;

	if (c == NULL) {
		snprintf(buf, size, "no session");
		return;
	}
	snprintf(buf, size, "host=%s port=%s dbname=%s user=%s backend_pid=%d", PQhost(c),
		 PQport(c), PQdb(c), PQuser(c), PQbackendPID(c));
}

int
session_backend_pid(const struct session *s)
{
	return s->pg.conn != NULL ? PQbackendPID(s->pg.conn) : 0;
}
