/* SPDX-License-Identifier: PostgreSQL */
/* The node's latest view of its cluster, read with its heartbeat, for HTTP.
 * Columns as in SQL_VIEW_STATE and SQL_MEMBERS (queries.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

void
view_read_state(struct cluster_view *v, const PGresult *res, double now)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 7)
		return;
	v->valid = true;
	v->taken_at = now;
	v->has_state = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	v->term = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	v->counter = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(v->leader, sizeof(v->leader), "%s", PQgetvalue(res, 0, 2));
	snprintf(v->elected_at, sizeof(v->elected_at), "%s", PQgetvalue(res, 0, 3));
	v->queue_usage = strtod(PQgetvalue(res, 0, 4), NULL);
	v->lease_age = PQnfields(res) > 7 && !PQgetisnull(res, 0, 7) ?
	    strtod(PQgetvalue(res, 0, 7), NULL) : -1;
	v->nlistening = 0;
	for (const char *p = PQgetvalue(res, 0, 6); *p && v->nlistening < MAX_LISTENING;) {
		size_t len = strcspn(p, "\n");

		snprintf(v->listening[v->nlistening++], sizeof(v->listening[0]), "%.*s", (int) len, p);
		p += len + (p[len] == '\n');
	}
}

void
view_read_members(struct cluster_view *v, const PGresult *res)
{
	int n = PQntuples(res);

	if (PQnfields(res) < 9)
		return;
	if (n > VIEW_MAX_MEMBERS)
		n = VIEW_MAX_MEMBERS;
	for (int i = 0; i < n; i++) {
		struct member_view *m = &v->members[i];

		snprintf(m->node, sizeof(m->node), "%s", PQgetvalue(res, i, 0));
		snprintf(m->role, sizeof(m->role), "%s", PQgetvalue(res, i, 1));
		snprintf(m->host, sizeof(m->host), "%s", PQgetvalue(res, i, 2));
		m->pid = atoi(PQgetvalue(res, i, 3));
		snprintf(m->session, sizeof(m->session), "%s", PQgetvalue(res, i, 8));
		m->heartbeat_age = strtod(PQgetvalue(res, i, 6), NULL);
		snprintf(m->status_url, sizeof(m->status_url), "%s",
			 PQnfields(res) > 9 ? PQgetvalue(res, i, 9) : "");
	}
	v->nmembers = n;
}

void
view_read_terms(struct cluster_view *v, const PGresult *res)
{
	int n = PQntuples(res);

	if (PQnfields(res) < 6)
		return;
	if (n > VIEW_MAX_TERMS)
		n = VIEW_MAX_TERMS;
	for (int i = 0; i < n; i++) {
		struct term_view *t = &v->terms[i];

		t->partition = atoi(PQgetvalue(res, i, 0));
		t->term = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		snprintf(t->leader, sizeof(t->leader), "%s", PQgetvalue(res, i, 2));
		snprintf(t->reason, sizeof(t->reason), "%s", PQgetvalue(res, i, 3));
		t->began_ago = strtod(PQgetvalue(res, i, 4), NULL);
		t->ended_ago = strtod(PQgetvalue(res, i, 5), NULL);
	}
	v->nterms = n;
}

void
view_read_backlog(struct cluster_view *v, const PGresult *res)
{
	if (PQntuples(res) != 1 || PQnfields(res) < 2)
		return;
	v->events_waiting = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	v->dead_letters = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
}
