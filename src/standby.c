/* The standby side of a node: competing for the leader lock, evicting a hung leader, leaving.
 *
 * Poll mode tries pg_try_advisory_lock every poll interval; wait mode queues in
 * pg_advisory_lock and polls once whenever its wait times out, to refresh its heartbeat
 * and look at the leader's lease.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queries.h"
#include "standby.h"
#include "util.h"

enum standby_tag { TAG_LOCK, TAG_HOUSEKEEPING, TAG_EVICT, TAG_LEAVE };

static void try_lock(struct standby *sb);

static void
read_poll(void *ctx, const PGresult *res)
{
	struct standby *sb = ctx;
	struct lock_poll *p = &sb->poll;

	if (PQntuples(res) < 1)
		return;
	p->has_row = true;
	p->got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (PQnfields(res) >= 4) {
		p->term = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		p->lapsed = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		p->holder = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	}
}

static void
on_left(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;

	if (o->failed)
		log_warn("could not remove our members row: %s", o->error);
	sb->hooks->left(sb->owner);
}

/* Graceful stop of a standby: remove our members row, then end. */
static void
leave(struct standby *sb)
{
	if (!membership_add_leave(sb->membership) || !session_send(sb->session, on_left, sb, true))
		return;
	fsm_set(sb->fsm, ST_LEAVING, "stop requested: deregistering");
}

/* After an eviction attempt, whatever its outcome, poll again at once. */
static void
on_evicted(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;

	sb->lease_check = sb->cfg->acquire == ACQUIRE_WAIT;
	if (o->failed)
		log_warn("eviction failed: %s (pg_terminate_backend needs the same role or "
			 "pg_signal_backend: see sql/roles.sql)", o->error);
	fsm_set(sb->fsm, ST_STANDBY, "eviction done");
	if (sb->stopping)
		leave(sb);
	else
		try_lock(sb);
}

/*
 * The lock is held but the holder's lease lapsed lease_timeout ago: it is hung (stopped,
 * deadlocked) while its socket stays open.  End its backend, if the term is still the one
 * we read, so it can commit nothing more, then poll again at once.
 */
static void
evict(struct standby *sb, long long term, long long pid)
{
	char term_text[24], pid_text[24];
	const char *params[] = {sb->lock_key_text, sb->cfg->cluster, term_text, pid_text};

	snprintf(term_text, sizeof(term_text), "%lld", term);
	snprintf(pid_text, sizeof(pid_text), "%lld", pid);
	log_warn("the leader of term %lld (backend pid %lld) holds the lock but has not renewed "
		 "its lease for over %lu ms: ending its session", term, pid, sb->cfg->lease_timeout_ms);
	if (!session_add(sb->session, TAG_EVICT, 0, SQL_EVICT, 4, params, NULL, NULL) ||
	    !session_send(sb->session, on_evicted, sb, true))
		return;
	fsm_set(sb->fsm, ST_ACQUIRING, "evicting a hung leader");
}

static void
on_polled(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;
	bool wait_mode = sb->cfg->acquire == ACQUIRE_WAIT;

	if (o->failed && wait_mode && !sb->stopping && o->failed_tag == TAG_LOCK &&
	    strcmp(o->sqlstate, "55P03") == 0) {
		/* lock_timeout: a healthy session, the lock still held; check the lease once. */
		session_healthy(sb->session);
		membership_want_heartbeat(sb->membership);
		sb->lease_check = true;
		fsm_set(sb->fsm, ST_STANDBY, "the lock is held by another node");
		try_lock(sb);
		return;
	}
	if (o->failed) {
		session_reset(sb->session, "lock poll failed: %s", o->error);
		return;
	}
	sb->lease_check = false;
	if (sb->stopping) {
		/* Closing the session releases the lock if the poll just won it. */
		leave(sb);
		return;
	}
	if (sb->poll.has_row && sb->poll.got) {
		sb->hooks->won(sb->owner);
		return;
	}
	/* A clean "no": the database is healthy, so the next failure starts afresh. */
	session_healthy(sb->session);
	fsm_set(sb->fsm, ST_STANDBY, "the lock is held by another node");
	if (sb->poll.has_row && sb->poll.lapsed && sb->cfg->lease_timeout_ms > 0 &&
	    sb->poll.holder > 0) {
		evict(sb, sb->poll.term, sb->poll.holder);
		return;
	}
	if (sb->poll_again || membership_housekeeping_due(sb->membership) || wait_mode) {
		sb->poll_again = false;
		try_lock(sb);
	}
}

static void
try_lock(struct standby *sb)
{
	const char *params[] = {sb->lock_key_text, sb->cfg->cluster};
	bool wait = sb->cfg->acquire == ACQUIRE_WAIT && !sb->lease_check;

	memset(&sb->poll, 0, sizeof(sb->poll));
	if (!session_add(sb->session, TAG_LOCK, 0, wait ? SQL_WAIT_LOCK : SQL_TRY_LOCK,
			 wait ? 1 : 2, params, read_poll, sb) ||
	    !membership_add_housekeeping(sb->membership) ||
	    !session_send(sb->session, on_polled, sb, !wait))
		return;
	fsm_set(sb->fsm, ST_ACQUIRING, wait ? "waiting for the leader lock" : "polling the leader lock");
}

void
standby_begin(struct standby *sb)
{
	fsm_set(sb->fsm, ST_STANDBY, "registered");
	if (sb->stopping)
		leave(sb);
	else
		try_lock(sb);
}

void
standby_handoff(struct standby *sb)
{
	if (sb->fsm->state == ST_STANDBY) {
		log_info("the leader handed over; trying the lock now");
		try_lock(sb);
	} else if (sb->fsm->state == ST_ACQUIRING) {
		sb->poll_again = true;
	}
}

void
standby_poke(struct standby *sb)
{
	if (sb->fsm->state == ST_STANDBY && !sb->stopping)
		try_lock(sb);
}

void
standby_stop(struct standby *sb)
{
	sb->stopping = true;
	if (sb->fsm->state == ST_STANDBY)
		leave(sb);
}

void
standby_forget(struct standby *sb)
{
	sb->poll_again = false;
	sb->lease_check = false;
}

static void
poll_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct standby *sb = container_of(w, struct standby, poll_timer);

	(void) loop;
	(void) revents;
	if (sb->fsm->state == ST_STANDBY && sb->cfg->acquire == ACQUIRE_POLL && !sb->stopping)
		try_lock(sb);
}

void
standby_init(struct standby *sb, struct ev_loop *loop, struct session *session,
	     const struct config *cfg, struct fsm *fsm, struct membership *membership,
	     const char *lock_key_text, const struct standby_hooks *hooks, void *owner)
{
	memset(sb, 0, sizeof(*sb));
	sb->loop = loop;
	sb->session = session;
	sb->cfg = cfg;
	sb->fsm = fsm;
	sb->membership = membership;
	sb->lock_key_text = lock_key_text;
	sb->hooks = hooks;
	sb->owner = owner;
	ev_timer_init(&sb->poll_timer, poll_timer_cb, cfg->poll_interval_ms / 1000.0,
		      cfg->poll_interval_ms / 1000.0);
}

void
standby_start_timers(struct standby *sb)
{
	ev_timer_start(sb->loop, &sb->poll_timer);
}

void
standby_stop_timers(struct standby *sb)
{
	ev_timer_stop(sb->loop, &sb->poll_timer);
}

void
standby_reload(struct standby *sb)
{
	sb->poll_timer.repeat = sb->cfg->poll_interval_ms / 1000.0;
	ev_timer_again(sb->loop, &sb->poll_timer);
}
