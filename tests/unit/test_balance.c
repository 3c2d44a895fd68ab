/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: the partition planner, by simulation: nodes plan in turn from the current
 * map, releases free a partition, a take succeeds only if the partition is free (as the
 * lock would decide), until nothing changes. */
#include <string.h>

#include "balance.h"
#include "suites.h"

struct sim {
	int partitions;
	int nodes;		/* live nodes: 0..nodes-1 */
	int owner[MAX_PARTITIONS];
	double since[MAX_PARTITIONS];
	int moves[MAX_PARTITIONS];	/* times a partition went from one node to another */
	int last_owner[MAX_PARTITIONS];
	double clock;
};

static void
sim_init(struct sim *s, int partitions, int nodes)
{
	memset(s, 0, sizeof(*s));
	s->partitions = partitions;
	s->nodes = nodes;
	for (int p = 0; p < MAX_PARTITIONS; p++)
		s->owner[p] = s->last_owner[p] = BALANCE_FREE;
}

/* One round: each node in the given order (NULL: by name) plans and acts, from the map as
 * those before it left it.  Returns the number of changes. */
static int
sim_round_in(struct sim *s, const int *order, bool in_transit)
{
	int changes = 0, taker[MAX_PARTITIONS];

	for (int turn = 0; turn < s->nodes; turn++) {
		int me = order != NULL ? order[turn] : turn;
		struct balance_facts f = {.partitions = s->partitions, .nodes = s->nodes, .me = me};
		struct balance_plan plan;

		memcpy(f.owner, s->owner, sizeof(f.owner));
		memcpy(f.since, s->since, sizeof(f.since));
		balance_plan(&f, &plan);
		for (int i = 0; i < plan.nrelease; i++) {
			ck_assert_int_eq(s->owner[plan.release[i]], me);
			s->owner[plan.release[i]] = BALANCE_FREE;
			changes++;
		}
		for (int i = 0; i < plan.ntake; i++) {
			int p = plan.take[i];

			if (s->owner[p] != BALANCE_FREE)
				continue;	/* the lock says no */
			if (s->last_owner[p] != BALANCE_FREE && s->last_owner[p] != me)
				s->moves[p]++;
			s->owner[p] = s->last_owner[p] = me;
			s->since[p] = ++s->clock;
			changes++;
			if (in_transit) {
				taker[p] = me;
				s->owner[p] = BALANCE_BUSY;
			}
		}
	}
	for (int p = 0; p < s->partitions; p++)
		if (in_transit && s->owner[p] == BALANCE_BUSY)
			s->owner[p] = taker[p];
	return changes;
}

static int
sim_round(struct sim *s)
{
	return sim_round_in(s, NULL, false);
}

static void
sim_settle(struct sim *s)
{
	int rounds = 0;

	while (sim_round(s) > 0)
		ck_assert_int_lt(++rounds, 20);	/* converges, no flapping */
}

static void
assert_balanced(const struct sim *s)
{
	int count[MAX_PARTITIONS] = {0}, lo = s->partitions / s->nodes;

	for (int p = 0; p < s->partitions; p++) {
		ck_assert_int_ge(s->owner[p], 0);
		ck_assert_int_lt(s->owner[p], s->nodes);
		count[s->owner[p]]++;
	}
	for (int i = 0; i < s->nodes; i++) {
		ck_assert_int_ge(count[i], lo);
		ck_assert_int_le(count[i], lo + (s->partitions % s->nodes ? 1 : 0));
	}
}

/* A node goes away (its session ended): its partitions are free, the others renumber. */
static void
sim_remove(struct sim *s, int gone)
{
	for (int p = 0; p < s->partitions; p++) {
		if (s->owner[p] == gone)
			s->owner[p] = BALANCE_FREE;
		else if (s->owner[p] > gone)
			s->owner[p]--;
		if (s->last_owner[p] == gone)
			s->last_owner[p] = 100;	/* whoever takes it next counts as a move */
		else if (s->last_owner[p] > gone && s->last_owner[p] != 100)
			s->last_owner[p]--;
	}
	s->nodes--;
}

START_TEST(test_six_over_three)
{
	struct sim s;

	sim_init(&s, 6, 3);
	sim_settle(&s);
	assert_balanced(&s);
}
END_TEST

START_TEST(test_uneven_counts)
{
	static const int cases[][2] = {{8, 3}, {2, 3}, {64, 7}, {1, 1}, {5, 5}, {7, 2}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim s;

		sim_init(&s, cases[i][0], cases[i][1]);
		sim_settle(&s);
		assert_balanced(&s);
	}
}
END_TEST

/* Fewer partitions than nodes: a free partition is tried by every node that leads none,
 * whatever the ranking by name says (the first by name may be on its way out); K = 1:
 * every standby tries the lock. */
START_TEST(test_fewer_partitions_than_nodes_every_idle_node_tries)
{
	struct balance_facts f = {.partitions = 1, .nodes = 3};
	struct balance_plan plan;

	f.owner[0] = BALANCE_FREE;
	for (f.me = 0; f.me < 3; f.me++) {
		balance_plan(&f, &plan);
		ck_assert_int_eq(plan.ntake, 1);
		ck_assert_int_eq(plan.take[0], 0);
		ck_assert_int_eq(plan.nrelease, 0);
	}
	/* Two free of four over six nodes, node 1 leading one: the idle ones spread. */
	f = (struct balance_facts) {.partitions = 4, .nodes = 6};
	f.owner[0] = 1;
	f.owner[1] = BALANCE_FREE;
	f.owner[2] = 3;
	f.owner[3] = BALANCE_FREE;
	f.me = 1;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake, 0);	/* it leads one already */
	f.me = 0;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake, 1);
	ck_assert_int_eq(plan.take[0], 1);
	f.me = 2;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake, 1);
	ck_assert_int_eq(plan.take[0], 3);
}
END_TEST

START_TEST(test_death_then_three_each)
{
	struct sim s;

	sim_init(&s, 6, 3);
	sim_settle(&s);
	sim_remove(&s, 1);
	sim_settle(&s);
	assert_balanced(&s);
	/* only the dead node's two partitions moved */
	int moved = 0;

	for (int p = 0; p < 6; p++)
		moved += s.moves[p];
	ck_assert_int_eq(moved, 2);
}
END_TEST

/* The order in which the survivors of a death look: by name, backwards, from the middle,
 * and scrambled (a fixed generator: the same orders every run). */
static void
look_order(int *order, int n, int which)
{
	unsigned x = 2463534242u + (unsigned) which;

	for (int i = 0; i < n; i++)
		order[i] = which == 0 ? i : which == 1 ? n - 1 - i : which == 2 ? (i + n / 2) % n : i;
	for (int i = n - 1; which > 2 && i > 0; i--) {
		int j, t;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		j = (int) (x % (unsigned) (i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/* A balanced cluster whose history chose which nodes lead one more than the others: the
 * nodes, in a scrambled order, deal the partitions round-robin. */
static void
sim_balanced_by_history(struct sim *s, int which)
{
	int order[BALANCE_MAX_NODES];

	look_order(order, s->nodes, which + 3);
	for (int p = 0; p < s->partitions; p++) {
		s->owner[p] = s->last_owner[p] = order[p % s->nodes];
		s->since[p] = ++s->clock;
	}
}

/* After a death, each survivor looks once, whatever the order, each seeing what those
 * before it took (as theirs, or in transit: a lock won whose take-over has not committed
 * yet, which the map shows held under the dead node's name): the dead node's partitions
 * are all taken in that one round, the cluster is balanced, and no partition is left free
 * for a re-look to find (a node's plan must not change under it because another took its
 * own share first). */
START_TEST(test_a_death_is_settled_in_one_look_whatever_the_order)
{
	static const int cases[][2] = {{64, 10}, {8, 4}, {12, 5}, {16, 5}, {64, 3}, {10, 4}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (int victim = 0; victim < cases[c][1]; victim++)
			for (int which = 0; which < 24; which++) {
				struct sim s;
				bool in_transit = which % 2 == 1;
				int order[BALANCE_MAX_NODES], nfree = 0;

				sim_init(&s, cases[c][0], cases[c][1]);
				sim_balanced_by_history(&s, which / 2);
				sim_remove(&s, victim);
				look_order(order, s.nodes, which / 2);
				sim_round_in(&s, order, in_transit);
				for (int p = 0; p < s.partitions; p++)
					nfree += s.owner[p] == BALANCE_FREE;
				ck_assert_msg(nfree == 0, "K=%d N=%d, node %d died, order %d%s: %d "
					      "partition(s) left free after one look each",
					      cases[c][0], cases[c][1], victim, which / 2,
					      in_transit ? ", takes in transit" : "", nfree);
				assert_balanced(&s);
			}
}
END_TEST

START_TEST(test_join_takes_its_share_with_few_moves)
{
	struct sim s;
	int moved = 0;

	sim_init(&s, 6, 3);
	sim_settle(&s);
	s.nodes = 4;
	sim_settle(&s);
	assert_balanced(&s);
	for (int p = 0; p < 6; p++)
		moved += s.moves[p];
	ck_assert_int_eq(moved, 1);	/* 2,2,1,1: one partition moves */
}
END_TEST

/* A node restarts: its partitions go to the others while it is away, and when it is back
 * it gets partitions that did not just move: none moves more than once. */
START_TEST(test_restart_moves_each_partition_at_most_once)
{
	static const int cases[][2] = {{6, 3}, {8, 4}, {12, 5}, {64, 3}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct sim s;
		int back;

		sim_init(&s, cases[c][0], cases[c][1]);
		sim_settle(&s);
		memset(s.moves, 0, sizeof(s.moves));
		back = s.nodes - 1;
		/* the last node stops ... */
		for (int p = 0; p < s.partitions; p++)
			if (s.owner[p] == back)
				s.owner[p] = BALANCE_FREE;
		s.nodes--;
		sim_settle(&s);
		/* ... and comes back under the same name */
		s.nodes++;
		sim_settle(&s);
		assert_balanced(&s);
		for (int p = 0; p < s.partitions; p++)
			ck_assert_msg(s.moves[p] <= 1, "K=%d N=%d: partition %d moved %d times",
				      cases[c][0], cases[c][1], p, s.moves[p]);
	}
}
END_TEST

/* Only what someone below target waits for is handed over. */
START_TEST(test_no_release_without_taker)
{
	struct balance_facts f = {.partitions = 4, .nodes = 2, .me = 0,
		.owner = {0, 0, 0, BALANCE_BUSY}};
	struct balance_plan plan;

	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.target, 2);
	/* node 1 needs 2, but the busy partition may come back to it: hand over one */
	ck_assert_int_eq(plan.nrelease, 1);
	f.owner[3] = BALANCE_FREE;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.nrelease, 1);	/* node 1 takes 3 and waits for one more */
	f.owner[3] = 1;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.nrelease, 1);
	f.owner[2] = 1;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.nrelease, 0);
	ck_assert_int_eq(plan.ntake, 0);
}
END_TEST

START_TEST(test_stale_free_partition_is_taken_by_anyone)
{
	struct balance_facts f = {.partitions = 3, .nodes = 3, .me = 0,
		.owner = {0, 1, BALANCE_FREE}};
	struct balance_plan plan;

	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake, 0);	/* node 2's */
	f.stale[2] = true;
	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake, 1);
	ck_assert_int_eq(plan.take[0], 2);
}
END_TEST

START_TEST(test_not_a_member_plans_nothing)
{
	struct balance_facts f = {.partitions = 3, .nodes = 2, .me = -1,
		.owner = {BALANCE_FREE, BALANCE_FREE, BALANCE_FREE}};
	struct balance_plan plan;

	balance_plan(&f, &plan);
	ck_assert_int_eq(plan.ntake + plan.nrelease, 0);
}
END_TEST

Suite *
balance_suite(void)
{
	Suite *s = suite_create("balance");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_six_over_three);
	tcase_add_test(tc, test_uneven_counts);
	tcase_add_test(tc, test_fewer_partitions_than_nodes_every_idle_node_tries);
	tcase_add_test(tc, test_death_then_three_each);
	tcase_add_test(tc, test_a_death_is_settled_in_one_look_whatever_the_order);
	tcase_add_test(tc, test_join_takes_its_share_with_few_moves);
	tcase_add_test(tc, test_restart_moves_each_partition_at_most_once);
	tcase_add_test(tc, test_no_release_without_taker);
	tcase_add_test(tc, test_stale_free_partition_is_taken_by_anyone);
	tcase_add_test(tc, test_not_a_member_plans_nothing);
	suite_add_tcase(s, tc);
	return s;
}
