/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: command-line parsing, subcommands and usage errors. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "suites.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

START_TEST(test_run_with_settings_in_order)
{
	char *argv[] = {"clustered_nodes", "--node", "node1", "-p", "2s", "--listen", "a",
		"-l", "B c", "--log-level", "debug", "--config", "/x.conf", NULL};
	struct cli a;
	char err[256] = "";

	ck_assert_int_eq(cli_parse(&a, ARGC(argv), argv, err, sizeof(err)), 0);
	ck_assert_int_eq(a.command, CMD_RUN);
	ck_assert_str_eq(a.config_path, "/x.conf");
	ck_assert_int_eq(a.nvalues, 3);
	ck_assert_str_eq(a.values[0].setting->key, "node");
	ck_assert_str_eq(a.values[1].setting->key, "poll_interval");
	ck_assert_str_eq(a.values[1].text, "2s");
	ck_assert_str_eq(a.values[2].setting->key, "log_level");
	ck_assert_int_eq(a.nchannels, 2);
	ck_assert_str_eq(a.channels[1], "B c");
}
END_TEST

START_TEST(test_subcommands)
{
	char *status[] = {"clustered_nodes", "status", "--json", "-c", "c1", NULL};
	char *check[] = {"clustered_nodes", "--check", NULL};
	char *help[] = {"clustered_nodes", "--help", NULL};
	char *version[] = {"clustered_nodes", "-V", NULL};
	struct cli a;
	char err[256];

	ck_assert_int_eq(cli_parse(&a, ARGC(status), status, err, sizeof(err)), 0);
	ck_assert_int_eq(a.command, CMD_STATUS);
	ck_assert(a.json);
	ck_assert_str_eq(a.values[0].text, "c1");
	ck_assert_int_eq(cli_parse(&a, ARGC(check), check, err, sizeof(err)), 0);
	ck_assert_int_eq(a.command, CMD_CHECK);
	ck_assert_int_eq(cli_parse(&a, ARGC(help), help, err, sizeof(err)), 0);
	ck_assert_int_eq(a.command, CMD_HELP);
	ck_assert_int_eq(cli_parse(&a, ARGC(version), version, err, sizeof(err)), 0);
	ck_assert_int_eq(a.command, CMD_VERSION);
	ck_assert_int_eq(a.partition, -1);
	ck_assert_ptr_null(a.since);
	{
		char *history[] = {"clustered_nodes", "history", "--json", "--partition", "7",
			"--since", "2h", "--limit", "3", NULL};

		ck_assert_int_eq(cli_parse(&a, ARGC(history), history, err, sizeof(err)), 0);
		ck_assert_int_eq(a.command, CMD_HISTORY);
		ck_assert(a.json);
		ck_assert_int_eq(a.partition, 7);
		ck_assert_str_eq(a.since, "2h");
		ck_assert_int_eq(a.limit, 3);
	}
}
END_TEST

static const struct {
	const char *argv[4];
	const char *expect;
} misuse[] = {
	{{"--frobnicate"}, "unknown option '--frobnicate'"},
	{{"node1"}, "unexpected argument 'node1'"},
	{{"--node"}, "--node needs a value"},
	{{"--json"}, "--json only goes with status or history"},
	{{"status", "--check"}, "--check does not go with status"},
	{{"history", "--check"}, "--check does not go with history"},
	{{"--since", "1h"}, "--since only goes with history"},
	{{"status", "--limit", "3"}, "--limit only goes with history"},
	{{"history", "--partition", "64"}, "--partition '64' is not a partition number (0 to 63)"},
	{{"history", "--partition", "-1"}, "--partition '-1' is not a partition number"},
	{{"history", "--partition", "1x"}, "--partition '1x' is not a partition number"},
	{{"history", "--limit", "0"}, "--limit '0' is not a number from 1 to 100000"},
	{{"history", "--limit", "99999999999999999999"}, "--limit '99999999999999999999' is not"},
	{{"history", "--since", ""}, "--since needs a value"},
};

START_TEST(test_misuse)
{
	char *argv[6] = {"clustered_nodes"};
	char copies[4][64];
	struct cli a;
	char err[256] = "";
	int argc = 1;

	for (int i = 0; i < 4 && misuse[_i].argv[i]; i++) {
		snprintf(copies[i], sizeof(copies[i]), "%s", misuse[_i].argv[i]);
		argv[argc++] = copies[i];
	}
	ck_assert_int_eq(cli_parse(&a, argc, argv, err, sizeof(err)), EX_USAGE);
	ck_assert_msg(strstr(err, misuse[_i].expect) != NULL, "'%s' lacks '%s'", err,
		      misuse[_i].expect);
}
END_TEST

START_TEST(test_help_lists_every_setting)
{
	char buf[16384] = "";
	FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");

	cli_print_usage(out);
	fclose(out);
	for (size_t i = 0; i < settings_count; i++) {
		char name[48];

		snprintf(name, sizeof(name), "--%s", settings[i].key);
		for (char *p = name; *p; p++)
			if (*p == '_')
				*p = '-';
		ck_assert_msg(strstr(buf, name) != NULL, "--help lacks %s", name);
	}
}
END_TEST

Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_run_with_settings_in_order);
	tcase_add_test(tc, test_subcommands);
	tcase_add_loop_test(tc, test_misuse, 0, sizeof(misuse) / sizeof(misuse[0]));
	tcase_add_test(tc, test_help_lists_every_setting);
	suite_add_tcase(s, tc);
	return s;
}
