/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: passwords in --dbname values are overwritten where they were written. */
#include <stdio.h>
#include <string.h>

#include "redact.h"
#include "suites.h"

static const struct {
	const char *in, *out;
	bool changed;
} cases[] = {
	{"host=h password=s3cret dbname=d", "host=h password=xxxxxx dbname=d", true},
	{"password = 'a b\\'c' host=h", "password = 'xxxxxx' host=h", true},
	{"password=a\\ b host=h", "password=xxxx host=h", true},
	{"host=h sslpassword=k3y", "host=h sslpassword=xxx", true},
	{"postgresql://u:pw%40x@h:5432/db", "postgresql://u:xxxxxx@h:5432/db", true},
	{"postgres://u:pw@h/db", "postgres://u:xx@h/db", true},
	{"postgresql://u:pw@h1:1,h2:2/db?sslmode=disable", "postgresql://u:xx@h1:1,h2:2/db?sslmode=disable",
	 true},
	{"postgresql://u@h/db?sslmode=disable&password=s3cret", "postgresql://u@h/db?sslmode=disable&password=xxxxxx",
	 true},
	{"postgresql://h/db?pass%77ord=s3cret&user=u", "postgresql://h/db?pass%77ord=xxxxxx&user=u", true},
	/* ... and nothing else changes. */
	{"host=h dbname=d user=u", "host=h dbname=d user=u", false},
	{"postgresql://u@h/db", "postgresql://u@h/db", false},
	{"password='' host=h", "password='' host=h", false},
	{"", "", false},
	/* What libpq cannot parse may hold anything: all of it goes. */
	{"host=h password='s3cret", "xxxxxxxxxxxxxxxxxxxxxxx", true},
	{"postgresql://u:s3cret@[::1/db", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx", true},
};

START_TEST(test_cases)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s", cases[_i].in);
	ck_assert_int_eq(redact_conninfo(buf), cases[_i].changed);
	ck_assert_str_eq(buf, cases[_i].out);
	ck_assert_uint_eq(strlen(buf), strlen(cases[_i].in));
}
END_TEST

/* Only the string's own bytes are written: argv's strings lie end to end. */
START_TEST(test_stays_within_the_string)
{
	char argv_area[] = "password=s3cret\0next";

	ck_assert(redact_conninfo(argv_area));
	ck_assert_str_eq(argv_area, "password=xxxxxx");
	ck_assert_str_eq(argv_area + 16, "next");
}
END_TEST

Suite *
redact_suite(void)
{
	Suite *s = suite_create("redact");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_cases, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_stays_within_the_string);
	suite_add_tcase(s, tc);
	return s;
}
