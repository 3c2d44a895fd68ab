/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes --check`: settings valid, database reachable, schema current, the
 * partitions those of the cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd_check.h"
#include "oneshot.h"
#include "pgconn.h"
#include "queries.h"

/* The cluster's recorded partitions and key rule, if it has any, match ours; reads only
 * (a node's first start records them). */
static bool
partitions_match(PGconn *conn, const struct config *c)
{
	const char *params[] = {c->cluster};
	char rule[PARTITION_RULE_ARG_MAX + 16];
	PGresult *res = PQexecParams(conn, "SELECT partitions, partition_key FROM "
				     "clustered_nodes.clusters WHERE cluster = $1", 1, NULL, params,
				     NULL, NULL, 0);
	bool ok = true;

	partition_rule_format(&c->partition_key, rule, sizeof(rule));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    (atoi(PQgetvalue(res, 0, 0)) != c->partitions || strcmp(PQgetvalue(res, 0, 1), rule) != 0)) {
		fprintf(stderr, "clustered_nodes: cluster %s has %s partition(s) with partition_key %s; "
			"this configuration has partitions=%d partition_key=%s (README: Changing the "
			"partitions)\n", c->cluster, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			c->partitions, rule);
		ok = false;
	}
	PQclear(res);
	return ok;
}

int
run_check(const struct config *c)
{
	PGconn *conn = oneshot_connect(c, "check");
	long long version;

	if (conn == NULL)
		return EX_UNAVAILABLE;
	if (!oneshot_schema_current(conn, SCHEMA_VERSION_NEEDED(c->partitions), &version)) {
		PQfinish(conn);
		return EX_CONFIG;
	}
	if (!partitions_match(conn, c)) {
		PQfinish(conn);
		return EX_CONFIG;
	}
	if (c->handler_sql[0] != '\0') {
		static const Oid types[HANDLER_PARAMS] = HANDLER_PARAM_TYPES;
		PGresult *res = PQprepare(conn, "", c->handler_sql, HANDLER_PARAMS, types);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			char line[512];

			pgconn_one_line(line, sizeof(line), PQresultErrorMessage(res));
			fprintf(stderr, "clustered_nodes: handler_sql does not work: %s\n", line);
			PQclear(res);
			PQfinish(conn);
			return EX_CONFIG;
		}
		PQclear(res);
	}
	printf("connected to host=%s port=%s dbname=%s as %s; schema version %lld; "
	       "partitions %d%s\n", PQhost(conn), PQport(conn), PQdb(conn), PQuser(conn), version,
	       c->partitions, c->handler_sql[0] ? "; handler_sql prepares" : "");
	if (version < SCHEMA_VERSION_TENANTS)
		printf("warning: schema version %lld runs the single-leader mode, but tenants on this "
		       "database are not kept apart until %s is applied\n", version,
		       "sql/010_tenants.sql");
	else if (version < SCHEMA_VERSION_WARM_UP)
		printf("warning: schema version %lld runs, but each takeover compiles the lead's "
		       "functions on its critical path until %s is applied\n", version,
		       "sql/011_warm_sessions.sql");
	else if (version < SCHEMA_VERSION_WHOLE_ERRORS)
		printf("warning: schema version %lld runs, but dead letters lose their SQLSTATE and "
		       "a failover loses a failing event's attempts until %s is applied\n", version,
		       "sql/012_whole_errors.sql");
	else if (version < SCHEMA_VERSION_FORWARD)
		printf("warning: schema version %lld runs, but a planned move (a hand-over, a node "
		       "joining or leaving) loses the plain notifications in flight until %s is "
		       "applied\n", version, "sql/013_lossless_moves.sql");
	else if (version < SCHEMA_VERSION_HISTORY)
		printf("warning: schema version %lld runs, but the cluster keeps no history of its "
		       "terms until %s is applied\n", version, "sql/014_history.sql");
	printf("configuration OK\n");
	PQfinish(conn);
	return 0;
}
