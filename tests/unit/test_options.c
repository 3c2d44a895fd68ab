/* Unit tests: command-line parsing, defaults and usage errors. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "options.h"
#include "suites.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

static int
parse(struct options *o, char **argv, int argc, char *err, size_t errlen)
{
	return options_parse(o, argc, argv, err, errlen);
}

START_TEST(test_defaults)
{
	char *argv[] = {"clustered_nodes", NULL};
	struct options o;
	char err[256] = "";

	ck_assert_int_eq(parse(&o, argv, ARGC(argv), err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, ACTION_RUN);
	ck_assert_str_eq(o.cluster, "default");
	ck_assert_str_eq(o.dbname, "");
	ck_assert_int_eq(o.nchannels, 1);
	ck_assert_str_eq(o.channels[0], "test_channel");
	ck_assert_uint_eq(o.poll_interval_ms, 100);
	ck_assert_ptr_null(name_problem(o.node));
}
END_TEST

START_TEST(test_all_options)
{
	char *argv[] = {"clustered_nodes", "--node", "node1", "--dbname", "host=x",
		"--cluster", "c1", "--listen", "a", "--listen", "B c", "-p", "2s", NULL};
	struct options o;
	char err[256] = "";

	ck_assert_int_eq(parse(&o, argv, ARGC(argv), err, sizeof(err)), 0);
	ck_assert_str_eq(o.node, "node1");
	ck_assert_str_eq(o.dbname, "host=x");
	ck_assert_str_eq(o.cluster, "c1");
	ck_assert_int_eq(o.nchannels, 2);
	ck_assert_str_eq(o.channels[1], "B c");
	ck_assert_uint_eq(o.poll_interval_ms, 2000);
}
END_TEST

START_TEST(test_help_and_version)
{
	char *help[] = {"clustered_nodes", "--help", NULL};
	char *version[] = {"clustered_nodes", "-V", NULL};
	struct options o;
	char err[256];

	ck_assert_int_eq(parse(&o, help, ARGC(help), err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, ACTION_HELP);
	ck_assert_int_eq(parse(&o, version, ARGC(version), err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, ACTION_VERSION);
}
END_TEST

static const struct {
	const char *option;
	const char *value;
	const char *expect;	/* substring of the error */
} bad[] = {
	{"--poll-interval", "0", "--poll-interval '0' is out of range"},
	{"--poll-interval", "-5", "--poll-interval '-5' must be"},
	{"--poll-interval", "abc", "must be a non-negative integer"},
	{"--poll-interval", "5parsecs", "unknown unit"},
	{"--listen", "", "--listen '' is empty"},
	{"--listen", "c123456789012345678901234567890123456789012345678901234567890123",
	 "longer than 63 bytes"},
	{"--listen", "clustered_nodes_handoff", "reserved"},
	{"--node", "bad\nname", "control character"},
	{"--cluster", "bad\x01", "control character"},
	{"--cluster", "", "is empty"},
	{"--acquire", "sometimes", "is not a mode (use poll or wait)"},
};

START_TEST(test_bad_values)
{
	char option[64], value[128];
	char *argv[] = {"clustered_nodes", option, value, NULL};
	struct options o;
	char err[256] = "";

	snprintf(option, sizeof(option), "%s", bad[_i].option);
	snprintf(value, sizeof(value), "%s", bad[_i].value);

	ck_assert_int_eq(parse(&o, argv, ARGC(argv), err, sizeof(err)), EX_USAGE);
	ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "error '%s' lacks '%s'", err,
		      bad[_i].expect);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_unknown_option_and_stray_argument)
{
	char *unknown[] = {"clustered_nodes", "--frobnicate", NULL};
	char *stray[] = {"clustered_nodes", "node1", NULL};
	char *missing[] = {"clustered_nodes", "--node", NULL};
	struct options o;
	char err[256];

	ck_assert_int_eq(parse(&o, unknown, ARGC(unknown), err, sizeof(err)), EX_USAGE);
	ck_assert_ptr_nonnull(strstr(err, "unknown option '--frobnicate'"));
	ck_assert_int_eq(parse(&o, stray, ARGC(stray), err, sizeof(err)), EX_USAGE);
	ck_assert_ptr_nonnull(strstr(err, "unexpected argument 'node1'"));
	ck_assert_int_eq(parse(&o, missing, ARGC(missing), err, sizeof(err)), EX_USAGE);
	ck_assert_ptr_nonnull(strstr(err, "--node needs a value"));
}
END_TEST

START_TEST(test_duplicate_channel)
{
	char *argv[] = {"clustered_nodes", "-l", "a", "-l", "a", NULL};
	struct options o;
	char err[256];

	ck_assert_int_eq(parse(&o, argv, ARGC(argv), err, sizeof(err)), EX_USAGE);
	ck_assert_ptr_nonnull(strstr(err, "given twice"));
}
END_TEST

Suite *
options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_options);
	tcase_add_test(tc, test_help_and_version);
	tcase_add_loop_test(tc, test_bad_values, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_unknown_option_and_stray_argument);
	tcase_add_test(tc, test_duplicate_channel);
	suite_add_tcase(s, tc);
	return s;
}
