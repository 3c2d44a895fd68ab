/* SPDX-License-Identifier: PostgreSQL */
/* A node's view of its cluster and its moves, for every K: whenever something changed (a
 * hand-over, a join or a leave announced on the handoff channel or, from schema 15, by a
 * ring of the node's watch session, or the watch waking on a
 * leader's end; K = 1: after each wait on the leader's handoff key, on the node's own
 * session) and, as a slow safety net, every safety interval, it reads who leads each
 * partition and which members are alive, lets balance_plan() decide, tries the locks of
 * the partitions to take, asks for the hand-over of surplus ones, ends the sessions of hung
 * leaders and of lock holders that do not lead, and points the watch at the next leader. */
#ifndef CN_ACQUIRER_H
#define CN_ACQUIRER_H

#include <stdbool.h>

#include <ev.h>

#include "balance.h"
#include "bell.h"
#include "fsm.h"
#include "membership.h"
#include "names.h"
#include "session.h"
#include "settings.h"
#include "squatter.h"
#include "leader_watch.h"
#include "wait_cancel.h"

struct acquirer_hooks {
	/* This session now holds partition p's lock (and, if holds_handoff, its handoff key):
	 * take the lead. */
	void (*won)(void *owner, int partition, bool holds_handoff);
	/* Another node waits for partition p: hand it over. */
	void (*hand_over)(void *owner, int partition);
	/* What this node's machine for partition p is doing (ST_STANDBY: not led here). */
	enum node_state (*state_of)(void *owner, int partition);
	/* One listener (sql/015): this node was rung for durable events: the partitions it
	 * leads fetch them. */
	void (*fetch)(void *owner);
};

/* One partition as the last poll read it. */
struct partition_view {
	char leader[NAME_MAX_BYTES + 1];	/* "" when nobody leads it */
	long long leader_pid;
	long long term;
	long long counter;
	bool lapsed;		/* the leader's lease has run out */
	bool leader_live;	/* the recorded leader's session is alive */
	double elected_at;	/* epoch seconds */
	double free_since;	/* monotonic: first seen free; 0 when led */
	double refused_since;	/* monotonic: its lock refused while nobody leads it; 0 */
};

struct acquirer {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct membership *membership;
	const struct acquirer_hooks *hooks;
	void *owner;
	const char (*lock_keys)[24];	/* each partition's lock key, as text */
	const char (*handoff_keys)[24];	/* ... and its handoff key */
	char *handoff_array;	/* the handoff keys as one bigint[] parameter */
	struct leader_watch watch;	/* waits on the handoff key of the next node that leads */
	struct bell *bell;	/* one listener (sql/015): how the others are told to look */
	bool announce;		/* tell the others to look (a join, or the watch woke) */
	ev_timer poll_timer;	/* the safety net */
	bool running;		/* registered, and not stopping */
	bool in_flight;		/* a poll or a round of lock tries */
	bool poll_soon;		/* a hand-over was heard while busy */
	bool listening;		/* LISTEN on the handoff channel sent on this session */
	bool waits_here;	/* K = 1: an idle node waits on its own session (wait_here_on) */
	bool waiting_here;	/* ... and the look in flight began with that wait */
	struct partition_view view[MAX_PARTITIONS];
	bool view_valid;
	/* the live members, in name order, as the last poll read them */
	char (*members)[NAME_MAX_BYTES + 1];
	int nmembers;
	int nmembers_read;	/* filled by the poll in flight */
	int rank, live_members;	/* K = 1: SQL_LOOK_RANK's last answer (-1, 0 before it) */
	unsigned looks;		/* K = 1: looks sent, to read the rank with every few */
	double watch_random01;	/* K > 1: where in its last fifth this node's watch waits end */
	struct wait_cancel cancel;	/* K = 1: ends the wait when the node stops */
	struct acquirer_try {
		bool tried;	/* in the round in flight */
		bool won;	/* the lock */
		bool handoff;	/* ... and the handoff key with it */
	} tries[MAX_PARTITIONS];	/* filled by the lock tries in flight */
	int target;		/* what the last plan gave this node */
	double evicted_at;	/* the last eviction attempt: at most one per poll interval */
	long long evicting;	/* the backend pid of the attempt in flight */
	void (*evicted)(struct acquirer *pt);	/* an eviction succeeded (acquirer_evict.c) */
	void (*evict_failed)(struct acquirer *pt);	/* ... or was refused */
	char evict_error[512];	/* the last failure, logged once */
	/* The last session named holding a partition's lock without leading it (pid 0: none,
	 * or no partition squatted since), and which partition. */
	struct lock_squatter squatter;
	int squatter_partition;
};

/* keywords/values: how the watch connects (as the node's session does, under another
 * application_name). */
bool acquirer_init(struct acquirer *pt, struct ev_loop *loop, struct session *session,
		   const struct config *cfg, struct membership *membership,
		   const char (*lock_keys)[24], const char (*handoff_keys)[24],
		   const char *const *keywords, const char *const *values, struct bell *bell,
		   const struct acquirer_hooks *hooks, void *owner);
void acquirer_free(struct acquirer *pt);
/* The position of member `name` in the members last read (name order), or -1. */
int acquirer_member_index(const struct acquirer *pt, const char *name);
/* How many partitions this node was told to take while another session holds their lock
 * without leading them (longer than a moment: SQUATTED_AFTER_S or two poll intervals);
 * the lowest in *first.  A squatter, or a node stopped between winning and leading. */
int acquirer_squatted(const struct acquirer *pt, int *first);
void acquirer_stop_timers(struct acquirer *pt);
/* poll_interval, heartbeat_interval or lease_timeout changed (SIGHUP). */
void acquirer_reload(struct acquirer *pt);

/* Registered: listen for hand-overs and poll at once. */
void acquirer_begin(struct acquirer *pt);
/* A hand-over was announced, or ours is done: poll at the next chance. */
void acquirer_poll_soon(struct acquirer *pt);
/* A lock was refused while nobody leads its partition, or an eviction failed: look again
 * after a poll interval rather than a safety interval. */
void acquirer_retry_soon(struct acquirer *pt);
/* Housekeeping is due: an idle acquirer sends it now. */
void acquirer_poke(struct acquirer *pt);
/* Stop requested, or the session is gone: no more polls or takes (until begin). */
void acquirer_halt(struct acquirer *pt);
/* K = 1, stopping: a wait on the leader's handoff key in flight on the node's session is
 * cancelled from another session, so that what the stop sends behind it goes at once. */
void acquirer_end_wait(struct acquirer *pt);

#endif
