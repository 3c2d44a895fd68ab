/* The leader side of a node: taking the lead, processing steps, handlers, graceful handoff. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "log.h"
#include "node_internal.h"
#include "pgarray.h"
#include "queries.h"

/* Bounds one step's transaction and log burst; the rest waits for the next. */
#define MAX_STEP_NOTIFICATIONS 4096
#define HANDLER_RETRY_BASE_MS 100
#define HANDLER_RETRY_CAP_MS 5000

void
leader_take_lead(struct node *n)
{
	const char *params[] = {n->cfg->cluster, n->lock_key_text, n->cfg->node, n->lease_ms_text};

	node_answer_reset(n, 1);
	if (!node_send(n, "BEGIN", 0, NULL) || !node_send(n, SQL_TAKE_LEAD, 4, params))
		return;
	if (n->cfg->acquire == ACQUIRE_WAIT && !node_send(n, SQL_RESET_LOCK_TIMEOUT, 0, NULL))
		return;
	for (int i = 0; i <= n->cfg->nchannels; i++) {
		/* Every data channel, then the durable events' wake-up channel. */
		const char *channel = i < n->cfg->nchannels ? n->cfg->channels[i] : EVENTS_CHANNEL;
		char *quoted = PQescapeIdentifier(n->pg.conn, channel, strlen(channel));
		char sql[2 * NAME_MAX_BYTES + 16];

		if (quoted == NULL) {
			char reason[600];

			pgconn_one_line(reason, sizeof(reason), PQerrorMessage(n->pg.conn));
			node_reset(n, reason);
			return;
		}
		snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
		PQfreemem(quoted);
		if (!node_send(n, sql, 0, NULL))
			return;
	}
	if (!node_send(n, "COMMIT", 0, NULL) || !node_sync(n))
		return;
	node_set_state(n, ST_PROMOTING, "won the leader lock");
}

void
leader_on_promoted(struct node *n)
{
	if (n->answer.failed || !n->answer.has_row) {
		char reason[600];

		snprintf(reason, sizeof(reason), "could not take the lead: %s",
			 n->answer.failed ? n->answer.error : "no row returned");
		node_reset(n, reason);
		return;
	}
	n->term = n->answer.values[0];
	n->counter = n->answer.values[1];
	snprintf(n->term_text, sizeof(n->term_text), "%" PRId64, n->term);
	backoff_reset(&n->backoff);
	n->heartbeat_due = true;	/* refresh the member row and the view at once */
	n->events_due = true;		/* catch up on events sent while nobody led */
	n->isolate = false;
	n->head_attempts = 0;
	n->stats.failovers++;
	node_set_state(n, ST_LEADER, "term raised and channels listened");
	log_info("starting psql listener: cluster=%s term=%" PRId64 " counter=%" PRId64
		 " channels=%d", n->cfg->cluster, n->term, n->counter, n->cfg->nchannels);
	leader_next(n);
}

/* ---- durable events ---- */

void
leader_forget_events(struct node *n)
{
	for (size_t i = 0; i < n->nevents; i++) {
		free(n->events[i].channel);
		free(n->events[i].payload);
	}
	n->nevents = 0;
}

static void
drop_events(struct node *n, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		free(n->events[i].channel);
		free(n->events[i].payload);
	}
	memmove(n->events, n->events + k, (n->nevents - k) * sizeof(n->events[0]));
	n->nevents -= k;
}

void
leader_store_events(struct node *n, const PGresult *res)
{
	int rows = PQntuples(res);

	if (rows == 0)
		return;
	if (n->nevents + (size_t) rows > n->events_capacity) {
		size_t capacity = n->nevents + (size_t) rows;
		struct durable_event *grown = realloc(n->events, capacity * sizeof(*grown));

		if (grown == NULL)
			return;	/* they stay in the table; the next fetch retries */
		n->events = grown;
		n->events_capacity = capacity;
	}
	for (int r = 0; r < rows; r++) {
		struct durable_event *e = &n->events[n->nevents];

		e->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		e->channel = strdup(PQgetvalue(res, r, 1));
		e->payload = strdup(PQgetvalue(res, r, 2));
		if (e->channel == NULL || e->payload == NULL) {
			free(e->channel);
			free(e->payload);
			return;
		}
		n->nevents++;
	}
	/* A full batch means more may be waiting. */
	n->events_due = rows >= EVENTS_BATCH;
}

static void
fetch_events(struct node *n)
{
	char channels[MAX_CHANNELS * (2 * NAME_MAX_BYTES + 4) + 4];
	const char *params[] = {channels};

	pg_text_array(channels, sizeof(channels), (const char *const *) n->cfg->channels,
		      n->cfg->nchannels);
	node_answer_reset(n, -1);
	n->answer.events_index = 0;
	n->events_due = false;
	if (!node_send(n, SQL_FETCH_EVENTS, 1, params) || !node_sync(n))
		return;
	n->fetching = true;
	node_set_state(n, ST_PROCESSING, "fetching durable events");
}

/* ---- steps ---- */

/* The channel and payload of the step's i-th event, whichever source it has. */
void
leader_item(const struct node *n, size_t i, const char **channel, const char **payload)
{
	if (n->step_durable) {
		*channel = n->events[i].channel;
		*payload = n->events[i].payload;
	} else {
		const PGnotify *note = notifyq_at(&n->queue, i);

		*channel = note->relname;
		*payload = note->extra;
	}
}

/*
 * One transaction for the events received so far (durable ones first), up to
 * a bound: clustered_nodes.advance() raises the counter if the term is still
 * ours, then the handler runs once per event, then COMMIT.  With nothing
 * queued it renews the lease and proves the term is still ours.
 */
void
leader_step(struct node *n)
{
	char count_text[24], counter_text[24], ids_text[EVENTS_BATCH * 21 + 4];
	long long ids[EVENTS_BATCH];
	const char *params[] = {n->cfg->cluster, n->term_text, counter_text, count_text,
		n->lease_ms_text, ids_text};
	size_t available;

	n->step_durable = n->nevents > 0;
	available = n->step_durable ? n->nevents : n->queue.count;
	n->step_size = available < MAX_STEP_NOTIFICATIONS ? available : MAX_STEP_NOTIFICATIONS;
	if (n->step_durable && n->step_size > EVENTS_BATCH)
		n->step_size = EVENTS_BATCH;
	if (n->isolate && n->step_size > 1)
		n->step_size = 1;
	if (n->renew_only)
		n->step_size = 0;
	else if (n->forced_step_size > 0) {
		/* Exactly the events the exec handler has just run for. */
		n->step_size = n->forced_step_size;
		n->forced_step_size = 0;
	}
	n->renew_only = false;
	for (size_t i = 0; n->step_durable && i < n->step_size; i++)
		ids[i] = n->events[i].id;
	pg_int_array(ids_text, sizeof(ids_text), ids, n->step_durable ? (int) n->step_size : 0);
	snprintf(count_text, sizeof(count_text), "%zu", n->step_size);
	snprintf(counter_text, sizeof(counter_text), "%" PRId64, n->counter);
	node_answer_reset(n, 1);
	n->step_started = ev_time();
	n->dead_letter_step = false;
	if (!node_send(n, "BEGIN", 0, NULL) || !node_send(n, SQL_ADVANCE, 6, params))
		return;
	n->handler_first_index = n->answer.sent;
	for (size_t i = 0; n->cfg->handler_sql[0] && i < n->step_size; i++) {
		char counter_i[24];
		const char *channel, *payload;

		leader_item(n, i, &channel, &payload);
		snprintf(counter_i, sizeof(counter_i), "%" PRId64, n->counter + (int64_t) i);
		const char *args[HANDLER_PARAMS] = {channel, payload, counter_i, n->term_text,
			n->cfg->node};

		if (!pgconn_send_prepared(&n->pg, HANDLER_STATEMENT, HANDLER_PARAMS, args)) {
			node_reset(n, n->pg.error);
			return;
		}
		n->answer.sent++;
	}
	if (!node_send_housekeeping(n) || !node_send(n, "COMMIT", 0, NULL) || !node_sync(n))
		return;
	node_set_state(n, ST_PROCESSING, n->step_size ? "processing notifications" : "lease renewal");
}

void
leader_renew(struct node *n)
{
	n->renew_only = true;
	leader_step(n);
}

/* The head event failed max_attempts times: count it and record it, in one transaction. */
static void
dead_letter_step(struct node *n)
{
	char counter_text[24], ids_text[32], id_text[24], attempts_text[16];
	const char *channel, *payload;
	long long id;

	n->step_durable = n->nevents > 0;
	n->step_size = 1;
	leader_item(n, 0, &channel, &payload);
	id = n->step_durable ? n->events[0].id : 0;
	pg_int_array(ids_text, sizeof(ids_text), &id, n->step_durable ? 1 : 0);
	snprintf(id_text, sizeof(id_text), "%lld", id);
	snprintf(counter_text, sizeof(counter_text), "%" PRId64, n->counter);
	snprintf(attempts_text, sizeof(attempts_text), "%lu", n->head_attempts);
	const char *advance[] = {n->cfg->cluster, n->term_text, counter_text, "1", n->lease_ms_text,
		ids_text};
	const char *letter[] = {n->cfg->cluster, channel, payload, n->step_durable ? id_text : NULL,
		counter_text, n->term_text, n->cfg->node, attempts_text, n->head_error};

	node_answer_reset(n, 1);
	n->step_started = ev_time();
	n->dead_letter_step = true;
	if (!node_send(n, "BEGIN", 0, NULL) || !node_send(n, SQL_ADVANCE, 6, advance) ||
	    !node_send(n, SQL_DEAD_LETTER, 9, letter) || !node_send(n, "COMMIT", 0, NULL) ||
	    !node_sync(n))
		return;
	n->handler_first_index = -1;
	node_set_state(n, ST_PROCESSING, "dead-lettering an event");
}

static void
run_unlisten(struct node *n)
{
	node_answer_reset(n, -1);
	if (!node_send(n, SQL_UNLISTEN_ALL, 0, NULL) || !node_sync(n))
		return;
	n->unlistened = true;
	node_set_state(n, ST_RELEASING, "stop requested: UNLISTEN, then finish what was received");
}

static void
run_release(struct node *n)
{
	const char *clear_params[] = {n->cfg->cluster, n->term_text};
	const char *release_params[] = {n->cfg->cluster, n->lock_key_text};
	const char *member_params[] = {n->cfg->cluster, n->cfg->node};

	node_answer_reset(n, -1);
	if (!node_send(n, SQL_CLEAR_LEADER, 2, clear_params) ||
	    !node_send(n, SQL_DEREGISTER, 2, member_params) ||
	    !node_send(n, SQL_RELEASE, 2, release_params) || !node_sync(n))
		return;
	n->release_sent = true;
	node_set_state(n, ST_RELEASING, "releasing the leader lock and waking the standbys");
}

/* The leader has nothing in flight: decide what comes next. */
void
leader_next(struct node *n)
{
	bool work = n->nevents > 0 || n->queue.count > 0;

	if (n->stopping) {
		/* No more retries: durable events stay in the table for the next leader. */
		ev_timer_stop(n->loop, &n->handler_retry_timer);
	} else if (ev_is_active(&n->handler_retry_timer)) {
		/*
		 * Backing off after a handler failure; the timer calls us again.
		 * Meanwhile keep the lease (a rolled-back step renewed nothing).
		 */
		if (n->lease_due)
			leader_renew(n);
		else
			node_set_state(n, ST_LEADER, "waiting to retry a handler");
		return;
	}
	if (n->stopping && !n->unlistened)
		run_unlisten(n);
	else if (work && !(n->stopping && n->isolate)) {
		if (n->head_attempts >= n->cfg->max_attempts)
			dead_letter_step(n);
		else if (n->cfg->handler_exec[0] != '\0')
			exec_start(n);
		else
			leader_step(n);
	} else if (n->events_due && !n->stopping)
		fetch_events(n);
	else if (node_housekeeping_due(n) && !n->stopping)
		leader_step(n);
	else if (n->stopping) {
		if (n->queue.count > 0)
			log_warn("%zu received notification(s) left unprocessed: their handler is "
				 "failing and the node is stopping", n->queue.count);
		run_release(n);
	} else
		node_set_state(n, ST_LEADER, "idle");
}

static void
count_processed(struct node *n, const char *channel, const char *payload, long long counter,
		double now)
{
	for (int c = 0; c < n->cfg->nchannels; c++)
		if (strcmp(n->cfg->channels[c], channel) == 0) {
			n->stats.processed[c]++;
			break;
		}
	n->stats.last_notification_at = now;
	if (n->want_view)
		stats_remember(&n->stats, now, counter, channel, payload);
}

/* After the commit: one log line and one count per event. */
static void
log_step(struct node *n, long long counter_before)
{
	char channel[ESCAPE_MAX_LEN(NAME_MAX_BYTES + 1)];
	double now = ev_time();

	if (n->step_size > 0)
		stats_observe_step(&n->stats, now - n->step_started);
	for (size_t i = 0; i < n->step_size; i++) {
		long long counter = counter_before + (long long) i;
		const char *name, *payload;

		leader_item(n, i, &name, &payload);
		count_processed(n, name, payload, counter, now);
		escape_for_log(channel, sizeof(channel), name, strlen(name));
		escape_for_log(n->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES), payload,
			       strlen(payload));
		if (n->step_durable)
			log_info("Received event: id=%lld channel=\"%s\" payload=\"%s\", "
				 "with state: counter=%lld", n->events[i].id, channel,
				 n->escaped_payload, counter);
		else
			log_info("Received message: channel=\"%s\" payload=\"%s\" sender_pid=%d, "
				 "with state: counter=%lld", channel, n->escaped_payload,
				 notifyq_at(&n->queue, i)->be_pid, counter);
	}
}

static void
drop_step_items(struct node *n)
{
	if (n->step_durable)
		drop_events(n, n->step_size);
	else
		notifyq_drop(&n->queue, n->step_size);
	n->step_size = 0;
}

/* Logs a handler failure for the step's event `failing`; the head's count decides its fate. */
static void
note_handler_failure(struct node *n, size_t failing, const char *error)
{
	const char *channel, *payload;

	leader_item(n, failing, &channel, &payload);
	if (failing == 0) {
		n->head_attempts++;
		snprintf(n->head_error, sizeof(n->head_error), "%s", error);
	}
	escape_for_log(n->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES), payload,
		       strlen(payload));
	log_warn("handler failed for payload=\"%s\" (attempt %lu of %lu): %s",
		 n->escaped_payload, failing == 0 ? n->head_attempts : 0, n->cfg->max_attempts,
		 error);
	n->isolate = true;
}

/* Waits with backoff before the head event's next attempt, or goes on at once. */
static void
schedule_retry(struct node *n)
{
	unsigned delay_ms = HANDLER_RETRY_BASE_MS;

	for (unsigned long i = 1; i < n->head_attempts && delay_ms < HANDLER_RETRY_CAP_MS; i++)
		delay_ms *= 2;
	if (delay_ms > HANDLER_RETRY_CAP_MS)
		delay_ms = HANDLER_RETRY_CAP_MS;
	if (n->head_attempts >= n->cfg->max_attempts || n->head_attempts == 0)
		delay_ms = 0;	/* dead-letter now, or the head is fine: go on */
	if (delay_ms > 0 && !n->stopping) {
		ev_timer_set(&n->handler_retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(n->loop, &n->handler_retry_timer);
	}
	node_set_state(n, ST_LEADER, "handler failed");
	leader_next(n);
}

/*
 * The SQL handler failed: the step rolled back, nothing of it happened.
 * Retry the head event alone after a backoff; after max_attempts it is
 * dead-lettered.
 */
static void
on_handler_failed(struct node *n)
{
	note_handler_failure(n, (size_t) (n->answer.failed_index - n->handler_first_index),
			     n->answer.error);
	n->step_size = 0;
	node_answer_reset(n, -1);
	if (!node_send(n, "ROLLBACK", 0, NULL) || !node_sync(n))
		return;
	n->rolling_back = true;
}

/*
 * The exec handler failed for event `failing` (nothing is in flight): commit
 * the events before it, whose programs succeeded, then retry it alone.
 */
void
leader_handler_failed(struct node *n, size_t failing, const char *error)
{
	note_handler_failure(n, failing, error);
	if (failing > 0) {
		n->forced_step_size = failing;
		leader_step(n);
		return;
	}
	schedule_retry(n);
}

static void
after_rollback(struct node *n)
{
	n->rolling_back = false;
	if (n->answer.failed) {
		node_reset(n, "ROLLBACK after a handler failure failed");
		return;
	}
	schedule_retry(n);
}

void
leader_on_step_done(struct node *n)
{
	char reason[600];

	if (n->rolling_back) {
		after_rollback(n);
		return;
	}
	if (n->fetching) {
		n->fetching = false;
		if (n->answer.failed) {
			snprintf(reason, sizeof(reason), "fetching durable events failed: %s",
				 n->answer.error);
			node_reset(n, reason);
			return;
		}
		leader_next(n);
		return;
	}
	if (n->answer.failed && strcmp(n->answer.sqlstate, SQLSTATE_SUPERSEDED) == 0) {
		snprintf(reason, sizeof(reason), "term %" PRId64 " was superseded: another node "
			 "leads; stepping down (%s)", n->term, n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (n->answer.failed && n->cfg->handler_sql[0] && n->handler_first_index >= 0 &&
	    n->answer.failed_index >= n->handler_first_index &&
	    n->answer.failed_index < n->handler_first_index + (int) n->step_size) {
		on_handler_failed(n);
		return;
	}
	if (n->answer.failed || !n->answer.has_row) {
		snprintf(reason, sizeof(reason), "processing step failed: %s",
			 n->answer.failed ? n->answer.error : "no answer");
		node_reset(n, reason);
		return;
	}
	if (n->heartbeat_in_batch)
		n->heartbeat_due = false;
	n->lease_due = false;	/* every committed step renewed the lease */
	if (n->dead_letter_step) {
		const char *channel, *payload;

		leader_item(n, 0, &channel, &payload);
		escape_for_log(n->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES), payload,
			       strlen(payload));
		log_error("dead-lettered payload=\"%s\" on \"%s\" after %lu failed attempts, with "
			  "state: counter=%" PRId64 ": %s", n->escaped_payload, channel,
			  n->head_attempts, n->counter, n->head_error);
	} else
		log_step(n, n->answer.values[0]);
	n->counter += (int64_t) n->step_size;
	if (n->step_size > 0) {
		/* The head event is resolved: back to whole batches. */
		n->head_attempts = 0;
		n->isolate = false;
	}
	drop_step_items(n);
	leader_next(n);
}

void
leader_on_release_done(struct node *n)
{
	if (n->answer.failed) {
		char reason[600];

		/* Closing the session releases the lock all the same. */
		snprintf(reason, sizeof(reason), "release failed (%s); closing the session",
			 n->answer.error);
		node_finish(n, 0, reason);
		return;
	}
	if (!n->release_sent) {
		leader_next(n);
		return;
	}
	log_info("released the leader lock of term %" PRId64 " at counter %" PRId64
		 " and woke the standbys", n->term, n->counter);
	node_finish(n, 0, "stopped after handoff");
}
