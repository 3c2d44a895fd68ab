/* SPDX-License-Identifier: PostgreSQL */
/* This node's row in clustered_nodes.members: registration, heartbeats, the cluster view
 * for the status endpoint, and leaving.
 *
 * A node is alive while its session is (liveness is judged by backend_pid in
 * pg_stat_activity), so heartbeats are for people, not for correctness: they ride on the
 * next lock poll or step instead of costing round trips of their own.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "membership.h"
#include "queries.h"
#include "util.h"
#include "version.h"

/* The page and /status lag the database by this much at most. */
#define VIEW_REFRESH_S 1.0

enum membership_tag { TAG_REGISTER, TAG_WARM_UP, TAG_HOUSEKEEPING, TAG_LEAVE };

static bool
read_true(const PGresult *res)
{
	return PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

static void
read_accepted(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	m->accepted = read_true(res);
}

static void
on_registered(void *ctx, const struct batch_outcome *o)
{
	struct membership *m = ctx;
	double now = ev_time();

	if (o->failed) {
		session_reset(m->session, "registration failed: %s", o->error);
		return;
	}
	if (m->accepted) {
		m->first_refusal_at = 0;
		m->hooks->registered(m->owner);
		return;
	}
	/*
	 * A namesake's session is alive.  If it belongs to a process that was just killed
	 * and restarted as us, its backend is exiting: give it DUPLICATE_GRACE_S before
	 * calling it a second live node.
	 */
	if (m->first_refusal_at == 0)
		m->first_refusal_at = now;
	if (now - m->first_refusal_at < DUPLICATE_GRACE_S) {
		log_info("a node named \"%s\" still has a live session; retrying in %.0f ms in "
			 "case it is ending", m->cfg->node, DUPLICATE_RETRY_S * 1000);
		ev_timer_set(&m->register_timer, DUPLICATE_RETRY_S, 0.);
		ev_timer_start(m->loop, &m->register_timer);
		return;
	}
	log_error("another node named \"%s\" is running in cluster \"%s\" (its database session is "
		  "alive); refusing to start a second one", m->cfg->node, m->cfg->cluster);
	m->hooks->duplicate(m->owner);
}

/* A warm-up only saves time later: its failure is not the session's. */
static void
on_warmed_up(void *ctx, const struct batch_outcome *o)
{
	(void) ctx;
	if (o->failed)
		log_debug("warming the session up failed: %s", o->error);
}

void
membership_register(struct membership *m)
{
	const char *params[] = {m->cfg->cluster, m->cfg->node, m->host, m->pid_text, CN_VERSION,
		m->status_url[0] ? m->status_url : NULL};

	m->accepted = false;
	m->heartbeat_due = true;	/* the first poll refreshes it and (with --http) the view */
	if (!session_add(m->session, TAG_REGISTER, 0, SQL_REGISTER, 6, params, read_accepted, m) ||
	    !session_send(m->session, on_registered, m, true))
		return;
	/* Behind it, in its own transaction: the registration is not held up by it, and the
	 * first look waits behind it (sql/011). */
	if (m->session->schema_version >= SCHEMA_VERSION_WARM_UP &&
	    (!session_add(m->session, TAG_WARM_UP, 0, SQL_WARM_UP, 2, params, NULL, NULL) ||
	     !session_send(m->session, on_warmed_up, m, true)))
		return;
	fsm_set(m->fsm, ST_REGISTERING, "schema is current; registering");
}

static void
register_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct membership *m = container_of(w, struct membership, register_timer);

	(void) loop;
	(void) revents;
	if (m->fsm->state == ST_REGISTERING)
		membership_register(m);
}

void
membership_forget(struct membership *m)
{
	ev_timer_stop(m->loop, &m->register_timer);
}

/* ---- housekeeping ---- */

static void
read_heartbeat(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	m->heartbeat_due = false;
	if (!read_true(res) && !m->row_lost) {
		log_warn("our members row is gone (removed by someone with rights over the table): "
			 "writing it again");
		m->row_lost = true;
	}
}

static void
read_rewritten(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	if (read_true(res))
		m->row_lost = false;
	else
		log_warn("could not write our members row again: another live session has our name");
}

static void
read_view_state(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	view_read_state(m->view, res, ev_time());
}

static void
read_view_members(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	view_read_members(m->view, res);
	m->view_due = false;
}

static void
read_view_terms(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	view_read_terms(m->view, res);
}

static void
read_view_backlog(void *ctx, const PGresult *res)
{
	struct membership *m = ctx;

	view_read_backlog(m->view, res);
}

void
membership_want_heartbeat(struct membership *m)
{
	m->heartbeat_due = true;
}

bool
membership_housekeeping_due(const struct membership *m)
{
	return m->heartbeat_due || m->view_due || m->row_lost;
}

bool
membership_add_housekeeping(struct membership *m)
{
	const char *params[] = {m->cfg->cluster, m->cfg->node};
	const char *cluster[] = {m->cfg->cluster};
	const char *row[] = {m->cfg->cluster, m->cfg->node, m->host, m->pid_text, CN_VERSION,
		m->status_url[0] ? m->status_url : NULL};

	/* Nothing here must survive a crash of the server: no wait for the WAL flush. */
	if (membership_housekeeping_due(m) &&
	    !session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_NO_FLUSH_WAIT, 0, NULL, NULL,
				NULL))
		return false;
	if (m->row_lost && !session_add(m->session, TAG_HOUSEKEEPING, 0, SQL_REGISTER, 6, row,
					read_rewritten, m))
		return false;
	if (m->heartbeat_due &&
	    !session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_HEARTBEAT, 2, params,
				read_heartbeat, m))
		return false;
	if (!m->view_due && !(m->heartbeat_due && m->want_view))
		return true;
	/* The status endpoint's view of the cluster rides along. */
	return session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_VIEW_STATE, 1, cluster,
				  read_view_state, m) &&
	    session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_MEMBERS, 1, cluster,
			       read_view_members, m) &&
	    (m->session->schema_version < SCHEMA_VERSION_HISTORY ||
	     (session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_VIEW_TERMS, 1, cluster,
				 read_view_terms, m) &&
	      session_add_cached(m->session, TAG_HOUSEKEEPING, 0, SQL_VIEW_BACKLOG, 1, cluster,
				 read_view_backlog, m)));
}

bool
membership_add_leave(struct membership *m)
{
	const char *params[] = {m->cfg->cluster, m->cfg->node};

	return session_add(m->session, TAG_LEAVE, 0, SQL_DEREGISTER, 2, params, NULL, NULL);
}

static void
heartbeat_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct membership *m = container_of(w, struct membership, heartbeat_timer);

	(void) loop;
	(void) revents;
	m->heartbeat_due = true;
	m->hooks->housekeeping_due(m->owner);
}

static void
view_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct membership *m = container_of(w, struct membership, view_timer);

	(void) loop;
	(void) revents;
	m->view_due = true;
	m->hooks->housekeeping_due(m->owner);
}

void
membership_init(struct membership *m, struct ev_loop *loop, struct session *session,
		const struct config *cfg, struct fsm *fsm, struct cluster_view *view,
		const struct membership_hooks *hooks, void *owner)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	m->session = session;
	m->cfg = cfg;
	m->fsm = fsm;
	m->view = view;
	m->hooks = hooks;
	m->owner = owner;
	m->status_url = "";
	ev_timer_init(&m->heartbeat_timer, heartbeat_timer_cb, cfg->heartbeat_interval_ms / 1000.0,
		      cfg->heartbeat_interval_ms / 1000.0);
	ev_timer_init(&m->view_timer, view_timer_cb, VIEW_REFRESH_S, VIEW_REFRESH_S);
	ev_init(&m->register_timer, register_timer_cb);
}

void
membership_identify(struct membership *m, const char *host, const char *pid_text,
		    const char *status_url, bool want_view)
{
	m->host = host;
	m->pid_text = pid_text;
	m->status_url = status_url;
	m->want_view = want_view;
}

void
membership_start_timers(struct membership *m)
{
	ev_timer_start(m->loop, &m->heartbeat_timer);
	if (m->want_view)
		ev_timer_start(m->loop, &m->view_timer);
}

void
membership_stop_timers(struct membership *m)
{
	ev_timer_stop(m->loop, &m->heartbeat_timer);
	ev_timer_stop(m->loop, &m->view_timer);
	ev_timer_stop(m->loop, &m->register_timer);
}

void
membership_reload(struct membership *m)
{
	m->heartbeat_timer.repeat = m->cfg->heartbeat_interval_ms / 1000.0;
	ev_timer_again(m->loop, &m->heartbeat_timer);
}
