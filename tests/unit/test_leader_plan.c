/* Unit tests: the leader's decisions (what next, step size, retry delay), as tables. */
#include "leader_plan.h"
#include "suites.h"

/* Every case starts from an idle leader with nothing to do. */
#define IDLE .max_attempts = 5

static const struct {
	const char *name;
	struct leader_facts facts;
	enum leader_action expect;
} next_cases[] = {
	{"nothing to do", {IDLE}, LEADER_IDLE},
	{"notifications waiting", {IDLE, .work = 3}, LEADER_STEP},
	{"notifications, exec handler", {IDLE, .work = 3, .exec_handler = true}, LEADER_EXEC},
	{"durable events may be waiting", {IDLE, .events_due = true}, LEADER_FETCH},
	{"work comes before a fetch", {IDLE, .work = 1, .events_due = true}, LEADER_STEP},
	{"lease due while idle", {IDLE, .lease_due = true}, LEADER_STEP},
	{"heartbeat due while idle", {IDLE, .housekeeping_due = true}, LEADER_STEP},
	{"backing off, lease fine", {IDLE, .work = 1, .retry_waiting = true}, LEADER_WAIT_RETRY},
	{"backing off, lease due", {IDLE, .work = 1, .retry_waiting = true, .lease_due = true},
	 LEADER_RENEW},
	{"head failed max times", {IDLE, .work = 2, .head_attempts = 5}, LEADER_DEAD_LETTER},
	{"head failed max times, exec", {IDLE, .work = 2, .head_attempts = 5, .exec_handler = true},
	 LEADER_DEAD_LETTER},
	{"head failed fewer times", {IDLE, .work = 2, .head_attempts = 4, .isolate = true},
	 LEADER_STEP},
	{"stopping: unlisten first", {IDLE, .stopping = true, .work = 5}, LEADER_UNLISTEN},
	{"stopping, backing off: unlisten", {IDLE, .stopping = true, .retry_waiting = true},
	 LEADER_UNLISTEN},
	{"stopping: drain what arrived", {IDLE, .stopping = true, .unlistened = true, .work = 5},
	 LEADER_STEP},
	{"stopping: no retry of a failing event",
	 {IDLE, .stopping = true, .unlistened = true, .work = 5, .isolate = true}, LEADER_RELEASE},
	{"stopping: no fetch, release", {IDLE, .stopping = true, .unlistened = true,
					 .events_due = true, .lease_due = true}, LEADER_RELEASE},
};

START_TEST(test_next)
{
	const struct leader_facts *f = &next_cases[_i].facts;

	ck_assert_msg(leader_plan_next(f) == next_cases[_i].expect, "%s: got %d, expected %d",
		      next_cases[_i].name, leader_plan_next(f), next_cases[_i].expect);
}
END_TEST

static const struct {
	size_t available;
	bool durable, isolate;
	size_t expect;
} size_cases[] = {
	{0, false, false, 0},
	{10, false, false, 10},
	{100000, false, false, MAX_STEP_NOTIFICATIONS},
	{600, true, false, 500},
	{100, true, false, 100},
	{100, false, true, 1},
	{0, false, true, 0},
};

START_TEST(test_step_size)
{
	ck_assert_uint_eq(leader_plan_step_size(size_cases[_i].available, size_cases[_i].durable,
						size_cases[_i].isolate, 500), size_cases[_i].expect);
}
END_TEST

START_TEST(test_exec_size)
{
	ck_assert_uint_eq(leader_plan_exec_size(0, false), 0);
	ck_assert_uint_eq(leader_plan_exec_size(10, false), 10);
	ck_assert_uint_eq(leader_plan_exec_size(1000, false), EXEC_BATCH);
	ck_assert_uint_eq(leader_plan_exec_size(1000, true), 1);
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
	tcase_add_loop_test(tc, test_step_size, 0, sizeof(size_cases) / sizeof(size_cases[0]));
	tcase_add_test(tc, test_exec_size);
	tcase_add_test(tc, test_retry_delay);
	suite_add_tcase(s, tc);
	return s;
}
