/* SPDX-License-Identifier: PostgreSQL */
/* What reaches a leader from outside its own batches: plain notifications (kept up to its
 * backlog limit, the rest dropped and counted), durable-event wake-ups, and, for a
 * partition's leader, the fence that makes notifications its own. */
#include <stdio.h>
#include <string.h>

#include "leader.h"
#include "log.h"

void
leader_report_drops(struct leader *l, bool now)
{
	if (l->dropped_unlogged == 0 || (!now && ev_now(l->loop) - l->drop_logged_at < 1.0))
		return;
	log_warn("the backlog is at its limit (%zu notifications, %zu of %lu bytes): dropped %llu "
		 "plain notification(s) since the last report; durable events are never dropped",
		 l->queue.count, l->queue.bytes, l->backlog_limit, l->dropped_unlogged);
	l->dropped_unlogged = 0;
	l->drop_logged_at = ev_now(l->loop);
}

/* The backlog is full (or memory ran out): the notification is dropped, counted by
 * channel, and the drops are logged at most once a second; the last ones when the leader
 * goes on (leader_next) or stops, so that the log adds up to the metric.  An OOM kill
 * would lose all of the backlog instead. */
static void
drop(struct leader *l, PGnotify *note)
{
	for (int c = 0; c < l->cfg->nchannels; c++)
		if (strcmp(l->cfg->channels[c], note->relname) == 0) {
			l->stats->dropped[c]++;
			break;
		}
	PQfreemem(note);
	l->dropped_unlogged++;
	leader_report_drops(l, false);
}

void
leader_enqueue(struct leader *l, PGnotify *note)
{
	if (l->queue.bytes + notifyq_cost(note) > l->backlog_limit) {
		drop(l, note);
		return;
	}
	if (!notifyq_push(&l->queue, note)) {
		log_error("out of memory queueing a notification; dropping it");
		drop(l, note);
	}
}

void
leader_events_woken(struct leader *l)
{
	l->events_due = true;
	l->events_wake++;
}

bool
leader_accepts_notifications(const struct leader *l)
{
	return node_state_holds_lock(l->fsm->state) && l->promoted && !l->stopping &&
	    l->fence_term == l->term;
}

void
leader_fence_seen(struct leader *l, long long term)
{
	l->fence_term = term;
}
