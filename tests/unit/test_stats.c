/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: what a node counts about itself: the per-second ring the page draws, and the
 * history's reasons as metric labels. */
#include "stats.h"
#include "suites.h"

START_TEST(test_seconds_ring_counts_and_forgets)
{
	static struct node_stats s;	/* zeroed: nothing counted */
	struct rate_second r;

	stats_count_second(&s, 1000.2, 5);
	stats_count_second(&s, 1000.9, 2);
	stats_count_second(&s, 1001.0, 1);
	r = stats_second(&s, 1000);
	ck_assert_uint_eq(r.steps, 2);
	ck_assert_uint_eq(r.notifications, 7);
	ck_assert_uint_eq(stats_second(&s, 1001).steps, 1);
	ck_assert_uint_eq(stats_second(&s, 999).steps, 0);
	/* RATE_SECONDS later the slot is reused: the old second reads as empty. */
	stats_count_second(&s, 1000.5 + RATE_SECONDS, 3);
	ck_assert_uint_eq(stats_second(&s, 1000).steps, 0);
	ck_assert_uint_eq(stats_second(&s, 1000 + RATE_SECONDS).notifications, 3);
}
END_TEST

START_TEST(test_takeover_reasons)
{
	ck_assert_int_eq(takeover_reason_of("handed over"), TAKEOVER_HANDED_OVER);
	ck_assert_int_eq(takeover_reason_of("first lead"), TAKEOVER_FIRST_LEAD);
	ck_assert_int_eq(takeover_reason_of("server restarted"), TAKEOVER_SERVER_RESTARTED);
	ck_assert_int_eq(takeover_reason_of("made up"), TAKEOVER_UNKNOWN);
	ck_assert_int_eq(takeover_reason_of(""), TAKEOVER_UNKNOWN);
	ck_assert_str_eq(takeover_reason_label[TAKEOVER_SESSION_ENDED], "session_ended");
}
END_TEST

Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_seconds_ring_counts_and_forgets);
	tcase_add_test(tc, test_takeover_reasons);
	suite_add_tcase(s, tc);
	return s;
}
