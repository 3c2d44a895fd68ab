/* SPDX-License-Identifier: PostgreSQL */
/* Waking the cluster's other nodes, which listen on nothing (sql/015): ring() records why,
 * in a transaction that commits first, then wake() cancels the wait of their watch
 * sessions.  A wake-up that finds no wait running is not lost: the node's next wait
 * finds the count it was rung by moved, and returns at once.
 *
 * Only a leader of partition 0, the cluster's one listener, rings leaders for their
 * durable events; any node announces the changes it makes.  Nothing here is needed for
 * correctness: a node that is never woken finds everything at its next look (the safety
 * read) or catch-up fetch, only later.  So a failure is logged, never fatal. */
#include <stdio.h>
#include <string.h>

#include "bell.h"
#include "log.h"
#include "queries.h"

static void send_rings(struct bell *b);

static void
note_failure(struct bell *b, const struct batch_outcome *o)
{
	if (!o->failed || strcmp(b->error, o->error) == 0)
		return;
	snprintf(b->error, sizeof(b->error), "%s", o->error);
	log_warn("could not wake the cluster's other nodes (%s): they see what changed at their "
		 "next look instead", o->error);
}

static void
on_recorded(void *ctx, const struct batch_outcome *o)
{
	note_failure(ctx, o);
}

static void
on_woken(void *ctx, const struct batch_outcome *o)
{
	note_failure(ctx, o);
}

static void
on_leaders_woken(void *ctx, const struct batch_outcome *o)
{
	struct bell *b = ctx;

	note_failure(b, o);
	b->in_flight = false;
	if (b->due != 0)
		send_rings(b);
}

/* ring() in a transaction of its own, then wake() (partitions NULL: every node). */
static bool
add_ring(struct bell *b, const char *partitions, void (*done)(void *, const struct batch_outcome *))
{
	const char *params[] = {b->cfg->cluster, partitions};

	return session_add_cached(b->session, 0, 0, SQL_RING, 2, params, NULL, NULL) &&
	    session_send(b->session, on_recorded, b, true) &&
	    session_add_cached(b->session, 0, 0, SQL_WAKE, 2, params, NULL, NULL) &&
	    session_send(b->session, done, b, true);
}

static void
send_rings(struct bell *b)
{
	char partitions[64 * 3 + 3], *at = partitions;

	if (b->in_flight || b->due == 0 || !session_is_up(b->session))
		return;
	*at++ = '{';
	for (int p = 0; p < 64; p++)
		if (b->due & ((uint64_t) 1 << p))
			at += sprintf(at, "%s%d", at > partitions + 1 ? "," : "", p);
	strcpy(at, "}");
	b->due = 0;
	if (add_ring(b, partitions, on_leaders_woken))
		b->in_flight = true;
}

void
bell_init(struct bell *b, struct session *session, const struct config *cfg)
{
	memset(b, 0, sizeof(*b));
	b->session = session;
	b->cfg = cfg;
}

void
bell_announce(struct bell *b)
{
	if (session_is_up(b->session))
		add_ring(b, NULL, on_woken);
}

void
bell_ring(struct bell *b, int partition)
{
	if (partition < 0 || partition >= 64)
		return;
	b->due |= (uint64_t) 1 << partition;
	send_rings(b);
}

void
bell_forget(struct bell *b)
{
	b->in_flight = false;
	b->due = 0;
}
