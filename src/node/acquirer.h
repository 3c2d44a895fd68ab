/* A partitioned node's view of its cluster and its moves: every poll interval (and at
 * once when another node hands a partition over) it reads who leads each partition and
 * which members are alive, lets balance_plan() decide, tries the locks of the partitions
 * to take, asks for the hand-over of surplus ones, and ends the sessions of hung leaders
 * and of lock holders that do not lead. */
#ifndef CN_ACQUIRER_H
#define CN_ACQUIRER_H

#include <stdbool.h>

#include <ev.h>

#include "balance.h"
#include "fsm.h"
#include "membership.h"
#include "names.h"
#include "session.h"
#include "settings.h"
#include "squatter.h"

struct acquirer_hooks {
	/* This session now holds partition p's lock: take the lead. */
	void (*won)(void *owner, int partition);
	/* Another node waits for partition p: hand it over. */
	void (*hand_over)(void *owner, int partition);
	/* What this node's machine for partition p is doing (ST_STANDBY: not led here). */
	enum node_state (*state_of)(void *owner, int partition);
};

/* One partition as the last poll read it. */
struct partition_view {
	char leader[NAME_MAX_BYTES + 1];	/* "" when nobody leads it */
	long long leader_pid;
	long long term;
	long long counter;
	bool lapsed;		/* the leader's lease has run out */
	bool leader_live;	/* the recorded leader's session is alive */
	double elected_at;	/* epoch seconds */
	double free_since;	/* monotonic: first seen free; 0 when led */
	double refused_since;	/* monotonic: its lock refused while nobody leads it; 0 */
};

struct acquirer {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct membership *membership;
	const struct acquirer_hooks *hooks;
	void *owner;
	const char (*lock_keys)[24];	/* each partition's lock key, as text */
	ev_timer poll_timer;
	bool running;		/* registered, and not stopping */
	bool in_flight;		/* a poll or a round of lock tries */
	bool poll_soon;		/* a hand-over was heard while busy */
	bool listening;		/* LISTEN on the handoff channel sent on this session */
	struct partition_view view[MAX_PARTITIONS];
	bool view_valid;
	/* the live members, in name order, as the last poll read them */
	char (*members)[NAME_MAX_BYTES + 1];
	int nmembers;
	int nmembers_read;	/* filled by the poll in flight */
	bool won[MAX_PARTITIONS];	/* filled by the lock tries in flight */
	int target;		/* what the last plan gave this node */
	double evicted_at;	/* the last eviction attempt: at most one per poll interval */
	char evict_error[512];	/* the last failure, logged once */
	/* The last session named holding a partition's lock without leading it (pid 0: none,
	 * or no partition squatted since), and which partition. */
	struct lock_squatter squatter;
	int squatter_partition;
};

bool acquirer_init(struct acquirer *pt, struct ev_loop *loop, struct session *session,
		      const struct config *cfg, struct membership *membership,
		      const char (*lock_keys)[24], const struct acquirer_hooks *hooks,
		      void *owner);
void acquirer_free(struct acquirer *pt);
/* How many partitions this node was told to take while another session holds their lock
 * without leading them (longer than a moment: SQUATTED_AFTER_S or two poll intervals);
 * the lowest in *first.  A squatter, or a node stopped between winning and leading. */
int acquirer_squatted(const struct acquirer *pt, int *first);
void acquirer_stop_timers(struct acquirer *pt);
/* poll_interval changed (SIGHUP). */
void acquirer_reload(struct acquirer *pt);

/* Registered: listen for hand-overs and poll at once. */
void acquirer_begin(struct acquirer *pt);
/* A hand-over was announced, or ours is done: poll at the next chance. */
void acquirer_poll_soon(struct acquirer *pt);
/* Housekeeping is due: an idle acquirer polls now, carrying it. */
void acquirer_poke(struct acquirer *pt);
/* Stop requested, or the session is gone: no more polls or takes (until begin). */
void acquirer_halt(struct acquirer *pt);

#endif
