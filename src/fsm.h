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

/* The node's current state; every change goes through fsm_set(). */
struct fsm {
	enum node_state state;
};

const char *node_state_name(enum node_state state);

/*
 * The one place where the state changes: checked against the table (an illegal
 * transition is an internal error: logged, then abort), logged as "state X → Y: reason".
 */
void fsm_set(struct fsm *f, enum node_state to, const char *reason);

/* Every transition the node makes is checked against this table. */
bool node_transition_allowed(enum node_state from, enum node_state to);

/* States in which this node holds the advisory lock and may commit steps. */
bool node_state_holds_lock(enum node_state state);

#endif
