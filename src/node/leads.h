/* SPDX-License-Identifier: PostgreSQL */
/* The partitions a node may lead, over its one session: a leader and a state machine per
 * partition, the turn their steps take on the session, the routing of notifications to
 * the partition they belong to, and the acquirer that decides what to take and give.
 * Every leader of every cluster is one of these slots; K = 1 is one slot, whose state
 * machine is the node's own. */
#ifndef CN_LEADS_H
#define CN_LEADS_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

#include "fsm.h"
#include "leader.h"
#include "membership.h"
#include "acquirer.h"
#include "bell.h"
#include "forward.h"
#include "session.h"
#include "settings.h"
#include "stats.h"

struct leads_hooks {
	/* A stopping node handed every partition over and left the cluster: end. */
	void (*left)(void *owner);
	/* A partition's lead was refused for good (see leader_hooks.refused): end. */
	void (*refused)(void *owner, const char *reason);
};

struct partition_slot {
	struct fsm fsm;		/* STANDBY: not led here (K = 1: unused, the node's is used) */
	struct leader leader;
	char lock_key_text[24];
	char handoff_key_text[24];
};

struct leads {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct fsm *node_fsm;
	struct membership *membership;
	const struct leads_hooks *hooks;
	void *owner;
	int count;		/* K */
	struct partition_slot *slots;
	char (*lock_keys)[24];	/* slots[p].lock_key_text, as the acquirer reads them */
	char (*handoff_keys)[24];	/* ... and slots[p].handoff_key_text */
	struct acquirer acquirer;
	struct forward forward;	/* what partitions handed over receive until their fence */
	struct bell bell;	/* one listener (sql/015): waking the others */
	bool deafen_due;	/* one listener: partition 0 handed over: UNLISTEN once relayed */
	int turn_holder;	/* the partition whose step has the session, or -1 */
	int turn_last;		/* the last to have had it: the next turn starts after it */
	bool stopping;
	bool single_released;	/* K = 1: the stop's hand-over is done */
	bool leaving;		/* the deregistration is in flight */
	bool left;		/* ... and done: the node ends once forwarding is done */
};

bool leads_init(struct leads *ps, struct ev_loop *loop, struct session *session,
		     const struct config *cfg, struct fsm *node_fsm, struct membership *membership,
		     struct node_stats *stats, const char *lease_ms_text,
		     const struct leader_limits *limits, const char *const *watch_keywords,
		     const char *const *watch_values, const struct leads_hooks *hooks, void *owner);
void leads_start_timers(struct leads *ps, bool want_view);
void leads_free(struct leads *ps);
void leads_reload(struct leads *ps);

/* Registered: stand by and take our share. */
void leads_begin(struct leads *ps);
/* A notification on the session: data, a durable-event wake-up, a fence, a hand-over. */
void leads_route(struct leads *ps, PGnotify *note);
/* End of a loop pass: steps for what arrived, in turn. */
void leads_before_wait(struct leads *ps);
/* Housekeeping is due. */
void leads_poke(struct leads *ps);
/* Stop requested: hand every partition over, then leave. */
void leads_stop(struct leads *ps);
/* The session is gone: every partition is free again (what was received is lost). */
void leads_forget(struct leads *ps);
/* The node ends. */
void leads_halt(struct leads *ps);

/* Partition p's state machine here (STANDBY: not led here). */
enum node_state leads_state(const struct leads *ps, int p);
/* The session waits on a leader's handoff key (K = 1, leading nothing). */
bool leads_waiting(const struct leads *ps);
/* How many partitions this node leads now. */
int leads_led(const struct leads *ps);
/* This node's session listens for the cluster (K = 1 or before sql/015: it leads). */
bool leads_listening(const struct leads *ps);
/* Received, unprocessed notifications over all partitions, in bytes. */
size_t leads_backlog_bytes(const struct leads *ps);

#endif
