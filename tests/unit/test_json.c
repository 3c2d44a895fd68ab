/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: JSON string escaping. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "suites.h"

static const struct {
	const char *in;
	size_t len;
	const char *out;
} cases[] = {
	{"plain", 5, "plain"},
	{"q\"b\\", 4, "q\\\"b\\\\"},
	{"nl\ntab\t", 7, "nl\\ntab\\t"},
	{"bell\a", 5, "bell\\u0007"},
	{"z\xc3\xbc", 3, "z\xc3\xbc"},
	{"bad\xff", 4, "bad\\ufffd"},
};

START_TEST(test_escaping)
{
	char buf[128] = "";
	FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");

	json_write_escaped(out, cases[_i].in, cases[_i].len);
	fclose(out);
	ck_assert_str_eq(buf, cases[_i].out);
}
END_TEST

START_TEST(test_null_and_quotes)
{
	char buf[64] = "";
	FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");

	json_write_string(out, NULL);
	json_write_string(out, "x");
	fclose(out);
	ck_assert_str_eq(buf, "null\"x\"");
}
END_TEST

Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_escaping, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_null_and_quotes);
	suite_add_tcase(s, tc);
	return s;
}
