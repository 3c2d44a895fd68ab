/* SPDX-License-Identifier: PostgreSQL */
/* Entry point: parse the command line and configuration, then run a node, --check or status. */
#include <signal.h>
#include <stdio.h>
#include <sysexits.h>

#include <ev.h>

#include "cli.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "node.h"
#include "cmd_check.h"
#include "cmd_history.h"
#include "cmd_status.h"
#include "version.h"

static int
run_node(struct config *cfg, const struct cli *cli)
{
	struct http_server *http = NULL;
	struct ev_loop *loop;
	struct node node;
	int rc;

	/* A peer closing a socket must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	log_init(cfg->node);
	log_set_level(cfg->log_level);
	log_set_format(cfg->log_format);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		fprintf(stderr, "clustered_nodes: cannot initialise the event loop\n");
		return EX_SOFTWARE;
	}
	if (!node_init(&node, loop, cfg, cli)) {
		fprintf(stderr, "clustered_nodes: out of memory\n");
		return EX_SOFTWARE;
	}
	if (cfg->http[0] != '\0') {
		char err[512];

		char url[300];

		http = http_start(loop, cfg->http, &node, url, sizeof(url), err, sizeof(err));
		if (http == NULL) {
			fprintf(stderr, "clustered_nodes: %s\n", err);
			node_free(&node);
			return EX_CONFIG;
		}
		node_serve_status(&node, url);
	}
	node_start(&node);
	ev_run(loop, 0);
	rc = node.exit_code;
	http_stop(http);
	node_free(&node);
	log_drain();
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct config cfg;
	char err[700];
	int rc;

	rc = cli_parse(&cli, argc, argv, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "clustered_nodes: %s\n", err);
		return rc;
	}
	/* Before anything slow: the password shows in ps until this returns. */
	if (!cli_hide_secrets(&cli)) {
		fprintf(stderr, "clustered_nodes: out of memory\n");
		cli_free(&cli);
		return EX_SOFTWARE;
	}
	if (cli.command == CMD_HELP) {
		cli_print_usage(stdout);
		cli_free(&cli);
		return 0;
	}
	if (cli.command == CMD_VERSION) {
		printf("clustered_nodes %s\n", CN_VERSION);
		cli_free(&cli);
		return 0;
	}
	rc = config_load(&cfg, &cli, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "clustered_nodes: %s\n", err);
		config_free(&cfg);
		cli_free(&cli);
		return rc;
	}
	switch (cli.command) {
	case CMD_CHECK:
		rc = run_check(&cfg);
		break;
	case CMD_STATUS:
		rc = run_status(&cfg, cli.json);
		break;
	case CMD_HISTORY:
		rc = run_history(&cfg, &cli);
		break;
	default:
		rc = run_node(&cfg, &cli);
		break;
	}
	config_free(&cfg);
	cli_free(&cli);
	return rc;
}
