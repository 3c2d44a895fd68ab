/* The partitions a node may lead, over its one session: a leader and a state machine per
 * partition, the turn their steps take on the session, the routing of notifications to
 * the partition they belong to, and the partitioner that decides what to take and give. */
#ifndef CN_PARTITIONS_H
#define CN_PARTITIONS_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

#include "fsm.h"
#include "leader.h"
#include "membership.h"
#include "partitioner.h"
#include "session.h"
#include "settings.h"
#include "stats.h"

struct partitions_hooks {
	/* A stopping node handed every partition over and left the cluster: end. */
	void (*left)(void *owner);
	/* A partition's lead was refused for good (see leader_hooks.refused): end. */
	void (*refused)(void *owner, const char *reason);
};

struct partition_slot {
	struct fsm fsm;		/* STANDBY: not led here */
	struct leader leader;
	char lock_key_text[24];
};

struct partitions {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct fsm *node_fsm;
	struct membership *membership;
	const struct partitions_hooks *hooks;
	void *owner;
	int count;		/* K */
	struct partition_slot *slots;
	char (*lock_keys)[24];	/* slots[p].lock_key_text, as the partitioner reads them */
	struct partitioner partitioner;
	int turn_holder;	/* the partition whose step has the session, or -1 */
	int turn_last;		/* the last to have had it: the next turn starts after it */
	bool stopping;
	bool leaving;		/* the deregistration is in flight */
};

bool partitions_init(struct partitions *ps, struct ev_loop *loop, struct session *session,
		     const struct config *cfg, struct fsm *node_fsm, struct membership *membership,
		     struct node_stats *stats, const char *lease_ms_text,
		     const struct leader_limits *limits, const struct partitions_hooks *hooks,
		     void *owner);
void partitions_start_timers(struct partitions *ps, bool want_view);
void partitions_free(struct partitions *ps);
void partitions_reload(struct partitions *ps);

/* Registered: stand by and take our share. */
void partitions_begin(struct partitions *ps);
/* A notification on the session: data, a durable-event wake-up, a fence, a hand-over. */
void partitions_route(struct partitions *ps, PGnotify *note);
/* End of a loop pass: steps for what arrived, in turn. */
void partitions_before_wait(struct partitions *ps);
/* Housekeeping is due. */
void partitions_poke(struct partitions *ps);
/* Stop requested: hand every partition over, then leave. */
void partitions_stop(struct partitions *ps);
/* The session is gone: every partition is free again (what was received is lost). */
void partitions_forget(struct partitions *ps);
/* The node ends. */
void partitions_halt(struct partitions *ps);

/* How many partitions this node leads now. */
int partitions_led(const struct partitions *ps);
/* Received, unprocessed notifications over all partitions, in bytes. */
size_t partitions_backlog_bytes(const struct partitions *ps);

#endif
