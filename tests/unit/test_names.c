/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: node, cluster and channel name validation. */
#include <string.h>

#include "names.h"
#include "suites.h"

START_TEST(test_accepts_ordinary_and_odd_names)
{
	ck_assert_ptr_null(name_problem("node1"));
	ck_assert_ptr_null(name_problem("Mixed Case \"quoted\" name"));
	ck_assert_ptr_null(name_problem("z\xc3\xbcrich"));
	ck_assert_ptr_null(channel_problem("test_channel"));
}
END_TEST

START_TEST(test_length_limit_is_63_bytes)
{
	char name[80];

	memset(name, 'a', sizeof(name));
	name[63] = '\0';
	ck_assert_ptr_null(name_problem(name));
	name[63] = 'a';
	name[64] = '\0';
	ck_assert_str_eq(name_problem(name), "is longer than 63 bytes");
}
END_TEST

START_TEST(test_rejects_empty_and_control_characters)
{
	ck_assert_str_eq(name_problem(""), "is empty");
	ck_assert_str_eq(name_problem("a\nb"), "contains a control character");
	ck_assert_str_eq(name_problem("tab\t"), "contains a control character");
	ck_assert_str_eq(name_problem("del\x7f"), "contains a control character");
	ck_assert_str_eq(name_problem("bad\xff"), "is not valid UTF-8");
	ck_assert_str_eq(name_problem("rlo\xe2\x80\xae"), "contains a control character");
	ck_assert_str_eq(name_problem("c1\xc2\x85"), "contains a control character");
	ck_assert_ptr_null(name_problem("z\xc3\xbcrich"));
}
END_TEST

START_TEST(test_handoff_channel_is_reserved)
{
	ck_assert_ptr_nonnull(channel_problem(HANDOFF_CHANNEL));
	ck_assert_ptr_null(name_problem(HANDOFF_CHANNEL));
}
END_TEST

Suite *
names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_accepts_ordinary_and_odd_names);
	tcase_add_test(tc, test_length_limit_is_63_bytes);
	tcase_add_test(tc, test_rejects_empty_and_control_characters);
	tcase_add_test(tc, test_handoff_channel_is_reserved);
	suite_add_tcase(s, tc);
	return s;
}
