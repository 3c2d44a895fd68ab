/* The standby side of a node: competing for the leader lock, evicting a hung leader, leaving.
 *
 * Poll mode tries pg_try_advisory_lock; between polls, while a leader holds the handoff
 * key, it waits on that key in shared mode (at most a look interval, timing.h), so that a leader's
 * handover or death wakes every standby at once without any LISTEN (a listening session
 * costs every NOTIFY of the database); otherwise it polls every poll interval.  Wait
 * mode queues in pg_advisory_lock and polls once whenever its wait times out, to refresh
 * its heartbeat and look at the leader's lease.
 */
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "log.h"
#include "queries.h"
#include "standby.h"
#include "timing.h"
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
	p->waited = PQnfields(res) == 1;
	if (PQnfields(res) >= 7) {
		p->term = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		p->lapsed = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		p->leader_pid = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		p->holder = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
		p->handoff_held = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
		p->handoff_taken = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	}
}

/* Graceful stop of a standby: what it did is over (a lock a poll just won goes with the
 * session): the owner leaves the cluster. */
static void
leave(struct standby *sb)
{
	sb->hooks->stopped(sb->owner);
}

static void
read_evicted(void *ctx, const PGresult *res)
{
	struct standby *sb = ctx;

	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		log_info("ended the session of backend pid %lld, which held the lock", sb->evicting);
}

/*
 * After an eviction attempt.  A success freed the lock: poll again at once.  A failure is
 * logged once (with the fix) and not retried before the next poll interval: an eviction
 * that cannot succeed must not spin.
 */
static void
on_evicted(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;

	sb->lease_check = sb->cfg->acquire == ACQUIRE_WAIT;
	if (o->failed) {
		if (strcmp(sb->evict_error, o->error) != 0)
			log_warn("eviction failed: %s (pg_terminate_backend needs the holder's role or "
				 "pg_signal_backend, and never ends a superuser's session: see "
				 "sql/roles.sql; or set lease_timeout = off); retrying every poll interval",
				 o->error);
		else
			log_debug("still cannot evict: %s", o->error);
		snprintf(sb->evict_error, sizeof(sb->evict_error), "%s", o->error);
		fsm_set(sb->fsm, ST_STANDBY, "could not evict; next try at the next poll");
		if (sb->stopping)
			leave(sb);
		else if (sb->cfg->acquire == ACQUIRE_WAIT)
			try_lock(sb);
		return;
	}
	sb->evict_error[0] = '\0';
	fsm_set(sb->fsm, ST_STANDBY, "eviction done");
	if (sb->stopping)
		leave(sb);
	else
		try_lock(sb);
}

/*
 * End the session of the lock's holder, if the database still agrees it should go
 * (clustered_nodes.evict): the recorded leader whose lease lapsed (hung, stopped,
 * deadlocked while its socket stays open), or a session that has held the lock for
 * lease_timeout without leading.  It can then commit nothing more.  At most one attempt
 * per poll interval.
 */
static void
evict(struct standby *sb, const struct lock_poll *p, bool recorded_leader)
{
	char term_text[24], pid_text[24];
	const char *params[] = {sb->cfg->cluster, pid_text, term_text};
	double now = ev_now(sb->loop);

	if (sb->evicted_at > 0 && now - sb->evicted_at < sb->cfg->poll_interval_ms / 1000.0)
		return;		/* the next poll tries again */
	snprintf(term_text, sizeof(term_text), "%lld", p->term);
	snprintf(pid_text, sizeof(pid_text), "%lld", p->holder);
	if (sb->evict_error[0] == '\0' && recorded_leader)
		log_warn("the leader of term %lld (backend pid %lld) holds the lock but has not renewed "
			 "its lease for over %lu ms: ending its session", p->term, p->holder,
			 sb->cfg->lease_timeout_ms);
	else if (sb->evict_error[0] == '\0')
		log_warn("backend pid %lld has held the lock for over %lu ms without leading: ending "
			 "its session", p->holder, sb->cfg->lease_timeout_ms);
	log_debug("eviction attempt: backend pid %lld, term %lld", p->holder, p->term);
	sb->evicted_at = now;
	sb->evicting = p->holder;
	if (!session_add(sb->session, TAG_EVICT, 0, SQL_EVICT, 3, params, read_evicted, sb) ||
	    !session_send(sb->session, on_evicted, sb, true))
		return;
	fsm_set(sb->fsm, ST_ACQUIRING, recorded_leader ? "evicting a hung leader" :
		"evicting a holder that does not lead");
}

static void
copy_field(char *dst, size_t size, const PGresult *res, int col)
{
	escape_for_log(dst, size, PQgetvalue(res, 0, col), strlen(PQgetvalue(res, 0, col)));
}

/* The holder that does not lead, named for people (its fields escaped: they are
 * whatever its session says). */
static void
read_holder(void *ctx, const PGresult *res)
{
	struct standby *sb = ctx;
	struct lock_squatter *q = &sb->squatter;

	if (PQntuples(res) < 1 || PQnfields(res) < 5)
		return;
	q->pid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	copy_field(q->user, sizeof(q->user), res, 1);
	copy_field(q->application, sizeof(q->application), res, 2);
	copy_field(q->client, sizeof(q->client), res, 3);
	copy_field(q->member, sizeof(q->member), res, 4);
	if (q->member[0] == '\0')
		log_warn("the lock is held by backend pid %lld (user %s, application %s, client %s), "
			 "which is not a member of the cluster: it is ended once it has held the lock "
			 "for lease_timeout (%lu ms) without leading", q->pid, q->user, q->application,
			 q->client, sb->cfg->lease_timeout_ms);
	else
		log_warn("the lock is held by backend pid %lld (user %s, application %s, client %s), "
			 "member %s, which has not taken the lead: it is ended once it has held the "
			 "lock for lease_timeout (%lu ms) without leading", q->pid, q->user,
			 q->application, q->client, q->member, sb->cfg->lease_timeout_ms);
}

static void
on_described(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;

	if (o->failed) {
		session_reset(sb->session, "reading the lock holder failed: %s", o->error);
		return;
	}
	fsm_set(sb->fsm, ST_STANDBY, "the lock is held by a session that does not lead");
	if (sb->stopping)
		leave(sb);
	else if (sb->cfg->acquire == ACQUIRE_WAIT)
		try_lock(sb);
}

/* A holder that does not lead, seen for the first time: name it before anything else. */
static void
describe_holder(struct standby *sb)
{
	const char *params[] = {sb->cfg->cluster};

	if (!session_add(sb->session, TAG_LOCK, 0, SQL_LOCK_HOLDER, 1, params, read_holder, sb) ||
	    !session_send(sb->session, on_described, sb, true))
		return;
	fsm_set(sb->fsm, ST_ACQUIRING, "naming the lock's holder");
}

/* Whether the poll found a holder to name or evict, and sent that. */
static bool
consider_eviction(struct standby *sb)
{
	const struct lock_poll *p = &sb->poll;
	double now = ev_now(sb->loop);

	if (!p->has_row || p->holder == 0 || p->holder == p->leader_pid) {
		if (sb->squatter.pid != 0 && (!p->has_row || p->holder != sb->squatter.pid))
			log_info("backend pid %lld no longer holds the lock", sb->squatter.pid);
		if (!p->has_row || p->holder != sb->squatter.pid)
			memset(&sb->squatter, 0, sizeof(sb->squatter));
		sb->holder_seen = 0;
	}
	if (!p->has_row || p->holder == 0)
		return false;
	if (p->holder == p->leader_pid) {
		if (!p->lapsed || sb->cfg->lease_timeout_ms == 0)
			return false;
		evict(sb, p, true);
		return sb->fsm->state == ST_ACQUIRING;
	}
	/* The holder is not the recorded leader: a node that has just won (it records
	 * itself within milliseconds), or one that never will.  Give it lease_timeout. */
	if (sb->holder_seen != p->holder) {
		sb->holder_seen = p->holder;
		sb->holder_seen_since = now;
		return false;
	}
	if (sb->squatter.pid != p->holder && (now - sb->holder_seen_since) * 1000 >= 500) {
		describe_holder(sb);
		return sb->fsm->state == ST_ACQUIRING;
	}
	if (sb->cfg->lease_timeout_ms == 0 ||
	    (now - sb->holder_seen_since) * 1000 < (double) sb->cfg->lease_timeout_ms)
		return false;
	evict(sb, p, false);
	return sb->fsm->state == ST_ACQUIRING;
}

static void on_polled(void *ctx, const struct batch_outcome *o);

/* The wait is over, and the poll behind it read what is now: act on it as on any poll. */
static void
on_handoff_waited(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;

	if (o->failed) {
		session_reset(sb->session, "waiting for the leader's handover failed: %s", o->error);
		return;
	}
	/* Woken by a handover or a leader's end, or the wait ran out. */
	if (!(sb->poll.has_row && sb->poll.got))
		fsm_set(sb->fsm, ST_STANDBY, "the handoff key was let go, or the wait ended");
	on_polled(sb, o);
}

/*
 * A leader holds the handoff key: wait on it (shared, so every standby wakes together and
 * none holds another up) until it is let go, or a look interval; then, in the same
 * transaction and round trip, poll and send the housekeeping due.  Each statement reads
 * its own snapshot, so the poll sees the rows as they are after the wait; what it compares
 * with the time uses clock_timestamp(), not the transaction's start.  The housekeeping
 * comes after the wait, so no heartbeat's row lock or transaction id is held through it.
 */
static void
wait_for_handoff(struct standby *sb)
{
	const char *params[] = {sb->handoff_key_text, sb->handoff_wait_ms};
	const char *poll_params[] = {sb->lock_key_text, sb->cfg->cluster, sb->handoff_key_text};

	/* sb->poll keeps what the last poll read (STATUS= shows its term) until the poll
	 * behind the wait overwrites every field of it. */
	if (!session_add_cached(sb->session, TAG_LOCK, 0, SQL_WAIT_HANDOFF, 2, params, NULL, NULL) ||
	    !membership_add_housekeeping(sb->membership) ||
	    !session_add_cached(sb->session, TAG_LOCK, 0, SQL_TRY_LOCK, 3, poll_params, read_poll,
				sb) ||
	    !session_send(sb->session, on_handoff_waited, sb, false))
		return;
	fsm_set(sb->fsm, ST_ACQUIRING, "waiting for the leader to hand over");
}

static void
on_polled(void *ctx, const struct batch_outcome *o)
{
	struct standby *sb = ctx;
	bool wait_mode = sb->cfg->acquire == ACQUIRE_WAIT;

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
		sb->hooks->won(sb->owner, sb->poll.handoff_taken);
		return;
	}
	/* A clean "no": the database is healthy, so the next failure starts afresh. */
	session_healthy(sb->session);
	fsm_set(sb->fsm, ST_STANDBY, "the lock is held by another node");
	if (wait_mode && sb->poll.waited) {
		/* The lock wait ran out: poll once (heartbeat, the lease), then wait again. */
		membership_want_heartbeat(sb->membership);
		sb->lease_check = true;
		try_lock(sb);
		return;
	}
	if (consider_eviction(sb))
		return;
	if (wait_mode)
		try_lock(sb);
	else if (sb->poll.handoff_held)
		wait_for_handoff(sb);	/* with any housekeeping due, after the wait */
	else if (membership_housekeeping_due(sb->membership))
		try_lock(sb);
	/* else: the lock's holder does not hold the key (a winner takes both in one statement,
	 * so it is not a leader of this version: a squatter, a wait-mode winner about to lead,
	 * a node of an older version): the poll timer tries again */
}

static void
try_lock(struct standby *sb)
{
	const char *poll_params[] = {sb->lock_key_text, sb->cfg->cluster, sb->handoff_key_text};
	const char *wait_params[] = {sb->lock_key_text, sb->wait_ms_text};
	bool wait = sb->cfg->acquire == ACQUIRE_WAIT && !sb->lease_check;

	memset(&sb->poll, 0, sizeof(sb->poll));
	/* Housekeeping first: the try, when it wins, waits for the handoff key, which sets
	 * lock_timeout for the rest of the transaction. */
	if (!membership_add_housekeeping(sb->membership) ||
	    !(wait ? session_add(sb->session, TAG_LOCK, 0, SQL_WAIT_LOCK, 2, wait_params, read_poll,
				 sb) :
	      session_add_cached(sb->session, TAG_LOCK, 0, SQL_TRY_LOCK, 3, poll_params, read_poll,
				 sb)) ||
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
	sb->lease_check = false;
	sb->holder_seen = 0;
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
	     const char *lock_key_text, const char *handoff_key_text, const char *wait_ms_text,
	     const struct standby_hooks *hooks, void *owner)
{
	memset(sb, 0, sizeof(*sb));
	sb->loop = loop;
	sb->session = session;
	sb->cfg = cfg;
	sb->fsm = fsm;
	sb->membership = membership;
	sb->lock_key_text = lock_key_text;
	sb->handoff_key_text = handoff_key_text;
	sb->wait_ms_text = wait_ms_text;
	sb->hooks = hooks;
	sb->owner = owner;
	snprintf(sb->handoff_wait_ms, sizeof(sb->handoff_wait_ms), "%lu",
		 look_interval_ms(cfg->lease_timeout_ms, cfg->heartbeat_interval_ms));
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
	snprintf(sb->handoff_wait_ms, sizeof(sb->handoff_wait_ms), "%lu",
		 look_interval_ms(sb->cfg->lease_timeout_ms, sb->cfg->heartbeat_interval_ms));
}
