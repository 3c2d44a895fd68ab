/* SPDX-License-Identifier: PostgreSQL */
/* Which partitions this node should take and which it should hand over, from one snapshot
 * of the cluster: pure, so that every node, given the same snapshot, makes the same
 * choices and the moves of a join, a leave or a death can be unit-tested. */
#ifndef CN_BALANCE_H
#define CN_BALANCE_H

#include <stdbool.h>

#include "event_route.h"

#define BALANCE_FREE (-1)	/* nobody holds the partition's lock */
#define BALANCE_BUSY (-2)	/* held by a session that is not a live member */
/* Members a node plans with (those beyond the first 256 by name lead nothing). */
#define BALANCE_MAX_NODES 256

struct balance_facts {
	int partitions;		/* K */
	int nodes;		/* live members, in the order of their names */
	int me;			/* this node's index among them (-1: not among them) */
	int owner[MAX_PARTITIONS];	/* a node's index, BALANCE_FREE or BALANCE_BUSY */
	double since[MAX_PARTITIONS];	/* when the owner took it (any clock, the same for all) */
	/* Free for longer than a poll or two: whoever sees it takes it, balance or not, so
	 * that a partition meant for a node that never came for it is led all the same. */
	bool stale[MAX_PARTITIONS];
};

struct balance_plan {
	int target;		/* how many this node should lead: ⌊K/N⌋ or ⌈K/N⌉ */
	int take[MAX_PARTITIONS];	/* try these locks, in this order */
	int ntake;
	int release[MAX_PARTITIONS];	/* hand these over */
	int nrelease;
};

/*
 * Every live node leads ⌊K/N⌋ or ⌈K/N⌉ partitions; the ⌈K/N⌉ go to the nodes that lead
 * more than ⌊K/N⌋ now, the most first, so that nothing moves that need not, then to the
 * others by name (not by how many they lead: that changes as they take their shares).
 * A node above its target hands over only what some node below its target is waiting
 * for (beyond the free partitions), the partitions it has led longest first: after a
 * node comes back, it gets partitions that have not just moved, so none moves twice.  The partitions no
 * member leads (free, or held by a take-over still in flight) are dealt out in order to
 * the nodes below target, by name, so that two nodes do not race for the same one and
 * each node's share is the same whichever of the others' takes it has seen.
 */
void balance_plan(const struct balance_facts *f, struct balance_plan *plan);

#endif
