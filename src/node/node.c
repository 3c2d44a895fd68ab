/* SPDX-License-Identifier: PostgreSQL */
/* One node: wires the session, setup, membership and the partitions it may lead together;
 * signals, reload and stop.  It holds no protocol logic of its own: each part reports to it
 * through hooks, and it passes the news on to whoever is concerned. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "db_fault.h"
#include "escape.h"
#include "lockkey.h"
#include "log.h"
#include "node.h"
#include "queries.h"
#include "util.h"

#define CONNECT_TIMEOUT_S 10.0
#define STOP_DEADLINE_S 10.0
#define FAILURE_REMINDER_S 60.0

/* Ends the loop with exit_code. */
static void
node_finish(struct node *n, int exit_code, const char *reason)
{
	/* Nothing may fire after this: the loop still runs this pass's callbacks. */
	leads_halt(&n->leads);
	membership_forget(&n->membership);
	session_stop(&n->session);
	n->exit_code = exit_code;
	fsm_set(&n->fsm, ST_STOPPED, reason);
	ev_timer_stop(n->loop, &n->watchdog_timer);
	node_report_to_systemd(n);
	ev_break(n->loop, EVBREAK_ALL);
}

/* ---- the session's news ---- */

static void
on_connecting(void *owner)
{
	struct node *n = owner;

	/* A retry after a failure the log has named already: at debug, as its failure
	 * will be if it repeats (on_lost). */
	if (n->last_failure[0] != '\0')
		fsm_set_quietly(&n->fsm, ST_CONNECTING, "connecting to the database");
	else
		fsm_set(&n->fsm, ST_CONNECTING, "connecting to the database");
}

static void
on_connected(void *owner)
{
	struct node *n = owner;
	char who[400];

	session_describe(&n->session, who, sizeof(who));
	log_info("connected: %s", who);
	setup_start(&n->setup);
}

/*
 * Why the session failed, remembered for STATUS= and /healthz, and logged when its cause
 * changes and every FAILURE_REMINDER_S.
 *
 * A refused login, connect privilege or database (db_fault.h): before any session has
 * registered, the node ends with 77 or 78, as --check would (the unit does not restart on
 * them); after, the password may have changed under a running node: it retries, saying
 * so as an error when the cause changes and every FAILURE_REMINDER_S.  Other failed
 * attempts are warnings, as often.  True if the node ended.
 */
static bool
report_failure(struct node *n, const char *reason)
{
	enum db_fault fault = db_fault_of(NULL, reason);
	double now = ev_now(n->loop);
	bool changed = strcmp(n->last_failure, reason) != 0;

	snprintf(n->last_failure, sizeof(n->last_failure), "%s", reason);
	if (fault == DB_FAULT_NONE) {
		/* An attempt that failed (not a session lost): a warning when its cause
		 * changes, and a reminder, rather than only the state changes at info. */
		if (n->fsm.state == ST_CONNECTING &&
		    (changed || now - n->failure_logged_at >= FAILURE_REMINDER_S)) {
			log_warn("%s; retrying", reason);
			n->failure_logged_at = now;
		}
		return false;
	}
	if (!n->ever_registered) {
		log_error("%s: %s", reason, db_fault_fix(fault));
		fsm_set(&n->fsm, ST_DISCONNECTED, reason);
		node_finish(n, db_fault_exit_code(fault), "the database refused this node");
		return true;
	}
	if (changed || now - n->failure_logged_at >= FAILURE_REMINDER_S) {
		log_error("%s: %s; retrying", reason, db_fault_fix(fault));
		n->failure_logged_at = now;
	}
	return false;
}

/*
 * The session is gone (lost, or dropped after an answer we cannot use), which also
 * released the lock and every LISTEN.  Whatever was received but not committed is lost:
 * plain NOTIFY is at-most-once.
 */
static void
on_lost(void *owner, const char *reason)
{
	struct node *n = owner;
	bool repeated = strcmp(n->last_failure, reason) == 0;

	if (report_failure(n, reason))
		return;
	leads_forget(&n->leads);
	membership_forget(&n->membership);
	n->stats.reconnects++;
	if (repeated)	/* reported already (report_failure: again every minute) */
		fsm_set_quietly(&n->fsm, ST_DISCONNECTED, reason);
	else
		fsm_set(&n->fsm, ST_DISCONNECTED, reason);
	if (n->stopping)
		node_finish(n, n->exit_code, "stop requested");
}

static void
on_notify(void *owner, PGnotify *note)
{
	struct node *n = owner;

	leads_route(&n->leads, note);
}

/*
 * No answer within the deadline and nothing from the server's host for as long: the
 * network or the server is gone for us.  A leader stops here, before the server can free
 * its lock (it cannot before server_release_ms without hearing from us), so it never
 * processes anything while another node may lead.  A server that is only slow (its host
 * still acknowledges) never gets here: the session waits for it.
 */
static void
on_overdue(void *owner, unsigned long waited_ms, long silence_ms)
{
	struct node *n = owner;
	char reason[300];

	if (node_state_holds_lock(n->fsm.state))
		snprintf(reason, sizeof(reason), "no answer from the database for %lu ms and nothing "
			 "from its host for %ld ms: self-demotion, before the server can free the lock "
			 "(%lu ms after our last contact)", waited_ms, silence_ms,
			 n->timing.server_release_ms);
	else
		snprintf(reason, sizeof(reason), "no answer from the database for %lu ms and nothing "
			 "from its host for %ld ms", waited_ms, silence_ms);
	log_warn("%s", reason);
	session_reset(&n->session, "%s", reason);
}

static const struct session_hooks session_hooks = {
	.connecting = on_connecting,
	.connected = on_connected,
	.lost = on_lost,
	.notify = on_notify,
	.overdue = on_overdue,
};

/* ---- setup, membership and the leads' news ---- */

static void
on_setup_ready(void *owner)
{
	struct node *n = owner;

	if (n->stopping) {
		node_finish(n, 0, "stop requested");
		return;
	}
	membership_register(&n->membership);
}

static void
on_fatal(void *owner, int exit_code, const char *reason)
{
	node_finish(owner, exit_code, reason);
}

/* A missing grant found by the setup: before the first registration the node ends with
 * 77; after it, the grant may have been taken away and given back under a running node:
 * it retries, logged as a refused login is (report_failure()). */
static void
on_setup_refused(void *owner, int exit_code, const char *reason)
{
	struct node *n = owner;

	if (!n->ever_registered) {
		log_error("%s", reason);
		node_finish(n, exit_code, "the database refused this node");
		return;
	}
	session_reset(&n->session, "%s", reason);
}

static const struct setup_hooks setup_hooks = {
	.ready = on_setup_ready,
	.fatal = on_fatal,
	.refused = on_setup_refused,
};

static void
on_registered(void *owner)
{
	struct node *n = owner;

	n->ever_registered = true;
	n->last_failure[0] = '\0';
	leads_begin(&n->leads);
}

static void
on_duplicate(void *owner)
{
	node_finish(owner, EX_CONFIG, "duplicate node name");
}

/* An idle node sends due housekeeping at once; a busy one adds it to its next batch. */
static void
on_housekeeping_due(void *owner)
{
	struct node *n = owner;

	if (n->stopping)
		return;
	leads_poke(&n->leads);
}

static const struct membership_hooks membership_hooks = {
	.registered = on_registered,
	.duplicate = on_duplicate,
	.housekeeping_due = on_housekeeping_due,
};

/* The database refused the lead for good: the session is dropped (the lock and LISTENs
 * go with it), then the node ends with 78. */
static void
on_refused(void *owner, const char *reason)
{
	struct node *n = owner;

	if (n->fsm.state != ST_DISCONNECTED)
		fsm_set(&n->fsm, ST_DISCONNECTED, reason);
	node_finish(n, EX_CONFIG, reason);
}

static void
on_partitions_left(void *owner)
{
	struct node *n = owner;

	node_finish(n, 0, n->cfg->partitions > 1 ? "stopped after handing every partition over" :
		    "stopped");
}

static const struct leads_hooks leads_hooks = {
	.left = on_partitions_left,
	.refused = on_refused,
};

/* ---- signals and the loop ---- */

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = container_of(w, struct node, stop_timer);

	(void) loop;
	if (revents & EV_TIMER)
		log_warn("graceful stop did not finish within %.0f s", STOP_DEADLINE_S);
	if (n->fsm.state == ST_STOPPED)
		return;
	fsm_set(&n->fsm, ST_DISCONNECTED, "graceful stop cut short; closing the session");
	node_finish(n, 0, "stopped without handoff");
}

static void
on_stop_signal(struct node *n, const char *signame)
{
	if (n->stopping) {
		log_warn("%s again: stopping at once", signame);
		stop_timer_cb(n->loop, &n->stop_timer, 0);
		return;
	}
	n->stopping = true;
	log_info("%s received: stopping", signame);
	sdnotify_stopping(&n->systemd);
	ev_timer_set(&n->stop_timer, STOP_DEADLINE_S, 0.);
	ev_timer_start(n->loop, &n->stop_timer);
	switch (n->fsm.state) {
	case ST_DISCONNECTED:
	case ST_CONNECTING:
	case ST_CHECKING:
	case ST_REGISTERING:
		node_finish(n, 0, "stop requested");
		return;
	default:
		break;
	}
	/* acquire = wait: a stop does not wait for a wait on the leader's handoff key to end
	 * (at most a look interval) to deregister: closing the session leaves the queue. */
	if (n->cfg->acquire == ACQUIRE_WAIT && leads_waiting(&n->leads)) {
		node_finish(n, 0, "stop requested");
		return;
	}
	leads_stop(&n->leads);
}

static void
sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) loop;
	(void) revents;
	on_stop_signal(container_of(w, struct node, sigterm_watcher), "SIGTERM");
}

static void
sigint_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) loop;
	(void) revents;
	on_stop_signal(container_of(w, struct node, sigint_watcher), "SIGINT");
}

/* SIGHUP: rebuild the configuration; apply what may change, name what needs a restart. */
static void
sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct node *n = container_of(w, struct node, sighup_watcher);
	struct config fresh;
	char err[700];
	int changed = 0;

	(void) loop;
	(void) revents;
	if (config_load(&fresh, n->cli, err, sizeof(err)) != 0) {
		log_error("SIGHUP: configuration not reloaded, keeping the current one: %s", err);
		config_free(&fresh);
		return;
	}
	for (size_t i = 0; i < settings_count; i++) {
		const struct setting *s = &settings[i];
		char before[512], after[512];
		const char *why;

		s->show(n->cfg, before, sizeof(before));
		s->show(&fresh, after, sizeof(after));
		if (strcmp(s->key, "dbname") == 0 ? strcmp(n->cfg->dbname, fresh.dbname) == 0 :
		    strcmp(before, after) == 0)
			continue;
		changed++;
		if (!s->reloadable) {
			log_warn("SIGHUP: %s changed (%s → %s) but needs a restart to take effect",
				 s->key, before, after);
			continue;
		}
		s->apply(n->cfg, after, &why);
		log_info("SIGHUP: %s changed: %s → %s", s->key, before, after);
	}
	log_set_level(n->cfg->log_level);
	log_set_format(n->cfg->log_format);
	leads_reload(&n->leads);
	membership_reload(&n->membership);
	if (changed == 0)
		log_info("SIGHUP: configuration reloaded, nothing changed");
	config_free(&fresh);
}

/*
 * Runs once per loop pass, before the loop waits: every notification that arrived in
 * this pass goes into one step (batching is what lets a leader keep pace with the
 * producers), and the pass's log lines go out in one write.
 */
static void
before_wait_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct node *n = container_of(w, struct node, before_wait);

	(void) loop;
	(void) revents;
	leads_before_wait(&n->leads);
	node_report_to_systemd(n);
	log_flush();
}

/* ---- the systemd watchdog ---- */

/* WATCHDOG=1 comes from the loop itself: a loop that stops turning stops sending it. */
static void
watchdog_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = container_of(w, struct node, watchdog_timer);

	(void) loop;
	(void) revents;
	sdnotify_watchdog(&n->systemd);
}

/* ---- the node's own identity and connection parameters ---- */

static void
identify(struct node *n)
{
	struct config *cfg = n->cfg;
	int k = 0;

	n->lock_key = lock_key_for_cluster(cfg->cluster);
	snprintf(n->lock_key_text, sizeof(n->lock_key_text), "%" PRId64, n->lock_key);
	snprintf(n->application_name, sizeof(n->application_name), "clustered_nodes:%s", cfg->node);
	if (gethostname(n->host, sizeof(n->host)) != 0)
		snprintf(n->host, sizeof(n->host), "unknown");
	n->host[sizeof(n->host) - 1] = '\0';
	snprintf(n->pid_text, sizeof(n->pid_text), "%d", (int) getpid());
	fault_timing_compute(cfg->session_timeout_ms, cfg->lease_timeout_ms, &n->timing);
	fault_timing_format(&n->timing, &n->timing_text);
	/* Our side: a keepalive probe every idle second, so the kernel always knows when it
	 * last heard the server's host (pgconn_transport_silence_ms), and tcp_user_timeout
	 * as a backstop a little after the answer deadline. */
#define CONNECT_PARAM(key, value) (n->connect_keywords[k] = (key), n->connect_values[k++] = (value))
	CONNECT_PARAM("dbname", cfg->dbname);
	CONNECT_PARAM("application_name", n->application_name);
	/* Payloads are hashed as UTF-8 bytes, like clustered_nodes.partition_of() does. */
	CONNECT_PARAM("client_encoding", "UTF8");
	CONNECT_PARAM("keepalives", "1");
	CONNECT_PARAM("keepalives_idle", "1");
	CONNECT_PARAM("keepalives_interval", "1");
	CONNECT_PARAM("keepalives_count", n->timing_text.client_keepalive_count);
	CONNECT_PARAM("tcp_user_timeout", n->timing_text.client_user_timeout);
#undef CONNECT_PARAM
	n->connect_keywords[k] = NULL;
	n->connect_values[k] = NULL;
	/* The watch: another application_name, so that no one takes it for the node's own
	 * session (which is the one in members.backend_pid). */
	snprintf(n->watch_application_name, sizeof(n->watch_application_name),
		 "clustered_nodes-watch:%s", cfg->node);
	memcpy(n->watch_values, n->connect_values, sizeof(n->watch_values));
	n->watch_values[1] = n->watch_application_name;
}

bool
node_init(struct node *n, struct ev_loop *loop, struct config *cfg, const struct cli *cli)
{
	struct leader_limits limits;

	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->cfg = cfg;
	n->cli = cli;
	n->fsm.state = ST_DISCONNECTED;
	n->fsm.partition = -1;
	n->stats.started_at = ev_time();
	n->stats.last_takeover_gap_ms = -1;
	n->view.events_waiting = -1;	/* not read yet */
	n->view.lease_age = -1;
	sdnotify_init(&n->systemd);	/* first: programs run later must not inherit it */
	ev_timer_init(&n->watchdog_timer, watchdog_timer_cb, 0.,
		      n->systemd.watchdog_usec / 2 / 1e6);
	identify(n);
	session_init(&n->session, loop, &session_hooks, n);
	session_configure(&n->session, n->connect_keywords, n->connect_values, CONNECT_TIMEOUT_S,
			  n->timing.answer_deadline_ms);
	setup_init(&n->setup, &n->session, cfg, &n->fsm, &n->timing_text, &setup_hooks, n);
	membership_init(&n->membership, loop, &n->session, cfg, &n->fsm, &n->view,
			&membership_hooks, n);
	membership_identify(&n->membership, n->host, n->pid_text, n->status_url, false);
	limits = (struct leader_limits) {
		.renew_interval_ms = n->timing.renew_interval_ms,
		.step_budget_ms = n->timing.step_budget_ms,
		.event_limit_ms = fault_timing_event_limit(&n->timing, cfg->handler_timeout_ms),
		.timing = &n->timing_text,
	};
	if (!leads_init(&n->leads, loop, &n->session, cfg, &n->fsm, &n->membership, &n->stats,
			n->timing_text.lease_ms, &limits,
			n->connect_keywords, n->watch_values, &leads_hooks, n))
		return false;
	ev_init(&n->stop_timer, stop_timer_cb);
	ev_signal_init(&n->sigterm_watcher, sigterm_cb, SIGTERM);
	ev_signal_init(&n->sigint_watcher, sigint_cb, SIGINT);
	ev_signal_init(&n->sighup_watcher, sighup_cb, SIGHUP);
	ev_prepare_init(&n->before_wait, before_wait_cb);
	return true;
}

void
node_serve_status(struct node *n, const char *status_url)
{
	snprintf(n->status_url, sizeof(n->status_url), "%s", status_url);
	n->want_view = true;
	membership_identify(&n->membership, n->host, n->pid_text, n->status_url, true);
}

void
node_start(struct node *n)
{
	if (n->cfg->partitions > 1) {
		char rule[PARTITION_RULE_ARG_MAX + 16];

		partition_rule_format(&n->cfg->partition_key, rule, sizeof(rule));
		log_info("starting: cluster=%s channels=%d partitions=%d partition_key=%s "
			 "poll_interval=%lums%s%s", n->cfg->cluster, n->cfg->nchannels,
			 n->cfg->partitions, rule, n->cfg->poll_interval_ms,
			 n->status_url[0] ? " status=" : "", n->status_url);
		if (n->cfg->acquire == ACQUIRE_WAIT)
			log_warn("acquire=wait has no effect on a partitioned node: its watch waits on "
				 "the next leader's handoff key, and it tries the locks it plans to take");
	} else {
		log_info("starting: cluster=%s channels=%d acquire=%s poll_interval=%lums "
			 "lock_key=%s%s%s", n->cfg->cluster, n->cfg->nchannels,
			 n->cfg->acquire == ACQUIRE_WAIT ? "wait" : "poll", n->cfg->poll_interval_ms,
			 n->lock_key_text, n->status_url[0] ? " status=" : "", n->status_url);
	}
	log_info("session_timeout=%lums: the server frees a vanished node's lock %lu ms after its "
		 "last packet (keepalives %u s + %u x %u s, tcp_user_timeout %lu ms); a leader cut "
		 "off stops within %lu ms (renews every %lu ms, gives up on an answer after %lu ms "
		 "without a packet from the server's host; a slow server is waited for); "
		 "lease_timeout=%s", n->cfg->session_timeout_ms, n->timing.server_release_ms,
		 n->timing.keepalive_idle_s, n->timing.keepalive_count, n->timing.keepalive_interval_s,
		 n->timing.user_timeout_ms, n->timing.demote_bound_ms, n->timing.renew_interval_ms,
		 n->timing.answer_deadline_ms, n->cfg->lease_timeout_ms ? "on" : "off (no eviction)");
	membership_start_timers(&n->membership);
	leads_start_timers(&n->leads, n->want_view);
	ev_signal_start(n->loop, &n->sigterm_watcher);
	ev_signal_start(n->loop, &n->sigint_watcher);
	ev_signal_start(n->loop, &n->sighup_watcher);
	ev_prepare_start(n->loop, &n->before_wait);
	if (n->systemd.watchdog_usec > 0)
		ev_timer_start(n->loop, &n->watchdog_timer);
	session_connect(&n->session);
}

void
node_free(struct node *n)
{
	session_free(&n->session);
	sdnotify_close(&n->systemd);
	leads_free(&n->leads);
}
