/* One node: session lifecycle, answers, timers and signals; see standby.c and leader.c. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "escape.h"
#include "lockkey.h"
#include "log.h"
#include "node_internal.h"
#include "queries.h"

#define CONNECT_TIMEOUT_S 10.0
#define RECONNECT_BASE_MS 100
#define RECONNECT_CAP_MS 5000
#define STOP_DEADLINE_S 10.0
#define VIEW_REFRESH_S 1.0
/* A leader looks for durable events this often even when nothing woke it. */
#define EVENTS_CATCH_UP_S 1.0

void
node_set_state(struct node *n, enum node_state to, const char *reason)
{
	enum node_state from = n->state;
	enum log_level level = LEVEL_INFO;

	if (from == to)
		return;
	if (!node_transition_allowed(from, to)) {
		log_error("internal error: transition %s → %s is not allowed (%s)",
			  node_state_name(from), node_state_name(to), reason);
		log_drain();
		abort();
	}
	/* The standby poll and every step would flood the log at info. */
	if ((from == ST_STANDBY && to == ST_ACQUIRING) ||
	    (from == ST_ACQUIRING && to == ST_STANDBY) ||
	    (from == ST_LEADER && to == ST_PROCESSING) ||
	    (from == ST_PROCESSING && to == ST_LEADER))
		level = LEVEL_DEBUG;
	log_msg(level, "state %s → %s: %s", node_state_name(from), node_state_name(to), reason);
	n->state = to;
}

void
node_finish(struct node *n, int exit_code, const char *reason)
{
	/* Nothing may fire after this: the loop still runs this pass's callbacks. */
	ev_timer_stop(n->loop, &n->deadline_timer);
	ev_timer_stop(n->loop, &n->retry_timer);
	ev_timer_stop(n->loop, &n->register_timer);
	ev_timer_stop(n->loop, &n->handler_retry_timer);
	exec_abort(n);
	pgconn_close(&n->pg);
	notifyq_drop(&n->queue, n->queue.count);
	n->exit_code = exit_code;
	node_set_state(n, ST_STOPPED, reason);
	ev_break(n->loop, EVBREAK_ALL);
}

/*
 * Something went wrong with the session (lost, or an answer we cannot use):
 * drop it, which also releases the lock and every LISTEN, and reconnect
 * after a backoff.  Whatever was received but not committed is lost: plain
 * NOTIFY is at-most-once.
 */
void
node_reset(struct node *n, const char *reason)
{
	unsigned delay_ms;

	if (n->state == ST_STOPPED)
		return;
	if (node_state_holds_lock(n->state) && n->queue.count > 0)
		log_warn("%zu received notification(s) not processed: their step did not commit",
			 n->queue.count);
	if (n->state == ST_PROCESSING)
		log_warn("step of term %" PRId64 " was in flight: whether it committed is recorded "
			 "only in the database", n->term);
	pgconn_close(&n->pg);
	exec_abort(n);
	ev_timer_stop(n->loop, &n->deadline_timer);
	ev_timer_stop(n->loop, &n->register_timer);
	notifyq_drop(&n->queue, n->queue.count);
	leader_forget_events(n);
	ev_timer_stop(n->loop, &n->handler_retry_timer);
	/* Whatever the lost session had in flight is moot: forget it all. */
	n->step_size = 0;
	n->poll_again = false;
	n->lease_check = false;
	n->evicting = false;
	n->fetching = false;
	n->rolling_back = false;
	n->dead_letter_step = false;
	n->stats.reconnects++;
	node_set_state(n, ST_DISCONNECTED, reason);
	if (n->stopping) {
		node_finish(n, n->exit_code, "stop requested");
		return;
	}
	delay_ms = backoff_next(&n->backoff, arc4random());
	log_info("reconnecting in %u ms", delay_ms);
	ev_timer_set(&n->retry_timer, delay_ms / 1000.0, 0.);
	ev_timer_start(n->loop, &n->retry_timer);
}

void
node_answer_reset(struct node *n, int value_index)
{
	n->unbounded_batch = false;
	memset(&n->answer, 0, sizeof(n->answer));
	n->answer.value_index = value_index;
	n->answer.view_state_index = -1;
	n->answer.view_members_index = -1;
	n->answer.events_index = -1;
	n->answer.prepare_index = -1;
	n->heartbeat_in_batch = false;
}

bool
node_send(struct node *n, const char *sql, int nparams, const char *const *params)
{
	char reason[600];

	if (pgconn_send(&n->pg, sql, nparams, params)) {
		n->answer.sent++;
		return true;
	}
	snprintf(reason, sizeof(reason), "could not send a query: %s", n->pg.error);
	node_reset(n, reason);
	return false;
}

bool
node_sync(struct node *n)
{
	char reason[600];

	if (pgconn_sync(&n->pg)) {
		/* Every answer is due within the deadline, but a lock wait's. */
		if (!n->unbounded_batch && !ev_is_active(&n->deadline_timer)) {
			ev_timer_set(&n->deadline_timer, n->timing.answer_deadline_ms / 1000.0, 0.);
			ev_timer_start(n->loop, &n->deadline_timer);
		}
		return true;
	}
	snprintf(reason, sizeof(reason), "could not send a query: %s", n->pg.error);
	node_reset(n, reason);
	return false;
}

bool
node_housekeeping_due(const struct node *n)
{
	return n->heartbeat_due || n->view_due || (n->lease_due && node_state_holds_lock(n->state));
}

bool
node_send_housekeeping(struct node *n)
{
	const char *params[] = {n->cfg->cluster, n->cfg->node};
	const char *view_params[] = {n->cfg->cluster};

	if (n->heartbeat_due) {
		n->heartbeat_in_batch = true;
		if (!node_send(n, SQL_HEARTBEAT, 2, params))
			return false;
	}
	if (!n->view_due && !(n->heartbeat_due && n->want_view))
		return true;
	/* The status endpoint's view of the cluster rides along. */
	n->answer.view_state_index = n->answer.sent;
	if (!node_send(n, SQL_VIEW_STATE, 1, view_params))
		return false;
	n->answer.view_members_index = n->answer.sent;
	return node_send(n, SQL_VIEW_MEMBERS, 1, view_params);
}

static void
node_connect(struct node *n)
{
	/* libpq's own keepalives and tcp_user_timeout, on top of the answer deadline. */
	const char *const keywords[] = {"dbname", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
		NULL};
	const char *const values[] = {n->cfg->dbname, n->application_name, "1",
		n->keepalive_idle_text, n->keepalive_interval_text, n->keepalive_count_text,
		n->user_timeout_text, NULL};

	if (!pgconn_start(&n->pg, keywords, values, CONNECT_TIMEOUT_S)) {
		unsigned delay_ms = backoff_next(&n->backoff, arc4random());

		log_warn("cannot connect: %s; retrying in %u ms", n->pg.error, delay_ms);
		ev_timer_set(&n->retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(n->loop, &n->retry_timer);
		return;
	}
	node_set_state(n, ST_CONNECTING, "connecting to the database");
}

/* ---- session callbacks ---- */

static void
on_connected(struct pgconn *c)
{
	struct node *n = c->owner;

	log_info("connected: host=%s port=%s dbname=%s user=%s backend_pid=%d",
		 PQhost(c->conn), PQport(c->conn), PQdb(c->conn), PQuser(c->conn),
		 PQbackendPID(c->conn));
	standby_check_schema(n);
}

static void
on_failed(struct pgconn *c, const char *why)
{
	struct node *n = c->owner;
	char reason[600];

	snprintf(reason, sizeof(reason), "%s: %s",
		 n->state == ST_CONNECTING ? "connection attempt failed" : "session lost", why);
	node_reset(n, reason);
}

static void
on_result(struct pgconn *c, const PGresult *res)
{
	struct node *n = c->owner;
	struct batch_answer *a = &n->answer;
	int index = a->index++;

	switch (PQresultStatus(res)) {
	case PGRES_FATAL_ERROR:
		if (!a->failed) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			a->failed = true;
			a->failed_index = index;
			snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", state ? state : "");
			pgconn_one_line(a->error, sizeof(a->error), PQresultErrorMessage(res));
		}
		return;
	case PGRES_PIPELINE_ABORTED:
		if (!a->failed) {
			a->failed = true;
			a->failed_index = index;
			snprintf(a->error, sizeof(a->error), "pipeline aborted");
		}
		return;
	case PGRES_TUPLES_OK:
		if (index == a->view_state_index)
			view_read_state(&n->view, res, ev_time());
		if (index == a->events_index)
			leader_store_events(n, res);
		if (index == a->view_members_index) {
			view_read_members(&n->view, res);
			n->view_due = false;
		}
		if (index != a->value_index || PQntuples(res) < 1)
			return;
		a->has_row = true;
		for (int col = 0; col < 4 && col < PQnfields(res); col++) {
			const char *v = PQgetvalue(res, 0, col);

			a->values[col] = strcmp(v, "t") == 0 ? 1 : strcmp(v, "f") == 0 ? 0 :
			    strtoll(v, NULL, 10);
		}
		return;
	default:
		return;
	}
}

static void
on_batch_done(struct pgconn *c)
{
	struct node *n = c->owner;

	ev_timer_stop(n->loop, &n->deadline_timer);
	switch (n->state) {
	case ST_CHECKING:
		standby_on_schema_checked(n);
		break;
	case ST_REGISTERING:
		standby_on_registered(n);
		break;
	case ST_ACQUIRING:
		standby_on_lock_polled(n);
		break;
	case ST_LEAVING:
		standby_on_left(n);
		break;
	case ST_PROMOTING:
		leader_on_promoted(n);
		break;
	case ST_PROCESSING:
		leader_on_step_done(n);
		break;
	case ST_HANDLING:
		exec_on_renewal_done(n);
		break;
	case ST_RELEASING:
		leader_on_release_done(n);
		break;
	default:
		node_reset(n, "an answer arrived in a state that expects none");
		break;
	}
}

static void
on_notify(struct pgconn *c, PGnotify *note)
{
	struct node *n = c->owner;

	if (strcmp(note->relname, HANDOFF_CHANNEL) == 0) {
		bool ours = strcmp(note->extra, n->cfg->cluster) == 0;

		PQfreemem(note);
		if (!ours)
			return;
		if (n->state == ST_STANDBY) {
			log_info("the leader handed over; trying the lock now");
			standby_try_lock(n);
		} else if (n->state == ST_ACQUIRING) {
			n->poll_again = true;
		}
		return;
	}
	if (strcmp(note->relname, EVENTS_CHANNEL) == 0) {
		/* A durable event was committed: fetch at the next chance. */
		PQfreemem(note);
		n->events_due = true;
		return;
	}
	if (!node_state_holds_lock(n->state)) {
		char channel[ESCAPE_MAX_LEN(NAME_MAX_BYTES + 1)];

		/* Cannot happen: standbys LISTEN on no data channel.  Never process it. */
		escape_for_log(channel, sizeof(channel), note->relname, strlen(note->relname));
		log_warn("ignored a notification on \"%s\" received without leadership", channel);
		PQfreemem(note);
		return;
	}
	if (!notifyq_push(&n->queue, note)) {
		log_error("out of memory queueing a notification; dropping it");
		PQfreemem(note);
	}
}

static void
on_notice(struct pgconn *c, const char *message)
{
	(void) c;
	log_warn("server: %s", message);
}

static const struct pgconn_handlers session_handlers = {
	.notice = on_notice,
	.connected = on_connected,
	.failed = on_failed,
	.result = on_result,
	.batch_done = on_batch_done,
	.notify = on_notify,
};

/* ---- timers and signals ---- */

static struct node *
node_of(void *watcher, size_t offset)
{
	return (struct node *) ((char *) watcher - offset);
}

static void
poll_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, poll_timer));

	(void) loop;
	(void) revents;
	if (n->state == ST_STANDBY && n->cfg->acquire == ACQUIRE_POLL)
		standby_try_lock(n);
}

/* An idle node sends due housekeeping at once; a busy one adds it to its next batch. */
static void
housekeeping_now(struct node *n)
{
	if (n->stopping)
		return;
	if (n->state == ST_STANDBY)
		standby_try_lock(n);
	else if (n->state == ST_LEADER)
		leader_next(n);
}

/*
 * Marks a heartbeat due; the next lock poll or step carries it.  A standby
 * waiting in wait mode refreshes it each time its lock wait re-arms
 * (WAIT_LOCK_TIMEOUT_MS, or the lease timeout).
 */
static void
heartbeat_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, heartbeat_timer));

	(void) loop;
	(void) revents;
	n->heartbeat_due = true;
	housekeeping_now(n);
}

/* Leader: look for durable events no wake-up told us about (e.g. sent while nobody led). */
static void
events_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, events_timer));

	(void) loop;
	(void) revents;
	n->events_due = true;
	if (!n->stopping && n->state == ST_LEADER)
		leader_next(n);
}

/* Leader: the backoff after a handler failure is over; try the head event again. */
static void
handler_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, handler_retry_timer));

	(void) loop;
	(void) revents;
	if (n->state == ST_LEADER)
		leader_next(n);
}

/* Leader: a lease renewal is due; an idle leader sends it now as an empty step. */
static void
lease_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, lease_timer));

	(void) loop;
	(void) revents;
	n->lease_due = true;
	if (n->state == ST_HANDLING && !n->renewing && n->pg.syncs_pending == 0)
		exec_renew_lease(n);	/* programs run; the session is free */
	else if (!n->stopping && n->state == ST_LEADER)
		leader_next(n);
}

/*
 * No answer within the deadline: the network or the server is gone for us.
 * A leader stops here, before the server can free its lock (the deadline
 * and renewal interval add up to less than the server's release bound), so
 * it never processes anything while another node may lead.
 */
static void
deadline_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, deadline_timer));
	char reason[300];

	(void) loop;
	(void) revents;
	if (node_state_holds_lock(n->state))
		snprintf(reason, sizeof(reason), "no answer from the database for %lu ms: "
			 "self-demotion, before the server can free the lock (%lu ms after our "
			 "last contact)", n->timing.answer_deadline_ms, n->timing.server_release_ms);
	else
		snprintf(reason, sizeof(reason), "no answer from the database for %lu ms",
			 n->timing.answer_deadline_ms);
	log_warn("%s", reason);
	node_reset(n, reason);
}

/* With --http, the page and /status may lag the database by this much at most. */
static void
view_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, view_timer));

	(void) loop;
	(void) revents;
	n->view_due = true;
	housekeeping_now(n);
}

static void
register_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, register_timer));

	(void) loop;
	(void) revents;
	if (n->state == ST_REGISTERING && !n->stopping)
		standby_register(n);
}

static void
retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, retry_timer));

	(void) loop;
	(void) revents;
	if (n->state == ST_DISCONNECTED)
		node_connect(n);
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, stop_timer));

	(void) loop;
	if (revents & EV_TIMER)
		log_warn("graceful stop did not finish within %.0f s", STOP_DEADLINE_S);
	if (n->state == ST_STOPPED)
		return;
	node_set_state(n, ST_DISCONNECTED, "graceful stop cut short; closing the session");
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
	ev_timer_set(&n->stop_timer, STOP_DEADLINE_S, 0.);
	ev_timer_start(n->loop, &n->stop_timer);
	switch (n->state) {
	case ST_DISCONNECTED:
	case ST_CONNECTING:
	case ST_CHECKING:
	case ST_REGISTERING:
		node_finish(n, 0, "stop requested");
		break;
	case ST_STANDBY:
		standby_leave(n);
		break;
	case ST_ACQUIRING:
		/* A lock wait may last long: leave the queue by closing the session. */
		if (n->cfg->acquire == ACQUIRE_WAIT)
			node_finish(n, 0, "stop requested");
		break;
	case ST_LEADER:
		leader_next(n);
		break;
	default:
		/* A batch is in flight; its answer sees n->stopping. */
		break;
	}
}

static void
sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) loop;
	(void) revents;
	on_stop_signal(node_of(w, offsetof(struct node, sigterm_watcher)), "SIGTERM");
}

static void
sigint_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) loop;
	(void) revents;
	on_stop_signal(node_of(w, offsetof(struct node, sigint_watcher)), "SIGINT");
}

/* SIGHUP: rebuild the configuration; apply what may change, name what needs a restart. */
static void
sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, sighup_watcher));
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
	n->poll_timer.repeat = n->cfg->poll_interval_ms / 1000.0;
	ev_timer_again(n->loop, &n->poll_timer);
	n->heartbeat_timer.repeat = n->cfg->heartbeat_interval_ms / 1000.0;
	ev_timer_again(n->loop, &n->heartbeat_timer);
	if (changed == 0)
		log_info("SIGHUP: configuration reloaded, nothing changed");
	config_free(&fresh);
}

/*
 * Runs once per loop pass, before the loop waits: every notification that
 * arrived in this pass goes into one step (batching is what lets a leader
 * keep pace with the producers), and the pass's log lines go out in one write.
 */
static void
before_wait_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, before_wait));

	(void) loop;
	(void) revents;
	if (n->state == ST_LEADER && (n->queue.count > 0 || n->events_due))
		leader_next(n);
	log_flush();
}

bool
node_init(struct node *n, struct ev_loop *loop, struct config *cfg, const struct cli *cli)
{
	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->cfg = cfg;
	n->cli = cli;
	n->state = ST_DISCONNECTED;
	n->lock_key = lock_key_for_cluster(cfg->cluster);
	snprintf(n->lock_key_text, sizeof(n->lock_key_text), "%" PRId64, n->lock_key);
	snprintf(n->application_name, sizeof(n->application_name), "clustered_nodes:%s", cfg->node);
	if (gethostname(n->host, sizeof(n->host)) != 0)
		snprintf(n->host, sizeof(n->host), "unknown");
	n->host[sizeof(n->host) - 1] = '\0';
	snprintf(n->pid_text, sizeof(n->pid_text), "%d", (int) getpid());
	n->stats.started_at = ev_time();
	n->escaped_payload = malloc(ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES));
	if (n->escaped_payload == NULL)
		return false;
	notifyq_init(&n->queue);
	backoff_init(&n->backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
	pgconn_init(&n->pg, loop, &session_handlers, n);

	ev_timer_init(&n->poll_timer, poll_timer_cb, cfg->poll_interval_ms / 1000.0,
		      cfg->poll_interval_ms / 1000.0);
	ev_timer_init(&n->heartbeat_timer, heartbeat_timer_cb, cfg->heartbeat_interval_ms / 1000.0,
		      cfg->heartbeat_interval_ms / 1000.0);
	ev_timer_init(&n->view_timer, view_timer_cb, VIEW_REFRESH_S, VIEW_REFRESH_S);
	fault_timing_compute(cfg->session_timeout_ms, cfg->lease_timeout_ms, &n->timing);
	snprintf(n->keepalive_idle_text, sizeof(n->keepalive_idle_text), "%u", n->timing.keepalive_idle_s);
	snprintf(n->keepalive_interval_text, sizeof(n->keepalive_interval_text), "%u",
		 n->timing.keepalive_interval_s);
	snprintf(n->keepalive_count_text, sizeof(n->keepalive_count_text), "%u",
		 n->timing.keepalive_count);
	snprintf(n->user_timeout_text, sizeof(n->user_timeout_text), "%lu", n->timing.user_timeout_ms);
	snprintf(n->lease_ms_text, sizeof(n->lease_ms_text), "%lu", n->timing.lease_ms);
	snprintf(n->wait_timeout_text, sizeof(n->wait_timeout_text), "%lums",
		 cfg->lease_timeout_ms && cfg->lease_timeout_ms < WAIT_LOCK_TIMEOUT_MS ?
		 cfg->lease_timeout_ms : (unsigned long) WAIT_LOCK_TIMEOUT_MS);
	ev_timer_init(&n->lease_timer, lease_timer_cb, n->timing.renew_interval_ms / 1000.0,
		      n->timing.renew_interval_ms / 1000.0);
	ev_init(&n->deadline_timer, deadline_timer_cb);
	ev_timer_init(&n->events_timer, events_timer_cb, EVENTS_CATCH_UP_S, EVENTS_CATCH_UP_S);
	ev_init(&n->handler_retry_timer, handler_retry_cb);
	exec_init(n);
	ev_init(&n->retry_timer, retry_timer_cb);
	ev_init(&n->register_timer, register_timer_cb);
	ev_init(&n->stop_timer, stop_timer_cb);
	ev_signal_init(&n->sigterm_watcher, sigterm_cb, SIGTERM);
	ev_signal_init(&n->sigint_watcher, sigint_cb, SIGINT);
	ev_signal_init(&n->sighup_watcher, sighup_cb, SIGHUP);
	ev_prepare_init(&n->before_wait, before_wait_cb);
	return true;
}

void
node_start(struct node *n)
{
	log_info("starting: cluster=%s channels=%d acquire=%s poll_interval=%lums lock_key=%s%s%s",
		 n->cfg->cluster, n->cfg->nchannels,
		 n->cfg->acquire == ACQUIRE_WAIT ? "wait" : "poll", n->cfg->poll_interval_ms,
		 n->lock_key_text, n->status_url[0] ? " status=" : "", n->status_url);
	log_info("session_timeout=%lums: the server frees a vanished node's lock %lu ms after its "
		 "last packet (keepalives %u s + %u x %u s, tcp_user_timeout %lu ms); a leader cut "
		 "off stops within %lu ms (renews every %lu ms, gives up on an answer after %lu ms); "
		 "lease_timeout=%s", n->cfg->session_timeout_ms, n->timing.server_release_ms,
		 n->timing.keepalive_idle_s, n->timing.keepalive_count, n->timing.keepalive_interval_s,
		 n->timing.user_timeout_ms, n->timing.demote_bound_ms, n->timing.renew_interval_ms,
		 n->timing.answer_deadline_ms, n->cfg->lease_timeout_ms ? "on" : "off (no eviction)");
	ev_timer_start(n->loop, &n->poll_timer);
	ev_timer_start(n->loop, &n->heartbeat_timer);
	ev_timer_start(n->loop, &n->lease_timer);
	ev_timer_start(n->loop, &n->events_timer);
	if (n->want_view)
		ev_timer_start(n->loop, &n->view_timer);
	ev_signal_start(n->loop, &n->sigterm_watcher);
	ev_signal_start(n->loop, &n->sigint_watcher);
	ev_signal_start(n->loop, &n->sighup_watcher);
	ev_prepare_start(n->loop, &n->before_wait);
	node_connect(n);
}

void
node_free(struct node *n)
{
	pgconn_close(&n->pg);
	notifyq_free(&n->queue);
	leader_forget_events(n);
	free(n->events);
	n->events = NULL;
	free(n->escaped_payload);
	n->escaped_payload = NULL;
}
