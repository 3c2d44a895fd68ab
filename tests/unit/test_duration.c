/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: duration parsing ("250ms", "10s", "1min", bare milliseconds). */
/* Valid cases allow up to 24h; invalid ones are checked against a 1h maximum. */
#include "duration.h"
#include "suites.h"

static const struct {
	const char *text;
	unsigned long ms;
} valid[] = {
	{"1", 1}, {"100", 100}, {"250ms", 250}, {"10s", 10000}, {"1min", 60000},
	{"2h", 7200000}, {"3600000", 3600000}, {"24h", 86400000},
};

static const char *const invalid[] = {
	"", "0", "-1", " 5", "+5", "5 ms", "abc", "10sec", "1.5s", "ms", "2h1",
	"3600001", "99999999999999999999999", "18446744073709551616s",
};

START_TEST(test_valid)
{
	unsigned long ms = 0;
	const char *why = NULL;

	ck_assert_msg(parse_duration_ms(valid[_i].text, 1, 24 * 3600000UL, &ms, &why),
		      "'%s' rejected", valid[_i].text);
	ck_assert_uint_eq(ms, valid[_i].ms);
}
END_TEST

START_TEST(test_invalid)
{
	unsigned long ms = 0;
	const char *why = NULL;

	ck_assert_msg(!parse_duration_ms(invalid[_i], 1, 3600000, &ms, &why),
		      "'%s' accepted", invalid[_i]);
	ck_assert_ptr_nonnull(why);
}
END_TEST

Suite *
duration_suite(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	suite_add_tcase(s, tc);
	return s;
}
