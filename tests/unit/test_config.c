/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: configuration precedence and the errors of files, environment and command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "suites.h"

#define ARGC(a) ((int) (sizeof(a) / sizeof((a)[0])) - 1)

static char path[64];

static void
clear_environment(void)
{
	for (size_t i = 0; i < settings_count; i++) {
		char name[64];

		snprintf(name, sizeof(name), "CLUSTERED_NODES_%s", settings[i].key);
		for (char *p = name; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char) (*p - 'a' + 'A');
		unsetenv(name);
	}
	setenv("CLUSTERED_NODES_CONFIG", "", 1);	/* nor the installed file */
}

static const char *
write_file(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/cn_test_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
	close(fd);
	return path;
}

/* Loads with argv after "clustered_nodes --config <file>" (when text is not NULL). */
static int
load(struct config *c, const char *file_text, char **extra, int nextra, char *err, size_t errlen)
{
	char *argv[16] = {"clustered_nodes"};
	char config_option[] = "--config";
	char file[64];
	struct cli a;
	int argc = 1, rc;

	if (file_text) {
		snprintf(file, sizeof(file), "%s", write_file(file_text));
		argv[argc++] = config_option;
		argv[argc++] = file;
	}
	for (int i = 0; i < nextra; i++)
		argv[argc++] = extra[i];
	ck_assert_int_eq(cli_parse(&a, argc, argv, err, errlen), 0);
	rc = config_load(c, &a, err, errlen);
	if (file_text)
		unlink(file);
	return rc;
}

START_TEST(test_defaults)
{
	struct config c;
	char err[512] = "";

	clear_environment();
	ck_assert_int_eq(load(&c, NULL, NULL, 0, err, sizeof(err)), 0);
	ck_assert_str_eq(c.cluster, "default");
	ck_assert_str_eq(c.dbname, "");
	ck_assert_int_eq(c.nchannels, 1);
	ck_assert_str_eq(c.channels[0], "test_channel");
	ck_assert_uint_eq(c.poll_interval_ms, 100);
	ck_assert_uint_eq(c.heartbeat_interval_ms, 5000);
	ck_assert_int_eq(c.acquire, ACQUIRE_POLL);
	ck_assert_int_eq(c.log_level, LEVEL_INFO);
	ck_assert_ptr_null(name_problem(c.node));
	config_free(&c);
}
END_TEST

START_TEST(test_precedence_command_line_environment_file)
{
	char p_opt[] = "--poll-interval", p_val[] = "3s";
	char *extra[] = {p_opt, p_val};
	struct config c;
	char err[512] = "";

	clear_environment();
	setenv("CLUSTERED_NODES_POLL_INTERVAL", "2s", 1);
	setenv("CLUSTERED_NODES_CLUSTER", "from_env", 1);
	ck_assert_int_eq(load(&c, "[clustered_nodes]\npoll_interval = 1s\ncluster = from_file\n"
			      "node = from_file\nlisten = a, b ,c\nlog_format = json\n",
			      extra, 2, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.poll_interval_ms, 3000);	/* command line */
	ck_assert_str_eq(c.cluster, "from_env");	/* environment over file */
	ck_assert_str_eq(c.node, "from_file");		/* file over default */
	ck_assert_int_eq(c.nchannels, 3);
	ck_assert_str_eq(c.channels[1], "b");
	ck_assert_int_eq(c.log_format, LOG_FORMAT_JSON);
	config_free(&c);
	clear_environment();
}
END_TEST

START_TEST(test_command_line_listen_replaces_file_list)
{
	char l_opt[] = "--listen", l_val[] = "only";
	char *extra[] = {l_opt, l_val};
	struct config c;
	char err[512] = "";

	clear_environment();
	ck_assert_int_eq(load(&c, "listen = a, b\n", extra, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(c.nchannels, 1);
	ck_assert_str_eq(c.channels[0], "only");
	config_free(&c);
}
END_TEST

static const struct {
	const char *file;
	const char *expect;	/* after "<path>:" */
} bad_files[] = {
	{"nonsense = 1\n", ":1: unknown key 'nonsense'"},
	{"\n\npoll_interval = 0\n", ":3: poll_interval '0' is out of range (1ms to 1h)"},
	{"poll_interval = soon\n", ":1: poll_interval 'soon' must be"},
	{"[other]\nnode = a\n", ":2: unknown section [other]"},
	{"node = a\n  listen = b\n", ":2: the line is indented"},
	{"just words\n", ":1: syntax error"},
	{"acquire = sometimes\n", ":1: acquire 'sometimes' is not a mode"},
	{"log_level = loud\n", ":1: log_level 'loud' is not a level"},
	{"heartbeat_interval = 10\n", "heartbeat_interval '10' is out of range"},
	{"listen = a, a\n", "names a channel twice"},
	{"dbname = host=x password=secret nonsense_option=1\n", ":1: dbname is not a valid connection string"},
};

START_TEST(test_a_key_set_twice_takes_the_last_value)
{
	struct config c;
	char err[512] = "";

	clear_environment();
	ck_assert_int_eq(load(&c, "node = a\ncluster = x\n  ; an indented comment\n\t\nnode = b\n"
			      "listen = one\nlisten = two, three\n",
			      NULL, 0, err, sizeof(err)), 0);
	ck_assert_str_eq(c.node, "b");
	ck_assert_str_eq(c.cluster, "x");
	ck_assert_int_eq(c.nchannels, 2);
	ck_assert_str_eq(c.channels[0], "two");
	config_free(&c);
}
END_TEST

START_TEST(test_bad_files_exit_78_naming_the_line)
{
	struct config c;
	char err[512] = "";

	clear_environment();
	ck_assert_int_eq(load(&c, bad_files[_i].file, NULL, 0, err, sizeof(err)), EX_CONFIG);
	ck_assert_msg(strstr(err, bad_files[_i].expect) != NULL, "'%s' lacks '%s'", err,
		      bad_files[_i].expect);
	ck_assert_msg(strncmp(err, "/tmp/cn_test_config.", 20) == 0, "'%s' lacks the file", err);
	ck_assert_ptr_null(strstr(err, "secret"));
	ck_assert_ptr_null(strchr(err, '\n'));
	config_free(&c);
}
END_TEST

START_TEST(test_unreadable_files)
{
	char c_opt[] = "--config", c_missing[] = "/nonexistent/cn.conf", c_dir[] = "/tmp";
	char *missing[] = {"clustered_nodes", c_opt, c_missing, NULL};
	char *dir[] = {"clustered_nodes", c_opt, c_dir, NULL};
	struct config c;
	struct cli a;
	char err[512] = "";

	clear_environment();
	ck_assert_int_eq(cli_parse(&a, ARGC(missing), missing, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load(&c, &a, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cn.conf: cannot read the config file: "
				      "No such file or directory"));
	config_free(&c);
	ck_assert_int_eq(cli_parse(&a, ARGC(dir), dir, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load(&c, &a, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "/tmp: the config file is a directory"));
	config_free(&c);
}
END_TEST

START_TEST(test_bad_environment_exits_78)
{
	struct config c;
	char err[512] = "";

	clear_environment();
	setenv("CLUSTERED_NODES_POLL_INTERVAL", "-5", 1);
	ck_assert_int_eq(load(&c, NULL, NULL, 0, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "environment: CLUSTERED_NODES_POLL_INTERVAL '-5'"));
	config_free(&c);
	clear_environment();
	setenv("CLUSTERED_NODES_DBNAME", "password=secret bogus", 1);
	ck_assert_int_eq(load(&c, NULL, NULL, 0, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_null(strstr(err, "secret"));
	config_free(&c);
	clear_environment();
}
END_TEST

static const struct {
	const char *option;
	const char *value;
	const char *expect;
} bad_values[] = {
	{"--poll-interval", "0", "--poll-interval '0' is out of range (1ms to 1h)"},
	{"--poll-interval", "-5", "--poll-interval '-5' must be"},
	{"--poll-interval", "5parsecs", "unknown unit"},
	{"--listen", "", "--listen '' is empty"},
	{"--listen", "c123456789012345678901234567890123456789012345678901234567890123",
	 "longer than 63 bytes"},
	{"--listen", "clustered_nodes_handoff", "reserved"},
	{"--node", "bad\nname", "--node 'bad\\nname' contains a control character"},
	{"--cluster", "bad\x01", "control character"},
	{"--cluster", "", "is empty"},
	{"--acquire", "sometimes", "is not a mode (use poll or wait)"},
	{"--log-format", "xml", "is not a format"},
	{"--dbname", "password=secret nonsense", "--dbname is not a valid connection string"},
};

START_TEST(test_bad_command_line_values_exit_64)
{
	char option[64], value[128];
	char *extra[] = {option, value};
	struct config c;
	char err[512] = "";

	clear_environment();
	snprintf(option, sizeof(option), "%s", bad_values[_i].option);
	snprintf(value, sizeof(value), "%s", bad_values[_i].value);
	ck_assert_int_eq(load(&c, NULL, extra, 2, err, sizeof(err)), EX_USAGE);
	ck_assert_msg(strstr(err, bad_values[_i].expect) != NULL, "'%s' lacks '%s'", err,
		      bad_values[_i].expect);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_ptr_null(strstr(err, "secret"));
	config_free(&c);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_precedence_command_line_environment_file);
	tcase_add_test(tc, test_command_line_listen_replaces_file_list);
	tcase_add_test(tc, test_a_key_set_twice_takes_the_last_value);
	tcase_add_loop_test(tc, test_bad_files_exit_78_naming_the_line, 0,
			    sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, test_unreadable_files);
	tcase_add_test(tc, test_bad_environment_exits_78);
	tcase_add_loop_test(tc, test_bad_command_line_values_exit_64, 0,
			    sizeof(bad_values) / sizeof(bad_values[0]));
	suite_add_tcase(s, tc);
	return s;
}
