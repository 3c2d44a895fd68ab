/* SPDX-License-Identifier: PostgreSQL */
/* What the one-shot subcommands (--check, status) share: a blocking connection and the
 * schema check.  Blocking libpq is fine here: no event loop runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "db_fault.h"
#include "escape.h"
#include "oneshot.h"
#include "pgconn.h"
#include "queries.h"

int
oneshot_report(const char *what, const char *sqlstate, const char *message)
{
	enum db_fault fault = db_fault_of(sqlstate, message);
	char line[512];

	pgconn_one_line(line, sizeof(line), message);
	if (fault == DB_FAULT_NONE) {
		fprintf(stderr, "clustered_nodes: %s: %s\n", what, line);
		return EX_UNAVAILABLE;
	}
	fprintf(stderr, "clustered_nodes: %s: %s: %s\n", what, line, db_fault_fix(fault));
	return db_fault_exit_code(fault);
}

PGconn *
oneshot_connect(const struct config *c, const char *what, int *exit_code)
{
	char application_name[64];
	const char *const keywords[] = {"dbname", "application_name", NULL};
	const char *const values[] = {c->dbname, application_name, NULL};
	PGconn *conn;

	snprintf(application_name, sizeof(application_name), "clustered_nodes:%s", what);
	conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		*exit_code = oneshot_report("cannot connect to the database", NULL, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int
oneshot_schema_check(PGconn *conn, int needed, long long *version)
{
	PGresult *res = PQexec(conn, SQL_SCHEMA_VERSION);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	bool missing = sqlstate != NULL &&
	    (strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42P01") == 0);
	int rc;

	*version = ok ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (!ok && !missing) {
		/* Not a missing schema: no grant (roles.sql not applied, or applied before the
		 * migrations it needs), or the database failed; name it, as the node does. */
		char what[160];

		snprintf(what, sizeof(what), "cannot read the clustered_nodes schema as %s",
			 PQuser(conn));
		rc = oneshot_report(what, sqlstate, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQresultErrorMessage(res));
		PQclear(res);
		return rc;
	}
	PQclear(res);
	if (*version < needed) {
		fprintf(stderr, "clustered_nodes: the clustered_nodes schema is %s (version %lld, "
			"this configuration needs %d): apply the files of %s from %03lld on, in "
			"order, with psql -v ON_ERROR_STOP=1 -f FILE as the schema's owner, then "
			"roles.sql\n", ok ? "too old" : "missing", *version, needed,
			db_fault_sql_dir(), *version + 1);
		return EX_CONFIG;
	}
	return 0;
}

/* A cluster a node has registered in, led, or recorded the partitions of (schema 8 on). */
static const char SQL_CLUSTER_KNOWN[] =
	"SELECT EXISTS (SELECT 1 FROM clustered_nodes.clusters WHERE cluster = $1) "
	"    OR EXISTS (SELECT 1 FROM clustered_nodes.cluster_state WHERE cluster = $1) "
	"    OR EXISTS (SELECT 1 FROM clustered_nodes.members WHERE cluster = $1)";

int
oneshot_cluster_known(PGconn *conn, const char *cluster)
{
	const char *params[] = {cluster};
	PGresult *res = oneshot_query(conn, "cluster", SQL_CLUSTER_KNOWN, 1, params);
	int rc = 0;

	if (res == NULL)
		return EX_UNAVAILABLE;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		fprintf(stderr, "clustered_nodes: unknown cluster %s: no node of it has ever "
			"registered in this database (or this login may not read it); is --cluster "
			"(cluster = in the config) spelled as the nodes have it?\n", cluster);
		rc = EX_CONFIG;
	}
	PQclear(res);
	return rc;
}

PGresult *
oneshot_query(PGconn *conn, const char *what, const char *sql, int nparams,
	      const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char line[512];

		pgconn_one_line(line, sizeof(line), PQerrorMessage(conn));
		fprintf(stderr, "clustered_nodes: %s query failed: %s\n", what, line);
		PQclear(res);
		return NULL;
	}
	return res;
}

const char *
oneshot_shown(const PGresult *res, int row, int col)
{
	static char ring[8][ESCAPE_MAX_LEN(256)];
	static unsigned next;
	char *buf = ring[next++ % 8];
	const char *v = PQgetvalue(res, row, col);
	size_t len = strlen(v);

	escape_for_log(buf, sizeof(ring[0]), v, len < 256 ? len : 256);
	return buf;
}
