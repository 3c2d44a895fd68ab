/* SPDX-License-Identifier: PostgreSQL */
/* The acquirer's evictions, for every partition (the only one when K = 1): a hung leader
 * (its lease lapsed) has its session ended; a session that holds a partition's lock
 * without leading it is named once it has held it a moment, and ended once it has held it
 * for lease_timeout, if the database agrees (never a superuser's session that is no node of
 * the cluster: it stays named, acquirer_squatted()).  At most one attempt per poll
 * interval; a failure is logged once (then at debug level), so nothing spins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquirer_evict.h"
#include "escape.h"
#include "log.h"
#include "queries.h"

enum evict_tag { TAG_EVICT = 100 };

/* A holder that does not lead is named once it has held the lock this long (a node that
 * has just won records itself within milliseconds). */
#define NAME_AFTER_S 0.5

/* "partition P: " in a cluster of several partitions, "" in a single-leader one. */
static const char *
label(const struct acquirer *pt, int p, char *buf, size_t size)
{
	if (pt->cfg->partitions == 1)
		return "";
	snprintf(buf, size, "partition %d: ", p);
	return buf;
}

static void
copy_field(char *dst, size_t size, const PGresult *res, int col)
{
	escape_for_log(dst, size, PQgetvalue(res, 0, col), strlen(PQgetvalue(res, 0, col)));
}

/* A hung leader's eviction: whether its session was ended. */
static void
read_evicted(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;

	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		log_info("ended the session of backend pid %lld, which held the lock", pt->evicting);
}

/* A holder's eviction: who it was (named again: it may have changed since it was named)
 * and what the database did. */
static void
read_holder_evicted(void *ctx, const PGresult *res)
{
	char user[ESCAPE_MAX_LEN(64)], app[ESCAPE_MAX_LEN(64)], member[ESCAPE_MAX_LEN(64)];

	(void) ctx;
	if (PQntuples(res) < 1 || PQnfields(res) < 6)
		return;
	copy_field(user, sizeof(user), res, 1);
	copy_field(app, sizeof(app), res, 2);
	copy_field(member, sizeof(member), res, 4);
	log_warn("a session holds a partition's lock without leading it: backend pid %s, user "
		 "\"%s\", application \"%s\", client %s%s%s%s: %s", PQgetvalue(res, 0, 0), user, app,
		 PQgetvalue(res, 0, 3), member[0] ? ", member \"" : "", member, member[0] ? "\"" : "",
		 strcmp(PQgetvalue(res, 0, 5), "t") == 0 ? "ended it" : "the database declined to end it");
}

static void
on_evicted(void *ctx, const struct batch_outcome *o)
{
	struct acquirer *pt = ctx;

	if (!o->failed) {
		pt->evict_error[0] = '\0';
		pt->evicted(pt);	/* a lock is free: look again */
		return;
	}
	/* Logged once, retried no sooner than the next poll interval: it must not spin. */
	if (strcmp(pt->evict_error, o->error) != 0)
		log_warn("eviction failed: %s (pg_terminate_backend needs the holder's role or "
			 "pg_signal_backend, and never ends a superuser's session: see sql/roles.sql; "
			 "or set lease_timeout = off); retrying every poll interval", o->error);
	else
		log_debug("still cannot evict: %s", o->error);
	snprintf(pt->evict_error, sizeof(pt->evict_error), "%s", o->error);
	pt->evict_failed(pt);
}

/* The session holding a partition's lock without leading it, named for people (its fields
 * escaped: they are whatever its session says) before the database is asked to end it. */
static void
read_squatter(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;
	struct lock_squatter *q = &pt->squatter;
	char buf[24];
	const char *at = label(pt, pt->squatter_partition, buf, sizeof(buf));
	long long pid;

	if (PQntuples(res) < 1 || PQnfields(res) < 5)
		return;
	pid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (pid == q->pid)
		return;		/* named already */
	q->pid = pid;
	copy_field(q->user, sizeof(q->user), res, 1);
	copy_field(q->application, sizeof(q->application), res, 2);
	copy_field(q->client, sizeof(q->client), res, 3);
	copy_field(q->member, sizeof(q->member), res, 4);
	if (q->member[0] == '\0')
		log_warn("%sthe lock is held by backend pid %lld (user %s, application %s, client %s), "
			 "which is not a member of the cluster: it is ended once it has held the lock "
			 "for lease_timeout (%lu ms) without leading", at, q->pid, q->user,
			 q->application, q->client, pt->cfg->lease_timeout_ms);
	else
		log_warn("%sthe lock is held by backend pid %lld (user %s, application %s, client %s), "
			 "member %s, which has not taken the lead: it is ended once it has held the "
			 "lock for lease_timeout (%lu ms) without leading", at, q->pid, q->user,
			 q->application, q->client, q->member, pt->cfg->lease_timeout_ms);
}

#define SQUATTED_AFTER_S 1.0

int
acquirer_squatted(const struct acquirer *pt, int *first)
{
	double now = ev_now(pt->loop), after = 2.0 * (double) pt->cfg->poll_interval_ms / 1000.0;
	int n = 0;

	if (after < SQUATTED_AFTER_S)
		after = SQUATTED_AFTER_S;
	*first = -1;
	for (int p = 0; p < pt->cfg->partitions; p++) {
		const struct partition_view *v = &pt->view[p];

		if (v->leader_live || v->refused_since <= 0 || now - v->refused_since < after)
			continue;
		if (*first < 0)
			*first = p;
		n++;
	}
	return n;
}

/* The lock of a partition refused while nobody leads it: what to do about its holder now
 * (name it, end it, or nothing yet); false if nothing. */
static bool
add_squatter_step(struct acquirer *pt, int p, double now, const char **params)
{
	const struct partition_view *v = &pt->view[p];
	double held_s = now - v->refused_since;
	char buf[24];

	if (pt->squatter_partition != p || pt->squatter.pid == 0) {
		if (held_s < NAME_AFTER_S)
			return false;
		pt->squatter_partition = p;
		return session_add(pt->session, TAG_EVICT, p, SQL_PARTITION_HOLDER, 2, params,
				   read_squatter, pt);
	}
	if (pt->cfg->lease_timeout_ms == 0 || held_s * 1000 < (double) pt->cfg->lease_timeout_ms)
		return false;
	if (pt->evict_error[0] == '\0')
		log_warn("%sbackend pid %lld has held the lock for over %lu ms without leading: "
			 "ending its session", label(pt, p, buf, sizeof(buf)), pt->squatter.pid,
			 pt->cfg->lease_timeout_ms);
	log_debug("eviction attempt: backend pid %lld, partition %d", pt->squatter.pid, p);
	pt->evicting = pt->squatter.pid;
	return session_add(pt->session, TAG_EVICT, p, SQL_EVICT_PARTITION_HOLDER, 2, params,
			   read_holder_evicted, pt);
}

/* At most one eviction (or naming) per poll interval; false if none was due. */
bool
acquirer_evict_one(struct acquirer *pt, const int *mine, void (*ended)(struct acquirer *pt),
		   void (*failed)(struct acquirer *pt))
{
	double now = ev_now(pt->loop);
	char partition[12], pid[24], term[24], buf[24];

	if ((now - pt->evicted_at) * 1000 < (double) pt->cfg->poll_interval_ms)
		return false;
	for (int p = 0; p < pt->cfg->partitions; p++) {
		const struct partition_view *v = &pt->view[p];
		const char *params[] = {pt->cfg->cluster, partition, pid, term};

		if (mine[p])
			continue;
		snprintf(partition, sizeof(partition), "%d", p);
		if (v->leader_live && v->lapsed && pt->cfg->lease_timeout_ms > 0 &&
		    v->leader_pid != session_backend_pid(pt->session)) {
			snprintf(pid, sizeof(pid), "%lld", v->leader_pid);
			snprintf(term, sizeof(term), "%lld", v->term);
			if (pt->evict_error[0] == '\0')
				log_warn("%sthe leader of term %lld (backend pid %lld) holds the lock but "
					 "has not renewed its lease for over %lu ms: ending its session",
					 label(pt, p, buf, sizeof(buf)), v->term, v->leader_pid,
					 pt->cfg->lease_timeout_ms);
			log_debug("eviction attempt: backend pid %lld, term %lld", v->leader_pid,
				  v->term);
			pt->evicting = v->leader_pid;
			if (!session_add(pt->session, TAG_EVICT, p, SQL_EVICT_PARTITION, 4, params,
					 read_evicted, pt))
				return true;
		} else if (!v->leader_live && v->refused_since > 0 &&
			   (v->leader_pid == 0 || v->lapsed)) {
			/* Held by a session that does not lead, while no recorded leader's lease
			 * runs (one that does may be a leader of an older version, which takes no
			 * handoff key: clustered_nodes.evict() would not end it either). */
			if (!add_squatter_step(pt, p, now, params))
				continue;
		} else {
			continue;
		}
		pt->evicted = ended;
		pt->evict_failed = failed;
		pt->evicted_at = now;
		session_send(pt->session, on_evicted, pt, true);
		return true;
	}
	return false;
}
