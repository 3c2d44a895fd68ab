/* SPDX-License-Identifier: PostgreSQL */
/* The partitions a node may lead over its one session: every cluster's, K = 1 included
 * (one partition, whose leader runs on the node's own state machine), and the acquirer
 * that decides what to take and give.
 *
 * One database session holds the locks of all the partitions the node leads: K = 64
 * costs each node one connection, not 64.  Their steps take turns on it (one step in
 * flight at a time, round robin), so that no partition's lease renewal waits behind
 * more than one step; renewals, fetches and hand-overs need no turn.
 *
 * Where the notifications the session receives go: leads_route.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockkey.h"
#include "log.h"
#include "leads.h"
#include "queries.h"

/* A partition's step is never budgeted below this: a commit per step must stay cheap
 * next to the handlers' work. */
#define MIN_STEP_BUDGET_MS 20

/* ---- turns: one step on the session at a time, round robin ---- */

/* The first partition after the last turn's that waits for one, or -1. */
static int
next_waiting(const struct leads *ps)
{
	for (int i = 1; i <= ps->count; i++) {
		int p = (ps->turn_last + i) % ps->count;

		if (ps->slots[p].leader.flight == FLIGHT_WANTS_TURN)
			return p;
	}
	return -1;
}

/* Another partition's step has the turn, or another waits for it before us. */
static bool
turn_busy(void *owner, const struct leader *l)
{
	const struct leads *ps = owner;
	int first;

	if (ps->turn_holder >= 0)
		return ps->turn_holder != l->partition;
	first = next_waiting(ps);
	return first >= 0 && first != l->partition;
}

static bool
may_step(void *owner, struct leader *l)
{
	struct leads *ps = owner;

	if (turn_busy(ps, l))
		return false;
	ps->turn_holder = l->partition;
	return true;
}

static void
step_over(void *owner, struct leader *l)
{
	struct leads *ps = owner;

	if (ps->turn_holder == l->partition) {
		ps->turn_holder = -1;
		ps->turn_last = l->partition;
	}
}

/* ---- state ---- */

enum node_state
leads_state(const struct leads *ps, int p)
{
	return ps->slots[p].leader.fsm->state;
}

/* ---- leaving ---- */

static bool
any_led(const struct leads *ps)
{
	for (int p = 0; p < ps->count; p++)
		if (leads_state(ps, p) != ST_STANDBY)
			return true;
	return false;
}

static void
on_leave_sent(void *ctx, const struct batch_outcome *o)
{
	if (o->failed)
		log_warn("could not remove our members row: %s", o->error);
	(void) ctx;
}

static void
on_left(void *ctx, const struct batch_outcome *o)
{
	struct leads *ps = ctx;

	if (o->failed)
		log_warn("could not remove our members row: %s", o->error);
	/* Deregistered: the others take what we gave at once.  The session stays until the
	 * forwarding of what we handed over is done (forward.c). */
	if (!forward_busy(&ps->forward)) {
		ps->hooks->left(ps->owner);
		return;
	}
	ps->left = true;
	log_info("deregistered; forwarding what arrives until the next leaders' fences");
}

/* Remove our members row and wake the others, which now count one node less and take
 * what we gave. */
static void
leave(struct leads *ps)
{
	const char *params[] = {ps->cfg->cluster};

	if (ps->leaving)
		return;
	if (ONE_LISTENER(ps->session, ps->count)) {
		/* Rung once the row is gone; the node ends once that is sent (the empty batch). */
		if (!membership_add_leave(ps->membership) ||
		    !session_send(ps->session, on_leave_sent, ps, true))
			return;
		bell_announce(&ps->bell);
		if (!session_send(ps->session, on_left, ps, true))
			return;
	} else if (!membership_add_leave(ps->membership) ||
		   !session_add(ps->session, 0, 0, SQL_NOTIFY_HANDOFF, 1, params, NULL, NULL) ||
		   !session_send(ps->session, on_left, ps, true)) {
		return;
	}
	ps->leaving = true;
	fsm_set(ps->node_fsm, ST_LEAVING, ps->count > 1 ?
		"every partition handed over: deregistering" : "stop requested: deregistering");
}

/* Stopping, and every partition handed over: leave. */
static void
leave_if_done(struct leads *ps)
{
	/* (K = 1: the node's own machine stays in "releasing" once the lead is handed over) */
	if (ps->stopping && (!any_led(ps) || ps->single_released))
		leave(ps);
}

/* One listener: partition 0 handed over, and what this node relayed for it until the
 * next listener's fence is on its way: it stops listening, so that the database signals
 * one session of the cluster per NOTIFY, not two.  (A take of partition 0 queued behind
 * the UNLISTEN listens again, in order.) */
static void
on_deafened(void *ctx, const struct batch_outcome *o)
{
	struct leads *ps = ctx;

	if (o->failed)
		session_reset(ps->session, "could not stop listening: %s", o->error);
}

static void
deafen_if_done(struct leads *ps)
{
	if (!ps->deafen_due || forward_busy(&ps->forward) || leads_state(ps, 0) != ST_STANDBY ||
	    ps->stopping)
		return;
	ps->deafen_due = false;
	ps->session->listening = false;
	if (session_add(ps->session, 0, 0, SQL_UNLISTEN_ALL, 0, NULL, NULL, NULL))
		session_send(ps->session, on_deafened, ps, true);
	log_debug("partition 0 handed over: this node's session listens no more");
}

/* What a hand-over forwards is on its way: a node that left may end. */
static void
on_forward_idle(void *owner)
{
	struct leads *ps = owner;

	deafen_if_done(ps);
	if (ps->left) {
		ps->left = false;
		ps->hooks->left(ps->owner);
	}
}

/* ---- the leaders' and the acquirer's news ---- */

static void
on_released(void *owner, struct leader *l, const char *reason)
{
	struct leads *ps = owner;

	leader_halt(l);
	if (ps->count == 1) {
		/* The node's own machine: a single leader hands over only when it stops. */
		ps->single_released = true;
		leave_if_done(ps);
		return;
	}
	fsm_restart(l->fsm, reason);
	if (ONE_LISTENER(ps->session, ps->count) && !ps->stopping) {
		bell_announce(&ps->bell);	/* whoever takes it is told at once */
		if (l->partition == 0) {
			ps->deafen_due = true;
			deafen_if_done(ps);
		}
	}
	if (ps->stopping)
		leave_if_done(ps);
	else
		acquirer_poll_soon(&ps->acquirer);
}

static void
on_refused(void *owner, const char *reason)
{
	struct leads *ps = owner;

	ps->hooks->refused(ps->owner, reason);
}

static void
on_stopping(void *owner, struct leader *l)
{
	struct leads *ps = owner;

	/* (One listener: only partition 0 receives plain notifications.) */
	if (l->partition == 0 || !ONE_LISTENER(ps->session, ps->count))
		forward_hold(&ps->forward, l->partition);
}

static void
on_releasing(void *owner, struct leader *l)
{
	struct leads *ps = owner;

	forward_start(&ps->forward, l->partition, l->term, &l->queue);
}

static const struct leader_hooks leader_hooks = {
	.stopping = on_stopping,
	.releasing = on_releasing,
	.released = on_released,
	.turn_busy = turn_busy,
	.may_step = may_step,
	.step_over = step_over,
	.refused = on_refused,
};

static void
on_won(void *owner, int p, bool holds_handoff)
{
	struct leads *ps = owner;
	struct partition_slot *slot = &ps->slots[p];

	/* A try that was out when we left (K = 1's wait tries as the leader lets go): our
	 * session, which ends as soon as the deregistration is back, frees the lock then;
	 * until that moment it holds the handoff key too, so the others wait on it. */
	if (ps->leaving) {
		log_debug("partition %d: its lock came after we left; the session's end frees it", p);
		return;
	}
	fsm_set(slot->leader.fsm, ST_ACQUIRING, "its lock was free");
	leader_take_lead(&slot->leader, holds_handoff);
	if (ps->stopping)	/* a try that was out when the stop came: give it back */
		leader_stop(&slot->leader);
}

static void
on_hand_over(void *owner, int p)
{
	struct leads *ps = owner;
	struct leader *l = &ps->slots[p].leader;

	if (l->stopping)
		return;
	log_info("partition %d: another node is waiting for it: handing it over", p);
	leader_stop(l);
}

static enum node_state
state_of(void *owner, int p)
{
	struct leads *ps = owner;

	return leads_state(ps, p);
}

/* One listener: rung for durable events (which partition is not said: all fetch). */
static void
on_rung(void *owner)
{
	struct leads *ps = owner;

	for (int p = 0; p < ps->count; p++)
		if (node_state_holds_lock(leads_state(ps, p)))
			leader_events_woken(&ps->slots[p].leader);
}

static const struct acquirer_hooks acquirer_hooks = {
	.won = on_won,
	.hand_over = on_hand_over,
	.state_of = state_of,
	.fetch = on_rung,
};

/* ---- the node's calls ---- */

void
leads_begin(struct leads *ps)
{
	ps->turn_holder = -1;
	ps->leaving = false;
	ps->left = false;
	ps->single_released = false;
	fsm_set(ps->node_fsm, ST_STANDBY, ps->count > 1 ?
		"registered; taking our share of the partitions" : "registered");
	acquirer_begin(&ps->acquirer);
}

void
leads_before_wait(struct leads *ps)
{
	/* Starting after the last turn's partition, so that each gets its turn. */
	for (int i = 1; i <= ps->count; i++)
		leader_before_wait(&ps->slots[(ps->turn_last + i) % ps->count].leader);
}

void
leads_poke(struct leads *ps)
{
	if (ps->stopping)
		return;
	acquirer_poke(&ps->acquirer);
}

void
leads_stop(struct leads *ps)
{
	ps->stopping = true;
	acquirer_end_wait(&ps->acquirer);	/* the deregistration queues behind it */
	acquirer_halt(&ps->acquirer);
	for (int p = 0; p < ps->count; p++)
		if (node_state_holds_lock(leads_state(ps, p)))
			leader_stop(&ps->slots[p].leader);
	leave_if_done(ps);
}

void
leads_forget(struct leads *ps)
{
	acquirer_halt(&ps->acquirer);
	forward_forget(&ps->forward);
	bell_forget(&ps->bell);
	ps->deafen_due = false;
	ps->session->listening = false;	/* a new session listens on nothing */
	for (int p = 0; p < ps->count; p++) {
		struct partition_slot *slot = &ps->slots[p];

		leader_forget(&slot->leader);
		if (ps->count > 1)	/* K = 1: the node's machine, which the node moves on */
			fsm_restart(&slot->fsm, "the session is gone");
	}
	ps->turn_holder = -1;
	ps->leaving = false;
	ps->left = false;
	ps->single_released = false;
}

void
leads_halt(struct leads *ps)
{
	acquirer_halt(&ps->acquirer);
	forward_forget(&ps->forward);
	for (int p = 0; p < ps->count; p++) {
		leader_halt(&ps->slots[p].leader);
		leader_stop_timers(&ps->slots[p].leader);
	}
}

void
leads_reload(struct leads *ps)
{
	for (int p = 0; p < ps->count; p++)
		leader_reload(&ps->slots[p].leader);
	acquirer_reload(&ps->acquirer);
}

bool
leads_waiting(const struct leads *ps)
{
	return ps->acquirer.waiting_here;
}

int
leads_led(const struct leads *ps)
{
	int n = 0;

	for (int p = 0; p < ps->count; p++)
		if (node_state_holds_lock(leads_state(ps, p)))
			n++;
	return n;
}

size_t
leads_backlog_bytes(const struct leads *ps)
{
	size_t bytes = 0;

	for (int p = 0; p < ps->count; p++)
		bytes += ps->slots[p].leader.queue.bytes;
	return bytes;
}

bool
leads_init(struct leads *ps, struct ev_loop *loop, struct session *session,
		const struct config *cfg, struct fsm *node_fsm, struct membership *membership,
		struct node_stats *stats, const char *lease_ms_text,
		const struct leader_limits *limits, const char *const *watch_keywords,
		const char *const *watch_values, const struct leads_hooks *hooks, void *owner)
{
	struct leader_limits partition_limits = *limits;

	/* Steps take turns on the one session, and the partition polls wait behind the step
	 * in flight: a step lasts at most about a poll interval (as of the start), so that a
	 * death is seen and a partition taken within a few of them, even under full load. */
	if (cfg->partitions > 1 && partition_limits.step_budget_ms > cfg->poll_interval_ms)
		partition_limits.step_budget_ms = cfg->poll_interval_ms > MIN_STEP_BUDGET_MS ?
		    cfg->poll_interval_ms : MIN_STEP_BUDGET_MS;
	memset(ps, 0, sizeof(*ps));
	ps->loop = loop;
	ps->session = session;
	ps->cfg = cfg;
	ps->node_fsm = node_fsm;
	ps->membership = membership;
	ps->hooks = hooks;
	ps->owner = owner;
	ps->count = cfg->partitions;
	ps->turn_holder = -1;
	ps->turn_last = ps->count - 1;	/* the first turn goes to partition 0 */
	ps->slots = calloc((size_t) ps->count, sizeof(*ps->slots));
	ps->lock_keys = calloc((size_t) ps->count, sizeof(*ps->lock_keys));
	ps->handoff_keys = calloc((size_t) ps->count, sizeof(*ps->handoff_keys));
	if (ps->slots == NULL || ps->lock_keys == NULL || ps->handoff_keys == NULL ||
	    !forward_init(&ps->forward, loop, session, cfg, ps->count, on_forward_idle, ps))
		return false;
	for (int p = 0; p < ps->count; p++) {
		struct partition_slot *slot = &ps->slots[p];

		slot->fsm.state = ST_STANDBY;
		slot->fsm.partition = p;
		snprintf(slot->lock_key_text, sizeof(slot->lock_key_text), "%" PRId64,
			 lock_key_for_partition(cfg->cluster, p));
		snprintf(slot->handoff_key_text, sizeof(slot->handoff_key_text), "%" PRId64,
			 handoff_key_for_partition(cfg->cluster, p));
		memcpy(ps->lock_keys[p], slot->lock_key_text, sizeof(ps->lock_keys[p]));
		memcpy(ps->handoff_keys[p], slot->handoff_key_text, sizeof(ps->handoff_keys[p]));
		if (!leader_init(&slot->leader, loop, session, cfg,
				 ps->count > 1 ? &slot->fsm : node_fsm, membership, stats,
				 lease_ms_text, &partition_limits, &leader_hooks, ps))
			return false;
		leader_set_partition(&slot->leader, p, ps->count, slot->lock_key_text,
				     slot->handoff_key_text,
				     cfg->backlog_limit / (unsigned long) ps->count);
	}
	bell_init(&ps->bell, session, cfg);
	return acquirer_init(&ps->acquirer, loop, session, cfg, membership,
			     (const char (*)[24]) ps->lock_keys,
			     (const char (*)[24]) ps->handoff_keys, watch_keywords, watch_values,
			     &ps->bell, &acquirer_hooks, ps);
}

void
leads_start_timers(struct leads *ps, bool want_view)
{
	for (int p = 0; p < ps->count; p++)
		leader_start_timers(&ps->slots[p].leader, want_view);
}

void
leads_free(struct leads *ps)
{
	if (ps->slots != NULL)
		for (int p = 0; p < ps->count; p++)
			leader_free(&ps->slots[p].leader);
	free(ps->slots);
	free(ps->lock_keys);
	free(ps->handoff_keys);
	acquirer_free(&ps->acquirer);
	forward_free(&ps->forward);
	ps->slots = NULL;
	ps->lock_keys = NULL;
	ps->handoff_keys = NULL;
}
