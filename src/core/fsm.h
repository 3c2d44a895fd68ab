/* SPDX-License-Identifier: PostgreSQL */
/* The node's states and the transitions allowed between them. */
#ifndef CN_FSM_H
#define CN_FSM_H

#include <stdbool.h>

enum node_state {
	ST_DISCONNECTED,	/* no session; a reconnect is scheduled */
	ST_CONNECTING,		/* PQconnectPoll in progress */
	ST_CHECKING,		/* schema check and handoff LISTEN in flight */
	ST_REGISTERING,		/* our members row being written */
	ST_STANDBY,		/* connected, waiting for the next lock poll */
	ST_ACQUIRING,		/* pg_try_advisory_lock in flight */
	ST_PROMOTING,		/* term bump + LISTEN transaction in flight */
	ST_LEADER,		/* holds the lock, listens, nothing in flight */
	ST_HANDLING,		/* leader: exec handlers run for the next step */
	ST_PROCESSING,		/* a processing step's transaction in flight */
	ST_RELEASING,		/* leader's graceful stop: UNLISTEN or unlock in flight */
	ST_LEAVING,		/* standby's graceful stop: deregistering */
	ST_STOPPED,		/* final: the loop ends */
	ST__COUNT
};

/* The node's current state, or one partition's (partitioned clusters: each partition
 * the node may lead has a machine of its own, from STANDBY, meaning not led here, through
 * the leader states); every change goes through fsm_set(). */
struct fsm {
	enum node_state state;
	int partition;		/* -1: the node's machine; else its log lines name the partition */
};

const char *node_state_name(enum node_state state);

/*
 * The one place where the state changes: checked against the table (an illegal
 * transition is an internal error: logged, then abort), logged as "state X → Y: reason".
 */
void fsm_set(struct fsm *f, enum node_state to, const char *reason);
/* The same, logged at debug: a retry's connecting and failing again for a cause already
 * reported, which would otherwise fill the log at info for as long as an outage lasts. */
void fsm_set_quietly(struct fsm *f, enum node_state to, const char *reason);

/* A partition's machine starts over as not led here (STANDBY), from any state: after it
 * was handed over, or the session that held its lock was lost (which freed the lock).
 * The node's own machine never does. */
void fsm_restart(struct fsm *f, const char *reason);

/* Every transition the node makes is checked against this table. */
bool node_transition_allowed(enum node_state from, enum node_state to);

/* States in which this node holds the advisory lock and may commit steps. */
bool node_state_holds_lock(enum node_state state);

#endif
