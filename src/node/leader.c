/* SPDX-License-Identifier: PostgreSQL */
/* The leader side of a node: taking the lead, processing steps, handlers, graceful handoff.
 *
 * Every batch the leader sends names its own completion (on_promoted, on_stepped,
 * on_rolled_back, ...), so an answer is never told apart by flags; what to do next is
 * decided by leader_plan_next() from the facts, after each completion.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "leader.h"
#include "leader_listen.h"
#include "leader_plan.h"
#include "leader_release.h"
#include "leader_step.h"
#include "log.h"
#include "pgarray.h"
#include "queries.h"
#include "timing.h"
#include "util.h"

/* What each statement of a leader batch is, so a failure names its statement. */
enum leader_tag { TAG_TAKE_LEAD, TAG_HANDOFF, TAG_LISTEN, TAG_FETCH };

static void leader_next(struct leader *l);
static bool send_fetch(struct leader *l);
static void arm_stop_exec(struct leader *l);

/* ---- taking the lead ---- */

static void
read_promoted(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;

	if (PQntuples(res) < 1)
		return;
	l->promoted = true;
	l->term = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	l->counter = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
}

/* The term's history row (schema 14 on): who had the lead, why it moved, and the gap. */
static void
read_story(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;
	char previous[ESCAPE_MAX_LEN(NAME_MAX_BYTES)];
	const char *prev, *gap;

	if (PQntuples(res) != 1)
		return;
	prev = PQgetvalue(res, 0, 0);
	gap = PQgetvalue(res, 0, 2);
	escape_for_log(previous, sizeof(previous), prev, strnlen(prev, NAME_MAX_BYTES));
	l->story_reason = takeover_reason_of(PQgetvalue(res, 0, 1));
	l->story_gap_ms = gap[0] ? strtod(gap, NULL) : -1;
	snprintf(l->story, sizeof(l->story), " previous=%s reason=\"%s\" gap_ms=%s",
		 prev[0] ? previous : "-", takeover_reason_text[l->story_reason], gap[0] ? gap : "-");
}

static void
on_promoted(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (o->failed && (strcmp(o->sqlstate, SQLSTATE_MAY_NOT_ACT) == 0 ||
			  strcmp(o->sqlstate, SQLSTATE_LAYOUT_CHANGED) == 0)) {
		log_error("could not take the lead: %s", o->error);
		l->hooks->refused(l->owner, "the database refused the lead");
		return;
	}
	if (o->failed || !l->promoted) {
		session_reset(l->session, "could not take the lead: %s",
			      o->failed ? o->error : "no row returned");
		return;
	}
	snprintf(l->term_text, sizeof(l->term_text), "%" PRId64, l->term);
	session_healthy(l->session);
	membership_want_heartbeat(l->membership);	/* the member row and the view at once */
	memset(&l->failure, 0, sizeof(l->failure));
	l->stats->takeovers[l->story_reason]++;
	if (l->story_reason != TAKEOVER_FIRST_LEAD)
		l->stats->failovers++;	/* (before schema 14, every lead taken: reason unknown) */
	if (l->story_gap_ms >= 0)
		l->stats->last_takeover_gap_ms = l->story_gap_ms;
	fsm_set(l->fsm, ST_LEADER, "term raised and channels listened");
	if (l->shared)
		log_info("leading partition %d: cluster=%s term=%" PRId64 " counter=%" PRId64
			 " channels=%d%s", l->partition, l->cfg->cluster, l->term, l->counter,
			 l->cfg->nchannels, l->story);
	else
		log_info("starting psql listener: cluster=%s term=%" PRId64 " counter=%" PRId64
			 " channels=%d%s", l->cfg->cluster, l->term, l->counter, l->cfg->nchannels,
			 l->story);
	fsm_set(l->fsm, ST_PROCESSING, "fetching durable events");	/* (pipelined) */
}

void
leader_take_lead(struct leader *l, bool holds_handoff)
{
	const char *params[] = {l->cfg->cluster, l->partition_text, l->cfg->node, l->lease_ms_text,
		l->channels_array};
	const char *handoff[] = {l->handoff_key_text};

	l->promoted = false;
	l->story[0] = '\0';
	l->story_reason = TAKEOVER_UNKNOWN;
	l->story_gap_ms = -1;
	l->holds_handoff = holds_handoff;
	l->fence_term = 0;
	l->stopping = false;	/* handed over, or lost with the session, earlier: a new term */
	l->deaf = false;
	/* One implicit transaction (the batch's sync commits it, or rolls it back on an error,
	 * leaving no aborted transaction behind for other partitions' batches). */
	if (!session_add_cached(l->session, TAG_TAKE_LEAD, 0, SQL_NO_FLUSH_WAIT, 0, NULL, NULL,
				NULL) ||
	    !session_add(l->session, TAG_TAKE_LEAD, 0, SQL_TAKE_LEAD, 5, params, read_promoted, l) ||
	    !session_add_cached(l->session, TAG_TAKE_LEAD, 0, SQL_SEND_FENCE, 2, params, NULL, NULL) ||
	    (l->session->schema_version >= SCHEMA_VERSION_HISTORY &&
	     !session_add_cached(l->session, TAG_TAKE_LEAD, 0, SQL_TAKEOVER_STORY, 2, params,
				 read_story, l)))
		return;
	/* Every data channel, the durable events' wake-up channel and the fence (the
	 * session's other partitions may listen already: LISTEN again is harmless).
	 * Last, the handoff key if the lock came without it, before the commit makes us the
	 * recorded leader: whoever reads us as leader then finds the key held, and can wait on
	 * it.  Last, because the wait sets lock_timeout for the rest of the transaction. */
	if (!listen_add_all(l, TAG_LISTEN) ||
	    (!holds_handoff && !session_add(l->session, TAG_HANDOFF, 0, SQL_WAIT_TAKE_HANDOFF, 1,
					    handoff, step_read_handoff, l)) ||
	    !session_send(l->session, on_promoted, l, true))
		return;
	/* The catch-up on events sent while nobody led, pipelined behind the take-over: its
	 * own transaction, after the take-over's commit has made the LISTENs active (so that
	 * nothing falls between its snapshot and the wake-ups), and a round trip less before
	 * the first step.  on_promoted() leaves the next move to its completion. */
	if (!send_fetch(l))
		return;
	fsm_set(l->fsm, ST_PROMOTING, "won the leader lock");
}

/* ---- durable events ---- */

static void
read_events(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;

	event_buffer_store(&l->events, res);
	/* A full batch means more may be waiting, and so does a wake-up that came while the
	 * fetch was out: its event may have committed after the fetch's snapshot. */
	l->events_due = PQntuples(res) >= EVENTS_BATCH || l->events_wake != l->events_wake_at_fetch;
}

static void
on_fetched(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (o->failed) {
		session_reset(l->session, "fetching durable events failed: %s", o->error);
		return;
	}
	leader_next(l);
}

static bool
send_fetch(struct leader *l)
{
	char limit[12];
	const char *params[] = {l->cfg->cluster, l->partition_text, l->channels_array, limit};

	snprintf(limit, sizeof(limit), "%d", EVENTS_BATCH);
	l->events_due = false;
	l->events_wake_at_fetch = l->events_wake;
	return session_add_cached(l->session, TAG_FETCH, 0, SQL_FETCH_EVENTS, 4, params,
				  read_events, l) &&
	    session_send(l->session, on_fetched, l, true);
}

static void
fetch_events(struct leader *l)
{
	if (send_fetch(l))
		fsm_set(l->fsm, ST_PROCESSING, "fetching durable events");
}

/* Waits with backoff before the head event's next attempt, or goes on at once. */
static void
schedule_retry(struct leader *l)
{
	unsigned delay_ms = l->failure.last_transient ?
	    leader_plan_transient_delay_ms(l->failure.head_transient) :
	    leader_plan_retry_delay_ms(l->failure.head_attempts, l->cfg->max_attempts);

	if (delay_ms > 0 && !l->stopping) {
		ev_timer_set(&l->retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(l->loop, &l->retry_timer);
	}
	fsm_set(l->fsm, ST_LEADER, "handler failed");
	leader_next(l);
}

/* The handler failed for the step's event `failing`: every failure counts toward that
 * event's max_attempts, but for the first transient_retries transient ones; the events
 * before it are good and go first. */
static void
note_handler_failure(struct leader *l, size_t failing, const char *error, const char *sqlstate,
		     bool transient)
{
	const char *channel, *payload;
	long long id;

	step_item(l, failing, &channel, &payload, &id);
	if (transient)
		leader_plan_failed_transiently(&l->failure, failing, l->cfg->transient_retries);
	else
		leader_plan_failed(&l->failure, failing);
	l->failure_durable = l->step.durable;
	step_keep_head_error(l, sqlstate, "%s", error);
	if (l->failure.last_transient)
		log_warn("handler failed for payload=\"%s\" (transient, retry %lu of %lu): %s",
			 step_escaped(l, payload), l->failure.head_transient,
			 l->cfg->transient_retries, error);
	else
		log_warn("handler failed for payload=\"%s\" (attempt %lu of %lu): %s",
			 step_escaped(l, payload), l->failure.head_attempts, l->cfg->max_attempts,
			 error);
}

/* How a step ended (a step that cost the session never gets here). */
static void
on_step_done(struct leader *l, enum step_end end, size_t failing, const char *error)
{
	if (end == STEP_HANDLER_FAILED) {
		note_handler_failure(l, failing, error, l->step.outcome.sqlstate, l->step.transient);
		schedule_retry(l);
		return;
	}
	l->lease_due = false;	/* every committed step renewed the lease */
	leader_plan_committed(&l->failure, l->step.size);
	l->step.size = 0;
	leader_next(l);
}

/* ---- the exec handler: programs first, then one step commits them ---- */

static void
exec_item(void *owner, size_t i, struct exec_item *out)
{
	struct leader *l = owner;

	step_item(l, i, &out->channel, &out->payload, &out->event_id);
	out->counter = l->counter + (long long) i;
}

/* The programs of a batch are over; commit those that succeeded. */
static void
exec_done(void *owner, size_t succeeded, const char *why)
{
	struct leader *l = owner;

	leader_plan_observe(&l->exec_cost, succeeded + (why ? 1 : 0), ev_time() - l->exec_started);
	if (why != NULL) {
		note_handler_failure(l, succeeded, why, "", exec_runner_failed_transiently(&l->exec));
		if (succeeded == 0) {
			schedule_retry(l);
			return;
		}
	}
	step_send(l, succeeded, on_step_done);	/* may queue behind a renewal in flight */
}

static const struct exec_hooks exec_hooks = {
	.item = exec_item,
	.done = exec_done,
};

static void
run_programs(struct leader *l, size_t size)
{
	l->exec_started = ev_time();
	exec_runner_start(&l->exec, size);
	arm_stop_exec(l);	/* a batch started while stopping gets what is left of the budget */
}

/* The head event's attempt is committed: its program may run. */
static void
on_exec_attempt_recorded(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (o->failed) {
		session_reset(l->session, "recording an attempt failed: %s", o->error);
		return;
	}
	run_programs(l, 1);
}

static void
start_exec(struct leader *l)
{
	size_t available = step_choose_source(l);
	size_t size = step_next_size(l, available, MAX_EXEC_BATCH, true, &l->exec_cost);

	fsm_set(l->fsm, ST_HANDLING, "running the exec handler");
	/* A program is not in the session's transaction: its attempt commits, and is
	 * answered, before it starts. */
	if (step_attempt_counted(l, size)) {
		step_record_attempt(l, on_exec_attempt_recorded);
		return;
	}
	run_programs(l, size);
}

/* ---- what next ---- */

/* Partitioned: steps take turns on the shared session.  Takes it; true if this leader may
 * go (always, without turns). */
static bool
take_turn(struct leader *l)
{
	if (l->flight == FLIGHT_HOLDS_TURN || l->flight == FLIGHT_RENEWING)
		return true;
	if (l->hooks->may_step != NULL && !l->hooks->may_step(l->owner, l))
		return false;
	l->flight = FLIGHT_HOLDS_TURN;
	return true;
}

static void
give_turn_back(struct leader *l)
{
	if (l->flight != FLIGHT_HOLDS_TURN && l->flight != FLIGHT_RENEWING)
		return;
	l->flight = FLIGHT_NONE;
	if (l->hooks->step_over != NULL)
		l->hooks->step_over(l->owner, l);
}

static void
leader_next(struct leader *l)
{
	struct leader_facts f;
	enum leader_action action;

	/* The leader has nothing in flight: decide what comes next. */
	give_turn_back(l);	/* nothing is in flight: what had the turn is over */
	leader_report_drops(l, false);
	if (l->stopping)	/* no more retries: durable events stay for the next leader */
		ev_timer_stop(l->loop, &l->retry_timer);
	step_check_head_event(l);
	f = (struct leader_facts) {
		.stopping = l->stopping,
		.drain_over = l->stopping && (ev_now(l->loop) - l->stop_at) * 1000 >= l->step_budget_ms,
		.retry_waiting = ev_is_active(&l->retry_timer),
		.lease_due = l->lease_due,
		.housekeeping_due = membership_housekeeping_due(l->membership),
		.events_due = l->events_due,
		.events_buffered = l->events.count,
		.work = l->events.count + l->queue.count,
		.failure = l->failure,
		.max_attempts = l->cfg->max_attempts,
		.exec_handler = l->cfg->handler_exec[0] != '\0',
		.turn_busy = l->hooks->turn_busy != NULL && l->hooks->turn_busy(l->owner, l),
	};
	action = leader_plan_next(&f);
	if (!leader_plan_needs_turn(action, &f))
		l->flight = FLIGHT_NONE;	/* e.g. backing off: others go first meanwhile */
	else if (!take_turn(l))
		action = LEADER_WAIT_TURN;	/* not expected: turn_busy said it was free */
	switch (action) {
	case LEADER_WAIT_TURN:
		l->flight = FLIGHT_WANTS_TURN;
		fsm_set(l->fsm, ST_LEADER, "waiting for the session's turn");
		break;
	case LEADER_WAIT_RETRY:
		fsm_set(l->fsm, ST_LEADER, "waiting to retry a handler");
		break;
	case LEADER_RENEW:
		step_choose_source(l);
		step_send(l, 0, on_step_done);
		break;
	case LEADER_DEAD_LETTER:
		step_send_dead_letter(l, on_step_done);
		break;
	case LEADER_EXEC:
		start_exec(l);
		break;
	case LEADER_STEP: {
		size_t available = step_choose_source(l);

		step_send(l, step_next_size(l, available, l->step.durable ? EVENTS_BATCH :
				       MAX_STEP_NOTIFICATIONS, l->cfg->handler_sql[0] != '\0', &l->cost),
			  on_step_done);
		break;
	}
	case LEADER_FETCH:
		fetch_events(l);
		break;
	case LEADER_RELEASE:
		leader_release(l);
		break;
	case LEADER_IDLE:
		fsm_set(l->fsm, ST_LEADER, "idle");
		break;
	}
}

/* ---- timers and the node's calls ---- */

/* Stopping with programs running: end them once the stop's step budget is spent. */
static void
arm_stop_exec(struct leader *l)
{
	double left = l->step_budget_ms / 1000.0 - (ev_now(l->loop) - l->stop_at);

	if (!l->stopping || !exec_runner_busy(&l->exec) || ev_is_active(&l->stop_exec_timer))
		return;
	ev_timer_set(&l->stop_exec_timer, left > 0 ? left : 0., 0.);
	ev_timer_start(l->loop, &l->stop_exec_timer);
}

static void
stop_exec_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct leader *l = container_of(w, struct leader, stop_exec_timer);

	(void) loop;
	(void) revents;
	if (l->stopping)
		exec_runner_end(&l->exec);
}

static void
retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct leader *l = container_of(w, struct leader, retry_timer);

	(void) loop;
	(void) revents;
	if (l->fsm->state == ST_LEADER)
		leader_next(l);
}

static void
lease_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct leader *l = container_of(w, struct leader, lease_timer);

	(void) loop;
	(void) revents;
	l->lease_due = true;
	if (l->fsm->state == ST_HANDLING && l->flight != FLIGHT_RENEWING)
		step_send_renewal(l);	/* programs run; the session is free */
	else if (!l->stopping && l->fsm->state == ST_LEADER)
		leader_next(l);
}

static void
events_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct leader *l = container_of(w, struct leader, events_timer);

	(void) loop;
	(void) revents;
	l->events_due = true;
	if (!l->stopping && l->fsm->state == ST_LEADER)
		leader_next(l);
}

void
leader_before_wait(struct leader *l)
{
	if (l->fsm->state == ST_LEADER &&
	    (l->queue.count > 0 || l->events_due || l->flight == FLIGHT_WANTS_TURN))
		leader_next(l);
}

void
leader_poke(struct leader *l)
{
	if (!l->stopping && l->fsm->state == ST_LEADER)
		leader_next(l);
}

void
leader_stop(struct leader *l)
{
	if (!l->stopping && l->hooks->stopping != NULL)
		l->hooks->stopping(l->owner, l);
	l->stopping = true;
	l->stop_at = ev_now(l->loop);
	if (l->fsm->state == ST_LEADER)
		leader_next(l);
	/* Otherwise a batch is in flight, or programs run: their completion sees it.  A
	 * program gets the stop's step budget to finish, then it is ended (with whatever it
	 * started), so that the hand-over is not held up by a program that hangs. */
	arm_stop_exec(l);
}

/* Durable events wake the leader (their NOTIFY); it also looks without a wake-up every
 * look interval, for events a producer inserted without clustered_nodes.notify(). */
static void
set_catch_up(struct leader *l)
{
	double catch_up_s = (double) look_interval_ms(l->cfg->lease_timeout_ms,
						      l->cfg->heartbeat_interval_ms) / 1000.0;

	ev_timer_set(&l->events_timer, catch_up_s, catch_up_s);
}

void
leader_reload(struct leader *l)
{
	bool active = ev_is_active(&l->events_timer);

	ev_timer_stop(l->loop, &l->events_timer);
	set_catch_up(l);
	if (active)
		ev_timer_start(l->loop, &l->events_timer);
}

bool
leader_init(struct leader *l, struct ev_loop *loop, struct session *session,
	    const struct config *cfg, struct fsm *fsm, struct membership *membership,
	    struct node_stats *stats, const char *lease_ms_text,
	    const struct leader_limits *limits, const struct leader_hooks *hooks, void *owner)
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->session = session;
	l->cfg = cfg;
	l->fsm = fsm;
	l->membership = membership;
	l->stats = stats;
	l->lease_ms_text = lease_ms_text;
	l->hooks = hooks;
	l->owner = owner;
	notifyq_init(&l->queue);
	event_buffer_init(&l->events);
	ev_timer_init(&l->lease_timer, lease_timer_cb, limits->renew_interval_ms / 1000.0,
		      limits->renew_interval_ms / 1000.0);
	l->step_budget_ms = (double) limits->step_budget_ms;
	l->timing = limits->timing;
	snprintf(l->event_limit_text, sizeof(l->event_limit_text), "%lu", limits->event_limit_ms);
	ev_init(&l->events_timer, events_timer_cb);
	set_catch_up(l);
	ev_init(&l->retry_timer, retry_timer_cb);
	ev_init(&l->stop_exec_timer, stop_exec_timer_cb);
	exec_runner_init(&l->exec, loop, &exec_hooks, l);
	snprintf(l->partition_text, sizeof(l->partition_text), "0");
	l->backlog_limit = cfg->backlog_limit;
	exec_runner_configure(&l->exec, cfg->handler_exec, cfg->handler_timeout_ms, l->term_text,
			      cfg->node, cfg->cluster, l->partition_text);
	l->escaped_payload = malloc(ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES));
	l->channels_array = malloc(MAX_CHANNELS * (2 * NAME_MAX_BYTES + 4) + 4);
	if (l->escaped_payload == NULL || l->channels_array == NULL)
		return false;
	pg_text_array(l->channels_array, MAX_CHANNELS * (2 * NAME_MAX_BYTES + 4) + 4,
		      (const char *const *) cfg->channels, cfg->nchannels);
	return true;
}

void
leader_set_partition(struct leader *l, int partition, int partitions,
		     const char *lock_key_text, const char *handoff_key_text,
		     unsigned long backlog_limit)
{
	l->backlog_limit = backlog_limit;
	l->partition = partition;
	l->shared = partitions > 1;
	if (l->shared)
		snprintf(l->log_label, sizeof(l->log_label), "partition %d: ", partition);
	l->lock_key_text = lock_key_text;
	l->handoff_key_text = handoff_key_text;
	snprintf(l->partition_text, sizeof(l->partition_text), "%d", partition);
}

void
leader_start_timers(struct leader *l, bool want_view)
{
	l->want_view = want_view;
	ev_timer_start(l->loop, &l->lease_timer);
	ev_timer_start(l->loop, &l->events_timer);
}
