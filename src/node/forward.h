/* SPDX-License-Identifier: PostgreSQL */
/* A handed-over partition's plain notifications, forwarded as its durable events until
 * the next leader's fence (sql/013), so that a planned move loses none and processes none
 * twice; and, on a partitioned cluster's one listener, every other partition's plain
 * notifications relayed as their durable events (sql/015).  One per node's session (the
 * leads); nothing of it outlives the session. */
#ifndef CN_FORWARD_H
#define CN_FORWARD_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

#include "notifyq.h"
#include "session.h"
#include "settings.h"

enum forward_phase {
	FORWARD_OFF,		/* not handed over here: nothing to do */
	FORWARD_HOLDING,	/* its leader stops: keep what arrives, in order, for later */
	FORWARD_SENDING,	/* handed over: forward what arrives until the fence */
	FORWARD_FENCED,		/* the fence came (or will not): send what is kept, then off */
	FORWARD_RELAY,		/* one listener (sql/015): relayed here; off once sent */
};

struct forward_slot {
	enum forward_phase phase;
	long long term;		/* the term handed over */
	double until;		/* SENDING: stop waiting for the fence then */
	struct notifyq kept;	/* received for the partition, oldest first, not yet forwarded */
	size_t pending;		/* kept's first ones, on their way in batches */
	unsigned long long sent, lost;	/* in this hand-over */
};

/* A forwarding batch on its way.  Answers come back in the order batches were sent. */
struct forward_flight {
	int partition;
	size_t count;
	bool check;		/* it asks whether another member lives */
};

#define FORWARD_MAX_FLIGHTS 64

struct forward {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	int count;		/* K */
	struct forward_slot *slots;
	double wait_s;		/* how long a hand-over waits for the next leader's fence */
	ev_timer wait_timer;	/* the earliest `until` */
	struct forward_flight flights[FORWARD_MAX_FLIGHTS];	/* a ring, oldest first */
	int flights_head, flights_count;
	bool others_live;	/* read by the check in flight */
	void (*idle)(void *owner);	/* every hand-over's forwarding is over */
	void *owner;
};

bool forward_init(struct forward *fw, struct ev_loop *loop, struct session *session,
		  const struct config *cfg, int count, void (*idle)(void *owner), void *owner);
void forward_free(struct forward *fw);

/* Partition p's leader begins to stop: from now on its plain notifications are kept here,
 * in order, behind what the leader still holds. */
void forward_hold(struct forward *fw, int p);
/* Its hand-over of `term` is on its way: what the leader holds (moved out of `leftover`, ahead of
 * what is kept) and what arrives until the next leader's fence becomes durable events.
 * Sent before the hand-over's own batch, so that the next leader's first fetch finds it. */
void forward_start(struct forward *fw, int p, long long term, struct notifyq *leftover);
/* A plain notification for partition p that its leader here does not take: kept for
 * forwarding (true), or not ours to keep (false: the caller frees it). */
bool forward_take(struct forward *fw, int p, PGnotify *note);
/* One listener (sql/015): a plain notification of partition p != 0, received by the
 * cluster's listener, becomes p's durable event (taken: the caller does not free it). */
void forward_relay(struct forward *fw, int p, PGnotify *note);
/* This node relays for a partition 0 it hands over, until the next listener's fence. */
bool forward_relaying(const struct forward *fw);
/* A notification on the fence channel ("partition:term:cluster"). */
void forward_fence(struct forward *fw, const PGnotify *note);
/* Something is still to be forwarded, or on its way. */
bool forward_busy(const struct forward *fw);
/* The session is gone: what was kept is lost, like any plain notification then. */
void forward_forget(struct forward *fw);

#endif
