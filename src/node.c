/* One node: its session, standby polling, leadership, processing steps and handoff. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "escape.h"
#include "lockkey.h"
#include "log.h"
#include "node.h"
#include "queries.h"

#define CONNECT_TIMEOUT_S 10.0
#define RECONNECT_BASE_MS 100
#define RECONNECT_CAP_MS 5000
#define STOP_DEADLINE_S 10.0
/* Bounds one step's transaction and log burst; the rest waits for the next. */
#define MAX_STEP_NOTIFICATIONS 4096
#define MAX_PAYLOAD_BYTES 8000

static void run_try_lock(struct node *n);
static void leader_next(struct node *n);

/* The one place where the node changes state. */
static void
set_state(struct node *n, enum node_state to, const char *reason)
{
	enum node_state from = n->state;
	enum log_level level = LEVEL_INFO;

	if (from == to)
		return;
	if (!node_transition_allowed(from, to)) {
		log_error("internal error: transition %s → %s is not allowed (%s)",
			  node_state_name(from), node_state_name(to), reason);
		log_flush();
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

static void
finish(struct node *n, int exit_code, const char *reason)
{
	pgconn_close(&n->pg);
	notifyq_drop(&n->queue, n->queue.count);
	n->exit_code = exit_code;
	set_state(n, ST_STOPPED, reason);
	ev_break(n->loop, EVBREAK_ALL);
}

/*
 * Something went wrong with the session (lost, or an answer we cannot use):
 * drop it, which also releases the lock and every LISTEN, and reconnect
 * after a backoff.  Whatever was received but not committed is lost: plain
 * NOTIFY is at-most-once.
 */
static void
node_reset(struct node *n, const char *reason)
{
	unsigned delay_ms;

	if (node_state_holds_lock(n->state) && n->queue.count > 0)
		log_warn("%zu received notification(s) not processed: their step did not commit",
			 n->queue.count);
	if (n->state == ST_PROCESSING)
		log_warn("step of term %" PRId64 " was in flight: whether it committed is recorded "
			 "only in the database", n->term);
	pgconn_close(&n->pg);
	notifyq_drop(&n->queue, n->queue.count);
	n->step_size = 0;
	n->poll_again = false;
	set_state(n, ST_DISCONNECTED, reason);
	if (n->stopping) {
		finish(n, n->exit_code, "stop requested");
		return;
	}
	delay_ms = backoff_next(&n->backoff, arc4random());
	log_info("reconnecting in %u ms", delay_ms);
	ev_timer_set(&n->retry_timer, delay_ms / 1000.0, 0.);
	ev_timer_start(n->loop, &n->retry_timer);
}

static void
answer_reset(struct node *n, int value_index)
{
	memset(&n->answer, 0, sizeof(n->answer));
	n->answer.value_index = value_index;
}

/* Sends one statement of a batch; on failure resets the node and returns false. */
static bool
send(struct node *n, const char *sql, int nparams, const char *const *params)
{
	if (pgconn_send(&n->pg, sql, nparams, params))
		return true;
	char reason[600];

	snprintf(reason, sizeof(reason), "could not send a query: %s", n->pg.error);
	node_reset(n, reason);
	return false;
}

static bool
sync_batch(struct node *n)
{
	if (pgconn_sync(&n->pg))
		return true;
	char reason[600];

	snprintf(reason, sizeof(reason), "could not send a query: %s", n->pg.error);
	node_reset(n, reason);
	return false;
}

static void
node_connect(struct node *n)
{
	const char *const keywords[] = {"dbname", "application_name", NULL};
	const char *const values[] = {n->opt->dbname, n->application_name, NULL};

	if (!pgconn_start(&n->pg, keywords, values, CONNECT_TIMEOUT_S)) {
		unsigned delay_ms = backoff_next(&n->backoff, arc4random());

		log_warn("cannot connect: %s; retrying in %u ms", n->pg.error, delay_ms);
		ev_timer_set(&n->retry_timer, delay_ms / 1000.0, 0.);
		ev_timer_start(n->loop, &n->retry_timer);
		return;
	}
	set_state(n, ST_CONNECTING, "connecting to the database");
}

/* ---- standby ---- */

static void
run_try_lock(struct node *n)
{
	const char *params[] = {n->lock_key_text};
	bool wait = n->opt->acquire == ACQUIRE_WAIT;

	answer_reset(n, 0);
	if (!send(n, wait ? SQL_WAIT_LOCK : SQL_TRY_LOCK, 1, params) || !sync_batch(n))
		return;
	set_state(n, ST_ACQUIRING, wait ? "waiting for the leader lock" : "polling the leader lock");
}

static void
run_take_lead(struct node *n)
{
	const char *params[] = {n->opt->cluster, n->lock_key_text, n->opt->node};

	answer_reset(n, 1);
	if (!send(n, "BEGIN", 0, NULL) || !send(n, SQL_TAKE_LEAD, 3, params))
		return;
	if (n->opt->acquire == ACQUIRE_WAIT && !send(n, SQL_RESET_LOCK_TIMEOUT, 0, NULL))
		return;
	for (int i = 0; i < n->opt->nchannels; i++) {
		const char *channel = n->opt->channels[i];
		char *quoted = PQescapeIdentifier(n->pg.conn, channel, strlen(channel));
		char sql[2 * NAME_MAX_BYTES + 16];
		bool sent;

		if (quoted == NULL) {
			char reason[600];

			pgconn_one_line(reason, sizeof(reason), PQerrorMessage(n->pg.conn));
			node_reset(n, reason);
			return;
		}
		snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
		PQfreemem(quoted);
		sent = send(n, sql, 0, NULL);
		if (!sent)
			return;
	}
	if (!send(n, "COMMIT", 0, NULL) || !sync_batch(n))
		return;
	set_state(n, ST_PROMOTING, "won the leader lock");
}

/* ---- leader ---- */

static void
run_step(struct node *n)
{
	char count_text[24];
	const char *params[] = {n->opt->cluster, n->term_text, count_text};

	n->step_size = n->queue.count < MAX_STEP_NOTIFICATIONS ?
	    n->queue.count : MAX_STEP_NOTIFICATIONS;
	snprintf(count_text, sizeof(count_text), "%zu", n->step_size);
	answer_reset(n, 1);
	if (!send(n, "BEGIN", 0, NULL) || !send(n, SQL_STEP, 3, params) ||
	    !send(n, "COMMIT", 0, NULL) || !sync_batch(n))
		return;
	set_state(n, ST_PROCESSING, "processing notifications");
}

static void
run_unlisten(struct node *n)
{
	answer_reset(n, -1);
	if (!send(n, SQL_UNLISTEN_ALL, 0, NULL) || !sync_batch(n))
		return;
	n->unlistened = true;
	set_state(n, ST_RELEASING, "stop requested: UNLISTEN, then finish what was received");
}

static void
run_release(struct node *n)
{
	const char *clear_params[] = {n->opt->cluster, n->term_text};
	const char *release_params[] = {n->opt->cluster, n->lock_key_text};

	answer_reset(n, -1);
	if (!send(n, SQL_CLEAR_LEADER, 2, clear_params) ||
	    !send(n, SQL_RELEASE, 2, release_params) || !sync_batch(n))
		return;
	n->release_sent = true;
	set_state(n, ST_RELEASING, "releasing the leader lock and waking the standbys");
}

/* The leader has nothing in flight: decide what comes next. */
static void
leader_next(struct node *n)
{
	if (n->stopping && !n->unlistened)
		run_unlisten(n);
	else if (n->queue.count > 0)
		run_step(n);
	else if (n->stopping)
		run_release(n);
	else
		set_state(n, ST_LEADER, "step committed");
}

static void
log_step(struct node *n, long long counter_before)
{
	char channel[ESCAPE_MAX_LEN(NAME_MAX_BYTES + 1)];

	for (size_t i = 0; i < n->step_size; i++) {
		PGnotify *note = notifyq_at(&n->queue, i);

		escape_for_log(channel, sizeof(channel), note->relname, strlen(note->relname));
		escape_for_log(n->escaped_payload, ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES),
			       note->extra, strlen(note->extra));
		log_info("Received message: channel=\"%s\" payload=\"%s\" sender_pid=%d, "
			 "with state: counter=%lld",
			 channel, n->escaped_payload, note->be_pid, counter_before + (long long) i);
	}
}

/* ---- answers ---- */

static void
on_schema_checked(struct node *n)
{
	if (n->answer.failed) {
		/* 3F000: no such schema; 42P01: no such table. */
		if (strcmp(n->answer.sqlstate, "3F000") == 0 ||
		    strcmp(n->answer.sqlstate, "42P01") == 0) {
			log_error("the clustered_nodes schema is missing in this database: apply %s "
				  "(psql -v ON_ERROR_STOP=1 -f %s)", SCHEMA_FILE, SCHEMA_FILE);
			finish(n, EX_CONFIG, "schema missing");
			return;
		}
		char reason[600];

		snprintf(reason, sizeof(reason), "schema check failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (n->answer.values[0] < SCHEMA_VERSION) {
		log_error("the clustered_nodes schema is at version %lld, this node needs %d: apply %s "
			  "(psql -v ON_ERROR_STOP=1 -f %s)", n->answer.values[0], SCHEMA_VERSION,
			  SCHEMA_FILE, SCHEMA_FILE);
		finish(n, EX_CONFIG, "schema too old");
		return;
	}
	set_state(n, ST_STANDBY, "session ready");
	if (n->stopping)
		finish(n, 0, "stop requested");
	else
		run_try_lock(n);
}

static void
on_lock_polled(struct node *n)
{
	if (n->answer.failed && n->opt->acquire == ACQUIRE_WAIT && !n->stopping &&
	    strcmp(n->answer.sqlstate, "55P03") == 0) {
		/* lock_timeout: a healthy session, the lock is still held; queue again. */
		backoff_reset(&n->backoff);
		set_state(n, ST_STANDBY, "the lock is held by another node");
		run_try_lock(n);
		return;
	}
	if (n->answer.failed) {
		char reason[600];

		snprintf(reason, sizeof(reason), "lock poll failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (n->stopping) {
		/* Closing the session releases the lock if the poll just won it. */
		finish(n, 0, "stop requested");
		return;
	}
	if (n->answer.has_row && n->answer.values[0] == 1) {
		run_take_lead(n);
		return;
	}
	/* A clean "no": the database is healthy, so the next failure starts afresh. */
	backoff_reset(&n->backoff);
	set_state(n, ST_STANDBY, "the lock is held by another node");
	if (n->poll_again) {
		n->poll_again = false;
		run_try_lock(n);
	}
}

static void
on_promoted(struct node *n)
{
	if (n->answer.failed || !n->answer.has_row) {
		char reason[600];

		snprintf(reason, sizeof(reason), "could not take the lead: %s",
			 n->answer.failed ? n->answer.error : "no row returned");
		node_reset(n, reason);
		return;
	}
	n->term = n->answer.values[0];
	n->counter = n->answer.values[1];
	snprintf(n->term_text, sizeof(n->term_text), "%" PRId64, n->term);
	backoff_reset(&n->backoff);
	set_state(n, ST_LEADER, "term raised and channels listened");
	log_info("starting psql listener: cluster=%s term=%" PRId64 " counter=%" PRId64
		 " channels=%d", n->opt->cluster, n->term, n->counter, n->opt->nchannels);
	leader_next(n);
}

static void
on_step_done(struct node *n)
{
	char reason[600];

	if (n->answer.failed) {
		snprintf(reason, sizeof(reason), "processing step failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (!n->answer.has_row) {
		snprintf(reason, sizeof(reason), "term %" PRId64 " was superseded: another node "
			 "leads; stepping down", n->term);
		node_reset(n, reason);
		return;
	}
	log_step(n, n->answer.values[0]);
	n->counter = n->answer.values[0] + (long long) n->step_size;
	notifyq_drop(&n->queue, n->step_size);
	n->step_size = 0;
	leader_next(n);
}

static void
on_release_done(struct node *n)
{
	if (n->answer.failed) {
		char reason[600];

		/* Closing the session releases the lock all the same. */
		snprintf(reason, sizeof(reason), "release failed (%s); closing the session",
			 n->answer.error);
		finish(n, 0, reason);
		return;
	}
	if (!n->release_sent) {
		leader_next(n);
		return;
	}
	log_info("released the leader lock of term %" PRId64 " at counter %" PRId64
		 " and woke the standbys", n->term, n->counter);
	finish(n, 0, "stopped after handoff");
}

/* ---- session callbacks ---- */

static void
on_connected(struct pgconn *c)
{
	struct node *n = c->owner;

	log_info("connected: host=%s port=%s dbname=%s user=%s backend_pid=%d",
		 PQhost(c->conn), PQport(c->conn), PQdb(c->conn), PQuser(c->conn),
		 PQbackendPID(c->conn));
	answer_reset(n, 0);
	if (!send(n, SQL_SCHEMA_VERSION, 0, NULL) || !send(n, SQL_LISTEN_HANDOFF, 0, NULL))
		return;
	if (n->opt->acquire == ACQUIRE_WAIT && (!send(n, SQL_WAIT_LOCK_TIMEOUT, 0, NULL) ||
						!send(n, SQL_WAIT_CLIENT_CHECK, 0, NULL)))
		return;
	if (!sync_batch(n))
		return;
	set_state(n, ST_CHECKING, "connected; checking the schema");
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
			snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", state ? state : "");
			pgconn_one_line(a->error, sizeof(a->error), PQresultErrorMessage(res));
		}
		return;
	case PGRES_PIPELINE_ABORTED:
		if (!a->failed) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "pipeline aborted");
		}
		return;
	case PGRES_TUPLES_OK:
		if (index != a->value_index || PQntuples(res) < 1)
			return;
		a->has_row = true;
		for (int col = 0; col < 2 && col < PQnfields(res); col++) {
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

	switch (n->state) {
	case ST_CHECKING:
		on_schema_checked(n);
		break;
	case ST_ACQUIRING:
		on_lock_polled(n);
		break;
	case ST_PROMOTING:
		on_promoted(n);
		break;
	case ST_PROCESSING:
		on_step_done(n);
		break;
	case ST_RELEASING:
		on_release_done(n);
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
		bool ours = strcmp(note->extra, n->opt->cluster) == 0;

		PQfreemem(note);
		if (!ours)
			return;
		if (n->state == ST_STANDBY) {
			log_info("the leader handed over; trying the lock now");
			run_try_lock(n);
		} else if (n->state == ST_ACQUIRING) {
			n->poll_again = true;
		}
		return;
	}
	if (!node_state_holds_lock(n->state)) {
		/* Cannot happen: standbys LISTEN on no data channel.  Never process it. */
		log_warn("ignored a notification on \"%s\" received without leadership",
			 note->relname);
		PQfreemem(note);
		return;
	}
	if (!notifyq_push(&n->queue, note)) {
		log_error("out of memory queueing a notification; dropping it");
		PQfreemem(note);
	}
}

static const struct pgconn_handlers session_handlers = {
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
	if (n->state == ST_STANDBY && n->opt->acquire == ACQUIRE_POLL)
		run_try_lock(n);
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
	(void) revents;
	if (revents & EV_TIMER)
		log_warn("graceful stop did not finish within %.0f s", STOP_DEADLINE_S);
	if (n->state == ST_STOPPED)
		return;
	set_state(n, ST_DISCONNECTED, "graceful stop cut short; closing the session");
	finish(n, 0, "stopped without handoff");
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
	case ST_STANDBY:
		finish(n, 0, "stop requested");
		break;
	case ST_ACQUIRING:
		/* A lock wait may last long: leave the queue by closing the session. */
		if (n->opt->acquire == ACQUIRE_WAIT)
			finish(n, 0, "stop requested");
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
	if (n->state == ST_LEADER && n->queue.count > 0)
		run_step(n);
	log_flush();
}

bool
node_init(struct node *n, struct ev_loop *loop, const struct options *opt)
{
	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->opt = opt;
	n->state = ST_DISCONNECTED;
	n->lock_key = lock_key_for_cluster(opt->cluster);
	snprintf(n->lock_key_text, sizeof(n->lock_key_text), "%" PRId64, n->lock_key);
	snprintf(n->application_name, sizeof(n->application_name), "clustered_nodes:%s", opt->node);
	n->escaped_payload = malloc(ESCAPE_MAX_LEN(MAX_PAYLOAD_BYTES));
	if (n->escaped_payload == NULL)
		return false;
	notifyq_init(&n->queue);
	backoff_init(&n->backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
	pgconn_init(&n->pg, loop, &session_handlers, n);

	ev_timer_init(&n->poll_timer, poll_timer_cb, opt->poll_interval_ms / 1000.0,
		      opt->poll_interval_ms / 1000.0);
	ev_init(&n->retry_timer, retry_timer_cb);
	ev_init(&n->stop_timer, stop_timer_cb);
	ev_signal_init(&n->sigterm_watcher, sigterm_cb, SIGTERM);
	ev_signal_init(&n->sigint_watcher, sigint_cb, SIGINT);
	ev_prepare_init(&n->before_wait, before_wait_cb);
	return true;
}

void
node_start(struct node *n)
{
	log_info("starting: cluster=%s channels=%d acquire=%s poll_interval=%lums lock_key=%s",
		 n->opt->cluster, n->opt->nchannels,
		 n->opt->acquire == ACQUIRE_WAIT ? "wait" : "poll", n->opt->poll_interval_ms,
		 n->lock_key_text);
	ev_timer_start(n->loop, &n->poll_timer);
	ev_signal_start(n->loop, &n->sigterm_watcher);
	ev_signal_start(n->loop, &n->sigint_watcher);
	ev_prepare_start(n->loop, &n->before_wait);
	node_connect(n);
}

void
node_free(struct node *n)
{
	pgconn_close(&n->pg);
	notifyq_free(&n->queue);
	free(n->escaped_payload);
	n->escaped_payload = NULL;
}
