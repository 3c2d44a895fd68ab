/* The leader's decisions as pure functions: what to do next, how big a step is, how long
 * to wait before retrying a failed event.  No I/O: unit-tested with tables of cases. */
#ifndef CN_LEADER_PLAN_H
#define CN_LEADER_PLAN_H

#include <stdbool.h>
#include <stddef.h>

/* What the leader knows when nothing is in flight. */
struct leader_facts {
	bool stopping;
	bool unlistened;	/* stopping: the data LISTENs are gone */
	bool retry_waiting;	/* backing off before retrying a failed event */
	bool lease_due;
	bool housekeeping_due;	/* a heartbeat or view refresh */
	bool events_due;	/* durable events may be waiting in the table */
	size_t work;		/* events and notifications received, not committed */
	bool isolate;		/* one event per step until the failing one is resolved */
	unsigned long head_attempts;	/* failures of the event at the head */
	unsigned long max_attempts;
	bool exec_handler;
};

enum leader_action {
	LEADER_IDLE,		/* nothing to do */
	LEADER_WAIT_RETRY,	/* the retry timer will call again */
	LEADER_RENEW,		/* an empty step: the lease */
	LEADER_UNLISTEN,	/* stopping: take no new notifications */
	LEADER_DEAD_LETTER,	/* the head event failed max_attempts times */
	LEADER_EXEC,		/* run the exec handler over the next events */
	LEADER_STEP,		/* a step over the next events (or an empty one for housekeeping) */
	LEADER_FETCH,		/* read durable events from the table */
	LEADER_RELEASE,		/* stopping: hand over */
};

enum leader_action leader_plan_next(const struct leader_facts *f);

/* Bounds of one step. */
#define MAX_STEP_NOTIFICATIONS 4096
/* Events per exec-handler batch when every program succeeds. */
#define EXEC_BATCH 64

/* How many of `available` events (durable ones come in fetches of events_batch) the next
 * step covers. */
size_t leader_plan_step_size(size_t available, bool durable, bool isolate, size_t events_batch);
/* How many the exec handler runs before one step commits them. */
size_t leader_plan_exec_size(size_t available, bool isolate);

#define HANDLER_RETRY_BASE_MS 100
#define HANDLER_RETRY_CAP_MS 5000
/* The wait before the head event's next attempt: 0 when it is fine or due for the dead
 * letters, else doubling from HANDLER_RETRY_BASE_MS. */
unsigned leader_plan_retry_delay_ms(unsigned long head_attempts, unsigned long max_attempts);

#endif
