/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes --check`: settings valid, database reachable, schema current, the
 * partitions those of the cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd_check.h"
#include "db_fault.h"
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
			"this configuration has partitions=%d partition_key=%s (docs/PARTITIONS.md: Changing the "
			"partitions)\n", c->cluster, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			c->partitions, rule);
		ok = false;
	}
	PQclear(res);
	return ok;
}

/* The daemon's first check after the schema: may this login act for the cluster (a
 * cluster bound to a role takes only that role's logins; sql/010 on). */
static int
check_may_act(PGconn *conn, const struct config *c, long long version)
{
	const char *params[] = {c->cluster};
	PGresult *res;
	const char *sqlstate;
	int rc = 0;

	if (version < SCHEMA_VERSION_TENANTS)
		return 0;
	res = PQexecParams(conn, SQL_MAY_ACT, 1, NULL, params, NULL, NULL, 0);
	sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char line[512];

		pgconn_one_line(line, sizeof(line), PQresultErrorMessage(res));
		if (sqlstate != NULL && strcmp(sqlstate, SQLSTATE_MAY_NOT_ACT) == 0) {
			fprintf(stderr, "clustered_nodes: %s: log in as a member of the cluster's "
				"role (docs/SECURITY.md: Tenants)\n", line);
			rc = EX_CONFIG;
		} else {
			char what[160];

			snprintf(what, sizeof(what), "%s as %s", SQL_MAY_ACT, PQuser(conn));
			rc = oneshot_report(what, sqlstate, line);
		}
	}
	PQclear(res);
	return rc;
}

int
run_check(const struct config *c)
{
	long long version;
	int rc;
	PGconn *conn = oneshot_connect(c, "check", &rc);

	if (conn == NULL)
		return rc;
	if ((rc = oneshot_schema_check(conn, SCHEMA_VERSION_NEEDED(c->partitions), &version)) != 0 ||
	    (rc = check_may_act(conn, c, version)) != 0) {
		PQfinish(conn);
		return rc;
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
		       "database are not kept apart until %s%s is applied\n", version,
		       db_fault_sql_dir(), "010_tenants.sql");
	else if (version < SCHEMA_VERSION_WARM_UP)
		printf("warning: schema version %lld runs, but each takeover compiles the lead's "
		       "functions on its critical path until %s%s is applied\n", version,
		       db_fault_sql_dir(), "011_warm_sessions.sql");
	else if (version < SCHEMA_VERSION_WHOLE_ERRORS)
		printf("warning: schema version %lld runs, but dead letters lose their SQLSTATE and "
		       "a failover loses a failing event's attempts until %s%s is applied\n", version,
		       db_fault_sql_dir(), "012_whole_errors.sql");
	else if (version < SCHEMA_VERSION_FORWARD)
		printf("warning: schema version %lld runs, but a planned move (a hand-over, a node "
		       "joining or leaving) loses the plain notifications in flight until %s%s is "
		       "applied\n", version,
		       db_fault_sql_dir(), "013_lossless_moves.sql");
	else if (version < SCHEMA_VERSION_HISTORY)
		printf("warning: schema version %lld runs, but the cluster keeps no history of its "
		       "terms until %s%s is applied\n", version,
		       db_fault_sql_dir(), "014_history.sql");
	else if (version < SCHEMA_VERSION_ONE_LISTENER)
		printf("warning: schema version %lld runs, but every node of a partitioned cluster "
		       "listens, which slows every NOTIFY of the database, until %s%s is applied "
		       "(with the partitioned clusters' nodes stopped)\n", version,
		       db_fault_sql_dir(), "015_one_listener.sql");
	else if (version < SCHEMA_VERSION_REHEARSAL)
		printf("warning: schema version %lld runs, but a standby that takes over plans "
		       "half of the lead on the takeover's critical path until %s%s is applied\n",
		       version, db_fault_sql_dir(), "016_rehearsed_leads.sql");
	else if (version < SCHEMA_VERSION_NEWEST_BELL)
		printf("warning: schema version %lld runs, but a partitioned node's leaders may hear "
		       "of their durable events only at their next look after its watch moves, "
		       "until %s%s is applied\n", version, db_fault_sql_dir(), "017_newest_bell.sql");
	printf("configuration OK\n");
	PQfinish(conn);
	return 0;
}
