/* SPDX-License-Identifier: PostgreSQL */
/* The acquirer's watch (K > 1): which leader's handoff key this node's watch session waits
 * on, so that a leader's end is heard by waiting, not found by polling; and what the node
 * Part of the acquirer, which aims the watch after each read of the map and is woken
 * through its hooks. */
#include <string.h>

#include "acquirer_watch.h"
#include "log.h"

/* How far ahead, in name order, a node looks for a leader to watch.  Where leaders are
 * sparse (more nodes than partitions) a leader is watched by up to this many nodes before
 * it, so that it stays watched when one of them dies with it; where every node leads, by
 * the one before it.  Not every idle node: each wait that lasts deadlock_timeout costs the
 * server a deadlock check. */
#define WATCHERS 2

/* Whether partition p is led, alive, by `who` (and not ours). */
static bool
led_by(const struct acquirer *pt, int p, const char *who)
{
	return p >= 0 && pt->view[p].leader_live &&
	    pt->hooks->state_of(pt->owner, p) == ST_STANDBY && strcmp(pt->view[p].leader, who) == 0;
}

/*
 * The next live member after us, in name order, that leads a partition, if it is at most
 * WATCHERS places away: the watch waits on the handoff key of one of its partitions, the
 * one it has led longest (or the one watched already, while it still leads it), so that
 * the partitions it takes and gives do not move the watch: each move opens a new session
 * and leaves a moment unwatched.  Otherwise nothing to watch.
 */
void
acquirer_aim_watch(struct acquirer *pt, int me)
{
	int was = pt->watch.target;

	/* The node we watched died (its partition is free, still in its name, and it is no
	 * longer a live member) and the watch did not say so (its wait was not out yet: a new
	 * session's first call returns at once), so nobody may have been told: tell them, as
	 * a wait that saw its key let go does.  Not for a partition handed over (its leader
	 * is blank then, and the hand-over tells them itself). */
	if (was >= 0 && !pt->waits_here && !pt->view[was].leader_live &&
	    pt->view[was].leader[0] != '\0' && acquirer_member_index(pt, pt->view[was].leader) < 0 &&
	    pt->hooks->state_of(pt->owner, was) == ST_STANDBY) {
		log_debug("partition %d: the leader we watched is gone: telling the others", was);
		pt->announce = true;
		pt->poll_soon = true;
	}
	if (pt->waits_here) {	/* the wait runs on the node's own session: no watch */
		leader_watch_set_target(&pt->watch, -1, NULL);
		return;
	}
	for (int i = 1; me >= 0 && i < pt->nmembers && i <= WATCHERS; i++) {
		const char *next = pt->members[(me + i) % pt->nmembers];
		int best = -1;

		if (led_by(pt, pt->watch.target, next))
			return;	/* still the right one */
		for (int p = 0; p < pt->cfg->partitions; p++)
			if (led_by(pt, p, next) &&
			    (best < 0 || pt->view[p].elected_at < pt->view[best].elected_at))
				best = p;
		if (best >= 0) {
			leader_watch_set_target(&pt->watch, best, pt->handoff_keys[best]);
			return;
		}
	}
	leader_watch_set_target(&pt->watch, -1, NULL);
}
