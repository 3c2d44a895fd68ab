/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes history [--json] [--partition N] [--since WHEN] [--limit N]`: the
 * cluster's terms as clustered_nodes.history keeps them (sql/014_history.sql), newest
 * first, one line each: who led from when, after whom, why the lead changed, and how long
 * the partition went without a committed step.  Like `pg_autoctl show events`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "duration.h"
#include "json.h"
#include "oneshot.h"
#include "queries.h"
#include "cmd_history.h"

#define DEFAULT_LIMIT 50

/* $1 cluster, $2 partition or NULL, $3 since (a timestamp) or NULL, $4 since as ms ago or
 * NULL, $5 limit. */
static const char SQL_HISTORY[] =
	"SELECT to_char(h.began_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"  h.partition, h.term, h.leader, coalesce(h.host, ''), coalesce(h.previous_leader, ''), "
	"  h.reason, coalesce(round(h.gap_ms::numeric, 1)::text, ''), "
	"  coalesce(to_char(h.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), "
	"  coalesce(h.last_counter::text, '') "
	"FROM clustered_nodes.history h "
	"WHERE h.cluster = $1 AND ($2::integer IS NULL OR h.partition = $2::integer) "
	"  AND ($3::timestamptz IS NULL OR h.began_at >= $3::timestamptz) "
	"  AND ($4::bigint IS NULL OR h.began_at >= now() - $4::bigint * interval '1 ms') "
	"ORDER BY h.began_at DESC, h.partition, h.term DESC LIMIT $5::integer";
enum { H_BEGAN, H_PARTITION, H_TERM, H_LEADER, H_HOST, H_PREVIOUS, H_REASON, H_GAP_MS,
	H_ENDED, H_LAST_COUNTER, H_COLUMNS };

/* Whether anything of the cluster is recorded (that this login may read). */
static void
print_text(const PGresult *res)
{
	printf("%-24s %-4s %-6s %-16s %-16s %-16s %-15s %9s  %-24s %s\n", "BEGAN (UTC)", "PART",
	       "TERM", "LEADER", "HOST", "AFTER", "WHY", "GAP (ms)", "ENDED (UTC)", "LAST COUNTER");
	for (int r = 0; r < PQntuples(res); r++)
		printf("%-24s %-4s %-6s %-16s %-16s %-16s %-15s %9s  %-24s %s\n",
		       PQgetvalue(res, r, H_BEGAN), PQgetvalue(res, r, H_PARTITION),
		       PQgetvalue(res, r, H_TERM), oneshot_shown(res, r, H_LEADER),
		       PQgetvalue(res, r, H_HOST)[0] ? oneshot_shown(res, r, H_HOST) : "-",
		       PQgetvalue(res, r, H_PREVIOUS)[0] ? oneshot_shown(res, r, H_PREVIOUS) : "-",
		       PQgetvalue(res, r, H_REASON),
		       PQgetvalue(res, r, H_GAP_MS)[0] ? PQgetvalue(res, r, H_GAP_MS) : "-",
		       PQgetvalue(res, r, H_ENDED)[0] ? PQgetvalue(res, r, H_ENDED) : "running",
		       PQgetvalue(res, r, H_LAST_COUNTER)[0] ? PQgetvalue(res, r, H_LAST_COUNTER) : "-");
}

/* [{...},...] */
static void
print_json(const PGresult *res)
{
	static const char *const names[H_COLUMNS] = {"began_at", "partition", "term", "leader",
		"host", "previous_leader", "reason", "gap_ms", "ended_at", "last_counter"};
	static const bool numeric[H_COLUMNS] = {false, true, true, false, false, false, false,
		true, false, true};

	printf("[");
	for (int r = 0; r < PQntuples(res); r++) {
		printf(r ? ",{" : "{");
		for (int f = 0; f < H_COLUMNS; f++) {
			const char *v = PQgetvalue(res, r, f);

			printf("%s\"%s\":", f ? "," : "", names[f]);
			if (numeric[f])
				printf("%s", v[0] ? v : "null");
			else
				json_write_string(stdout, v[0] ? v : NULL);
		}
		printf("}");
	}
	printf("]");
}

static PGresult *
query_history(PGconn *conn, const char *cluster, int partition, const char *since, int limit)
{
	char partition_text[16], limit_text[16], ago_text[24];
	const char *params[5] = {cluster, NULL, NULL, NULL, limit_text};
	unsigned long ago_ms;
	const char *why;

	if (partition >= 0) {
		snprintf(partition_text, sizeof(partition_text), "%d", partition);
		params[1] = partition_text;
	}
	if (since != NULL && parse_duration_ms(since, 0, 100UL * 365 * 24 * 3600 * 1000, &ago_ms,
					       &why)) {
		snprintf(ago_text, sizeof(ago_text), "%lu", ago_ms);
		params[3] = ago_text;
	} else if (since != NULL) {
		params[2] = since;	/* a timestamp, as PostgreSQL reads one (or its error) */
	}
	snprintf(limit_text, sizeof(limit_text), "%d", limit > 0 ? limit : DEFAULT_LIMIT);
	return oneshot_query(conn, "history", SQL_HISTORY, 5, params);
}

int
run_history(const struct config *c, const struct cli *cli)
{
	PGresult *res;
	long long version;
	PGconn *conn;
	int rc;

	if ((conn = oneshot_connect(c, "history", &rc)) == NULL)
		return rc;
	if ((rc = oneshot_schema_check(conn, SCHEMA_VERSION_HISTORY, &version)) != 0 ||
	    (rc = oneshot_cluster_known(conn, c->cluster)) != 0) {
		PQfinish(conn);
		return rc;
	}
	res = query_history(conn, c->cluster, cli->partition, cli->since, cli->limit);
	if (res == NULL) {
		PQfinish(conn);
		/* A --since PostgreSQL could not read (the error is printed): bad usage. */
		return cli->since != NULL ? EX_USAGE : EX_UNAVAILABLE;
	}
	if (cli->json) {
		printf("{\"cluster\":");
		json_write_string(stdout, c->cluster);
		printf(",\"history\":");
		print_json(res);
		printf("}\n");
	} else {
		printf("cluster   %s\n\n", c->cluster);
		print_text(res);
		if (PQntuples(res) == 0)
			printf("(no terms%s)\n", cli->since || cli->partition >= 0 ? " match" : "");
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}

void
history_print_recent(PGconn *conn, const struct config *c, long long version, int n, bool json)
{
	PGresult *res;

	if (version < SCHEMA_VERSION_HISTORY)
		return;
	if ((res = query_history(conn, c->cluster, -1, NULL, n)) == NULL)
		return;
	if (json) {
		printf(",\"history\":");
		print_json(res);
	} else if (PQntuples(res) > 0) {
		printf("\nrecent terms (clustered_nodes history shows more):\n");
		print_text(res);
	}
	PQclear(res);
}
