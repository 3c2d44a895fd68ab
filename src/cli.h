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
	CMD_HELP,
	CMD_VERSION,
};

struct cli {
	enum command command;
	bool json;
	const char *config_path;
	/* Setting values in the order given (strings borrowed from argv). */
	struct {
		const struct setting *setting;
		const char *text;
	} values[MAX_CLI_VALUES];
	int nvalues;
	const char *channels[MAX_CHANNELS];	/* every --listen, applied together */
	int nchannels;
};

/* Returns 0, or EX_USAGE with a one-line reason in err. */
int cli_parse(struct cli *a, int argc, char **argv, char *err, size_t errlen);

void cli_print_usage(FILE *out);

#endif
