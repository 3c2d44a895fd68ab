/* SPDX-License-Identifier: PostgreSQL */
/* What a look reads into the acquirer: the partition map (who leads each partition, how
 * alive), the live members in name order, and a single-leader standby's rank among them.
 * The readers of acquirer.c's batches (session.h's stmt_reader). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquirer_map.h"

void
acquirer_read_map(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;
	double now = ev_now(pt->loop);

	for (int r = 0; r < PQntuples(res) && PQnfields(res) >= 8; r++) {
		int p = atoi(PQgetvalue(res, r, 0));
		struct partition_view *v;

		if (p < 0 || p >= pt->cfg->partitions)
			continue;
		v = &pt->view[p];
		snprintf(v->leader, sizeof(v->leader), "%s", PQgetvalue(res, r, 1));
		v->leader_pid = strtoll(PQgetvalue(res, r, 2), NULL, 10);
		v->term = strtoll(PQgetvalue(res, r, 3), NULL, 10);
		v->counter = strtoll(PQgetvalue(res, r, 4), NULL, 10);
		v->lapsed = strcmp(PQgetvalue(res, r, 5), "t") == 0;
		v->elected_at = strtod(PQgetvalue(res, r, 6), NULL);
		v->leader_live = strcmp(PQgetvalue(res, r, 7), "t") == 0 && v->leader_pid != 0;
		if (v->leader_live || pt->hooks->state_of(pt->owner, p) != ST_STANDBY)
			v->free_since = 0;
		else if (v->free_since == 0)
			v->free_since = now;
	}
}

void
acquirer_read_rank(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;

	if (PQntuples(res) != 1 || PQnfields(res) != 2)
		return;
	pt->rank = atoi(PQgetvalue(res, 0, 0));
	pt->live_members = atoi(PQgetvalue(res, 0, 1));
}

void
acquirer_read_members(void *ctx, const PGresult *res)
{
	struct acquirer *pt = ctx;
	int n = PQntuples(res);

	if (n > BALANCE_MAX_NODES)
		n = BALANCE_MAX_NODES;
	for (int r = 0; r < n; r++)
		snprintf(pt->members[r], NAME_MAX_BYTES + 1, "%s", PQgetvalue(res, r, 0));
	pt->nmembers_read = n;
}

int
acquirer_member_index(const struct acquirer *pt, const char *name)
{
	for (int i = 0; i < pt->nmembers; i++)
		if (strcmp(pt->members[i], name) == 0)
			return i;
	return -1;
}
