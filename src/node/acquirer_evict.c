/* A partitioned node's evictions: a hung partition leader (its lease lapsed) has its
 * session ended; a session that holds a partition's lock without leading it is named, and
 * ended once it has held the lock for lease_timeout, if the database agrees (never a
 * superuser's session that is no node of the cluster: it stays named, acquirer_squatted()).
 * At most one attempt per poll interval; a failure is logged once, so nothing spins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquirer_evict.h"
#include "escape.h"
#include "log.h"
#include "queries.h"

enum evict_tag { TAG_EVICT = 100 };

static void
read_evicted(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;
	char user[ESCAPE_MAX_LEN(64)], app[ESCAPE_MAX_LEN(64)], member[ESCAPE_MAX_LEN(64)];

	if (PQntuples(res) < 1)
		return;
	if (PQnfields(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			log_info("ended the session of a partition leader whose lease had lapsed");
		return;
	}
	escape_for_log(user, sizeof(user), PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
	escape_for_log(app, sizeof(app), PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
	escape_for_log(member, sizeof(member), PQgetvalue(res, 0, 4), strlen(PQgetvalue(res, 0, 4)));
	log_warn("a session holds a partition's lock without leading it: backend pid %s, user "
		 "\"%s\", application \"%s\", client %s%s%s%s: %s", PQgetvalue(res, 0, 0), user, app,
		 PQgetvalue(res, 0, 3), member[0] ? ", member \"" : "", member, member[0] ? "\"" : "",
		 strcmp(PQgetvalue(res, 0, 5), "t") == 0 ? "ended it" : "the database declined to end it");
	(void) pt;
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
		log_warn("could not end a partition lock holder's session: %s", o->error);
	snprintf(pt->evict_error, sizeof(pt->evict_error), "%s", o->error);
}

/* The session holding a partition's lock without leading it, named before the database
 * is asked to end it (which it may decline: a superuser's session). */
static void
read_squatter(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;
	struct lock_squatter *q = &pt->squatter;
	const int cols[] = {1, 2, 3, 4};
	char *dst[] = {q->user, q->application, q->client, q->member};

	if (PQntuples(res) < 1 || PQnfields(res) < 5)
		return;
	q->pid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	for (int i = 0; i < 4; i++)
		escape_for_log(dst[i], sizeof(q->user), PQgetvalue(res, 0, cols[i]),
			       strlen(PQgetvalue(res, 0, cols[i])));
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

/* At most one eviction per poll interval; false if none was due. */
bool
acquirer_evict_one(struct acquirer *pt, const int *mine, void (*ended)(struct acquirer *pt))
{
	double now = ev_now(pt->loop);
	unsigned long lease = pt->cfg->lease_timeout_ms;
	char partition[12], pid[24], term[24];

	if (lease == 0 || (now - pt->evicted_at) * 1000 < (double) pt->cfg->poll_interval_ms)
		return false;
	for (int p = 0; p < pt->cfg->partitions; p++) {
		const struct partition_view *v = &pt->view[p];
		const char *params[] = {pt->cfg->cluster, partition, pid, term};

		if (mine[p])
			continue;
		snprintf(partition, sizeof(partition), "%d", p);
		if (v->leader_live && v->lapsed &&
		    v->leader_pid != session_backend_pid(pt->session)) {
			snprintf(pid, sizeof(pid), "%lld", v->leader_pid);
			snprintf(term, sizeof(term), "%lld", v->term);
			log_warn("partition %d: the lease of %s (term %lld) has lapsed: ending its "
				 "session", p, v->leader, v->term);
			if (!session_add(pt->session, TAG_EVICT, p, SQL_EVICT_PARTITION, 4, params,
					 read_evicted, pt))
				return true;
		} else if (!v->leader_live && v->refused_since > 0 &&
			   (now - v->refused_since) * 1000 >= (double) lease) {
			pt->squatter_partition = p;
			if (!session_add(pt->session, TAG_EVICT, p, SQL_PARTITION_HOLDER, 2, params,
					 read_squatter, pt) ||
			    !session_add(pt->session, TAG_EVICT, p, SQL_EVICT_PARTITION_HOLDER, 2,
					 params, read_evicted, pt))
				return true;
		} else {
			continue;
		}
		pt->evicted = ended;
		pt->evicted_at = now;
		session_send(pt->session, on_evicted, pt, true);
		return true;
	}
	return false;
}
