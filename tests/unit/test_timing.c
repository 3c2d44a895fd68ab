/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: self-demotion always comes before the server frees the lock. */
#include "suites.h"
#include "timing.h"

START_TEST(test_defaults)
{
	struct fault_timing t;

	fault_timing_compute(10000, 10000, &t);
	ck_assert_uint_eq(t.server_release_ms, 10000);
	ck_assert_uint_eq(t.keepalive_idle_s, 5);
	ck_assert_uint_eq(t.answer_deadline_ms, 5000);
	ck_assert_uint_eq(t.renew_interval_ms, 2500);
	ck_assert_uint_eq(t.demote_bound_ms, 7500);
	ck_assert_uint_eq(t.lease_ms, 10000);
	ck_assert_uint_eq(t.step_budget_ms, 1000);
	ck_assert_uint_eq(fault_timing_event_limit(&t, 30000), 2500);
	ck_assert_uint_eq(fault_timing_event_limit(&t, 100), 100);
	fault_timing_compute(3000, 10000, &t);
	ck_assert_uint_eq(t.step_budget_ms, 375);
	ck_assert_uint_eq(fault_timing_event_limit(&t, 30000), 750);
	fault_timing_compute(10000, 1000, &t);	/* lease_timeout 1s */
	ck_assert_uint_eq(fault_timing_event_limit(&t, 30000), 500);
}
END_TEST

START_TEST(test_demotion_precedes_release_for_every_setting)
{
	static const unsigned long leases[] = {0, 1000, 2000, 10000, 60000};

	for (unsigned long b = 3000; b <= 3600000; b += b < 20000 ? 500 : 9000)
		for (unsigned i = 0; i < sizeof(leases) / sizeof(leases[0]); i++) {
			struct fault_timing t;

			fault_timing_compute(b, leases[i], &t);
			ck_assert_msg(t.server_release_ms <= b, "release %lu > %lu", t.server_release_ms, b);
			ck_assert_msg(t.demote_bound_ms * 4 <= t.server_release_ms * 3,
				      "demote %lu vs release %lu", t.demote_bound_ms, t.server_release_ms);
			ck_assert_uint_gt(t.renew_interval_ms, 0);
			ck_assert_uint_lt(t.renew_interval_ms, t.lease_ms);
			ck_assert_uint_ge(t.keepalive_count, 1);
			ck_assert_uint_ge(t.keepalive_interval_s, 1);
			/* The kernel's backstop on our side fires before the server's release. */
			ck_assert_uint_lt(t.client_user_timeout_ms, t.server_release_ms);
			ck_assert_uint_gt(t.client_user_timeout_ms, t.answer_deadline_ms);
			/* A step and a single handler call answer well within the deadline. */
			ck_assert_uint_le(t.step_budget_ms * 4, t.answer_deadline_ms);
			ck_assert_uint_le(fault_timing_event_limit(&t, 3600000) * 2, t.answer_deadline_ms);
			/* ... and within half a lease: a busy leader's calls keep it. */
			ck_assert_uint_le(fault_timing_event_limit(&t, 3600000) * 2, t.lease_ms);
		}
}
END_TEST

/* A quarter of the lease, capped by the heartbeat. */
START_TEST(test_look_interval)
{
	static const struct {
		unsigned long lease, heartbeat, want;
	} rows[] = {
		{10000, 5000, 2500},	/* defaults: a hung leader is ended within 12.5 s */
		{60000, 5000, 5000},	/* a long lease: the heartbeat bounds it */
		{2000, 5000, 500},
		{0, 5000, 5000},	/* eviction off */
		{10000, 200, 200},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_uint_eq(look_interval_ms(rows[i].lease, rows[i].heartbeat), rows[i].want);
}
END_TEST

/* The first SAFETY_READERS standbys look every look interval; the others less often, the
 * more there are, at most SLOW_LOOKS_MAX intervals, less up to a fifth at random. */
START_TEST(test_standby_wait)
{
	static const struct {
		int rank, members;
		double random01;
		unsigned long want;
	} rows[] = {
		{-1, 51, 0.0, 2500},	/* rank not read yet */
		{0, 51, 1.0, 2500},
		{7, 51, 0.5, 2500},	/* the eighth */
		{8, 9, 0.0, 5000},	/* the ninth of 9: two looks */
		{8, 16, 0.0, 5000},
		{8, 17, 0.0, 7500},
		{30, 51, 0.0, 10000},	/* 7 looks, at most 4 */
		{30, 51, 1.0, 8000},	/* less a fifth */
		{30, 51, 7.0, 8000},	/* a random value out of range is clamped */
		{3, 3, 0.0, 2500},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_uint_eq(standby_wait_ms(2500, rows[i].rank, rows[i].members, rows[i].random01),
				  rows[i].want);
}
END_TEST

/* A partitioned node's watch waits SLOW_LOOKS_MAX look intervals, less up to a fifth. */
START_TEST(test_watch_wait)
{
	static const struct {
		double random01;
		unsigned long want;
	} rows[] = {
		{0.0, 10000},
		{0.5, 9000},
		{1.0, 8000},
		{-3.0, 10000},	/* out of range: clamped */
		{7.0, 8000},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_uint_eq(watch_wait_ms(2500, rows[i].random01), rows[i].want);
}
END_TEST

Suite *
timing_suite(void)
{
	Suite *s = suite_create("timing");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_look_interval);
	tcase_add_test(tc, test_standby_wait);
	tcase_add_test(tc, test_watch_wait);
	tcase_add_test(tc, test_demotion_precedes_release_for_every_setting);
	suite_add_tcase(s, tc);
	return s;
}
