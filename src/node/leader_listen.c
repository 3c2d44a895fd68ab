/* SPDX-License-Identifier: PostgreSQL */
/* What a leader's session listens on: the LISTENs it takes with a lead and restores after
 * SQL handlers, and the check of pg_listening_channels() that a step's housekeeping
 * carries every LISTENING_CHECK_INTERVAL_S (in a transaction after the step's), so that a session that stopped listening (whatever
 * did it) is seen, reported on /readyz and /healthz, and listens again with the next step. */
#include <stdio.h>

#include "leader_listen.h"
#include "log.h"
#include "names.h"
#include "queries.h"

static bool
add_listen(struct leader *l, int tag, const char *channel)
{
	char *quoted = session_quote_identifier(l->session, channel);
	char sql[2 * NAME_MAX_BYTES + 16];

	if (quoted == NULL)
		return false;
	snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
	PQfreemem(quoted);
	return session_add(l->session, tag, 0, sql, 0, NULL, NULL, NULL);
}

/* One listener (sql/015): of a partitioned cluster's leaders, only partition 0's listens;
 * the others' plain notifications reach them relayed, as durable events.  Once it does,
 * every partition's steps on that session restore the LISTENs after their handlers. */
static bool
leader_listens(const struct leader *l)
{
	return !l->shared || l->partition == 0 || l->session->listening ||
	    l->session->schema_version < SCHEMA_VERSION_ONE_LISTENER;
}

bool
listen_add_all(struct leader *l, int tag)
{
	if (!leader_listens(l))
		return true;
	l->session->listening = true;
	for (int i = 0; i < l->cfg->nchannels; i++)
		if (!add_listen(l, tag, l->cfg->channels[i]))
			return false;
	return add_listen(l, tag, FENCE_CHANNEL) && add_listen(l, tag, EVENTS_CHANNEL);
}

static void
read_listening(void *ctx, const PGresult *res)
{
	struct leader *l = ctx;
	bool deaf = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f';

	if (deaf && !l->deaf)
		log_error("%sthe leader's session no longer listens on all of its channels (did a "
			  "handler UNLISTEN?): listening again with the next step", l->log_label);
	else if (!deaf && l->deaf)
		log_info("%sthe leader's session listens on all of its channels again", l->log_label);
	l->deaf = deaf;
}

bool
listen_add_check(struct leader *l, int tag)
{
	const char *params[] = {l->channels_array,
		"{" EVENTS_CHANNEL "," FENCE_CHANNEL "}"};

	if (l->stopping || !leader_listens(l) ||
	    ev_now(l->loop) - l->listening_checked_at < LISTENING_CHECK_INTERVAL_S)
		return true;
	l->listening_checked_at = ev_now(l->loop);
	return session_add_cached(l->session, tag, 0, SQL_LISTENING, 2, params, read_listening, l);
}
