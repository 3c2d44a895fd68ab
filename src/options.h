/* Command-line options of the node: parsing, validation and --help text. */
#ifndef CN_OPTIONS_H
#define CN_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "names.h"

#define MAX_CHANNELS 64
#define DEFAULT_CLUSTER "default"
#define DEFAULT_CHANNEL "test_channel"
#define DEFAULT_POLL_INTERVAL_MS 100
#define MAX_POLL_INTERVAL_MS (3600UL * 1000)

/* How a standby competes for the leader lock. */
enum acquire_mode {
	ACQUIRE_POLL,		/* pg_try_advisory_lock every poll interval */
	ACQUIRE_WAIT,		/* queue in pg_advisory_lock; woken by the release */
};

enum cn_action {
	ACTION_RUN,
	ACTION_HELP,
	ACTION_VERSION,
};

struct options {
	enum cn_action action;
	const char *node;
	const char *dbname;	/* conninfo or URI; "" = libpq's PG* defaults */
	const char *cluster;
	const char *channels[MAX_CHANNELS];
	int nchannels;
	unsigned long poll_interval_ms;
	enum acquire_mode acquire;
	char node_default[NAME_MAX_BYTES + 1];	/* storage for the host name */
};

/*
 * Fills *o from argv (strings are borrowed from argv, which must outlive o).
 * Returns 0, or EX_USAGE with a one-line reason in err.
 */
int options_parse(struct options *o, int argc, char **argv, char *err, size_t errlen);

void options_print_usage(FILE *out);

#endif
