/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: array literals for query parameters. */
#include <string.h>

#include "pgarray.h"
#include "suites.h"

START_TEST(test_text_arrays)
{
	const char *items[] = {"plain", "with space", "q\"uote", "back\\slash", "", "{},"};
	char buf[128];

	ck_assert_uint_eq(pg_text_array(buf, sizeof(buf), items, 6), strlen(buf));
	ck_assert_str_eq(buf, "{\"plain\",\"with space\",\"q\\\"uote\",\"back\\\\slash\",\"\",\"{},\"}");
	pg_text_array(buf, sizeof(buf), items, 0);
	ck_assert_str_eq(buf, "{}");
	/* Sizing without a buffer, as forward.c does before it allocates one. */
	ck_assert_uint_eq(pg_text_array(NULL, 0, items, 6), strlen(
		"{\"plain\",\"with space\",\"q\\\"uote\",\"back\\\\slash\",\"\",\"{},\"}"));
}
END_TEST

START_TEST(test_int_arrays_and_truncation)
{
	const long long ids[] = {1, -2, 9223372036854775807LL};
	char buf[64], tiny[4];

	pg_int_array(buf, sizeof(buf), ids, 3);
	ck_assert_str_eq(buf, "{1,-2,9223372036854775807}");
	ck_assert_uint_ge(pg_int_array(tiny, sizeof(tiny), ids, 3), sizeof(tiny));
	ck_assert_uint_eq(strlen(tiny), 3);
}
END_TEST

Suite *
pgarray_suite(void)
{
	Suite *s = suite_create("pgarray");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_text_arrays);
	tcase_add_test(tc, test_int_arrays_and_truncation);
	suite_add_tcase(s, tc);
	return s;
}
