/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: the leader's decisions (what next, failures, step size, retry delay), as tables. */
#include <math.h>

#include "leader_plan.h"
#include "suites.h"

/* Every case starts from an idle leader with nothing to do. */
#define IDLE .max_attempts = 5
#define FAILING(prefix_, isolate_, attempts_) \
	.failure = {.prefix = (prefix_), .isolate = (isolate_), .head_attempts = (attempts_)}

/* Transient failures: retried on their own schedule, counted only once spent. */
START_TEST(test_transient_failures_count_only_once_spent)
{
	struct failure_state st = {0};

	leader_plan_failed_transiently(&st, 5, 2);	/* event 5: a deadlock */
	ck_assert_uint_eq(st.prefix, 5);
	ck_assert(st.isolate && st.last_transient);
	ck_assert_uint_eq(st.head_transient, 1);
	ck_assert_uint_eq(st.head_attempts, 0);
	leader_plan_committed(&st, 5);
	leader_plan_failed_transiently(&st, 0, 2);
	ck_assert_uint_eq(st.head_transient, 2);
	ck_assert_uint_eq(st.head_attempts, 0);
	/* The budget of 2 is spent: the next transient failure is an attempt. */
	leader_plan_failed_transiently(&st, 0, 2);
	ck_assert(!st.last_transient);
	ck_assert_uint_eq(st.head_attempts, 1);
	/* A permanent one counts at once, transient budget or not. */
	leader_plan_failed(&st, 0);
	ck_assert_uint_eq(st.head_attempts, 2);
	leader_plan_committed(&st, 1);
	ck_assert_uint_eq(st.head_transient, 0);
	ck_assert(!st.last_transient && !st.isolate);
	/* With no transient retries every failure is an attempt. */
	leader_plan_failed_transiently(&st, 0, 0);
	ck_assert_uint_eq(st.head_attempts, 1);
	ck_assert(!st.last_transient);
}
END_TEST

START_TEST(test_which_sqlstates_are_transient)
{
	ck_assert(leader_plan_sqlstate_is_transient("40001"));
	ck_assert(leader_plan_sqlstate_is_transient("40P01"));
	ck_assert(leader_plan_sqlstate_is_transient("55P03"));
	ck_assert(leader_plan_sqlstate_is_transient("57014"));
	ck_assert(!leader_plan_sqlstate_is_transient("23505"));	/* unique violation */
	ck_assert(!leader_plan_sqlstate_is_transient("P0001"));	/* RAISE */
	ck_assert(!leader_plan_sqlstate_is_transient(""));
	ck_assert(!leader_plan_sqlstate_is_transient(NULL));
}
END_TEST

START_TEST(test_transient_delay)
{
	ck_assert_uint_eq(leader_plan_transient_delay_ms(0), 0);
	ck_assert_uint_eq(leader_plan_transient_delay_ms(1), 500);
	ck_assert_uint_eq(leader_plan_transient_delay_ms(2), 1000);
	ck_assert_uint_eq(leader_plan_transient_delay_ms(5), 8000);
	ck_assert_uint_eq(leader_plan_transient_delay_ms(6), 10000);
	ck_assert_uint_eq(leader_plan_transient_delay_ms(40), 10000);
}
END_TEST

static const struct {
	const char *name;
	struct leader_facts facts;
	enum leader_action expect;
} next_cases[] = {
	{"nothing to do", {IDLE}, LEADER_IDLE},
	{"notifications waiting", {IDLE, .work = 3}, LEADER_STEP},
	{"notifications, exec handler", {IDLE, .work = 3, .exec_handler = true}, LEADER_EXEC},
	{"durable events may be waiting", {IDLE, .events_due = true}, LEADER_FETCH},
	{"a plain backlog does not starve durable events",
	 {IDLE, .work = 100000, .events_due = true}, LEADER_FETCH},
	{"fetched events go first, no second fetch",
	 {IDLE, .work = 10, .events_buffered = 10, .events_due = true}, LEADER_STEP},
	{"lease due while idle", {IDLE, .lease_due = true}, LEADER_STEP},
	{"heartbeat due while idle", {IDLE, .housekeeping_due = true}, LEADER_STEP},
	{"backing off, lease fine", {IDLE, .work = 1, .retry_waiting = true, FAILING(0, true, 1)},
	 LEADER_WAIT_RETRY},
	{"backing off, lease due", {IDLE, .work = 1, .retry_waiting = true, .lease_due = true,
				    FAILING(0, true, 1)}, LEADER_RENEW},
	{"good events before a failing one go at once, backoff or not",
	 {IDLE, .work = 50, .retry_waiting = true, FAILING(49, true, 1)}, LEADER_STEP},
	{"the same with the exec handler",
	 {IDLE, .work = 50, .retry_waiting = true, .exec_handler = true, FAILING(49, true, 1)},
	 LEADER_EXEC},
	{"head failed max times", {IDLE, .work = 2, FAILING(0, true, 5)}, LEADER_DEAD_LETTER},
	{"head failed max times, exec", {IDLE, .work = 2, .exec_handler = true, FAILING(0, true, 5)},
	 LEADER_DEAD_LETTER},
	{"head failed fewer times", {IDLE, .work = 2, FAILING(0, true, 4)}, LEADER_STEP},
	{"stopping, backing off: no retry, release", {IDLE, .stopping = true,
	 .retry_waiting = true}, LEADER_RELEASE},
	{"stopping: drain what arrived", {IDLE, .stopping = true, .work = 5},
	 LEADER_STEP},
	{"stopping: the drain is bounded", {IDLE, .stopping = true,
					    .drain_over = true, .work = 5}, LEADER_RELEASE},
	{"stopping: good events before a failing one still go",
	 {IDLE, .stopping = true, .work = 5, FAILING(3, true, 1)}, LEADER_STEP},
	{"stopping: no retry of a failing event",
	 {IDLE, .stopping = true, .work = 5, FAILING(0, true, 1)}, LEADER_RELEASE},
	{"stopping: no fetch, release", {IDLE, .stopping = true,
					 .events_due = true, .lease_due = true}, LEADER_RELEASE},
	/* Partitioned: one step of the node's partitions has the session at a time. */
	{"another partition's step has the turn: wait", {IDLE, .work = 3, .turn_busy = true},
	 LEADER_WAIT_TURN},
	{"waiting for the turn, lease due: renew, which needs no turn",
	 {IDLE, .work = 3, .turn_busy = true, .lease_due = true}, LEADER_RENEW},
	{"programs wait for the turn too", {IDLE, .work = 3, .exec_handler = true, .turn_busy = true},
	 LEADER_WAIT_TURN},
	{"a dead letter waits for the turn", {IDLE, .work = 2, .turn_busy = true, FAILING(0, true, 5)},
	 LEADER_WAIT_TURN},
	{"a fetch needs no turn", {IDLE, .events_due = true, .turn_busy = true}, LEADER_FETCH},
	{"an idle renewal needs no turn", {IDLE, .lease_due = true, .turn_busy = true}, LEADER_STEP},
	{"backing off needs no turn", {IDLE, .work = 1, .retry_waiting = true, .turn_busy = true,
				       FAILING(0, true, 1)}, LEADER_WAIT_RETRY},
	{"stopping: draining waits for the turn",
	 {IDLE, .stopping = true, .work = 5, .turn_busy = true}, LEADER_WAIT_TURN},
	{"stopping: the release needs no turn", {IDLE, .stopping = true,
						 .drain_over = true, .work = 5, .turn_busy = true},
	 LEADER_RELEASE},
};

START_TEST(test_next)
{
	const struct leader_facts *f = &next_cases[_i].facts;

	ck_assert_msg(leader_plan_next(f) == next_cases[_i].expect, "%s: got %d, expected %d",
		      next_cases[_i].name, leader_plan_next(f), next_cases[_i].expect);
}
END_TEST

/* A failing event's life: each row is an event, then the state it must leave. */
START_TEST(test_failure_is_linear)
{
	struct failure_state st = {0};

	/* Event 1999 of a 2000-event step fails: commit the 1999 before it first. */
	leader_plan_failed(&st, 1999);
	ck_assert_uint_eq(st.prefix, 1999);
	ck_assert(st.isolate);
	ck_assert_uint_eq(st.head_attempts, 1);
	/* The prefix commits in two steps; the failing event is still the one counted. */
	leader_plan_committed(&st, 1000);
	ck_assert_uint_eq(st.prefix, 999);
	ck_assert_uint_eq(st.head_attempts, 1);
	leader_plan_committed(&st, 999);
	ck_assert_uint_eq(st.prefix, 0);
	ck_assert(st.isolate);
	ck_assert_uint_eq(st.head_attempts, 1);
	/* Alone, it fails twice more: every failure counts. */
	leader_plan_failed(&st, 0);
	leader_plan_failed(&st, 0);
	ck_assert_uint_eq(st.head_attempts, 3);
	ck_assert_uint_eq(st.prefix, 0);
	/* Dead-lettered (a committed step of one): whole batches again. */
	leader_plan_committed(&st, 1);
	ck_assert(!st.isolate);
	ck_assert_uint_eq(st.head_attempts, 0);
}
END_TEST

START_TEST(test_failure_of_a_whole_batch_at_its_head)
{
	struct failure_state st = {0};

	leader_plan_failed(&st, 0);
	ck_assert_uint_eq(st.prefix, 0);
	ck_assert(st.isolate);
	ck_assert_uint_eq(st.head_attempts, 1);
	leader_plan_committed(&st, 0);	/* a lease renewal changes nothing */
	ck_assert_uint_eq(st.head_attempts, 1);
	leader_plan_committed(&st, 1);	/* it succeeded alone */
	ck_assert(!st.isolate);
	ck_assert_uint_eq(st.head_attempts, 0);
}
END_TEST

static const struct {
	const char *name;
	struct step_size_facts facts;
	size_t expect;
} size_cases[] = {
	{"nothing waiting", {.available = 0, .cap = 4096}, 0},
	{"counting only: everything", {.available = 10, .cap = 4096}, 10},
	{"counting only: the cap", {.available = 100000, .cap = 4096}, 4096},
	{"a fetch's worth", {.available = 600, .cap = 500}, 500},
	{"handler cost unknown: measure first", {.available = 3000, .cap = 4096, .handler = true}, 16},
	{"3 ms a handler, 1 s budget", {.available = 3000, .cap = 4096, .handler = true,
					.per_event_ms = 3, .budget_ms = 1000}, 333},
	{"slower than the budget: one at a time", {.available = 3000, .cap = 4096, .handler = true,
						   .per_event_ms = 2000, .budget_ms = 1000}, 1},
	{"fast handler: the cap", {.available = 100000, .cap = 4096, .handler = true,
				   .per_event_ms = 0.01, .budget_ms = 1000}, 4096},
	{"the good prefix, whatever the budget", {.available = 3000, .cap = 4096, .handler = true,
						  .per_event_ms = 3, .budget_ms = 1000,
						  .failure = {.prefix = 1999, .isolate = true}}, 1999},
	{"a failing event alone", {.available = 3000, .cap = 4096,
				   .failure = {.isolate = true, .head_attempts = 1}}, 1},
};

START_TEST(test_step_size)
{
	size_t got = leader_plan_step_size(&size_cases[_i].facts);

	ck_assert_msg(got == size_cases[_i].expect, "%s: got %zu, expected %zu", size_cases[_i].name,
		      got, size_cases[_i].expect);
}
END_TEST

START_TEST(test_cost_follows_slow_steps_at_once_and_fast_ones_by_halves)
{
	struct step_cost c = {0};

	leader_plan_observe(&c, 0, 1.0);	/* an empty step says nothing */
	ck_assert(c.per_event_ms == 0);
	leader_plan_observe(&c, 16, 0.048);	/* 3 ms each */
	ck_assert(fabs(c.per_event_ms - 3) < 1e-9);
	leader_plan_observe(&c, 100, 1.0);	/* 10 ms each: believed at once */
	ck_assert(fabs(c.per_event_ms - 10) < 1e-9);
	leader_plan_observe(&c, 100, 0.2);	/* 2 ms each: halfway */
	ck_assert(fabs(c.per_event_ms - 6) < 1e-9);
}
END_TEST

START_TEST(test_retry_delay)
{
	/* attempts, max, delay */
	static const unsigned long cases[][3] = {
		{0, 5, 0}, {1, 5, 100}, {2, 5, 200}, {3, 5, 400}, {4, 5, 800}, {5, 5, 0},
		{7, 100, 5000}, {60, 100, 5000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(leader_plan_retry_delay_ms(cases[i][0], cases[i][1]) == cases[i][2],
			      "attempts %lu of %lu", cases[i][0], cases[i][1]);
}
END_TEST

Suite *
leader_plan_suite(void)
{
	Suite *s = suite_create("leader_plan");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_next, 0, sizeof(next_cases) / sizeof(next_cases[0]));
	tcase_add_test(tc, test_failure_is_linear);
	tcase_add_test(tc, test_failure_of_a_whole_batch_at_its_head);
	tcase_add_loop_test(tc, test_step_size, 0, sizeof(size_cases) / sizeof(size_cases[0]));
	tcase_add_test(tc, test_cost_follows_slow_steps_at_once_and_fast_ones_by_halves);
	tcase_add_test(tc, test_retry_delay);
	tcase_add_test(tc, test_transient_failures_count_only_once_spent);
	tcase_add_test(tc, test_which_sqlstates_are_transient);
	tcase_add_test(tc, test_transient_delay);
	suite_add_tcase(s, tc);
	return s;
}
