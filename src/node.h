/* One node: its session, standby polling, leadership, processing steps and handoff. */
#ifndef CN_NODE_H
#define CN_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "backoff.h"
#include "cli.h"
#include "fsm.h"
#include "notifyq.h"
#include "pgconn.h"
#include "settings.h"
#include "stats.h"
#include "timing.h"
#include "view.h"

/* The schema version (sql/NNN_*.sql) this binary needs. */
#define SCHEMA_VERSION 4

/* How long a live namesake may keep refusing our registration before we exit 78. */
#define DUPLICATE_GRACE_S 2.0
#define DUPLICATE_RETRY_S 0.2

/* PostgreSQL's payloads are shorter than 8000 bytes. */
#define MAX_PAYLOAD_BYTES 8000

/* What the batch in flight has answered so far. */
struct batch_answer {
	int sent;		/* statements sent */
	int index;		/* results seen */
	int view_state_index;	/* where the view's statements are, or -1 */
	int view_members_index;
	int value_index;	/* the statement whose first row we keep, or -1 */
	bool failed;
	int failed_index;	/* the statement that failed first */
	int events_index;	/* the events fetch's statement, or -1 */
	int prepare_index;	/* the handler's PREPARE, or -1 */
	char sqlstate[6];
	char error[512];
	bool has_row;
	long long values[4];	/* its first four columns; 't'/'f' read as 1/0 */
};

/* A durable event fetched from clustered_nodes.events, not yet committed. */
struct durable_event {
	long long id;
	char *channel;
	char *payload;
};

struct node {
	struct pgconn pg;	/* the coordination session */
	struct ev_loop *loop;
	struct config *cfg;	/* reloadable settings change in place on SIGHUP */
	const struct cli *cli;	/* to rebuild the configuration on SIGHUP */
	enum node_state state;

	int64_t lock_key;
	char lock_key_text[24];
	char application_name[NAME_MAX_BYTES + 32];
	char host[256];
	char pid_text[16];

	ev_timer poll_timer;	/* standby: try the lock */
	ev_timer heartbeat_timer;	/* marks a heartbeat due */
	ev_timer view_timer;	/* with --http: marks a view refresh due */
	ev_timer lease_timer;	/* leader: marks a lease renewal due */
	ev_timer deadline_timer;	/* a batch unanswered this long: we are cut off */
	ev_timer retry_timer;	/* disconnected: reconnect */
	ev_timer register_timer;	/* registration refused: try again shortly */
	double first_refusal_at;	/* when a live namesake first refused us, or 0 */
	ev_timer stop_timer;	/* graceful stop's deadline */
	ev_signal sigterm_watcher;
	ev_signal sigint_watcher;
	ev_signal sighup_watcher;
	ev_prepare before_wait;	/* start a step for what arrived; flush logs */
	struct backoff backoff;

	bool stopping;
	bool poll_again;	/* a handoff arrived while a lock poll was in flight */
	bool heartbeat_due;
	bool heartbeat_in_batch;	/* the batch in flight refreshes it */
	bool unlistened;	/* stopping leader: data LISTENs are gone */
	bool release_sent;	/* stopping leader: unlock + handoff NOTIFY in flight */
	int exit_code;

	int64_t term;		/* valid while leader */
	char term_text[24];
	int64_t counter;	/* the counter after our last committed step */

	struct notifyq queue;	/* received, not yet committed */
	size_t step_size;	/* how many of queue (or events) the step in flight covers */

	/* Durable events fetched, oldest first; a step covers either these or queue. */
	struct durable_event *events;
	size_t nevents;
	size_t events_capacity;
	bool events_due;	/* fetch: woken, took the lead, or the catch-up timer */
	bool step_durable;	/* the step in flight covers events[] */
	bool fetching;		/* a fetch of events is in flight */
	ev_timer events_timer;	/* catch-up for events nobody woke us for */

	/* Handler failures: retry the head event alone, then dead-letter it. */
	int handler_first_index;	/* statement index of the step's first handler call */
	bool isolate;		/* one event per step until the failing one is resolved */
	unsigned long head_attempts;
	char head_error[512];
	bool rolling_back;	/* ROLLBACK of a failed step in flight */
	bool dead_letter_step;	/* the step in flight dead-letters the head event */
	ev_timer handler_retry_timer;
	size_t forced_step_size;	/* commit exactly this many (after exec handlers), or 0 */
	bool renew_only;	/* the next step processes nothing: a lease renewal */
	bool exec_failure_pending;	/* a program failed while a renewal was out */
	char exec_failure[128];

	/* Exec handler: one child at a time, for event exec_index of exec_batch. */
	ev_child child_watcher;
	ev_timer child_timer;
	pid_t child_pid;	/* 0: none running */
	bool child_timed_out;	/* we killed it at handler_timeout */
	size_t exec_index;
	size_t exec_batch;
	bool exec_durable;
	bool renewing;		/* a lease renewal sent while handlers run */
	struct batch_answer answer;
	char *escaped_payload;	/* scratch for log escaping */
	double step_started;	/* monotonic, for the step-duration histogram */

	struct node_stats stats;
	struct cluster_view view;	/* refreshed with heartbeats when HTTP is on */
	bool want_view;
	bool view_due;
	bool lease_due;
	bool lease_check;	/* wait mode: poll once after a lock wait timed out */
	bool evicting;		/* standby: pg_terminate_backend of a lapsed leader in flight */
	bool unbounded_batch;	/* a lock wait: no answer deadline */

	struct fault_timing timing;
	char keepalive_idle_text[12], keepalive_interval_text[12], keepalive_count_text[12];
	char user_timeout_text[24], lease_ms_text[24], wait_timeout_text[24];
	char status_url[300];	/* "" without --http */
};

/* Prepares the node and its watchers; cfg and cli must outlive it. */
bool node_init(struct node *n, struct ev_loop *loop, struct config *cfg, const struct cli *cli);
/* Starts connecting; ev_run() then drives the node until it stops. */
void node_start(struct node *n);
void node_free(struct node *n);

#endif
