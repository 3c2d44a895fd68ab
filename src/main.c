/* Entry point: parse options, then run one node on one libev loop until it stops. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <ev.h>
#include <libpq-fe.h>

#include "log.h"
#include "node.h"
#include "options.h"
#include "version.h"

/* Rejects a conninfo libpq cannot parse now, rather than at every reconnect. */
static bool
conninfo_ok(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *parsed;

	if (conninfo[0] == '\0')
		return true;
	parsed = PQconninfoParse(conninfo, &err);
	if (parsed == NULL) {
		char line[512];

		snprintf(line, sizeof(line), "%s", err ? err : "out of memory");
		line[strcspn(line, "\n")] = '\0';
		fprintf(stderr, "clustered_nodes: --dbname: %s\n", line);
		PQfreemem(err);
		return false;
	}
	PQconninfoFree(parsed);
	return true;
}

int
main(int argc, char **argv)
{
	struct options opt;
	struct node node;
	struct ev_loop *loop;
	char err[512];
	int rc;

	rc = options_parse(&opt, argc, argv, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "clustered_nodes: %s\n", err);
		return rc;
	}
	if (opt.action == ACTION_HELP) {
		options_print_usage(stdout);
		return 0;
	}
	if (opt.action == ACTION_VERSION) {
		printf("clustered_nodes %s\n", CN_VERSION);
		return 0;
	}
	if (!conninfo_ok(opt.dbname))
		return EX_USAGE;

	/* A peer closing a socket must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	log_init(LEVEL_INFO, opt.node);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		fprintf(stderr, "clustered_nodes: cannot initialise the event loop\n");
		return EX_SOFTWARE;
	}
	if (!node_init(&node, loop, &opt)) {
		fprintf(stderr, "clustered_nodes: out of memory\n");
		return EX_SOFTWARE;
	}
	node_start(&node);
	ev_run(loop, 0);
	rc = node.exit_code;
	node_free(&node);
	log_flush();
	return rc;
}
