/* The leader side of a node: taking the lead, processing steps, graceful handoff. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "log.h"
#include "node_internal.h"
#include "queries.h"

/* Bounds one step's transaction and log burst; the rest waits for the next. */
#define MAX_STEP_NOTIFICATIONS 4096

void
leader_take_lead(struct node *n)
{
	const char *params[] = {n->cfg->cluster, n->lock_key_text, n->cfg->node, n->lease_ms_text};

	node_answer_reset(n, 1);
	if (!node_send(n, "BEGIN", 0, NULL) || !node_send(n, SQL_TAKE_LEAD, 4, params))
		return;
	if (n->cfg->acquire == ACQUIRE_WAIT && !node_send(n, SQL_RESET_LOCK_TIMEOUT, 0, NULL))
		return;
	for (int i = 0; i < n->cfg->nchannels; i++) {
		const char *channel = n->cfg->channels[i];
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
	n->stats.failovers++;
	node_set_state(n, ST_LEADER, "term raised and channels listened");
	log_info("starting psql listener: cluster=%s term=%" PRId64 " counter=%" PRId64
		 " channels=%d", n->cfg->cluster, n->term, n->counter, n->cfg->nchannels);
	leader_next(n);
}

/*
 * One transaction for every notification received so far (up to a bound),
 * with the heartbeat when due.  With nothing queued it is the heartbeat
 * alone, which also proves the term is still ours.
 */
void
leader_step(struct node *n)
{
	char count_text[24];
	const char *params[] = {n->cfg->cluster, n->term_text, count_text, n->lease_ms_text};

	n->step_size = n->queue.count < MAX_STEP_NOTIFICATIONS ?
	    n->queue.count : MAX_STEP_NOTIFICATIONS;
	snprintf(count_text, sizeof(count_text), "%zu", n->step_size);
	node_answer_reset(n, 1);
	n->step_started = ev_time();
	n->lease_due = false;	/* every step renews the lease */
	if (!node_send(n, "BEGIN", 0, NULL) || !node_send(n, SQL_STEP, 4, params) ||
	    !node_send_housekeeping(n) || !node_send(n, "COMMIT", 0, NULL) || !node_sync(n))
		return;
	node_set_state(n, ST_PROCESSING, n->step_size ? "processing notifications" : "heartbeat");
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
	if (n->stopping && !n->unlistened)
		run_unlisten(n);
	else if (n->queue.count > 0 || (node_housekeeping_due(n) && !n->stopping))
		leader_step(n);
	else if (n->stopping)
		run_release(n);
	else
		node_set_state(n, ST_LEADER, "step committed");
}

static void
count_processed(struct node *n, const PGnotify *note, long long counter, double now)
{
	for (int c = 0; c < n->cfg->nchannels; c++)
		if (strcmp(n->cfg->channels[c], note->relname) == 0) {
			n->stats.processed[c]++;
			break;
		}
	n->stats.last_notification_at = now;
	if (n->want_view)
		stats_remember(&n->stats, now, counter, note->relname, note->extra);
}

/* After the commit: one log line and one count per notification. */
static void
log_step(struct node *n, long long counter_before)
{
	char channel[ESCAPE_MAX_LEN(NAME_MAX_BYTES + 1)];
	double now = ev_time();

	if (n->step_size > 0)
		stats_observe_step(&n->stats, now - n->step_started);
	for (size_t i = 0; i < n->step_size; i++) {
		PGnotify *note = notifyq_at(&n->queue, i);

		count_processed(n, note, counter_before + (long long) i, now);
		escape_for_log(channel, sizeof(channel), note->relname, strlen(note->relname));
		escape_for_log(n->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES),
			       note->extra, strlen(note->extra));
		log_info("Received message: channel=\"%s\" payload=\"%s\" sender_pid=%d, "
			 "with state: counter=%lld",
			 channel, n->escaped_payload, note->be_pid, counter_before + (long long) i);
	}
}

void
leader_on_step_done(struct node *n)
{
	char reason[600];

	if (n->answer.failed) {
		snprintf(reason, sizeof(reason), "processing step failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (!n->answer.has_row) {
		snprintf(reason, sizeof(reason), "term %" PRId64 " was superseded: another node "
			 "leads; stepping down", n->term);
		node_reset(n, reason);
		return;
	}
	if (n->heartbeat_in_batch)
		n->heartbeat_due = false;
	log_step(n, n->answer.values[0]);
	n->counter = n->answer.values[0] + (long long) n->step_size;
	notifyq_drop(&n->queue, n->step_size);
	n->step_size = 0;
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
