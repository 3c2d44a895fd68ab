/* SPDX-License-Identifier: PostgreSQL */
/* The leader's decisions as pure functions: what to do next, how big a step is, how to
 * handle a failing event, how long to wait before retrying it.  No I/O: unit-tested with
 * tables of cases. */
#ifndef CN_LEADER_PLAN_H
#define CN_LEADER_PLAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A failing event: the events before it in its step are known to be good and are
 * committed first (the prefix); then it runs alone, with backoff, until it succeeds or
 * has failed max_attempts times and goes to the dead letters.  Every failure counts.
 */
struct failure_state {
	size_t prefix;		/* events to commit before the failing one */
	bool isolate;		/* the event at the head (after the prefix) runs alone */
	unsigned long head_attempts;	/* its failures so far */
	unsigned long head_transient;	/* its transient failures, not counted as attempts */
	bool last_transient;	/* the last failure was one of those */
};

/* The handler failed for event `failing` of the step that covered the head. */
void leader_plan_failed(struct failure_state *st, size_t failing);
/*
 * ... with a failure that may pass by itself: a serialization failure, a deadlock, a lock
 * or statement timeout (SQL handlers), exit 75, EX_TEMPFAIL (exec handlers).  The first
 * transient_retries of them on the head are retried on the longer transient schedule
 * without counting as attempts; later ones count like any failure.
 */
void leader_plan_failed_transiently(struct failure_state *st, size_t failing,
				    unsigned long transient_retries);
/* Whether a SQL handler's error (its SQLSTATE) is transient. */
bool leader_plan_sqlstate_is_transient(const char *sqlstate);
/* A step of `size` events committed. */
void leader_plan_committed(struct failure_state *st, size_t size);

/* What the leader knows when nothing is in flight. */
struct leader_facts {
	bool stopping;
	bool drain_over;	/* stopping: the time to process what was received is up */
	bool retry_waiting;	/* backing off before retrying a failed event */
	bool lease_due;
	bool housekeeping_due;	/* a heartbeat or view refresh */
	bool events_due;	/* durable events may be waiting in the table */
	size_t events_buffered;	/* durable events fetched, not committed */
	size_t work;		/* events and notifications received, not committed */
	struct failure_state failure;
	unsigned long max_attempts;
	bool exec_handler;
	bool turn_busy;		/* partitioned: another partition's step has the session's turn */
};

enum leader_action {
	LEADER_IDLE,		/* nothing to do */
	LEADER_WAIT_RETRY,	/* the retry timer will call again */
	LEADER_RENEW,		/* an empty step: the lease */
	LEADER_DEAD_LETTER,	/* the head event failed max_attempts times */
	LEADER_EXEC,		/* run the exec handler over the next events */
	LEADER_STEP,		/* a step over the next events (or an empty one for housekeeping) */
	LEADER_FETCH,		/* read durable events from the table */
	LEADER_RELEASE,		/* stopping: hand over */
	LEADER_WAIT_TURN,	/* another partition's step has the session: ours waits */
};

enum leader_action leader_plan_next(const struct leader_facts *f);
/* Whether the action runs handlers (a step with events, programs, a dead letter): it must
 * have the session's turn. */
bool leader_plan_needs_turn(enum leader_action action, const struct leader_facts *f);

/* Bounds of one step. */
#define MAX_STEP_NOTIFICATIONS 4096
#define MAX_EXEC_BATCH 64
/* A step's size while its handler's cost is unknown. */
#define FIRST_HANDLER_STEP 16

/*
 * What a step costs per event, measured: it follows a slower step at once and a faster
 * one by halves, so one slow step shrinks the next and fast ones grow it back.
 */
struct step_cost {
	double per_event_ms;	/* 0: not measured yet */
};

void leader_plan_observe(struct step_cost *c, size_t events, double seconds);

struct step_size_facts {
	size_t available;	/* events waiting in the chosen source */
	size_t cap;		/* the source's own bound (a fetch, MAX_STEP_NOTIFICATIONS) */
	bool handler;		/* events cost handler time */
	double per_event_ms;	/* struct step_cost's estimate */
	double budget_ms;	/* a step's answer should come within this */
	struct failure_state failure;
};

/* How many events the next step (or exec batch) covers: the known-good prefix, the
 * failing event alone, or as many as fit the time budget. */
size_t leader_plan_step_size(const struct step_size_facts *f);

#define HANDLER_RETRY_BASE_MS 100
#define HANDLER_RETRY_CAP_MS 5000
/* The wait before the head event's next attempt: 0 when it is fine or due for the dead
 * letters, else doubling from HANDLER_RETRY_BASE_MS. */
unsigned leader_plan_retry_delay_ms(unsigned long head_attempts, unsigned long max_attempts);

#define TRANSIENT_RETRY_BASE_MS 500
#define TRANSIENT_RETRY_CAP_MS 10000
/* ... after a transient failure: doubling from TRANSIENT_RETRY_BASE_MS to its cap (with
 * the default 10 retries, about a minute before the first one counts as an attempt). */
unsigned leader_plan_transient_delay_ms(unsigned long head_transient);

#endif
