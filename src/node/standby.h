/* How a node of a single-leader cluster (K = 1) acquires: competing for the leader lock,
 * evicting a hung leader, naming squatters.
 * Standbys LISTEN on nothing: between polls they wait on the leader's handoff key. */
#ifndef CN_STANDBY_H
#define CN_STANDBY_H

#include <stdbool.h>

#include <ev.h>

#include "fsm.h"
#include "membership.h"
#include "session.h"
#include "settings.h"
#include "squatter.h"

struct standby_hooks {
	/* This session now holds the lock (and the handoff key, if holds_handoff): take the
	 * lead. */
	void (*won)(void *owner, bool holds_handoff);
	/* A stopping standby is done: leave the cluster (closing the session then frees a lock
	 * a poll has just won). */
	void (*stopped)(void *owner);
};


/* What one lock poll read. */
struct lock_poll {
	bool has_row;
	bool got;		/* this session holds the lock now */
	long long term;		/* the cluster's term, 0 without a row */
	bool lapsed;		/* the leader's lease has run out */
	long long leader_pid;	/* the recorded leader's backend pid, 0 if none */
	long long holder;	/* the lock holder's backend pid, 0 if none or not read */
	bool handoff_held;	/* a leader holds the handoff key: wait on it */
	bool waited;		/* a wait-mode lock wait answered: got, or timed out */
	bool handoff_taken;	/* got, and the handoff key with it */
};

struct standby {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct fsm *fsm;
	struct membership *membership;
	const struct standby_hooks *hooks;
	void *owner;
	const char *lock_key_text;
	const char *handoff_key_text;
	const char *wait_ms_text;	/* wait mode: how long one lock wait lasts */
	char handoff_wait_ms[16];	/* poll mode: how long one wait on the handoff key lasts */
	ev_timer poll_timer;	/* poll mode: try the lock */
	bool lease_check;	/* wait mode: poll once (the lock wait timed out, or an eviction ran) */
	bool stopping;
	struct lock_poll poll;	/* filled by the poll in flight */
	/* A holder that does not lead: since when we have seen it (evicted after lease_timeout). */
	long long holder_seen;
	double holder_seen_since;
	double evicted_at;	/* the last eviction attempt: at most one per poll interval */
	long long evicting;	/* the pid of the attempt in flight */
	struct lock_squatter squatter;	/* named once, shown by /status, /metrics, /readyz */
	char evict_error[512];	/* the last failure, logged once */
};

void standby_init(struct standby *sb, struct ev_loop *loop, struct session *session,
		  const struct config *cfg, struct fsm *fsm, struct membership *membership,
		  const char *lock_key_text, const char *handoff_key_text, const char *wait_ms_text,
		  const struct standby_hooks *hooks, void *owner);
void standby_start_timers(struct standby *sb);
void standby_stop_timers(struct standby *sb);
/* poll_interval or heartbeat_interval changed (SIGHUP). */
void standby_reload(struct standby *sb);

/* Registered: stand by and try the lock at once. */
void standby_begin(struct standby *sb);
/* Housekeeping is due: an idle standby polls now, carrying it. */
void standby_poke(struct standby *sb);
/* Stop requested: leave the cluster at the next chance. */
void standby_stop(struct standby *sb);
/* The session is gone. */
void standby_forget(struct standby *sb);

#endif
