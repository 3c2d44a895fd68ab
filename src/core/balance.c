/* SPDX-License-Identifier: PostgreSQL */
/* The partition planner: targets, hand-overs and take-overs from one snapshot. */
#include <string.h>

#include "balance.h"

static int
at_least(int count, int base)
{
	return count > base ? count : base;
}

/*
 * Nodes ordered by how many partitions they lead beyond `base` (most first), then by name
 * (index).  Those that lead `base` or fewer rank by name alone: a node that takes its share
 * of a dead node's partitions must not move ahead of the others and so change the targets
 * that the nodes that looked before it planned with (one of the partitions would then be
 * left to no one until a re-look).
 */
static void
rank_nodes(const int *count, int n, int base, int *order)
{
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++) {
		int x = order[i], j = i;

		while (j > 0 && at_least(count[order[j - 1]], base) < at_least(count[x], base)) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = x;
	}
}

/* Our partitions, led longest first (ties: the higher number first). */
static int
oldest_first(const struct balance_facts *f, int *mine)
{
	int n = 0;

	for (int p = f->partitions - 1; p >= 0; p--)
		if (f->owner[p] == f->me)
			mine[n++] = p;
	for (int i = 1; i < n; i++) {
		int x = mine[i], j = i;

		while (j > 0 && f->since[mine[j - 1]] > f->since[x]) {
			mine[j] = mine[j - 1];
			j--;
		}
		mine[j] = x;
	}
	return n;
}

void
balance_plan(const struct balance_facts *f, struct balance_plan *plan)
{
	int count[BALANCE_MAX_NODES] = {0}, target[BALANCE_MAX_NODES] = {0};
	int order[BALANCE_MAX_NODES], free_list[MAX_PARTITIONS], nfree = 0;
	int unled[MAX_PARTITIONS], nunled = 0;
	int n = f->nodes, base, extra, hungry = 0, skip = 0, mine[MAX_PARTITIONS];
	bool taken[MAX_PARTITIONS] = {false};

	memset(plan, 0, sizeof(*plan));
	if (f->me < 0 || f->me >= n || n > BALANCE_MAX_NODES || f->partitions < 1 ||
	    f->partitions > MAX_PARTITIONS)
		return;
	for (int p = 0; p < f->partitions; p++) {
		if (f->owner[p] >= 0 && f->owner[p] < n)
			count[f->owner[p]]++;
		else
			unled[nunled++] = p;
		if (f->owner[p] == BALANCE_FREE)
			free_list[nfree++] = p;
	}
	base = f->partitions / n;
	extra = f->partitions % n;
	rank_nodes(count, n, base, order);
	for (int j = 0; j < n; j++)
		target[order[j]] = base + (j < extra ? 1 : 0);
	plan->target = target[f->me];
	for (int i = 0; i < n; i++)
		if (i != f->me && count[i] < target[i])
			hungry += target[i] - count[i];

	if (count[f->me] > target[f->me]) {
		/* Hand over only what someone below target is waiting for beyond the free ones. */
		int surplus = count[f->me] - target[f->me], wanted = hungry - nfree;
		int nmine = oldest_first(f, mine);

		if (wanted > surplus)
			wanted = surplus;
		for (int i = 0; i < wanted && i < nmine; i++)
			plan->release[plan->nrelease++] = mine[i];
	} else if (base == 0 && count[f->me] == 0 && nfree > 0) {
		/* Fewer partitions than nodes: every node without one is as entitled to a free
		 * one as any other (the ranking by name would leave it to one that may be on its
		 * way out), so each tries one, spread by name; the lock decides, and none ever
		 * holds two.  K = 1: every standby tries the lock as soon as it is free. */
		int idle = 0;

		for (int i = 0; i < f->me; i++)
			if (count[i] == 0)
				idle++;
		plan->take[plan->ntake++] = free_list[idle % nfree];
		taken[free_list[idle % nfree]] = true;
	} else if (count[f->me] < target[f->me]) {
		/* The partitions no member leads, dealt out in order to the nodes below target by
		 * name; we try the free ones of our share.  Those held by a session that leads
		 * nothing yet are dealt too: most often a node's take-over is on its way, and if
		 * they were left out, our share would shift when another node's take went through
		 * before our look and not when it was still in flight. */
		for (int i = 0; i < f->me; i++)
			if (count[i] < target[i])
				skip += target[i] - count[i];
		for (int k = skip; k < nunled && k < skip + target[f->me] - count[f->me]; k++)
			if (f->owner[unled[k]] == BALANCE_FREE) {
				plan->take[plan->ntake++] = unled[k];
				taken[unled[k]] = true;
			}
	}
	/* A partition left free too long is taken by whoever sees it. */
	for (int k = 0; k < nfree; k++)
		if (f->stale[free_list[k]] && !taken[free_list[k]])
			plan->take[plan->ntake++] = free_list[k];
}
