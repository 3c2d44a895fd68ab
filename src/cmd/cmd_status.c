/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes status [--json]`: the cluster as the database and pg_locks see it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "json.h"
#include "lockkey.h"
#include "oneshot.h"
#include "queries.h"
#include "cmd_history.h"
#include "cmd_status.h"

#define MAX_PROBLEMS 16
/* How many of the last terms status shows (`history` shows more). */
#define RECENT_TERMS 5

static const char SQL_STATE[] =
	"SELECT term, counter, leader, leader_pid, "
	"  to_char(elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"  leader IS NOT NULL AND lease_until < now(), "
	"  round(extract(epoch FROM now() - lease_until)::numeric, 1) "
	"FROM clustered_nodes.cluster_state WHERE cluster = $1 AND partition = 0";
/* SQL_STATE's columns past the five printed: whether the leader's lease has lapsed, and
 * for how long (s). */
enum { ST_LAPSED = 5, ST_LAPSED_FOR };

/* A partitioned cluster: K, then each partition's row and its lock's holder. */
static const char SQL_PARTITION_COUNT[] =
	"SELECT coalesce((SELECT partitions FROM clustered_nodes.clusters WHERE cluster = $1), 1)";
static const char SQL_PARTITION_TABLE[] =
	"SELECT g.p, coalesce(s.term, 0), coalesce(s.counter, 0), coalesce(s.leader, ''), "
	"  coalesce(s.leader_pid, 0), coalesce(h.pid, 0), coalesce(h.member, ''), "
	"  coalesce(h.application_name, ''), "
	"  coalesce(s.leader IS NOT NULL AND s.lease_until < now(), false), "
	"  coalesce(round(extract(epoch FROM now() - s.lease_until)::numeric, 1), 0) "
	"FROM clustered_nodes.clusters c CROSS JOIN generate_series(0, c.partitions - 1) g(p) "
	"LEFT JOIN clustered_nodes.cluster_state s ON s.cluster = c.cluster AND s.partition = g.p "
	"LEFT JOIN LATERAL clustered_nodes.lock_holder(c.cluster, g.p) h ON true "
	"WHERE c.cluster = $1 ORDER BY g.p";
enum { PT_PARTITION, PT_TERM, PT_COUNTER, PT_LEADER, PT_LEADER_PID, PT_HOLDER, PT_MEMBER,
	PT_APPLICATION, PT_LAPSED, PT_LAPSED_FOR };

/* Columns of SQL_LOCK_HOLDER: the session that holds the lock, whatever the table says. */
enum { HOLDER_PID, HOLDER_USER, HOLDER_APPLICATION, HOLDER_CLIENT, HOLDER_MEMBER };

/* A value from the database as a terminal may show it (oneshot_shown()). */
static const char *
shown(const PGresult *res, int row, int col)
{
	return oneshot_shown(res, row, col);
}

static PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return oneshot_query(conn, "status", sql, nparams, params);
}

static void print_members_and_problems_json(PGresult *members, char problems[][256],
					    int nproblems);
static void print_members_and_problems_text(PGresult *members, char problems[][256],
					    int nproblems);

static void
print_json(const struct config *c, PGresult *state, PGresult *holder, PGresult *members,
	   char problems[][256], int nproblems)
{
	bool has_state = PQntuples(state) == 1;

	printf("{\"cluster\":");
	json_write_string(stdout, c->cluster);
	printf(",\"term\":%s,\"counter\":%s,\"leader\":",
	       has_state ? PQgetvalue(state, 0, 0) : "null",
	       has_state ? PQgetvalue(state, 0, 1) : "null");
	json_write_string(stdout, has_state && !PQgetisnull(state, 0, 2) ? PQgetvalue(state, 0, 2) : NULL);
	printf(",\"leader_pid\":%s,\"elected_at\":",
	       has_state && !PQgetisnull(state, 0, 3) ? PQgetvalue(state, 0, 3) : "null");
	json_write_string(stdout, has_state && !PQgetisnull(state, 0, 4) ? PQgetvalue(state, 0, 4) : NULL);
	printf(",\"lock_key\":%" PRId64 ",\"lock_holder\":", lock_key_for_cluster(c->cluster));
	if (PQntuples(holder) == 1) {
		printf("{\"pid\":%s,\"application_name\":", PQgetvalue(holder, 0, HOLDER_PID));
		json_write_string(stdout, PQgetvalue(holder, 0, HOLDER_APPLICATION));
		printf(",\"user\":");
		json_write_string(stdout, PQgetvalue(holder, 0, HOLDER_USER));
		printf(",\"client\":");
		json_write_string(stdout, PQgetvalue(holder, 0, HOLDER_CLIENT));
		printf(",\"member\":");
		json_write_string(stdout, PQgetisnull(holder, 0, HOLDER_MEMBER) ? NULL :
				  PQgetvalue(holder, 0, HOLDER_MEMBER));
		printf("}");
	} else
		printf("null");
	printf(",");
	print_members_and_problems_json(members, problems, nproblems);
}

/* "members":[...],"problems":[...] (the caller closes the object) */
static void
print_members_and_problems_json(PGresult *members, char problems[][256], int nproblems)
{
	printf("\"members\":[");
	for (int i = 0; i < PQntuples(members); i++) {
		static const char *const names[] = {"node", "role", "host", "pid", "version", "term",
			"heartbeat_age_s", "backend_pid", "session", "status_url"};
		static const bool numeric[] = {false, false, false, true, false, true, true, true,
			false, false};

		printf(i ? ",{" : "{");
		for (int f = 0; f < 10; f++) {
			const char *v = PQgetvalue(members, i, f);

			printf("%s\"%s\":", f ? "," : "", names[f]);
			if (numeric[f])
				printf("%s", v[0] && strcmp(v, "0") != 0 ? v : (f == 6 ? v : "null"));
			else
				json_write_string(stdout, v[0] ? v : NULL);
		}
		printf("}");
	}
	printf("],\"problems\":[");
	for (int i = 0; i < nproblems; i++) {
		printf(i ? "," : "");
		json_write_string(stdout, problems[i]);
	}
	printf("]");
}

static void
print_text(const struct config *c, PGresult *state, PGresult *holder, PGresult *members,
	   char problems[][256], int nproblems)
{
	bool has_state = PQntuples(state) == 1;

	printf("cluster   %s\n", c->cluster);
	if (has_state) {
		printf("term      %s\n", PQgetvalue(state, 0, 0));
		printf("counter   %s\n", PQgetvalue(state, 0, 1));
		if (!PQgetisnull(state, 0, 2))
			printf("leader    %s since %s (backend pid %s)\n", shown(state, 0, 2),
			       PQgetvalue(state, 0, 4), PQgetvalue(state, 0, 3));
		else
			printf("leader    none recorded\n");
	} else
		printf("state     no leader has ever been elected in this cluster\n");
	if (PQntuples(holder) == 1)
		printf("lock      held by backend pid %s (%s)\n", PQgetvalue(holder, 0, HOLDER_PID),
		       shown(holder, 0, HOLDER_APPLICATION));
	else
		printf("lock      not held: no leader\n");
	print_members_and_problems_text(members, problems, nproblems);
}

static void
print_members_and_problems_text(PGresult *members, char problems[][256], int nproblems)
{
	printf("\n%-20s %-8s %-8s %-20s %-8s %-8s %s\n", "NODE", "ROLE", "SESSION", "HOST", "PID",
	       "VERSION", "HEARTBEAT AGE");
	for (int i = 0; i < PQntuples(members); i++)
		printf("%-20s %-8s %-8s %-20s %-8s %-8s %ss\n", shown(members, i, 0),
		       shown(members, i, 1), shown(members, i, 8), shown(members, i, 2),
		       shown(members, i, 3), shown(members, i, 4), shown(members, i, 6));
	if (PQntuples(members) == 0)
		printf("(no members registered)\n");
	for (int i = 0; i < nproblems; i++)
		printf("%s%s\n", i ? "" : "\nproblems:\n", problems[i]);
}

/* Where the table and pg_locks disagree, in words an operator can act on. */
static int
find_problems(PGresult *state, PGresult *holder, PGresult *members, char problems[][256])
{
	bool has_state = PQntuples(state) == 1;
	bool held = PQntuples(holder) == 1;
	const char *leader = has_state && !PQgetisnull(state, 0, 2) ? PQgetvalue(state, 0, 2) : NULL;
	const char *leader_pid = has_state && !PQgetisnull(state, 0, 3) ? PQgetvalue(state, 0, 3) : NULL;
	int n = 0;

	if (leader)
		leader = shown(state, 0, 2);
	if (!held && leader)
		snprintf(problems[n++], 256, "stale leader row: cluster_state names %s (backend pid "
			 "%s) but no session holds the lock", leader, leader_pid ? leader_pid : "?");
	if (held && PQgetisnull(holder, 0, HOLDER_MEMBER))
		snprintf(problems[n++], 256, "the lock is held by backend pid %s (user %s, application "
			 "%s, client %s), which is not a member of the cluster: nodes end its session "
			 "after lease_timeout", PQgetvalue(holder, 0, HOLDER_PID),
			 shown(holder, 0, HOLDER_USER), shown(holder, 0, HOLDER_APPLICATION),
			 shown(holder, 0, HOLDER_CLIENT));
	else if (held && (!leader_pid || strcmp(leader_pid, PQgetvalue(holder, 0, HOLDER_PID)) != 0))
		snprintf(problems[n++], 256, "the lock is held by backend pid %s (member %s) but "
			 "cluster_state names %s (backend pid %s)", PQgetvalue(holder, 0, HOLDER_PID),
			 shown(holder, 0, HOLDER_MEMBER), leader ? leader : "no leader",
			 leader_pid ? leader_pid : "none");
	if (held && leader && strcmp(PQgetvalue(state, 0, ST_LAPSED), "t") == 0)
		snprintf(problems[n++], 256, "the lease of leader %s lapsed %s s ago: it holds the "
			 "lock but has stopped renewing (hung or stopped); standbys end its session",
			 leader, PQgetvalue(state, 0, ST_LAPSED_FOR));
	for (int i = 0; i < PQntuples(members) && n < MAX_PROBLEMS; i++) {
		const char *node = shown(members, i, 0);

		if (strcmp(PQgetvalue(members, i, 8), "gone") == 0)
			snprintf(problems[n++], 256, "member %s: its session is gone (stopped "
				 "without deregistering, or cut off)", node);
		else if (strcmp(PQgetvalue(members, i, 1), "leader") == 0 &&
			 (!held || strcmp(PQgetvalue(members, i, 7), PQgetvalue(holder, 0, 0)) != 0))
			snprintf(problems[n++], 256, "member %s says it leads but does not hold the "
				 "lock", node);
	}
	return n;
}

/* Partitioned: who leads what, and where the table and pg_locks disagree. */
static int
partition_problems(PGresult *parts, char problems[][256], int n)
{
	for (int r = 0; r < PQntuples(parts) && n < MAX_PROBLEMS; r++) {
		const char *p = PQgetvalue(parts, r, PT_PARTITION);

		if (strcmp(PQgetvalue(parts, r, PT_HOLDER), "0") == 0)
			snprintf(problems[n++], 256, "partition %s: no session holds its lock", p);
		else if (PQgetvalue(parts, r, PT_MEMBER)[0] == '\0')
			snprintf(problems[n++], 256, "partition %s: its lock is held by backend pid %s "
				 "(application %s), which is not a member of the cluster", p,
				 PQgetvalue(parts, r, PT_HOLDER), shown(parts, r, PT_APPLICATION));
		else if (strcmp(PQgetvalue(parts, r, PT_HOLDER), PQgetvalue(parts, r, PT_LEADER_PID)) != 0)
			snprintf(problems[n++], 256, "partition %s: its lock is held by member %s, but "
				 "cluster_state names %s", p, shown(parts, r, PT_MEMBER),
				 PQgetvalue(parts, r, PT_LEADER)[0] ? shown(parts, r, PT_LEADER) : "nobody");
		else if (strcmp(PQgetvalue(parts, r, PT_LAPSED), "t") == 0)
			snprintf(problems[n++], 256, "partition %s: the lease of leader %s lapsed %s s "
				 "ago: it holds the lock but has stopped renewing (hung or stopped)", p,
				 shown(parts, r, PT_LEADER), PQgetvalue(parts, r, PT_LAPSED_FOR));
	}
	return n;
}

/* Every partition held by its recorded leader, and no holder's lease lapsed. */
static bool
all_led(PGresult *parts)
{
	for (int r = 0; r < PQntuples(parts); r++)
		if (strcmp(PQgetvalue(parts, r, PT_HOLDER), "0") == 0 ||
		    strcmp(PQgetvalue(parts, r, PT_HOLDER), PQgetvalue(parts, r, PT_LEADER_PID)) != 0 ||
		    strcmp(PQgetvalue(parts, r, PT_LAPSED), "t") == 0)
			return false;
	return PQntuples(parts) > 0;
}

static void
print_partitions_text(PGresult *parts)
{
	printf("\n%-10s %-20s %-8s %-12s %s\n", "PARTITION", "LEADER", "TERM", "COUNTER", "LOCK");
	for (int r = 0; r < PQntuples(parts); r++)
		printf("%-10s %-20s %-8s %-12s %s\n", PQgetvalue(parts, r, PT_PARTITION),
		       PQgetvalue(parts, r, PT_LEADER)[0] ? shown(parts, r, PT_LEADER) : "-",
		       PQgetvalue(parts, r, PT_TERM), PQgetvalue(parts, r, PT_COUNTER),
		       strcmp(PQgetvalue(parts, r, PT_HOLDER), "0") == 0 ? "free" : "held");
}

static void
print_partitions_json(PGresult *parts)
{
	printf("\"partition_map\":[");
	for (int r = 0; r < PQntuples(parts); r++) {
		printf("%s{\"partition\":%s,\"leader\":", r ? "," : "",
		       PQgetvalue(parts, r, PT_PARTITION));
		json_write_string(stdout, PQgetvalue(parts, r, PT_LEADER)[0] ?
				  PQgetvalue(parts, r, PT_LEADER) : NULL);
		printf(",\"term\":%s,\"counter\":%s,\"lock_held\":%s}", PQgetvalue(parts, r, PT_TERM),
		       PQgetvalue(parts, r, PT_COUNTER),
		       strcmp(PQgetvalue(parts, r, PT_HOLDER), "0") == 0 ? "false" : "true");
	}
	printf("],");
}

int
run_status(const struct config *c, bool json)
{
	const char *cluster_param[] = {c->cluster};
	PGresult *state = NULL, *holder = NULL, *members = NULL, *count = NULL, *parts = NULL;
	char problems[MAX_PROBLEMS][256];
	long long version;
	PGconn *conn;
	int rc = EX_UNAVAILABLE, nproblems;

	if ((conn = oneshot_connect(c, "status", &rc)) == NULL)
		return rc;
	if ((rc = oneshot_schema_check(conn, SCHEMA_VERSION_SINGLE, &version)) != 0 ||
	    (rc = oneshot_cluster_known(conn, c->cluster)) != 0) {
		PQfinish(conn);
		return rc;
	}
	rc = EX_UNAVAILABLE;
	/* One snapshot: the table and pg_locks read at the same moment. */
	PQclear(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
	if ((count = query(conn, SQL_PARTITION_COUNT, 1, cluster_param)) != NULL &&
	    atoi(PQgetvalue(count, 0, 0)) > 1) {
		/* Partitioned: the map, the members, and exit 0 only if every partition is led. */
		if ((parts = query(conn, SQL_PARTITION_TABLE, 1, cluster_param)) != NULL &&
		    (members = query(conn, SQL_MEMBERS, 1, cluster_param)) != NULL) {
			nproblems = partition_problems(parts, problems, 0);
			if (json) {
				printf("{\"cluster\":");
				json_write_string(stdout, c->cluster);
				printf(",\"partitions\":%d,", PQntuples(parts));
				print_partitions_json(parts);
				print_members_and_problems_json(members, problems, nproblems);
			} else {
				printf("cluster   %s\npartitions %d\n", c->cluster, PQntuples(parts));
				print_partitions_text(parts);
				print_members_and_problems_text(members, problems, nproblems);
			}
			rc = all_led(parts) ? 0 : EXIT_NO_LEADER;
		}
	} else if (count != NULL && (state = query(conn, SQL_STATE, 1, cluster_param)) != NULL &&
	    (holder = query(conn, SQL_LOCK_HOLDER, 1, cluster_param)) != NULL &&
	    (members = query(conn, SQL_MEMBERS, 1, cluster_param)) != NULL) {
		nproblems = find_problems(state, holder, members, problems);
		if (json)
			print_json(c, state, holder, members, problems, nproblems);
		else
			print_text(c, state, holder, members, problems, nproblems);
		/* A holder that is not the recorded leader (a squatter), or whose lease lapsed,
		 * leads nothing: exit as without a leader. */
		rc = PQntuples(holder) == 1 && PQntuples(state) == 1 && !PQgetisnull(state, 0, 3) &&
		     strcmp(PQgetvalue(state, 0, 3), PQgetvalue(holder, 0, HOLDER_PID)) == 0 &&
		     strcmp(PQgetvalue(state, 0, ST_LAPSED), "f") == 0 ? 0 : EXIT_NO_LEADER;
	}
	if (members != NULL) {	/* printed: the last terms, then the end of the JSON object */
		history_print_recent(conn, c, version, RECENT_TERMS, json);
		if (json)
			printf("}\n");
	}
	PQclear(count);
	PQclear(parts);
	PQclear(state);
	PQclear(holder);
	PQclear(members);
	PQfinish(conn);
	return rc;
}
