/* SPDX-License-Identifier: PostgreSQL */
/* The command line: subcommand, --config, --check, and setting values to apply last. */
#ifndef CN_CLI_H
#define CN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "settings.h"

#define MAX_CLI_VALUES 64

enum command {
	CMD_RUN,		/* run the node */
	CMD_CHECK,		/* --check: validate, connect, check the schema */
	CMD_STATUS,		/* status [--json] */
	CMD_HISTORY,		/* history [--json] [--partition N] [--since WHEN] [--limit N] */
	CMD_HELP,
	CMD_VERSION,
};

struct cli {
	enum command command;
	bool json;
	/* history's filters: -1, NULL and 0 when not given */
	int partition;
	const char *since;
	int limit;
	const char *config_path;
	/* Setting values in the order given (strings borrowed from argv, but for those
	 * cli_hide_secrets() copied). */
	struct {
		const struct setting *setting;
		const char *text;
		char *arg;	/* where text lies in argv: cli_hide_secrets() writes there */
		char *copy;	/* owned, when text is a copy */
	} values[MAX_CLI_VALUES];
	int nvalues;
	const char *channels[MAX_CHANNELS];	/* every --listen, applied together */
	int nchannels;
};

/* Returns 0, or EX_USAGE with a one-line reason in err. */
int cli_parse(struct cli *a, int argc, char **argv, char *err, size_t errlen);

/*
 * Hides the passwords of every --dbname value from other local users: the kernel shows
 * them the process's argument strings (/proc/PID/cmdline, ps), so each value is copied
 * for the configuration (which every SIGHUP rebuilds from it) and its passwords are
 * overwritten in argv.  Call once after cli_parse(), with argv writable.  false: out of
 * memory.  (CLUSTERED_NODES_DBNAME stays in /proc/PID/environ, which only the same user
 * and root can read.)
 */
bool cli_hide_secrets(struct cli *a);

/* Frees what cli_hide_secrets() copied. */
void cli_free(struct cli *a);

void cli_print_usage(FILE *out);

#endif
