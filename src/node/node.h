/* SPDX-License-Identifier: PostgreSQL */
/* One node: wires the session, setup, membership and the partitions it may lead together;
 * signals, reload and stop. */
#ifndef CN_NODE_H
#define CN_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "cli.h"
#include "fsm.h"
#include "membership.h"
#include "leads.h"
#include "sdnotify.h"
#include "session.h"
#include "settings.h"
#include "setup.h"
#include "stats.h"
#include "timing.h"
#include "view.h"

struct node {
	struct ev_loop *loop;
	struct config *cfg;	/* reloadable settings change in place on SIGHUP */
	const struct cli *cli;	/* to rebuild the configuration on SIGHUP */
	struct fsm fsm;
	struct session session;
	struct setup setup;
	struct membership membership;
	struct leads leads;	/* its K partitions (K = 1: one, whose machine is fsm) */
	struct node_stats stats;
	struct cluster_view view;	/* refreshed with heartbeats when HTTP is on */
	struct fault_timing timing;
	struct fault_timing_text timing_text;

	int64_t lock_key;
	char lock_key_text[24];
	char application_name[NAME_MAX_BYTES + 32];
	char host[256];
	char pid_text[16];
	char status_url[300];	/* "" without --http */
	bool want_view;
	const char *connect_keywords[9];
	const char *connect_values[9];
	/* the watch session's (partitioned): the same, under its own application_name */
	char watch_application_name[NAME_MAX_BYTES + 32];
	const char *watch_values[9];

	struct sdnotify systemd;	/* READY, STATUS, STOPPING, WATCHDOG under systemd */
	ev_timer watchdog_timer;	/* WATCHDOG=1 from the loop, at half WatchdogSec */
	double status_sent_at;	/* a counter-only STATUS change waits a second */
	char status_role[512];	/* the role and term part of the last STATUS */
	long long standby_term;	/* the term the last complete lock poll read */

	ev_timer stop_timer;	/* graceful stop's deadline */
	ev_signal sigterm_watcher;
	ev_signal sigint_watcher;
	ev_signal sighup_watcher;
	ev_prepare before_wait;	/* start a step for what arrived; flush logs */
	bool stopping;
	int exit_code;
	/* A session has registered since the start: only then is a refused login retried
	 * (a password changed under a running node), not ended on (a wrong one at start). */
	bool ever_registered;
	/* Why the last attempt to connect or the session failed; "" once registered.  Shown in
	 * STATUS= and /healthz; a refused login is logged as an error when it changes and then
	 * every FAILURE_REMINDER_S. */
	char last_failure[400];
	double failure_logged_at;
};

/* Prepares the node and its watchers; cfg and cli must outlive it. */
bool node_init(struct node *n, struct ev_loop *loop, struct config *cfg, const struct cli *cli);
/* With --http: the URL others find this node's status at, and that a view is wanted. */
void node_serve_status(struct node *n, const char *status_url);
/* Starts connecting; ev_run() then drives the node until it stops. */
void node_start(struct node *n);
void node_free(struct node *n);

/* What the status endpoint shows, read from the node's memory. */
enum node_state node_current_state(const struct node *n);
bool node_is_stopping(const struct node *n);
/* The counter, term and leader as this node knows them best. */
long long node_known_counter(const struct node *n);
long long node_known_term(const struct node *n);
const char *node_known_leader(const struct node *n);
const struct config *node_config(const struct node *n);
const struct cluster_view *node_view(const struct node *n);
const struct node_stats *node_stats(const struct node *n);
/* A session holding a partition's lock without leading it, as the acquirer named it
 * (pid 0: none). */
const struct lock_squatter *node_lock_squatter(const struct node *n);
/* Partitioned: how many partitions this node should take while a session that does not
 * lead them holds their lock; the lowest in *first (0 and -1 for a single leader). */
int node_squatted_partitions(const struct node *n, int *first);
/* How many partitions this node leads whose session the last check found not listening
 * on all of their channels (the first in *first, else -1); they listen again within a
 * step. */
int node_deaf_partitions(const struct node *n, int *first);
/* Why the session failed last, while the node has none; "" otherwise. */
const char *node_last_failure(const struct node *n);
/* The partition whose holder node_lock_squatter() names (0 for a single leader). */
int node_lock_squatter_partition(const struct node *n);
/* Memory held by received, unprocessed notifications. */
size_t node_backlog_bytes(const struct node *n);
/* One partition as this node knows it: its own from memory, the others' from the last
 * partition poll. */
struct partition_status {
	const char *leader;	/* NULL: nobody leads it */
	long long term;
	long long counter;
	bool here;		/* this node leads it */
};

/* STATUS= (and READY=1 once standing by or leading) for systemd, when they changed;
 * called at the end of each loop pass (src/node_status.c). */
void node_report_to_systemd(struct node *n);

/* K (1 in the single-leader mode). */
int node_partition_count(const struct node *n);
void node_partition_status(const struct node *n, int partition, struct partition_status *out);
/* How many partitions this node leads (0 or 1 in the single-leader mode). */
int node_partitions_led(const struct node *n);
/* This node's session listens for the cluster: it receives the plain notifications (a
 * partitioned cluster has one such node from schema 15 on, the leader of partition 0). */
bool node_listens(const struct node *n);

#endif
