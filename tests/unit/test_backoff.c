/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: capped exponential backoff with jitter. */
#include <stdint.h>

#include "backoff.h"
#include "suites.h"

START_TEST(test_first_delay_within_base)
{
	struct backoff b;

	backoff_init(&b, 100, 5000);
	ck_assert_uint_eq(backoff_next(&b, 0), 50);
	backoff_reset(&b);
	ck_assert_uint_eq(backoff_next(&b, UINT32_MAX), 50 + UINT32_MAX % 51);
}
END_TEST

START_TEST(test_bounds_double_then_cap)
{
	static const unsigned bounds[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
	struct backoff b;

	backoff_init(&b, 100, 5000);
	for (unsigned i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		struct backoff copy = b;
		unsigned lo = backoff_next(&copy, 0);
		unsigned hi = backoff_next(&b, bounds[i] - bounds[i] / 2);

		ck_assert_uint_eq(lo, bounds[i] / 2);
		ck_assert_uint_eq(hi, bounds[i]);
	}
}
END_TEST

START_TEST(test_never_exceeds_cap_however_long)
{
	struct backoff b;

	backoff_init(&b, 100, 5000);
	for (uint32_t i = 0; i < 100000; i++) {
		unsigned d = backoff_next(&b, i * 2654435761u);

		ck_assert_uint_le(d, 5000);
		ck_assert_uint_ge(d, 50);
	}
}
END_TEST

START_TEST(test_reset_starts_over)
{
	struct backoff b;

	backoff_init(&b, 100, 5000);
	for (int i = 0; i < 10; i++)
		backoff_next(&b, 0);
	backoff_reset(&b);
	ck_assert_uint_le(backoff_next(&b, UINT32_MAX), 100);
}
END_TEST

START_TEST(test_degenerate_parameters)
{
	struct backoff b;

	backoff_init(&b, 0, 0);
	ck_assert_uint_le(backoff_next(&b, 12345), 1);
}
END_TEST

Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_first_delay_within_base);
	tcase_add_test(tc, test_bounds_double_then_cap);
	tcase_add_test(tc, test_never_exceeds_cap_however_long);
	tcase_add_test(tc, test_reset_starts_over);
	tcase_add_test(tc, test_degenerate_parameters);
	suite_add_tcase(s, tc);
	return s;
}
