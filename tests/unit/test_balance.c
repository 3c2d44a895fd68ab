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

/* One round: each node in turn plans and acts.  Returns the number of changes. */
static int
sim_round(struct sim *s)
{
	int changes = 0;

	for (int me = 0; me < s->nodes; me++) {
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
		}
	}
	return changes;
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
	tcase_add_test(tc, test_join_takes_its_share_with_few_moves);
	tcase_add_test(tc, test_restart_moves_each_partition_at_most_once);
	tcase_add_test(tc, test_no_release_without_taker);
	tcase_add_test(tc, test_stale_free_partition_is_taken_by_anyone);
	tcase_add_test(tc, test_not_a_member_plans_nothing);
	suite_add_tcase(s, tc);
	return s;
}
