/* SPDX-License-Identifier: PostgreSQL */
/* Where the notifications a node's session receives go (part of the leads, leads.h).
 *
 * Plain notifications reach the session once for all partitions; each goes to the
 * partition its key hashes to, and is processed only if this node leads that partition
 * and has seen the fence of its take-over (sql/008): a notification received before the
 * fence was committed before the take-over, and belongs to the previous leader.  One for
 * a partition this node hands over goes to the forwarding (forward.c) until the next
 * leader's fence.  From schema 15 on a partitioned cluster has one listener, the leader
 * of partition 0 (sql/015): it relays every other partition's plain notifications as
 * their durable events, and rings the leaders of durable events it hears of.
 */
#include <stdlib.h>
#include <string.h>

#include "leads.h"
#include "queries.h"

/* "cluster<US>partition": a durable event of that partition was committed. */
static void
route_wake_up(struct leads *ps, const char *payload)
{
	const char *sep = strrchr(payload, '\x1f');
	size_t len = strlen(ps->cfg->cluster);
	char *end;
	long p;

	if (ps->count == 1) {	/* either form: the one partition's */
		if (node_state_holds_lock(ps->slots[0].leader.fsm->state))
			leader_events_woken(&ps->slots[0].leader);
		return;
	}
	/* Without a partition: the single-leader form, sent alongside; ignored here. */
	if (sep == NULL || (size_t) (sep - payload) != len ||
	    strncmp(payload, ps->cfg->cluster, len) != 0)
		return;
	p = strtol(sep + 1, &end, 10);
	if (*end != '\0' || p < 0 || p >= ps->count)
		return;
	if (node_state_holds_lock(ps->slots[p].leader.fsm->state))
		leader_events_woken(&ps->slots[p].leader);
	else if (ONE_LISTENER(ps->session, ps->count))
		bell_ring(&ps->bell, (int) p);	/* only the listener hears it: tell the leader */
}

/* One listener: this node has just become the listener (its take-over of partition 0,
 * and with it the LISTENs, committed).  Durable events committed while no one listened
 * woke no one: every partition's leader fetches once, ours and, rung, the others'. */
static void
catch_up_as_listener(struct leads *ps)
{
	for (int p = 1; p < ps->count; p++)
		if (node_state_holds_lock(ps->slots[p].leader.fsm->state))
			leader_events_woken(&ps->slots[p].leader);
		else
			bell_ring(&ps->bell, p);
}

/* "partition:term" from our own take-over transaction. */
static void
route_fence(struct leads *ps, const PGnotify *note)
{
	long p;
	long long term;

	if (note->be_pid != session_backend_pid(ps->session) ||
	    sscanf(note->extra, "%ld:%lld", &p, &term) != 2 || p < 0 || p >= ps->count)
		return;
	leader_fence_seen(&ps->slots[p].leader, term);
	if (p == 0 && ONE_LISTENER(ps->session, ps->count))
		catch_up_as_listener(ps);
}

/* One listener: whether this node is the cluster's listener now (it leads partition 0
 * and has seen the fence of its take-over), or still is for a partition 0 it hands over. */
static bool
relaying(const struct leads *ps)
{
	return leader_accepts_notifications(&ps->slots[0].leader) ||
	    forward_relaying(&ps->forward);
}

void
leads_route(struct leads *ps, PGnotify *note)
{
	int p;

	if (strcmp(note->relname, EVENTS_CHANNEL) == 0) {
		route_wake_up(ps, note->extra);
	} else if (strcmp(note->relname, FENCE_CHANNEL) == 0) {
		route_fence(ps, note);
		forward_fence(&ps->forward, note);
	} else if (strcmp(note->relname, HANDOFF_CHANNEL) == 0) {
		if (strcmp(note->extra, ps->cfg->cluster) == 0)
			acquirer_poll_soon(&ps->acquirer);
	} else {
		p = partition_of_payload(&ps->cfg->partition_key, note->extra, strlen(note->extra),
					 ps->count);
		if (p != 0 && ONE_LISTENER(ps->session, ps->count)) {
			/* Received as the listener (from our fence of partition 0 on, or until the
			 * next listener's): relayed, whoever leads p; else the listener's before
			 * us, or after us, relays it. */
			if (!relaying(ps))
				PQfreemem(note);
			else
				forward_relay(&ps->forward, p, note);
			return;
		}
		if (leader_accepts_notifications(&ps->slots[p].leader)) {
			leader_enqueue(&ps->slots[p].leader, note);
			return;
		}
		if (forward_take(&ps->forward, p, note))
			return;
		/* Another node's partition, or ours before our fence: not ours to process. */
	}
	PQfreemem(note);
}

bool
leads_listening(const struct leads *ps)
{
	if (ONE_LISTENER(ps->session, ps->count))
		return relaying(ps);
	for (int p = 0; p < ps->count; p++)
		if (node_state_holds_lock(ps->slots[p].leader.fsm->state))
			return true;
	return false;
}
