/* The node's latest view of its cluster, read with its heartbeat, for HTTP. */
#ifndef CN_VIEW_H
#define CN_VIEW_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "names.h"

#define VIEW_MAX_MEMBERS 64

struct member_view {
	char node[NAME_MAX_BYTES + 1];
	char role[16];
	char host[NAME_MAX_BYTES + 1];
	int pid;
	char session[16];	/* live, waiting, gone */
	double heartbeat_age;	/* seconds, when the view was taken */
};

struct cluster_view {
	bool valid;
	double taken_at;	/* wall clock, seconds */
	bool has_state;
	long long term;
	long long counter;
	char leader[NAME_MAX_BYTES + 1];	/* "" when none recorded */
	char elected_at[40];
	double queue_usage;	/* pg_notification_queue_usage() */
	int nmembers;
	struct member_view members[VIEW_MAX_MEMBERS];
};

/*
 * Statements that read the view, added to heartbeat batches.
 * $1 cluster (both).
 */
#define SQL_VIEW_STATE \
	"SELECT s.term, s.counter, coalesce(s.leader, ''), " \
	"  coalesce(to_char(s.elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
	"  pg_notification_queue_usage(), s.cluster IS NOT NULL " \
	"FROM (SELECT 1) one LEFT JOIN clustered_nodes.cluster_state s ON s.cluster = $1"
#define SQL_VIEW_MEMBERS \
	"SELECT m.node, m.role, m.host, m.pid, " \
	"  CASE WHEN a.pid IS NULL THEN 'gone' " \
	"       WHEN a.wait_event_type = 'Lock' THEN 'waiting' ELSE 'live' END, " \
	"  extract(epoch FROM now() - m.heartbeat_at) " \
	"FROM clustered_nodes.members m LEFT JOIN pg_stat_activity a ON a.pid = m.backend_pid " \
	"WHERE m.cluster = $1 ORDER BY m.node LIMIT 64"

void view_read_state(struct cluster_view *v, const PGresult *res, double now);
void view_read_members(struct cluster_view *v, const PGresult *res);

#endif
