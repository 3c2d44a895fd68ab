/* SPDX-License-Identifier: PostgreSQL */
/* A leader's processing steps: build, send and read one step's transaction, and report
 * how it ended.
 *
 * A step is clustered_nodes.advance() and the SQL handler once per event, one batch whose
 * sync commits them as one implicit transaction (or rolls them back), then the due
 * housekeeping in a batch of its own, in one round trip.  advance() raises the counter
 * only if the term and counter are still ours.  The statement that failed decides what a
 * failure means: advance()'s CN001 is a superseded term (step down), a handler's error is
 * the handler's (rolled back, reported), anything else drops the session.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "leader_listen.h"
#include "leader_step.h"
#include "log.h"
#include "pgarray.h"
#include "queries.h"

enum step_tag { TAG_LIMIT, TAG_ADVANCE, TAG_HANDLER, TAG_DEAD_LETTER, TAG_HOUSEKEEPING,
	TAG_ATTEMPT, TAG_RESTORE, TAG_LOCK_CHECK };

/* ---- the events a step covers ---- */

size_t
step_choose_source(struct leader *l)
{
	/* A failing event keeps its source until it is resolved; otherwise durable first. */
	bool pending = l->failure.isolate || l->failure.prefix > 0;

	if (pending && (l->failure_durable ? l->events.count : l->queue.count) > 0)
		l->step.durable = l->failure_durable;
	else
		l->step.durable = l->events.count > 0;
	return l->step.durable ? l->events.count : l->queue.count;
}

void
step_item(const struct leader *l, size_t i, const char **channel, const char **payload,
	  long long *event_id)
{
	if (l->step.durable) {
		*channel = l->events.items[i].channel;
		*payload = l->events.items[i].payload;
		*event_id = l->events.items[i].id;
	} else {
		const PGnotify *note = notifyq_at(&l->queue, i);

		*channel = note->relname;
		*payload = note->extra;
		*event_id = 0;
	}
}

const char *
step_escaped(struct leader *l, const char *payload)
{
	escape_for_log(l->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES), payload,
		       strlen(payload));
	return l->escaped_payload;
}

/* ---- sizing, and the event at the head ---- */

/* How many events the next step or exec batch covers: the time budget (what is left of
 * the drain, when stopping) divided by what one costs. */
size_t
step_next_size(struct leader *l, size_t available, size_t cap, bool handler, const struct step_cost *c)
{
	double budget = l->step_budget_ms;
	struct step_size_facts f;

	if (l->stopping) {
		double left = l->step_budget_ms - (ev_now(l->loop) - l->stop_at) * 1000;

		budget = left > 1 ? left : 1;
	}
	f = (struct step_size_facts) {.available = available, .cap = cap, .handler = handler,
		.per_event_ms = c->per_event_ms, .budget_ms = budget, .failure = l->failure};
	return leader_plan_step_size(&f);
}

/* A durable event at the head that was in flight when a session died, or has recorded
 * attempts: it runs alone, and after max_attempts it goes to the dead letters. */
void
step_check_head_event(struct leader *l)
{
	const struct durable_event *e;

	if (l->events.count == 0 || l->failure.prefix > 0 ||
	    (l->failure.isolate && !l->failure_durable))
		return;
	e = &l->events.items[0];
	if (e->id > l->suspect_max_id && e->attempts == 0)
		return;
	l->failure.isolate = true;
	l->failure_durable = true;
	if ((unsigned long) e->attempts > l->failure.head_attempts) {
		l->failure.head_attempts = (unsigned long) e->attempts;
		step_keep_head_error(l, "", "the handler's session ended while it ran (%d times)",
				       e->attempts);
	}
}

/* ---- after a commit: one log line and one count per event ---- */

static void
count_processed(struct leader *l, const char *channel, const char *payload, long long counter,
		double now)
{
	for (int c = 0; c < l->cfg->nchannels; c++)
		if (strcmp(l->cfg->channels[c], channel) == 0) {
			l->stats->processed[c]++;
			break;
		}
	l->stats->last_notification_at = now;
	if (l->want_view)
		stats_remember(l->stats, now, counter, channel, payload);
}

static void
log_step(struct leader *l)
{
	char channel[ESCAPE_MAX_LEN(NAME_MAX_BYTES + 1)], partition_label[24] = "";
	double now = ev_time();

	if (l->shared)	/* a partition's counter is its own */
		snprintf(partition_label, sizeof(partition_label), "partition=%d", l->partition);
	if (l->step.size > 0)
		stats_observe_step(l->stats, now - l->step.started);
	stats_count_second(l->stats, now, (unsigned) l->step.size);
	for (size_t i = 0; i < l->step.size; i++) {
		long long counter = l->step.counter_before + (long long) i, id;
		const char *name, *payload;

		step_item(l, i, &name, &payload, &id);
		count_processed(l, name, payload, counter, now);
		escape_for_log(channel, sizeof(channel), name, strlen(name));
		if (l->step.durable)
			log_info("Received event: id=%lld channel=\"%s\" payload=\"%s\", "
				 "with state: %s%scounter=%lld", id, channel, step_escaped(l, payload),
				 partition_label, l->shared ? " " : "", counter);
		else
			log_info("Received message: channel=\"%s\" payload=\"%s\" sender_pid=%d, "
				 "with state: %s%scounter=%lld", channel, step_escaped(l, payload),
				 notifyq_at(&l->queue, i)->be_pid, partition_label,
				 l->shared ? " " : "", counter);
	}
}

/* ---- building a step ---- */

static void
read_counter_before(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;

	if (PQntuples(res) < 1)
		return;
	l->step.has_row = true;
	l->step.counter_before = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

/* clustered_nodes.advance() over the step's first `count` events: the one place its
 * parameters are built. */
static bool
add_advance(struct leader *l, size_t count)
{
	char counter_text[24], count_text[24], ids_text[EVENTS_BATCH * 21 + 4];
	long long ids[EVENTS_BATCH];
	/* A durable step never covers more than one fetch (EVENTS_BATCH). */
	size_t nids = !l->step.durable ? 0 : count < EVENTS_BATCH ? count : EVENTS_BATCH;
	const char *params[] = {l->cfg->cluster, l->partition_text, l->term_text, counter_text,
		count_text, l->lease_ms_text, ids_text};

	for (size_t i = 0; i < nids; i++)
		ids[i] = l->events.items[i].id;
	pg_int_array(ids_text, sizeof(ids_text), ids, (int) nids);
	snprintf(counter_text, sizeof(counter_text), "%" PRId64, l->counter);
	snprintf(count_text, sizeof(count_text), "%zu", count);
	return session_add_cached(l->session, TAG_ADVANCE, 0, SQL_ADVANCE, 7, params,
				  read_counter_before, l);
}

/*
 * After the SQL handler's calls, inside the step: whatever they did to the session is
 * undone before the commit, and the lock is checked.  SET ROLE is reset, the session's
 * settings (which RESET ALL or a SET would change for good) are set again, and every
 * LISTEN is made again: a handler's UNLISTEN is applied at the commit, in order, so the
 * LISTENs after it cancel it and the leader never stops listening (nor loses its place
 * in the notification queue).  A handler that let the lock go (pg_advisory_unlock_all())
 * fails the check, and the step commits nothing (CN002).  Transaction control at the top
 * of the statement is refused at start (handler_sql.c); inside a function PostgreSQL
 * refuses it.
 */
static bool
add_session_restore(struct leader *l)
{
	const char *timeouts[] = {l->timing->keepalive_idle, l->timing->keepalive_interval,
		l->timing->keepalive_count, l->timing->user_timeout};
	const char *lock[] = {l->cfg->cluster, l->partition_text};

	if (!session_add(l->session, TAG_RESTORE, 0, "RESET ROLE", 0, NULL, NULL, NULL) ||
	    !session_add_cached(l->session, TAG_RESTORE, 0, SQL_SESSION_TIMEOUTS, 4, timeouts,
				NULL, NULL))
		return false;
	/* Whether this leader stops or not: the session's other partitions, and a hand-over's
	 * forwarding until the next leader's fence (forward.c), need what it listens on. */
	if (!listen_add_all(l, TAG_RESTORE))
		return false;
	/* The check needs sql/011's grant; older schemas go without it (the next step's
	 * advance() finds a lost lock, after this one committed). */
	return l->session->schema_version < SCHEMA_VERSION_WARM_UP ||
	    session_add_cached(l->session, TAG_LOCK_CHECK, 0, SQL_CHECK_HOLDS_LOCK, 2, lock, NULL,
			       NULL);
}

/* Each handler call may take event_limit before it fails as one attempt: the statement
 * timeout is set for them and lifted before the commit (which may wait for a synchronous
 * standby and must not be cancelled). */
static bool
add_handlers(struct leader *l)
{
	const char *limit[] = {l->event_limit_text};
	const char *none[] = {"0"};

	if (l->cfg->handler_sql[0] == '\0' || l->step.size == 0)
		return true;
	if (!session_add(l->session, TAG_LIMIT, 0, SQL_STATEMENT_TIMEOUT, 1, limit, NULL, NULL))
		return false;
	for (size_t i = 0; i < l->step.size; i++) {
		char counter_i[24];
		const char *channel, *payload;
		long long id;

		step_item(l, i, &channel, &payload, &id);
		snprintf(counter_i, sizeof(counter_i), "%" PRId64, l->counter + (int64_t) i);
		const char *args[HANDLER_PARAMS] = {channel, payload, counter_i, l->term_text,
			l->cfg->node, l->partition_text};

		if (!session_add_prepared(l->session, TAG_HANDLER, (int) i, HANDLER_STATEMENT,
					  HANDLER_PARAMS, args, NULL, NULL))
			return false;
	}
	return session_add(l->session, TAG_LIMIT, 0, SQL_STATEMENT_TIMEOUT, 1, none, NULL, NULL) &&
	    add_session_restore(l);
}

void
step_read_handoff(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;

	l->holds_handoff = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

/* Until the leader holds the handoff key (a standby may have held it for an instant
 * when the lead was taken), each step tries again. */
static bool
add_take_handoff(struct leader *l)
{
	const char *params[] = {l->handoff_key_text};

	return l->holds_handoff || session_add(l->session, TAG_HOUSEKEEPING, 0, SQL_TAKE_HANDOFF, 1,
						params, step_read_handoff, l);
}

static void
begin_step(struct leader *l, size_t size, step_done_fn done)
{
	l->step.size = size;
	l->step.has_row = false;
	l->step.started = ev_time();
	l->step.done = done;
	l->step.failing = 0;
}

/* ---- how a step ended ---- */

/* The SQL handler failed: the step's transaction ended with its batch (rolled back at
 * the sync), nothing of it happened and nothing pipelined behind it ran inside it.
 * Report which event failed. */
static void
handler_failed(struct leader *l, size_t failing, const char *error, const char *sqlstate)
{
	l->step.size = 0;
	l->step.failing = failing;
	l->step.transient = leader_plan_sqlstate_is_transient(sqlstate);
	l->step.done(l, STEP_HANDLER_FAILED, l->step.failing,
		     l->step.whole_error ? l->step.whole_error : error);
}

/* What a failed step means, by the statement that failed; false if it committed. */
static bool
step_failed(struct leader *l, const struct batch_outcome *o)
{
	if (!o->failed)
		return false;	/* (housekeeping has a batch of its own: on_housekept) */
	if (o->failed_tag == TAG_ADVANCE && strcmp(o->sqlstate, SQLSTATE_LAYOUT_CHANGED) == 0) {
		log_error("%s", o->error);
		l->hooks->refused(l->owner, "the cluster's partitions changed while it ran");
	} else if (o->failed_tag == TAG_ADVANCE && strcmp(o->sqlstate, SQLSTATE_SUPERSEDED) == 0)
		session_reset(l->session, "term %" PRId64 " was superseded: another node leads; "
			      "stepping down (%s)", l->term, o->error);
	else if (o->failed_tag == TAG_HANDLER)
		handler_failed(l, (size_t) o->failed_item, o->error, o->sqlstate);
	else if (o->failed_tag == TAG_LOCK_CHECK)
		session_reset(l->session, "the handler let the leader lock go (%s): the step "
			      "committed nothing; stepping down", o->error);
	else
		session_reset(l->session, "processing step failed: %s", o->error);
	return true;
}

/* The step committed: count it, drop its events, report (unless what followed it, the
 * housekeeping, failed: then the session goes, the step's events already dropped). */
static void
step_committed(struct leader *l, const struct batch_outcome *after)
{
	leader_plan_observe(&l->cost, l->step.size, ev_time() - l->step.started);
	l->counter += (int64_t) l->step.size;
	if (l->step.durable)
		event_buffer_drop(&l->events, l->step.size);
	else
		notifyq_drop(&l->queue, l->step.size);
	if (after != NULL && after->failed) {
		session_reset(l->session, "a heartbeat or view refresh failed: %s", after->error);
		return;
	}
	l->step.done(l, STEP_COMMITTED, 0, NULL);
}

static void
on_stepped(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	l->step.outcome = *o;
	l->step.outcome.whole_error = NULL;	/* freed when this returns: keep a copy */
	free(l->step.whole_error);
	l->step.whole_error = o->whole_error ? strdup(o->whole_error) : NULL;
}

/* The housekeeping that follows a step, in a transaction of its own, is back: the step
 * and everything sent with it are over.  Now say how the step ended. */
static void
on_housekept(void *ctx, const struct batch_outcome *housekeeping)
{
	struct leader *l = ctx;
	const struct batch_outcome *o = &l->step.outcome;

	if (step_failed(l, o))
		return;
	if (!l->step.has_row) {
		session_reset(l->session, "processing step failed: no answer");
		return;
	}
	log_step(l);
	step_committed(l, housekeeping);
}

static void
on_attempt_recorded(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (o->failed)
		session_reset(l->session, "recording an attempt failed: %s", o->error);
}

bool
step_attempt_counted(const struct leader *l, size_t size)
{
	const struct durable_event *e = &l->events.items[0];

	if (!l->step.durable || size != 1 || l->failure.prefix > 0)
		return false;
	if (l->session->schema_version < SCHEMA_VERSION_WHOLE_ERRORS)
		/* 011's record_attempt(): only for events whose session died under a SQL handler */
		return l->cfg->handler_sql[0] != '\0' &&
		    !(e->id > l->suspect_max_id && e->attempts == 0);
	return l->failure.isolate && l->failure_durable;
}

bool
step_record_attempt(struct leader *l, batch_done_fn done)
{
	char id_text[24], attempt_text[24];
	const char *params[] = {l->cfg->cluster, id_text, attempt_text};
	struct durable_event *e = &l->events.items[0];
	bool numbered = l->session->schema_version >= SCHEMA_VERSION_WHOLE_ERRORS;
	/* The failures this leader counted (steps that rolled back recorded nothing) or
	 * read from the table, and this one. */
	unsigned long attempt = l->failure.head_attempts + 1;

	snprintf(id_text, sizeof(id_text), "%lld", e->id);
	snprintf(attempt_text, sizeof(attempt_text), "%lu", attempt);
	if (!session_add(l->session, TAG_ATTEMPT, 0,
			 numbered ? SQL_RECORD_ATTEMPT_AT : SQL_RECORD_ATTEMPT, numbered ? 3 : 2,
			 params, NULL, NULL) ||
	    !session_send(l->session, done ? done : on_attempt_recorded, l, true))
		return false;
	if (!numbered)
		e->attempts++;	/* (numbered: the count is this leader's own head_attempts) */
	return true;
}

void
step_send(struct leader *l, size_t size, step_done_fn done)
{
	begin_step(l, size, done);
	/* Pipelined: its own sync commits it before the step's statements run. */
	if (step_attempt_counted(l, size) && !step_record_attempt(l, NULL))
		return;
	/* No BEGIN or COMMIT: a batch's statements run in the implicit transaction that its
	 * sync ends, which commits them, or rolls them back when one fails.  So a failed step
	 * never leaves the session inside an aborted transaction that the batches pipelined
	 * behind it (another partition's) would run into. */
	/* A lease renewal (no events) moves only the lease, which no server crash needs: its
	 * commit does not wait for the WAL flush (a disk write per renewal of every partition,
	 * most of an idle cluster's server CPU).  A step carries the counter, and waits. */
	if ((size == 0 && !session_add_cached(l->session, TAG_ADVANCE, 0, SQL_NO_FLUSH_WAIT, 0,
					      NULL, NULL, NULL)) ||
	    !add_advance(l, size) || !add_handlers(l) ||
	    (l->deaf && !l->stopping && !listen_add_all(l, TAG_RESTORE)) ||
	    !session_send(l->session, on_stepped, l, true) ||
	    !membership_add_housekeeping(l->membership) || !add_take_handoff(l) ||
	    !listen_add_check(l, TAG_HOUSEKEEPING) ||
	    !session_send(l->session, on_housekept, l, true))
		return;
	fsm_set(l->fsm, ST_PROCESSING, size ? "processing notifications" : "lease renewal");
}

/* ---- dead letters ---- */
void
step_keep_head_error(struct leader *l, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;
	int len;
	char *text;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	text = len >= 0 ? malloc((size_t) len + 1) : NULL;
	if (text == NULL) {
		log_error("out of memory keeping a handler's error (%d bytes)", len);
		return;		/* the one kept before stays */
	}
	va_start(ap, fmt);
	vsnprintf(text, (size_t) len + 1, fmt, ap);
	va_end(ap);
	free(l->head_error);
	l->head_error = text;
	snprintf(l->head_sqlstate, sizeof(l->head_sqlstate), "%s", sqlstate ? sqlstate : "");
}


static const char *
head_error(const struct leader *l)
{
	return l->head_error ? l->head_error : "unknown error";
}

static void
on_dead_lettered(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;
	const char *channel, *payload;
	long long id;

	if (step_failed(l, o))
		return;
	step_item(l, 0, &channel, &payload, &id);
	log_error("dead-lettered payload=\"%s\" on \"%s\" after %lu failed attempts, with state: "
		  "counter=%" PRId64 ": %s", step_escaped(l, payload), channel, l->failure.head_attempts,
		  l->counter, head_error(l));
	step_committed(l, NULL);
}

void
step_send_dead_letter(struct leader *l, step_done_fn done)
{
	char counter_text[24], id_text[24], attempts_text[16];
	const char *channel, *payload;
	long long id;

	step_choose_source(l);
	begin_step(l, 1, done);
	step_item(l, 0, &channel, &payload, &id);
	snprintf(id_text, sizeof(id_text), "%lld", id);
	snprintf(counter_text, sizeof(counter_text), "%" PRId64, l->counter);
	snprintf(attempts_text, sizeof(attempts_text), "%lu", l->failure.head_attempts);
	const char *letter[] = {l->cfg->cluster, l->partition_text, l->term_text, channel, payload,
		l->step.durable ? id_text : NULL, counter_text, l->cfg->node, attempts_text,
		head_error(l), l->head_sqlstate[0] ? l->head_sqlstate : NULL};
	bool whole = l->session->schema_version >= SCHEMA_VERSION_WHOLE_ERRORS;

	if (!add_advance(l, 1) ||	/* one implicit transaction, as a step */
	    !session_add(l->session, TAG_DEAD_LETTER, 0,
			 whole ? SQL_DEAD_LETTER_WHOLE : SQL_DEAD_LETTER, whole ? 11 : 10, letter,
			 NULL, NULL) ||
	    !session_send(l->session, on_dead_lettered, l, true))
		return;
	fsm_set(l->fsm, ST_PROCESSING, "dead-lettering an event");
}

/* ---- the lease while programs run ---- */

static void
on_renewed(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (l->flight == FLIGHT_RENEWING)
		l->flight = FLIGHT_HOLDS_TURN;	/* the programs still run */
	if (o->failed) {
		exec_runner_abort(&l->exec);
		session_reset(l->session, "lease renewal while handlers run failed: %s", o->error);
	}
}

void
step_send_renewal(struct leader *l)
{
	/* count 0: no event ids, whatever the programs run for */
	if (!add_advance(l, 0) || !session_send(l->session, on_renewed, l, true))
		return;
	if (l->flight == FLIGHT_HOLDS_TURN)
		l->flight = FLIGHT_RENEWING;
	l->lease_due = false;
}
