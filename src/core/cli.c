/* SPDX-License-Identifier: PostgreSQL */
/* The command line: subcommand, --config, --check, and setting values to apply last. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "escape.h"
#include "event_route.h"
#include "redact.h"

/* Options that are not settings; their codes lie above any character. */
enum {
	OPT_CONFIG = 256,
	OPT_CHECK,
	OPT_JSON,
	OPT_PARTITION,
	OPT_SINCE,
	OPT_LIMIT,
	OPT_HELP,
	OPT_VERSION,
	OPT_SETTING_BASE = 512,	/* + index into settings[] */
};

static char long_names[32][40];

static void
long_name_of(const struct setting *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s", s->key);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
}

/* "left" in a column of HELP_INDENT, then text in words wrapped at HELP_WIDTH columns
 * (a word longer than a line gets a line of its own), each further line indented. */
#define HELP_WIDTH 80
#define HELP_INDENT 31
static void
print_wrapped(FILE *out, const char *left, const char *text)
{
	int column = fprintf(out, "%s", left);

	if (column >= HELP_INDENT) {
		fputc('\n', out);
		column = 0;
	}
	column += fprintf(out, "%*s", HELP_INDENT - column, "");
	while (*text != '\0') {
		size_t word = strcspn(text, " ");

		if (column > HELP_INDENT && column + 1 + (int) word > HELP_WIDTH) {
			column = fprintf(out, "\n%*s", HELP_INDENT, "") - 1;
		} else if (column > HELP_INDENT) {
			fputc(' ', out);
			column++;
		}
		column += fprintf(out, "%.*s", (int) word, text);
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

void
cli_print_usage(FILE *out)
{
	fprintf(out,
		"Usage: clustered_nodes [OPTION]...          run one node\n"
		"       clustered_nodes --check [OPTION]...  check the settings and the database\n"
		"       clustered_nodes status [--json] [OPTION]...\n"
		"                                    show the cluster (exit 0: every partition\n"
		"                                    is led, 2: some is not)\n"
		"       clustered_nodes history [--json] [--partition N] [--since WHEN]\n"
		"                               [--limit N] [OPTION]...\n"
		"                                    the cluster's terms, newest first\n"
		"\n"
		"Exactly one node of a cluster, the leader, reacts to PostgreSQL notifications\n"
		"and persists its counter; the others stand by and take over when its session\n"
		"ends.  Without --config (or CLUSTERED_NODES_CONFIG), the settings of\n"
		"/etc/clustered_nodes/clustered_nodes.conf are read if it exists.\n"
		"\n"
		"Settings (each OPTION-NAME is also the config file key option_name and the\n"
		"environment variable CLUSTERED_NODES_OPTION_NAME; the command line wins over\n"
		"the environment, which wins over the file):\n");
	for (size_t i = 0; i < settings_count; i++) {
		const struct setting *s = &settings[i];
		char name[40], left[80], text[1024];

		long_name_of(s, name, sizeof(name));
		if (s->short_option)
			snprintf(left, sizeof(left), "  -%c, --%s %s", s->short_option, name, s->argument);
		else
			snprintf(left, sizeof(left), "      --%s %s", name, s->argument);
		snprintf(text, sizeof(text), "%s (default: %s)%s", s->help, setting_default_shown(s),
			 s->reloadable ? "; reloaded on SIGHUP" : "");
		print_wrapped(out, left, text);
	}
	fprintf(out,
		"\n"
		"Other options:\n"
		"      --config FILE              read settings from an ini file (also\n"
		"                                 CLUSTERED_NODES_CONFIG)\n"
		"      --check                    validate the settings, connect, check the\n"
		"                                 schema and the grants; print \"configuration\n"
		"                                 OK\" or the problem and its fix\n"
		"      --json                     with status or history: print JSON\n"
		"      --partition N              with history: only partition N\n"
		"      --since WHEN               with history: terms begun in the last TIME\n"
		"                                 (10min, 2h) or since a timestamp\n"
		"                                 (2026-12-06 18:00Z)\n"
		"      --limit N                  with history: at most N terms (default 50)\n"
		"  -h, --help                     print this help and exit\n"
		"  -V, --version                  print the version and exit\n"
		"\n"
		"TIME is a number of milliseconds or a number with a unit: ms, s, min, h.\n"
		"Names are 1 to 63 bytes without control characters.\n"
		"\n"
		"A password in --dbname is overwritten in the process's command line as soon as\n"
		"it is read (ps shows x's); one in CLUSTERED_NODES_DBNAME stays in the process's\n"
		"environment, which only its user and root can read. ~/.pgpass (or PGPASSFILE)\n"
		"keeps it out of both.\n"
		"\n"
		"Signals: SIGTERM, SIGINT stop (a leader hands over first); SIGHUP reloads.\n"
		"\n"
		"Exit status:\n"
		"  0   stopped by SIGTERM or SIGINT; --check passed; status: every partition\n"
		"      is led by a live node holding its lock\n"
		"  2   status: some partition is not (no holder, a squatter, a lapsed lease)\n"
		"  64  bad command-line usage\n"
		"  69  --check, status or history: the database cannot be reached\n"
		"  70  internal error\n"
		"  77  not permitted: the login was refused (password, pg_hba.conf, role) or\n"
		"      lacks a grant on the clustered_nodes schema (a node that has run\n"
		"      retries them: a password or a grant may change under it)\n"
		"  78  configuration problem: a bad config file or environment value, no such\n"
		"      database, the schema missing or too old, a login that may not act for\n"
		"      the cluster, another live node with the same name, or partitions or\n"
		"      partition_key other than the cluster's; status, history: an unknown\n"
		"      cluster; history: a schema before 14\n");
}

/* A decimal number from min to max, nothing else. */
static bool
parse_count(const char *text, int min, int max, int *out)
{
	char *end;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	v = strtol(text, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return false;
	*out = (int) v;
	return true;
}

static int
usage_error(char *err, size_t errlen, const char *what, const char *value, const char *why)
{
	char shown[ESCAPE_MAX_LEN(128)];

	/* The value may hold the very control characters we complain about. */
	if (value) {
		escape_for_log(shown, sizeof(shown), value, strlen(value));
		snprintf(err, errlen, "%s '%s' %s", what, shown, why);
	} else
		snprintf(err, errlen, "%s %s", what, why);
	return EX_USAGE;
}

int
cli_parse(struct cli *a, int argc, char **argv, char *err, size_t errlen)
{
	struct option long_options[sizeof(long_names) / sizeof(long_names[0]) + 8];
	char short_options[2 * sizeof(long_names) / sizeof(long_names[0]) + 8] = ":";
	size_t n = 0;
	int first = 1;
	int c;

	memset(a, 0, sizeof(*a));
	a->command = CMD_RUN;
	a->partition = -1;
	if (argc > 1 && strcmp(argv[1], "status") == 0) {
		a->command = CMD_STATUS;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "history") == 0) {
		a->command = CMD_HISTORY;
		first = 2;
	}
	for (size_t i = 0; i < settings_count; i++) {
		char one[3] = {settings[i].short_option, ':', '\0'};

		long_name_of(&settings[i], long_names[i], sizeof(long_names[i]));
		long_options[n++] = (struct option) {long_names[i], required_argument, NULL,
						     OPT_SETTING_BASE + (int) i};
		if (settings[i].short_option)
			strcat(short_options, one);
	}
	long_options[n++] = (struct option) {"config", required_argument, NULL, OPT_CONFIG};
	long_options[n++] = (struct option) {"check", no_argument, NULL, OPT_CHECK};
	long_options[n++] = (struct option) {"json", no_argument, NULL, OPT_JSON};
	long_options[n++] = (struct option) {"partition", required_argument, NULL, OPT_PARTITION};
	long_options[n++] = (struct option) {"since", required_argument, NULL, OPT_SINCE};
	long_options[n++] = (struct option) {"limit", required_argument, NULL, OPT_LIMIT};
	long_options[n++] = (struct option) {"help", no_argument, NULL, 'h'};
	long_options[n++] = (struct option) {"version", no_argument, NULL, 'V'};
	long_options[n] = (struct option) {NULL, 0, NULL, 0};
	strcat(short_options, "hV");

	optind = 0;		/* GNU: full re-initialisation, so tests may parse twice */
	opterr = 0;		/* we print our own one-line errors */
	argv += first - 1;
	argc -= first - 1;
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		const struct setting *s = NULL;

		for (size_t i = 0; i < settings_count; i++)
			if (c == OPT_SETTING_BASE + (int) i || (c < 256 && c == settings[i].short_option))
				s = &settings[i];
		if (s != NULL) {
			if (strcmp(s->key, "listen") == 0) {
				if (a->nchannels == MAX_CHANNELS)
					return usage_error(err, errlen, "--listen", NULL,
							   "is given more than 64 times");
				a->channels[a->nchannels++] = optarg;
				continue;
			}
			if (a->nvalues == MAX_CLI_VALUES)
				return usage_error(err, errlen, "the command line", NULL,
						   "has too many options");
			a->values[a->nvalues].setting = s;
			a->values[a->nvalues].arg = optarg;
			a->values[a->nvalues++].text = optarg;
			continue;
		}
		switch (c) {
		case OPT_CONFIG:
			a->config_path = optarg;
			break;
		case OPT_CHECK:
			if (a->command == CMD_STATUS || a->command == CMD_HISTORY)
				return usage_error(err, errlen, "--check", NULL, a->command == CMD_STATUS ?
						   "does not go with status" : "does not go with history");
			a->command = CMD_CHECK;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_PARTITION:
			if (!parse_count(optarg, 0, MAX_PARTITIONS - 1, &a->partition))
				return usage_error(err, errlen, "--partition", optarg,
						   "is not a partition number (0 to 63)");
			break;
		case OPT_SINCE:
			if (optarg[0] == '\0')
				return usage_error(err, errlen, "--since", NULL, "needs a value");
			a->since = optarg;
			break;
		case OPT_LIMIT:
			if (!parse_count(optarg, 1, 100000, &a->limit))
				return usage_error(err, errlen, "--limit", optarg,
						   "is not a number from 1 to 100000");
			break;
		case 'h':
			a->command = CMD_HELP;
			return 0;
		case 'V':
			a->command = CMD_VERSION;
			return 0;
		case ':':
			return usage_error(err, errlen, argv[optind - 1], NULL, "needs a value");
		default:
			return usage_error(err, errlen, "unknown option", argv[optind - 1],
					   "(see --help)");
		}
	}
	if (optind < argc)
		return usage_error(err, errlen, "unexpected argument", argv[optind], "(see --help)");
	if (a->json && a->command != CMD_STATUS && a->command != CMD_HISTORY)
		return usage_error(err, errlen, "--json", NULL, "only goes with status or history");
	if ((a->partition >= 0 || a->since != NULL || a->limit > 0) && a->command != CMD_HISTORY)
		return usage_error(err, errlen, a->partition >= 0 ? "--partition" : a->since != NULL ?
				   "--since" : "--limit", NULL, "only goes with history");
	return 0;
}

bool
cli_hide_secrets(struct cli *a)
{
	for (int i = 0; i < a->nvalues; i++) {
		if (strcmp(a->values[i].setting->key, "dbname") != 0 || a->values[i].copy)
			continue;
		if ((a->values[i].copy = strdup(a->values[i].arg)) == NULL)
			return false;
		a->values[i].text = a->values[i].copy;
		/* Within the string's own bytes: argv's strings lie end to end. */
		redact_conninfo(a->values[i].arg);
	}
	return true;
}

void
cli_free(struct cli *a)
{
	for (int i = 0; i < a->nvalues; i++) {
		free(a->values[i].copy);
		a->values[i].copy = NULL;
	}
}
