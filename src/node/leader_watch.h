/* SPDX-License-Identifier: PostgreSQL */
/* A partitioned node's watch: a second session whose only work is to wait, in shared
 * mode, on the handoff key of one partition another node leads.  Every partition leader
 * holds its partition's handoff key; its death or hand-over lets the key go, and the wait
 * ends within a millisecond.  So a death is seen by waiting, not by polling, while the
 * node's main session stays free for its steps and hears joins, leaves and hand-overs on
 * the handoff channel (a session blocked in a lock wait receives no notification).
 * From schema 15 on it is also the node's bell: it waits at all times, and the cluster's
 * other nodes cancel its wait (clustered_nodes.wake()) to tell it that something changed,
 * so that the node's main session need listen on nothing (sql/015). */
#ifndef CN_LEADER_WATCH_H
#define CN_LEADER_WATCH_H

#include <stdbool.h>

#include <ev.h>

#include "session.h"

struct leader_watch_hooks {
	/* The watched partition's handoff key was let go: its leader handed it over or its
	 * session ended.  The watch waits again only once given a target. */
	void (*woken)(void *owner, int partition);
	/* Rung (sql/015): the cluster's look epoch moved (read the map), or this member's
	 * rings did (fetch the durable events of the partitions it leads). */
	void (*look)(void *owner);
	void (*fetch)(void *owner);
};

struct leader_watch {
	struct session session;
	struct ev_loop *loop;
	const struct leader_watch_hooks *hooks;
	void *owner;
	bool started;		/* the session was asked to connect */
	bool waiting;		/* a wait is in flight */
	int target;		/* the partition to wait on next, or -1 */
	char target_key[24];
	int waiting_on;		/* the partition of the wait in flight */
	bool woke;		/* filled by the wait in flight: the key was let go */
	char wait_ms_text[16];
	/* One listener (sql/015): the watch always waits (on nothing without a target) and
	 * is the member's bell; what it last saw of the cluster's look epoch and the member's
	 * rings (-1: nothing yet), and the wait in flight's answer. */
	bool bell;
	const char *cluster, *node;
	long long seen_epoch, seen_rings, got_epoch, got_rings;
	bool rung;
};

void leader_watch_init(struct leader_watch *w, struct ev_loop *loop, const char *const *keywords,
		const char *const *values, double connect_timeout_s, unsigned long wait_ms,
		const struct leader_watch_hooks *hooks, void *owner);
/* Wait on partition p's handoff key (its text in key), from now on; -1: on nothing.  The
 * first target opens the session.  A wait in flight on another key runs out first. */
void leader_watch_set_target(struct leader_watch *w, int partition, const char *key);
/* From now on the watch is member `node`'s bell (sql/015): it waits at all times and
 * hears rings.  Opens the session. */
void leader_watch_ring_on(struct leader_watch *w, const char *cluster, const char *node);
/* How long each wait lasts from the next one on (SIGHUP). */
void leader_watch_set_wait(struct leader_watch *w, unsigned long wait_ms);
/* The node ends, or its main session is gone: no more waits (until a target is set). */
void leader_watch_halt(struct leader_watch *w);
void leader_watch_free(struct leader_watch *w);

#endif
