/* The standby side of a node: schema check, registration, competing for the lock, leaving. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "node_internal.h"
#include "queries.h"
#include "version.h"

/* The migration that brings the schema to each version. */
static const char *const migration_files[SCHEMA_VERSION + 1] = {
	[1] = "sql/001_cluster_state.sql",
	[2] = "sql/002_members.sql",
	[3] = "sql/003_lease.sql",
	[4] = "sql/004_events.sql",
};

/* Names every file from version `from` + 1 on, for the one-line error. */
static void
files_to_apply(long long from, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (long long v = from + 1; v <= SCHEMA_VERSION && used < size; v++)
		used += (size_t) snprintf(buf + used, size - used, "%s%s",
					  v > from + 1 ? " then " : "", migration_files[v]);
}

void
standby_check_schema(struct node *n)
{
	const char *timeouts[] = {n->keepalive_idle_text, n->keepalive_interval_text,
		n->keepalive_count_text, n->user_timeout_text};
	const char *wait_timeout[] = {n->wait_timeout_text};

	node_answer_reset(n, 0);
	if (!node_send(n, SQL_SCHEMA_VERSION, 0, NULL) ||
	    !node_send(n, SQL_LISTEN_HANDOFF, 0, NULL) ||
	    !node_send(n, SQL_SESSION_TIMEOUTS, 4, timeouts))
		return;
	if (n->cfg->acquire == ACQUIRE_WAIT &&
	    (!node_send(n, SQL_WAIT_LOCK_TIMEOUT, 1, wait_timeout) ||
	     !node_send(n, SQL_WAIT_CLIENT_CHECK, 0, NULL)))
		return;
	if (n->cfg->handler_sql[0] != '\0') {
		/* Prepared on every session: a statement that cannot work stops us at start. */
		static const Oid types[HANDLER_PARAMS] = {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID};

		n->answer.prepare_index = n->answer.sent;
		if (!pgconn_prepare(&n->pg, HANDLER_STATEMENT, n->cfg->handler_sql, HANDLER_PARAMS,
				    types)) {
			node_reset(n, n->pg.error);
			return;
		}
		n->answer.sent++;
	}
	if (!node_sync(n))
		return;
	node_set_state(n, ST_CHECKING, "connected; checking the schema");
}

void
standby_register(struct node *n)
{
	const char *params[] = {n->cfg->cluster, n->cfg->node, n->host, n->pid_text, CN_VERSION,
		n->status_url[0] ? n->status_url : NULL};

	node_answer_reset(n, 0);
	n->heartbeat_due = true;	/* the first poll refreshes it and (with --http) the view */
	if (!node_send(n, SQL_REGISTER, 6, params) || !node_sync(n))
		return;
	node_set_state(n, ST_REGISTERING, "schema is current; registering");
}

void
standby_on_schema_checked(struct node *n)
{
	bool handler_failed = n->answer.failed && n->answer.failed_index == n->answer.prepare_index;
	char files[256];

	if (handler_failed && n->answer.has_row && n->answer.values[0] >= SCHEMA_VERSION) {
		log_error("handler_sql does not work: %s", n->answer.error);
		node_finish(n, EX_CONFIG, "bad handler_sql");
		return;
	}
	if (n->answer.failed && !handler_failed && (strcmp(n->answer.sqlstate, "3F000") == 0 ||
						    strcmp(n->answer.sqlstate, "42P01") == 0)) {
		/* 3F000: no such schema; 42P01: no such table. */
		files_to_apply(0, files, sizeof(files));
		log_error("the clustered_nodes schema is missing in this database: apply %s "
			  "(psql -v ON_ERROR_STOP=1 -f FILE)", files);
		node_finish(n, EX_CONFIG, "schema missing");
		return;
	}
	if (n->answer.failed && !handler_failed) {
		char reason[600];

		snprintf(reason, sizeof(reason), "schema check failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (!n->answer.has_row || n->answer.values[0] < SCHEMA_VERSION) {
		files_to_apply(n->answer.values[0], files, sizeof(files));
		log_error("the clustered_nodes schema is at version %lld, this node needs %d: apply %s "
			  "(psql -v ON_ERROR_STOP=1 -f FILE)", n->answer.values[0], SCHEMA_VERSION,
			  files);
		node_finish(n, EX_CONFIG, "schema too old");
		return;
	}
	if (n->stopping) {
		node_finish(n, 0, "stop requested");
		return;
	}
	standby_register(n);
}

void
standby_on_registered(struct node *n)
{
	if (n->answer.failed) {
		char reason[600];

		snprintf(reason, sizeof(reason), "registration failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (!n->answer.has_row) {
		double now = ev_time();

		/*
		 * A namesake's session is alive.  If it belongs to a process that was
		 * just killed and restarted as us, its backend is exiting: give it
		 * DUPLICATE_GRACE_S before calling it a second live node.
		 */
		if (n->first_refusal_at == 0)
			n->first_refusal_at = now;
		if (now - n->first_refusal_at < DUPLICATE_GRACE_S) {
			log_info("a node named \"%s\" still has a live session; retrying in %.0f ms in "
				 "case it is ending", n->cfg->node, DUPLICATE_RETRY_S * 1000);
			ev_timer_set(&n->register_timer, DUPLICATE_RETRY_S, 0.);
			ev_timer_start(n->loop, &n->register_timer);
			return;
		}
		log_error("another node named \"%s\" is running in cluster \"%s\" (its database "
			  "session is alive); refusing to start a second one", n->cfg->node,
			  n->cfg->cluster);
		node_finish(n, EX_CONFIG, "duplicate node name");
		return;
	}
	n->first_refusal_at = 0;
	node_set_state(n, ST_STANDBY, "registered");
	if (n->stopping)
		standby_leave(n);
	else
		standby_try_lock(n);
}

void
standby_try_lock(struct node *n)
{
	const char *params[] = {n->lock_key_text, n->cfg->cluster};
	bool wait = n->cfg->acquire == ACQUIRE_WAIT && !n->lease_check;

	node_answer_reset(n, 0);
	n->unbounded_batch = wait;
	if (!node_send(n, wait ? SQL_WAIT_LOCK : SQL_TRY_LOCK, wait ? 1 : 2, params) ||
	    !node_send_housekeeping(n) || !node_sync(n))
		return;
	node_set_state(n, ST_ACQUIRING,
		       wait ? "waiting for the leader lock" : "polling the leader lock");
}

/*
 * The lock is held but the holder's lease lapsed lease_timeout ago: it is
 * hung (stopped, deadlocked) while its socket stays open.  End its backend,
 * if the term is still the one we read, so it can commit nothing more, then
 * poll again at once.
 */
static void
evict(struct node *n, long long term, long long pid)
{
	char term_text[24], pid_text[24];
	const char *params[] = {n->lock_key_text, n->cfg->cluster, term_text, pid_text};

	snprintf(term_text, sizeof(term_text), "%lld", term);
	snprintf(pid_text, sizeof(pid_text), "%lld", pid);
	log_warn("the leader of term %lld (backend pid %lld) holds the lock but has not renewed "
		 "its lease for over %lu ms: ending its session", term, pid, n->cfg->lease_timeout_ms);
	node_answer_reset(n, -1);
	if (!node_send(n, SQL_EVICT, 4, params) || !node_sync(n))
		return;
	n->evicting = true;
	node_set_state(n, ST_ACQUIRING, "evicting a hung leader");
}

void
standby_on_lock_polled(struct node *n)
{
	bool got, expired;

	if (n->evicting) {
		n->evicting = false;
		n->lease_check = n->cfg->acquire == ACQUIRE_WAIT;
		if (n->answer.failed)
			log_warn("eviction failed: %s (pg_terminate_backend needs the same role or "
				 "pg_signal_backend: see sql/roles.sql)", n->answer.error);
		node_set_state(n, ST_STANDBY, "eviction done");
		if (!n->stopping)
			standby_try_lock(n);
		else
			standby_leave(n);
		return;
	}
	if (n->answer.failed && n->cfg->acquire == ACQUIRE_WAIT && !n->stopping &&
	    strcmp(n->answer.sqlstate, "55P03") == 0) {
		/* lock_timeout: a healthy session, the lock still held; check the lease once. */
		backoff_reset(&n->backoff);
		n->heartbeat_due = true;
		n->lease_check = true;
		node_set_state(n, ST_STANDBY, "the lock is held by another node");
		standby_try_lock(n);
		return;
	}
	if (n->answer.failed) {
		char reason[600];

		snprintf(reason, sizeof(reason), "lock poll failed: %s", n->answer.error);
		node_reset(n, reason);
		return;
	}
	if (n->heartbeat_in_batch)
		n->heartbeat_due = false;
	n->lease_check = false;
	got = n->answer.has_row && n->answer.values[0] == 1;
	expired = n->answer.has_row && n->answer.values[2] == 1;
	if (n->stopping) {
		/* Closing the session releases the lock if the poll just won it. */
		standby_leave(n);
		return;
	}
	if (got) {
		leader_take_lead(n);
		return;
	}
	/* A clean "no": the database is healthy, so the next failure starts afresh. */
	backoff_reset(&n->backoff);
	node_set_state(n, ST_STANDBY, "the lock is held by another node");
	if (expired && n->cfg->lease_timeout_ms > 0 && n->answer.values[3] > 0) {
		evict(n, n->answer.values[1], n->answer.values[3]);
		return;
	}
	if (n->poll_again || node_housekeeping_due(n) || n->cfg->acquire == ACQUIRE_WAIT) {
		n->poll_again = false;
		standby_try_lock(n);
	}
}

/* Graceful stop of a standby: remove our members row, then end. */
void
standby_leave(struct node *n)
{
	const char *params[] = {n->cfg->cluster, n->cfg->node};

	node_answer_reset(n, -1);
	if (!node_send(n, SQL_DEREGISTER, 2, params) || !node_sync(n))
		return;
	node_set_state(n, ST_LEAVING, "stop requested: deregistering");
}

void
standby_on_left(struct node *n)
{
	if (n->answer.failed)
		log_warn("could not remove our members row: %s", n->answer.error);
	node_finish(n, 0, "stopped");
}
