/* SPDX-License-Identifier: PostgreSQL */
/* The leader side of a node: taking the lead, processing steps, handlers, graceful handoff. */
#ifndef CN_LEADER_H
#define CN_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "events.h"
#include "exec_runner.h"
#include "fsm.h"
#include "leader_plan.h"
#include "membership.h"
#include "notifyq.h"
#include "session.h"
#include "settings.h"
#include "stats.h"
#include "timing.h"

/* PostgreSQL's payloads are shorter than 8000 bytes. */
#define MAX_PAYLOAD_BYTES 8000

struct leader;

/* What the leader has out, beyond what its fsm state says: one value, where three flags
 * (has the turn, wants it, a renewal out while programs run) could contradict each other. */
enum leader_flight {
	FLIGHT_NONE,		/* holds no turn and waits for none */
	FLIGHT_WANTS_TURN,	/* partitioned: waiting for the session's turn */
	FLIGHT_HOLDS_TURN,	/* our step, dead letter or programs have the session */
	FLIGHT_RENEWING,	/* our programs run, and a lease renewal is out meanwhile */
};

struct leader_hooks {
	/* A leader begins to stop: notifications it no longer takes may be kept elsewhere.
	 * NULL: none. */
	void (*stopping)(void *owner, struct leader *l);
	/* Its hand-over is about to be sent (what it received and did not process is in
	 * l->queue: the hook may take it).  NULL: none. */
	void (*releasing)(void *owner, struct leader *l);
	/* A stopping leader handed over (or gave up trying).  The single leader: end with exit
	 * status 0.  A partition's leader: the partition is free for another node. */
	void (*released)(void *owner, struct leader *l, const char *reason);
	/* Partitioned: is the session's turn another's (another partition's step or programs
	 * have it, or one waits for it before us)?  The partitions a node leads share its
	 * session and take turns, one step at a time, so that no lease waits behind more than
	 * one step.  A fact for leader_plan_next().  NULL: never. */
	bool (*turn_busy)(void *owner, const struct leader *l);
	/* Partitioned: take the turn (after turn_busy said it is free).  NULL: always. */
	bool (*may_step)(void *owner, struct leader *l);
	/* Partitioned: the step that had the turn is over. */
	void (*step_over)(void *owner, struct leader *l);
	/* The database refused the lead for a reason no retry fixes (CN003: the login may not
	 * act for the cluster, or a channel belongs to another tenant; CN007: the cluster's
	 * partitions changed while the node ran): the node ends with 78. */
	void (*refused)(void *owner, const char *reason);
};

/* How a step ended, when it did not cost the session. */
enum step_end {
	STEP_COMMITTED,		/* counted, logged, its events dropped */
	STEP_HANDLER_FAILED,	/* rolled back: the handler failed for event `failing` */
};
typedef void (*step_done_fn)(struct leader *l, enum step_end end, size_t failing,
			     const char *error);

/* The step in flight: which events it covers, what it read, who hears how it ended. */
struct step {
	bool durable;		/* it covers events.items[0..size), else queue[0..size) */
	size_t size;
	bool has_row;		/* advance() answered */
	long long counter_before;
	double started;		/* monotonic, for the step-duration histogram */
	step_done_fn done;
	size_t failing;		/* STEP_HANDLER_FAILED: which event, and why */
	bool transient;		/* ... and whether it may pass by itself (its SQLSTATE) */
	char *whole_error;	/* ... the step batch's whole error (outcome's is gone by then) */
	/* How the step's own batch ended; read once the housekeeping batch behind it is
	 * back too, so that nothing of the step is in flight when the leader goes on. */
	struct batch_outcome outcome;
};

struct leader {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct fsm *fsm;
	struct membership *membership;
	struct node_stats *stats;
	const struct leader_hooks *hooks;
	void *owner;
	const char *lock_key_text;
	const char *handoff_key_text;	/* held while leading; its release wakes waiters */
	const char *lease_ms_text;
	const struct fault_timing_text *timing;	/* the session's settings (see limits) */
	int partition;		/* 0 when K = 1 */
	/* K > 1: the session carries the other partitions' leaders too, so it may listen
	 * before this partition's take-over (a fence tells what is ours), keeps listening
	 * when this one is handed over, and log lines name the partition. */
	bool shared;
	char partition_text[12];
	char log_label[24];	/* "partition P: " when shared, else "" */
	long long fence_term;	/* the term whose take-over fence came back */
	enum leader_flight flight;	/* the session's turn, as we have it or want it */
	char *channels_array;	/* the channels as a text[] literal, for take_lead and fetches */
	bool want_view;		/* remember recent notifications for the status page */

	int64_t term;		/* valid while leading */
	char term_text[24];
	int64_t counter;	/* after our last committed step */
	bool promoted;		/* read by the take-lead transaction */
	/* ... and, from schema 14, how it came about (sql/014): " previous=... reason=...
	 * gap_ms=..." for the log line, or "" */
	char story[NAME_MAX_BYTES * 4 + 96];
	enum takeover_reason story_reason;
	double story_gap_ms;	/* -1: not known */
	bool holds_handoff;	/* the handoff key, whose release wakes the standbys */

	struct notifyq queue;	/* plain notifications received, not committed */
	struct event_buffer events;	/* durable events fetched, not committed */
	bool events_due;	/* fetch: woken, took the lead, or the catch-up timer */
	bool lease_due;
	bool stopping;
	bool deaf;		/* the last check found the session not listening on them all */
	double listening_checked_at;	/* ev_now() of that check */

	/* A failing event: the good ones before it committed, then it alone with backoff,
	 * then dead-lettered. */
	struct failure_state failure;
	bool failure_durable;	/* the failing event is a durable one (else a notification) */
	char *head_error;	/* its last error, whole: what its dead letter keeps */
	char head_sqlstate[6];	/* ... and that error's SQLSTATE ("" for a program's) */
	ev_timer retry_timer;
	ev_timer stop_exec_timer;	/* stopping: a program still running then is ended */
	/* Durable events up to this id were in a step whose session died with a handler in
	 * it: each runs alone, its attempt recorded in the table before it runs. */
	long long suspect_max_id;

	/* Steps are sized to answer within step_budget_ms, from what events cost. */
	struct step_cost cost;		/* per event, SQL steps */
	struct step_cost exec_cost;	/* per program */
	double step_budget_ms;
	char event_limit_text[24];	/* statement_timeout of one SQL handler call */
	double exec_started;

	/* Memory: received notifications beyond backlog_limit are dropped, counted (a
	 * partition's leader has its share of the node's limit). */
	unsigned long backlog_limit;
	double drop_logged_at;
	unsigned long long dropped_unlogged;

	double stop_at;		/* ev_now() of the stop request */
	unsigned events_wake;	/* wake-ups received; compared with the fetch's */
	unsigned events_wake_at_fetch;

	ev_timer lease_timer;	/* marks a lease renewal due */
	ev_timer events_timer;	/* catch-up for durable events nobody woke us for */

	struct step step;
	struct exec_runner exec;
	char *escaped_payload;	/* scratch for log escaping */
};

/* How long a step may take, and one SQL handler call, from the fault timings. */
struct leader_limits {
	unsigned long renew_interval_ms;
	unsigned long step_budget_ms;
	unsigned long event_limit_ms;
	const struct fault_timing_text *timing;	/* the session's settings, restored each step */
};

bool leader_init(struct leader *l, struct ev_loop *loop, struct session *session,
		 const struct config *cfg, struct fsm *fsm, struct membership *membership,
		 struct node_stats *stats, const char *lease_ms_text,
		 const struct leader_limits *limits, const struct leader_hooks *hooks,
		 void *owner);
/* Before it starts: makes this leader the one of partition `partition` of a cluster of `partitions`, whose
 * lock and handoff keys are given as text (they must outlive the leader), with its share
 * of the backlog. */
void leader_set_partition(struct leader *l, int partition, int partitions,
			  const char *lock_key_text, const char *handoff_key_text,
			  unsigned long backlog_limit);
void leader_start_timers(struct leader *l, bool want_view);
/* heartbeat_interval changed (SIGHUP): the catch-up for durable events follows. */
void leader_reload(struct leader *l);
void leader_stop_timers(struct leader *l);
void leader_free(struct leader *l);

/* This session won the lock (and the handoff key with it, if holds_handoff): raise the
 * term, LISTEN and take the key if it came without, in one transaction. */
void leader_take_lead(struct leader *l, bool holds_handoff);
/* A notification on a data channel; the leader owns it from now on. */
void leader_enqueue(struct leader *l, PGnotify *note);
/* Logs the drops not logged yet: `now`, or if the last report is a second old. */
void leader_report_drops(struct leader *l, bool now);
/* clustered_nodes.notify() committed an event: fetch at the next chance. */
void leader_events_woken(struct leader *l);
/* End of a loop pass: start a step for what arrived during it. */
void leader_before_wait(struct leader *l);
/* Housekeeping is due: an idle leader sends it now. */
void leader_poke(struct leader *l);
/* Stop requested (the node stops, or hands this partition over): take no new
 * notifications (they go to the forwarding: hooks.stopping), finish the step in flight,
 * drain what was received for at most one step budget, release (hooks.releasing first). */
void leader_stop(struct leader *l);
/* A plain notification of this partition, received while we lead it, after our take-over's
 * fence and before a stop: ours. */
bool leader_accepts_notifications(const struct leader *l);
/* The fence of our take-over of term `term` came back. */
void leader_fence_seen(struct leader *l, long long term);
/* The session is gone: whatever was received and not committed is lost (logged). */
void leader_forget(struct leader *l);
/* The node ends: stop programs and drop everything, quietly. */
void leader_halt(struct leader *l);

#endif
