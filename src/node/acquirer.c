/* SPDX-License-Identifier: PostgreSQL */
/* A node's moves, for every K (K = 1 included): read the partition map and the live
 * members, plan with balance_plan(), try locks, ask for hand-overs, evict hung leaders and
 * squatters, and point the watch at the next node that leads.
 *
 * The locks decide: two nodes that plan to take the same partition both try its lock and
 * one wins.  The plan only keeps them from trying in vain, and from moving partitions
 * that need not move.
 *
 * Nothing is polled at the pace of a takeover.  A leader's end is heard by waiting: a
 * node's watch waits on a handoff key of the next member (in name order) that leads, if
 * that is one of the next two, so every leader is watched by the node before it (and the
 * one before that, where leaders are sparse); the node woken reads the map at once and
 * announces it, as joins, leaves and hand-overs are announced: on the handoff channel,
 * where every node listens, or from schema 15 by ringing every node's watch session
 * (bell.c: partitioned nodes then listen on nothing).  The map is read otherwise only as
 * a safety net, every safety interval: what no announcement covers (a hung leader's lease running out, a
 * squatter, a lost notification) is found then.  With one partition (K = 1) an idle node
 * waits on the leader's handoff key on its own session instead, between looks, and tries
 * the lock in the same statement when the key is let go: there the wait paces the looks,
 * and no watch session, announcement or members read is needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "acquirer.h"
#include "acquirer_evict.h"
#include "acquirer_map.h"
#include "acquirer_watch.h"
#include "queries.h"
#include "timing.h"
#include "util.h"

/* A partition left free this long is taken by whoever sees it, balance or not. */
#define STALE_FREE_S 1.0
/* ... and one left to another node is looked at again this soon (a dead member's
 * pg_stat_activity row outlives its locks by a few milliseconds). */
#define FREE_RELOOK_S 0.02
#define WATCH_CONNECT_TIMEOUT_S 10.0

enum acquirer_tag {
	TAG_LISTEN, TAG_ANNOUNCE, TAG_WAIT, TAG_MAP, TAG_MEMBERS, TAG_RANK, TAG_HOUSEKEEPING, TAG_TRY
};

static void poll_map(struct acquirer *pt);
static void look(struct acquirer *pt, bool after_wait);
static void look_again_in(struct acquirer *pt, double retry_s);
static void arm_safety_read(struct acquirer *pt);

/* K = 1: the rank is read with every this many looks (it moves only when members come
 * and go; the read scans every backend's status). */
#define RANK_EVERY_LOOKS 4

/* ---- taking ---- */

/* Columns: the lock won, and with it the handoff key. */
static void
read_try(void *ctx, const PGresult *res)
{
	struct acquirer_try *t = ctx;

	t->won = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	t->handoff = t->won && PQnfields(res) > 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
}

/* K = 1, the wait's columns: the key let go (and so the lock tried), won, the key held. */
static void
read_wait_try(void *ctx, const PGresult *res)
{
	struct acquirer_try *t = ctx;
	bool row = PQntuples(res) > 0 && PQnfields(res) >= 3;

	t->tried = row && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	t->won = t->tried && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	t->handoff = t->won && strcmp(PQgetvalue(res, 0, 2), "t") == 0;
}

/* Whether this node leads (or is taking or giving) any partition. */
static bool
leads_any(const struct acquirer *pt)
{
	for (int p = 0; p < pt->cfg->partitions; p++)
		if (pt->hooks->state_of(pt->owner, p) != ST_STANDBY)
			return true;
	return false;
}

/* What the lock tries just answered (a round of tries, or K = 1's wait): the partitions
 * won are the leads' to take; a refused one is looked at again soon. */
static void
settle_tries(struct acquirer *pt)
{
	bool led_before = leads_any(pt);

	for (int p = 0; p < pt->cfg->partitions; p++) {
		if (pt->tries[p].tried && !pt->tries[p].won && pt->view[p].refused_since == 0)
			pt->view[p].refused_since = ev_now(pt->loop);	/* cleared when won */
		/* Held by a session that does not lead yet: most often a winner whose take-over
		 * is about to commit (then the next look finds it and waits on its key), else a
		 * squatter or an older version's leader, tried every poll interval after a
		 * second. */
		if (pt->tries[p].tried && !pt->tries[p].won)
			look_again_in(pt, ev_now(pt->loop) - pt->view[p].refused_since < STALE_FREE_S ?
				      FREE_RELOOK_S : (double) pt->cfg->poll_interval_ms / 1000.0);
		pt->tries[p].tried = false;
		if (!pt->tries[p].won)
			continue;
		pt->tries[p].won = false;
		pt->view[p].refused_since = 0;
		/* a stopping node hands it over at once */
		pt->hooks->won(pt->owner, p, pt->tries[p].handoff);
		/* A node that led nothing is a new leader for the others' watches to aim at:
		 * announced once its take-over has committed (the look goes out behind it).
		 * One that led already is watched already: no look for every node to make while
		 * the rest of a dead node's partitions are being taken.  With one partition
		 * nobody watches or listens, and there is nothing left to take. */
		if (!led_before && !pt->waits_here) {
			pt->announce = true;
			pt->poll_soon = true;
		}
	}
}

static void
on_tried(void *ctx, const struct batch_outcome *o)
{
	struct acquirer *pt = ctx;

	pt->in_flight = false;
	if (o->failed) {
		session_reset(pt->session, "trying partition locks failed: %s", o->error);
		return;
	}
	session_healthy(pt->session);
	settle_tries(pt);
	if (pt->poll_soon && pt->running)
		poll_map(pt);
}

static void
try_locks(struct acquirer *pt, const struct balance_plan *plan)
{
	for (int i = 0; i < plan->ntake; i++) {
		int p = plan->take[i];
		const char *params[] = {pt->lock_keys[p], pt->handoff_keys[p]};

		pt->tries[p].won = false;
		pt->tries[p].tried = true;
		if (!session_add_cached(pt->session, TAG_TRY, p, SQL_TRY_PARTITION, 2, params,
					read_try, &pt->tries[p]))
			return;
	}
	if (session_send(pt->session, on_tried, pt, true))
		pt->in_flight = true;
}

/* ---- planning ---- */

static void
plan_moves(struct acquirer *pt)
{
	struct balance_facts f = {.partitions = pt->cfg->partitions, .nodes = pt->nmembers};
	struct balance_plan plan;
	double now = ev_now(pt->loop);
	int mine[MAX_PARTITIONS] = {0}, nfree = 0;

	f.me = acquirer_member_index(pt, pt->cfg->node);
	for (int p = 0; p < f.partitions; p++) {
		const struct partition_view *v = &pt->view[p];
		enum node_state st = pt->hooks->state_of(pt->owner, p);
		int who = v->leader_live ? acquirer_member_index(pt, v->leader) : -1;

		f.since[p] = v->elected_at;
		if (st != ST_STANDBY) {
			/* ours, or on its way to or from us */
			f.owner[p] = f.me >= 0 ? f.me : BALANCE_BUSY;
			mine[p] = 1;
		} else if (v->leader_live) {
			/* a live leader; one that is not a live member (or is us, gone) is busy */
			f.owner[p] = who >= 0 && who != f.me ? who : BALANCE_BUSY;
		} else {
			f.owner[p] = BALANCE_FREE;
			f.stale[p] = v->free_since > 0 && now - v->free_since >= STALE_FREE_S;
			nfree++;
		}
		if (f.owner[p] != BALANCE_FREE)
			pt->view[p].refused_since = 0;
	}
	balance_plan(&f, &plan);
	pt->target = plan.target;
	/* Free partitions left to others (one may be a member that has just died, whose
	 * pg_stat_activity row outlives its locks for a moment): look again soon, not at the
	 * safety read, so that they are taken within a poll interval or two once that is
	 * clear (or, at the latest, once they are stale). */
	if (nfree > plan.ntake)
		look_again_in(pt, FREE_RELOOK_S);
	if (pt->squatter.pid != 0 && (pt->view[pt->squatter_partition].leader_live ||
				       pt->view[pt->squatter_partition].refused_since <= 0)) {
		log_info("backend pid %lld no longer holds the lock", pt->squatter.pid);
		memset(&pt->squatter, 0, sizeof(pt->squatter));	/* gone: shown no more */
	}
	for (int i = 0; i < plan.nrelease; i++) {
		enum node_state st = pt->hooks->state_of(pt->owner, plan.release[i]);

		if (st == ST_LEADER || st == ST_HANDLING || st == ST_PROCESSING)
			pt->hooks->hand_over(pt->owner, plan.release[i]);
	}
	if (acquirer_evict_one(pt, mine, acquirer_poll_soon, acquirer_retry_soon))
		return;
	if (plan.ntake > 0)
		try_locks(pt, &plan);
}

/* ---- the watch (acquirer_watch.c aims it) ---- */

static void
on_watch_woken(void *owner, int partition)
{
	struct acquirer *pt = owner;

	if (!pt->running)
		return;
	log_debug("partition %d: its leader let its handoff key go: looking now", partition);
	pt->announce = true;	/* whoever else sees it free takes its share at once */
	acquirer_poll_soon(pt);
}

/* One listener: the bell rang because the cluster changed, or for our durable events. */
static void
on_watch_look(void *owner)
{
	struct acquirer *pt = owner;

	if (pt->running)
		acquirer_poll_soon(pt);
}

static void
on_watch_fetch(void *owner)
{
	struct acquirer *pt = owner;

	if (pt->running)
		pt->hooks->fetch(pt->owner);
}

static const struct leader_watch_hooks watch_hooks = {
	.woken = on_watch_woken,
	.look = on_watch_look,
	.fetch = on_watch_fetch,
};

/*
 * K = 1: the partition whose leader's handoff key an idle node waits on, on its own
 * session, before its next look, or -1 (it leads, or nobody holding the key leads).  With
 * one partition, everything such a node must act on (the leader's end, its hand-over,
 * another winner's take) lets that key go or ends within the wait, so it needs no watch
 * session and no announcements: it listens on nothing.
 */
static int
wait_here_on(const struct acquirer *pt)
{
	if (!pt->waits_here || !pt->view[0].leader_live ||
	    pt->hooks->state_of(pt->owner, 0) != ST_STANDBY ||
	    pt->view[0].leader_pid == session_backend_pid(pt->session))
		return -1;
	return 0;
}

static void
on_polled(void *ctx, const struct batch_outcome *o)
{
	struct acquirer *pt = ctx;
	bool waited = pt->waiting_here;

	pt->in_flight = false;
	if (waited && !o->failed)
		log_debug("the handoff key was let go, or the wait ended");
	pt->waiting_here = false;
	if (o->failed && o->failed_tag == TAG_WAIT) {
		session_reset(pt->session, "waiting for the leader's handover failed: %s", o->error);
		return;
	}
	if (o->failed && o->failed_tag != TAG_HOUSEKEEPING) {
		session_reset(pt->session, "reading the partition map failed: %s", o->error);
		return;
	}
	if (o->failed) {
		session_reset(pt->session, "a heartbeat or view refresh failed: %s", o->error);
		return;
	}
	session_healthy(pt->session);
	pt->nmembers = pt->nmembers_read;
	pt->view_valid = true;
	if (waited)
		settle_tries(pt);	/* before the plan, which must not try what was won */
	if (!pt->running)
		return;
	arm_safety_read(pt);	/* counted from this look, whatever caused it */
	acquirer_aim_watch(pt, acquirer_member_index(pt, pt->cfg->node));
	plan_moves(pt);
	/* A hand-over heard while this read was out may not be in it: look again (lock tries
	 * or an eviction in flight look again when they end). */
	if (pt->poll_soon && !pt->in_flight && pt->running)
		poll_map(pt);
	else if (!pt->in_flight && pt->running && wait_here_on(pt) >= 0)
		look(pt, true);
}

static void
on_announced(void *ctx, const struct batch_outcome *o)
{
	struct acquirer *pt = ctx;

	if (o->failed)
		session_reset(pt->session, "announcing a change to the cluster failed: %s", o->error);
}

/*
 * Read the map and the live members, with any housekeeping due, in one transaction; K = 1
 * and after_wait: first wait (shared, at most a look interval) for the leader to let its
 * handoff key go.  The map reads the time with clock_timestamp(), so a read after the wait
 * sees the leases as they are then.
 */
static void
look(struct acquirer *pt, bool after_wait)
{
	char partitions[12], wait_ms[16];
	const char *map_params[] = {pt->cfg->cluster, partitions, pt->handoff_array};
	const char *member_params[] = {pt->cfg->cluster};
	const char *rank_params[] = {pt->cfg->cluster, pt->cfg->node};
	const char *wait_params[] = {pt->handoff_keys[0], wait_ms, pt->lock_keys[0]};

	if (pt->in_flight || !session_is_up(pt->session))
		return;
	pt->poll_soon = false;
	snprintf(partitions, sizeof(partitions), "%d", pt->cfg->partitions);
	/* K = 1: most standbys of a large cluster look less often (timing.h). */
	snprintf(wait_ms, sizeof(wait_ms), "%lu",
		 standby_wait_ms(look_interval_ms(pt->cfg->lease_timeout_ms,
						  pt->cfg->heartbeat_interval_ms),
				 pt->rank, pt->live_members, (double) arc4random() / UINT32_MAX));
	pt->nmembers_read = 0;
	if (pt->waits_here) {
		/* One partition: nothing to share, so the plan needs no members: take it when it
		 * is free, the lock decides (and a read of every live member is saved). */
		snprintf(pt->members[0], NAME_MAX_BYTES + 1, "%s", pt->cfg->node);
		pt->nmembers_read = 1;
	}
	/* One listener (sql/015): the node listens on nothing; it is rung. */
	if (!pt->waits_here && !pt->listening && !ONE_LISTENER(pt->session, pt->cfg->partitions) &&
	    !session_add(pt->session, TAG_LISTEN, 0, SQL_LISTEN_HANDOFF, 0, NULL, NULL, NULL))
		return;
	pt->listening = !pt->waits_here;
	/* The announcement commits on its own, first: the others look while we do. */
	if (pt->announce && !pt->waits_here && ONE_LISTENER(pt->session, pt->cfg->partitions))
		bell_announce(pt->bell);
	else if (pt->announce && !pt->waits_here &&
		 (!session_add(pt->session, TAG_ANNOUNCE, 0, SQL_ANNOUNCE, 1, member_params, NULL,
			       NULL) ||
		  !session_send(pt->session, on_announced, pt, true)))
		return;
	pt->announce = false;
	pt->tries[0].tried = pt->tries[0].won = false;
	if (!session_add_cached(pt->session, TAG_MAP, 0, SQL_NO_FLUSH_WAIT, 0, NULL, NULL, NULL) ||
	    (after_wait && !session_add_cached(pt->session, TAG_WAIT, 0, SQL_WAIT_HANDOFF_THEN_TRY,
					       3, wait_params, read_wait_try, &pt->tries[0])) ||
	    !session_add_cached(pt->session, TAG_MAP, 0, SQL_PARTITION_MAP, 3, map_params,
				acquirer_read_map, pt) ||
	    (!pt->waits_here &&
	     !session_add_cached(pt->session, TAG_MEMBERS, 0, SQL_LIVE_MEMBERS, 1, member_params,
				 acquirer_read_members, pt)) ||
	    (pt->waits_here && pt->looks++ % RANK_EVERY_LOOKS == 0 &&
	     !session_add_cached(pt->session, TAG_RANK, 0, SQL_LOOK_RANK, 2, rank_params,
				 acquirer_read_rank, pt)) ||
	    !membership_add_housekeeping(pt->membership) ||
	    !session_send(pt->session, on_polled, pt, !after_wait))
		return;
	pt->in_flight = true;
	pt->waiting_here = after_wait;
	if (after_wait) {
		ev_timer_stop(pt->loop, &pt->poll_timer);	/* the wait paces the looks */
		log_debug("waiting for the leader to hand over");
	}
}

static void
poll_map(struct acquirer *pt)
{
	look(pt, false);
}

static void
poll_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct acquirer *pt = container_of(w, struct acquirer, poll_timer);

	(void) loop;
	(void) revents;
	acquirer_poll_soon(pt);	/* after the lock tries in flight, if any */
}

/* ---- the node's calls ---- */

/*
 * How long until this node reads the map with nothing announced: a look interval
 * (timing.h) times the members per SAFETY_READERS, with a random tenth of it added so
 * that nodes started together do not read together.  What moves partitions at the pace of
 * a takeover is announced or waited for, not found by this read.
 */
static double
safety_interval_s(const struct acquirer *pt)
{
	double look = (double) look_interval_ms(pt->cfg->lease_timeout_ms,
						pt->cfg->heartbeat_interval_ms) / 1000.0;
	int share = (pt->nmembers + SAFETY_READERS - 1) / SAFETY_READERS;

	return look * (share > 1 ? share : 1) * (1.0 + 0.1 * (double) (arc4random() % 1001) / 1000.0);
}

/* The safety net's next read, counted from now. */
static void
arm_safety_read(struct acquirer *pt)
{
	ev_timer_stop(pt->loop, &pt->poll_timer);
	ev_timer_set(&pt->poll_timer, safety_interval_s(pt), 0.);
	ev_timer_start(pt->loop, &pt->poll_timer);
}

/* The next look in retry_s at the latest. */
static void
look_again_in(struct acquirer *pt, double retry_s)
{
	if (!pt->running || (ev_is_active(&pt->poll_timer) &&
			     ev_timer_remaining(pt->loop, &pt->poll_timer) <= retry_s))
		return;
	ev_timer_stop(pt->loop, &pt->poll_timer);
	ev_timer_set(&pt->poll_timer, retry_s, 0.);
	ev_timer_start(pt->loop, &pt->poll_timer);
}

void
acquirer_retry_soon(struct acquirer *pt)
{
	look_again_in(pt, (double) pt->cfg->poll_interval_ms / 1000.0);
}

void
acquirer_begin(struct acquirer *pt)
{
	pt->running = true;
	pt->in_flight = false;
	pt->listening = false;
	pt->announce = !pt->waits_here;	/* a join: the others hand over our share */
	pt->evict_error[0] = '\0';
	for (int p = 0; p < MAX_PARTITIONS; p++) {
		pt->view[p].free_since = 0;
		pt->view[p].refused_since = 0;
		pt->tries[p].won = false;
		pt->tries[p].tried = false;
	}
	if (ONE_LISTENER(pt->session, pt->cfg->partitions))
		leader_watch_ring_on(&pt->watch, pt->cfg->cluster, pt->cfg->node);
	poll_map(pt);
}

void
acquirer_poll_soon(struct acquirer *pt)
{
	if (!pt->running)
		return;
	if (pt->in_flight)
		pt->poll_soon = true;
	else
		poll_map(pt);
}

static void
on_housekept(void *ctx, const struct batch_outcome *o)
{
	struct acquirer *pt = ctx;

	pt->in_flight = false;
	if (o->failed) {
		session_reset(pt->session, "a heartbeat or view refresh failed: %s", o->error);
		return;
	}
	session_healthy(pt->session);
	if (pt->poll_soon && pt->running)
		poll_map(pt);
}

/* A heartbeat is due: sent alone, not with a read of the map (which every node would
 * then make every heartbeat interval). */
void
acquirer_poke(struct acquirer *pt)
{
	if (!pt->running || pt->in_flight || !session_is_up(pt->session))
		return;
	if (!membership_add_housekeeping(pt->membership) ||
	    !session_send(pt->session, on_housekept, pt, true))
		return;
	pt->in_flight = true;
}

void
acquirer_halt(struct acquirer *pt)
{
	pt->running = false;
	pt->in_flight = false;
	pt->poll_soon = false;
	pt->announce = false;
	ev_timer_stop(pt->loop, &pt->poll_timer);
	leader_watch_halt(&pt->watch);
}

void
acquirer_reload(struct acquirer *pt)
{
	leader_watch_set_wait(&pt->watch, watch_wait_ms(look_interval_ms(pt->cfg->lease_timeout_ms,
									 pt->cfg->heartbeat_interval_ms),
							pt->watch_random01));
	if (!pt->running)
		return;
	arm_safety_read(pt);
}

void
acquirer_stop_timers(struct acquirer *pt)
{
	ev_timer_stop(pt->loop, &pt->poll_timer);
}

/* "{k0,k1,...}": the handoff keys as one bigint[] parameter of the map's read. */
static char *
key_array(const char (*keys)[24], int count)
{
	char *text = malloc((size_t) count * 25 + 3), *at = text;

	if (text == NULL)
		return NULL;
	*at++ = '{';
	for (int p = 0; p < count; p++)
		at += sprintf(at, "%s%s", p ? "," : "", keys[p]);
	strcpy(at, "}");
	return text;
}

bool
acquirer_init(struct acquirer *pt, struct ev_loop *loop, struct session *session,
	      const struct config *cfg, struct membership *membership,
	      const char (*lock_keys)[24], const char (*handoff_keys)[24],
	      const char *const *keywords, const char *const *values, struct bell *bell,
	      const struct acquirer_hooks *hooks, void *owner)
{
	memset(pt, 0, sizeof(*pt));
	pt->loop = loop;
	pt->session = session;
	pt->cfg = cfg;
	pt->membership = membership;
	pt->lock_keys = lock_keys;
	pt->handoff_keys = handoff_keys;
	pt->waits_here = cfg->partitions == 1;
	pt->bell = bell;
	pt->rank = -1;
	pt->hooks = hooks;
	pt->owner = owner;
	ev_init(&pt->poll_timer, poll_timer_cb);
	/* A wait holds the database's vacuum horizon (timing.h). */
	pt->watch_random01 = (double) arc4random() / UINT32_MAX;
	leader_watch_init(&pt->watch, loop, keywords, values, WATCH_CONNECT_TIMEOUT_S,
		   watch_wait_ms(look_interval_ms(cfg->lease_timeout_ms, cfg->heartbeat_interval_ms),
				 pt->watch_random01), &watch_hooks, pt);
	wait_cancel_init(&pt->cancel, loop, keywords, values, &pt->waiting_here);
	pt->members = calloc(BALANCE_MAX_NODES, sizeof(*pt->members));
	pt->handoff_array = key_array(handoff_keys, cfg->partitions);
	return pt->members != NULL && pt->handoff_array != NULL;
}

void
acquirer_end_wait(struct acquirer *pt)
{
	if (pt->waiting_here)
		wait_cancel_send(&pt->cancel, session_backend_pid(pt->session));
}

void
acquirer_free(struct acquirer *pt)
{
	wait_cancel_free(&pt->cancel);
	leader_watch_free(&pt->watch);
	free(pt->members);
	free(pt->handoff_array);
	pt->members = NULL;
	pt->handoff_array = NULL;
}
