/* SPDX-License-Identifier: PostgreSQL */
/* The node's states and the transitions allowed between them. */
#include <stdlib.h>

#include "fsm.h"
#include "log.h"

static const char *const state_names[ST__COUNT] = {
	[ST_DISCONNECTED] = "disconnected",
	[ST_CONNECTING] = "connecting",
	[ST_CHECKING] = "checking",
	[ST_REGISTERING] = "registering",
	[ST_STANDBY] = "standby",
	[ST_ACQUIRING] = "acquiring",
	[ST_PROMOTING] = "promoting",
	[ST_LEADER] = "leader",
	[ST_HANDLING] = "handling",
	[ST_PROCESSING] = "processing",
	[ST_RELEASING] = "releasing",
	[ST_LEAVING] = "leaving",
	[ST_STOPPED] = "stopped",
};

#define BIT(s) (1u << (s))

/*
 * allowed[from] is the set of states reachable from it.  Any state with a
 * session may fall back to DISCONNECTED (session lost, unexpected answer).
 * Only the leader states reach PROCESSING, so a standby cannot commit a step.
 */
static const unsigned allowed[ST__COUNT] = {
	[ST_DISCONNECTED] = BIT(ST_CONNECTING) | BIT(ST_STOPPED),
	[ST_CONNECTING] = BIT(ST_CHECKING) | BIT(ST_DISCONNECTED) | BIT(ST_STOPPED),
	[ST_CHECKING] = BIT(ST_REGISTERING) | BIT(ST_DISCONNECTED) | BIT(ST_STOPPED),
	[ST_REGISTERING] = BIT(ST_STANDBY) | BIT(ST_DISCONNECTED) | BIT(ST_STOPPED),
	[ST_STANDBY] = BIT(ST_ACQUIRING) | BIT(ST_LEAVING) | BIT(ST_DISCONNECTED) |
	    BIT(ST_STOPPED),
	[ST_ACQUIRING] = BIT(ST_STANDBY) | BIT(ST_PROMOTING) | BIT(ST_LEAVING) |
	    BIT(ST_DISCONNECTED) | BIT(ST_STOPPED),
	[ST_PROMOTING] = BIT(ST_LEADER) | BIT(ST_DISCONNECTED),
	[ST_LEADER] = BIT(ST_HANDLING) | BIT(ST_PROCESSING) | BIT(ST_RELEASING) |
	    BIT(ST_DISCONNECTED),
	[ST_HANDLING] = BIT(ST_PROCESSING) | BIT(ST_LEADER) | BIT(ST_DISCONNECTED),
	[ST_PROCESSING] = BIT(ST_LEADER) | BIT(ST_HANDLING) | BIT(ST_RELEASING) |
	    BIT(ST_DISCONNECTED),
	[ST_RELEASING] = BIT(ST_HANDLING) | BIT(ST_PROCESSING) | BIT(ST_LEAVING) |
	    BIT(ST_STOPPED) | BIT(ST_DISCONNECTED),
	[ST_LEAVING] = BIT(ST_STOPPED) | BIT(ST_DISCONNECTED),
	[ST_STOPPED] = 0,
};

const char *
node_state_name(enum node_state state)
{
	if ((unsigned) state >= ST__COUNT)
		return "invalid";
	return state_names[state];
}

bool
node_transition_allowed(enum node_state from, enum node_state to)
{
	if ((unsigned) from >= ST__COUNT || (unsigned) to >= ST__COUNT)
		return false;
	return (allowed[from] & BIT(to)) != 0;
}

bool
node_state_holds_lock(enum node_state state)
{
	return state == ST_PROMOTING || state == ST_LEADER || state == ST_HANDLING ||
	    state == ST_PROCESSING || state == ST_RELEASING;
}

static void
set(struct fsm *f, enum node_state to, const char *reason, bool quiet)
{
	enum node_state from = f->state;
	enum log_level level = quiet ? LEVEL_DEBUG : LEVEL_INFO;

	if (from == to)
		return;
	if (!node_transition_allowed(from, to)) {
		log_error("internal error: transition %s → %s is not allowed (%s)",
			  node_state_name(from), node_state_name(to), reason);
		log_drain();
		abort();
	}
	/* The standby poll and every step would flood the log at info. */
	if ((from == ST_STANDBY && to == ST_ACQUIRING) ||
	    (from == ST_ACQUIRING && to == ST_STANDBY) ||
	    (from == ST_LEADER && to == ST_PROCESSING) ||
	    (from == ST_PROCESSING && to == ST_LEADER))
		level = LEVEL_DEBUG;
	if (f->partition >= 0)
		log_msg(level, "partition %d: state %s → %s: %s", f->partition, node_state_name(from),
			node_state_name(to), reason);
	else
		log_msg(level, "state %s → %s: %s", node_state_name(from), node_state_name(to), reason);
	f->state = to;
}

void
fsm_set(struct fsm *f, enum node_state to, const char *reason)
{
	set(f, to, reason, false);
}

void
fsm_set_quietly(struct fsm *f, enum node_state to, const char *reason)
{
	set(f, to, reason, true);
}

void
fsm_restart(struct fsm *f, const char *reason)
{
	if (f->state == ST_STANDBY)
		return;
	if (f->partition < 0) {
		log_error("internal error: %s cannot start over from %s (%s)",
			  f->partition < 0 ? "the node" : "a partition", node_state_name(f->state),
			  reason);
		log_drain();
		abort();
	}
	log_msg(f->state == ST_ACQUIRING ? LEVEL_DEBUG : LEVEL_INFO,
		"partition %d: state %s → standby: %s", f->partition, node_state_name(f->state), reason);
	f->state = ST_STANDBY;
}
