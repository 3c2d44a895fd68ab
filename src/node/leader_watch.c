/* SPDX-License-Identifier: PostgreSQL */
/* A partitioned node's watch session: one shared-mode wait at a time on the handoff key
 * of a partition another node leads (sql/007's wait_lock), so that the node hears of that
 * leader's end without polling.
 *
 * Each wait lasts at most wait_ms: a waiting statement holds a snapshot, and with it the
 * database's vacuum horizon, for as long as it waits.  A new target while a wait is out
 * reconnects (a wait cannot be cancelled from the client without another connection);
 * the abandoned backend ends within a second (SQL_CHECK_CLIENT).  A wait that ends
 * because the key was let go is reported and not repeated until the node names a target
 * again, after it has read the partition map: a key nobody holds would otherwise wake the
 * wait at once, over and over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queries.h"
#include "util.h"
#include "leader_watch.h"

enum watch_tag { TAG_WAIT };

static void wait_next(struct leader_watch *w);

static void
read_woke(void *ctx, const PGresult *res)
{
	struct leader_watch *w = ctx;

	w->woke = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

/* SQL_WATCH's answer: how the wait ended, and the epoch and rings at its end. */
static void
read_watch(void *ctx, const PGresult *res)
{
	struct leader_watch *w = ctx;

	if (PQntuples(res) != 1 || PQnfields(res) != 3)
		return;
	w->woke = strcmp(PQgetvalue(res, 0, 0), "freed") == 0;
	w->rung = strcmp(PQgetvalue(res, 0, 0), "rung") == 0;
	w->got_epoch = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	w->got_rings = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
}

/* The bell's news: what moved since the last answer.  The first answer of a watch that
 * knew nothing yet counts as both: what was rung before its bell was set is not lost.
 * The next wait (if `rearm`) goes out before the hooks act, so that a ring from now on
 * finds a wait, or the counts moved at its start. */
static void
rearm_and_tell(struct leader_watch *w, bool rearm)
{
	bool known = w->seen_epoch >= 0;
	bool look = !known || w->got_epoch != w->seen_epoch;
	bool fetch = !known || w->got_rings != w->seen_rings;

	w->seen_epoch = w->got_epoch;
	w->seen_rings = w->got_rings;
	if (rearm)
		wait_next(w);
	if (look)
		w->hooks->look(w->owner);
	if (fetch)
		w->hooks->fetch(w->owner);
}

static void
on_waited(void *ctx, const struct batch_outcome *o)
{
	struct leader_watch *w = ctx;
	int partition = w->waiting_on;
	bool freed;

	w->waiting = false;
	if (w->bell)
		log_debug("watch: the wait on partition %d ended: %s (epoch %lld, rings %lld)",
			  partition, o->failed ? o->error : w->woke ? "freed" : w->rung ? "rung" :
			  "timeout or moved", w->got_epoch, w->got_rings);
	if (o->failed && w->bell && strcmp(o->sqlstate, SQLSTATE_QUERY_CANCELED) == 0) {
		wait_next(w);	/* rung outside the wait itself: the next one sees what moved */
		return;
	}
	if (o->failed) {
		session_reset(&w->session, "the watch's wait failed: %s", o->error);
		return;
	}
	session_healthy(&w->session);
	freed = w->woke;
	if (freed && w->target == partition)
		w->target = -1;	/* named again after the node's next look */
	/* Freed: the next wait goes out when the node, having looked, names its next target
	 * (on the same session: a wait in flight elsewhere would need a new one). */
	if (w->bell)
		rearm_and_tell(w, !freed);
	if (freed) {
		w->hooks->woken(w->owner, partition);
		return;
	}
	if (!w->bell)
		wait_next(w);	/* the wait ran out: the same target, or a newer one */
}

static void
on_unlimited(void *ctx, const struct batch_outcome *o)
{
	struct leader_watch *w = ctx;

	if (o->failed)
		session_reset(&w->session, "setting up the watch session failed: %s", o->error);
}

/* One listener: the wait that is also the member's bell, on the target's key or on
 * nothing. */
static bool
add_watch(struct leader_watch *w)
{
	char epoch[24], rings[24];
	const char *params[] = {w->cluster, w->node, w->target >= 0 ? w->target_key : NULL,
		w->wait_ms_text, epoch, rings};

	snprintf(epoch, sizeof(epoch), "%lld", w->seen_epoch);
	snprintf(rings, sizeof(rings), "%lld", w->seen_rings);
	w->rung = false;
	w->got_epoch = w->seen_epoch;
	w->got_rings = w->seen_rings;
	return session_add_cached(&w->session, TAG_WAIT, w->target, SQL_WATCH, 6, params,
				  read_watch, w);
}

static void
wait_next(struct leader_watch *w)
{
	const char *params[] = {w->target_key, w->wait_ms_text};

	if (w->waiting || (w->target < 0 && !w->bell) || !session_is_up(&w->session))
		return;
	w->woke = false;
	w->waiting_on = w->target;
	if (w->bell ? !add_watch(w) :
	    !session_add_cached(&w->session, TAG_WAIT, w->target, SQL_WAIT_HANDOFF, 2, params,
				read_woke, w))
		return;
	if (!session_send(&w->session, on_waited, w, false))
		return;
	w->waiting = true;
}

static void
on_connected(void *owner)
{
	struct leader_watch *w = owner;

	log_debug("watch session connected");
	/* A role's statement_timeout would cut every wait short (a busy loop): off, as on the
	 * node's own session; the wait bounds itself.  Pipelined before the first wait. */
	if (!session_add(&w->session, TAG_WAIT, -1, SQL_NO_STATEMENT_LIMITS, 0, NULL, NULL, NULL) ||
	    !session_add(&w->session, TAG_WAIT, -1, SQL_CHECK_CLIENT, 0, NULL, NULL, NULL) ||
	    !session_send(&w->session, on_unlimited, w, true))
		return;
	wait_next(w);
}

static void
on_lost(void *owner, const char *reason)
{
	struct leader_watch *w = owner;

	w->waiting = false;
	log_debug("watch session lost: %s", reason);
}

/* It listens to nothing, and its waits are sent unbounded: nothing is ever overdue. */
static const struct session_hooks leader_watch_session_hooks = {
	.connected = on_connected,
	.lost = on_lost,
};

void
leader_watch_set_target(struct leader_watch *w, int partition, const char *key)
{
	w->target = partition;
	if (partition >= 0)
		snprintf(w->target_key, sizeof(w->target_key), "%s", key);
	if ((partition >= 0 || w->bell) && !w->started) {
		w->started = true;
		session_connect(&w->session);
		return;
	}
	if (partition >= 0 && w->waiting && partition != w->waiting_on) {
		/* The wait in flight is on a leader we no longer watch, and may last a look
		 * interval: a fresh session waits on the new one at once. */
		log_debug("watch: now partition %d (was %d)", partition, w->waiting_on);
		w->waiting = false;
		session_reconnect(&w->session);
		return;
	}
	wait_next(w);
}

void
leader_watch_ring_on(struct leader_watch *w, const char *cluster, const char *node)
{
	w->bell = true;
	w->cluster = cluster;
	w->node = node;
	if (!w->started) {
		w->started = true;
		session_connect(&w->session);
		return;
	}
	wait_next(w);
}

void
leader_watch_set_wait(struct leader_watch *w, unsigned long wait_ms)
{
	snprintf(w->wait_ms_text, sizeof(w->wait_ms_text), "%lu", wait_ms);
}

void
leader_watch_halt(struct leader_watch *w)
{
	w->target = -1;
}

void
leader_watch_init(struct leader_watch *w, struct ev_loop *loop, const char *const *keywords,
	   const char *const *values, double connect_timeout_s, unsigned long wait_ms,
	   const struct leader_watch_hooks *hooks, void *owner)
{
	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->hooks = hooks;
	w->owner = owner;
	w->target = -1;
	w->seen_epoch = w->seen_rings = -1;
	leader_watch_set_wait(w, wait_ms);
	session_init(&w->session, loop, &leader_watch_session_hooks, w);
	session_configure(&w->session, keywords, values, connect_timeout_s, 0);
}

void
leader_watch_free(struct leader_watch *w)
{
	if (w->started)
		session_stop(&w->session);
	session_free(&w->session);
}
