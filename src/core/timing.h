/* SPDX-License-Identifier: PostgreSQL */
/* The fault-tolerance timings derived from session_timeout and lease_timeout. */
#ifndef CN_TIMING_H
#define CN_TIMING_H

struct fault_timing {
	/* Server-side TCP keepalives of the coordination session (and libpq's). */
	unsigned keepalive_idle_s;
	unsigned keepalive_interval_s;
	unsigned keepalive_count;
	/* The server frees a vanished node's lock no sooner than this after its last packet. */
	unsigned long server_release_ms;
	/* tcp_user_timeout, server side: unacknowledged data for this long ends the session. */
	unsigned long user_timeout_ms;
	/* A leader commits a lease renewal at least this often while idle. */
	unsigned long renew_interval_ms;
	/* A batch without an answer for this long means we are cut off: demote. */
	unsigned long answer_deadline_ms;
	/* The latest a cut-off leader stops processing, after its last contact. */
	unsigned long demote_bound_ms;
	/* What a renewal writes into cluster_state.lease_until (from now). */
	unsigned long lease_ms;
	/* A processing step is sized so that its answer comes within this. */
	unsigned long step_budget_ms;
	/* Our side of the session: keepalive probes every second when idle, so that the
	 * kernel always knows when it last heard the server's host, and a kernel deadline
	 * for unacknowledged data a little after the answer deadline (a backstop for the
	 * node's own check, still well before the server's release). */
	unsigned client_keepalive_count;
	unsigned long client_user_timeout_ms;
};

/*
 * Chooses keepalives so that the server's release comes within
 * session_timeout, and renewal and answer deadlines so that a cut-off leader
 * demotes itself clearly before that (at 3/4 of it): equal deadlines race.
 * lease_timeout_ms 0 means eviction is off; the lease is still written.
 */
void fault_timing_compute(unsigned long session_timeout_ms, unsigned long lease_timeout_ms,
			  struct fault_timing *t);

/* The same, as the text that goes into connection parameters and set_config(). */
struct fault_timing_text {
	char keepalive_idle[12];
	char keepalive_interval[12];
	char keepalive_count[12];
	char user_timeout[24];
	char lease_ms[24];
	char client_keepalive_count[12];
	char client_user_timeout[24];
};

void fault_timing_format(const struct fault_timing *t, struct fault_timing_text *out);

/*
 * How long a node that leads nothing (or not the partition in question) goes without
 * looking at its cluster while nothing wakes it: a quarter of lease_timeout (a hung leader
 * is then evicted within 1.25 lease_timeout), at most heartbeat_interval (heartbeat_interval
 * with eviction off).  Takeovers do not wait for it: a leader's end is waited for, and
 * moves are announced.  It also bounds each lock wait, because a waiting statement holds
 * back the database's vacuum horizon.
 */
unsigned long look_interval_ms(unsigned long lease_timeout_ms, unsigned long heartbeat_interval_ms);

/* Nodes that read the map in each look interval, between them: enough that a hung
 * leader's lapsed lease or a squatter is seen within about a look interval, few enough
 * that a cluster of hundreds of idle nodes costs the server little. */
#define SAFETY_READERS 8
/* The longest wait of a standby that is not one of them, in look intervals (with the
 * defaults, one lease_timeout: the vacuum horizon a wait holds back). */
#define SLOW_LOOKS_MAX 4

/*
 * How long an idle standby of a single-leader cluster waits on the leader's handoff key
 * before it looks again.  `rank` is how many live members come before it in name order
 * (-1 not known yet), `members` how many there are.  The first SAFETY_READERS wait a look
 * interval, so that a lapsed lease or a squatter is seen within one while any of them is
 * alive; the others wait a look interval per SAFETY_READERS members, at most
 * SLOW_LOOKS_MAX of them, less up to a fifth at random (random01, 0 to 1) so that the
 * standbys a takeover woke together drift apart.  A takeover never waits for it: the
 * key's release wakes every waiter at once.
 */
unsigned long standby_wait_ms(unsigned long look_ms, int rank, int members, double random01);

/*
 * How long each wait of a partitioned node's watch session lasts when nothing ends it
 * sooner: SLOW_LOOKS_MAX look intervals (one lease_timeout with the defaults, the longest
 * wait of a single-leader standby too), less up to a fifth at random so that nodes started
 * together drift apart.  Its end makes the node look at nothing (a ring ends it at once,
 * and the safety read looks for lapsed leases): it only bounds how long a waiting
 * statement holds back the database's vacuum horizon.  51 idle nodes of a K = 16 cluster
 * spent about 45 % of their server CPU on these waits' ends when they lasted one look
 * interval.
 */
unsigned long watch_wait_ms(unsigned long look_ms, double random01);

/* The longest one SQL handler call may run before it counts as a failed attempt:
 * handler_timeout, but at most half the answer deadline and half the lease (a leader is
 * evicted only when its session has done nothing for a whole lease: each call that ends
 * within half a lease keeps it, however long the step). */
unsigned long fault_timing_event_limit(const struct fault_timing *t, unsigned long handler_timeout_ms);

#endif
