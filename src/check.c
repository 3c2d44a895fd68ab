/* `clustered_nodes --check`: settings valid, database reachable, schema current. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "node.h"
#include "oneshot.h"
#include "pgconn.h"
#include "queries.h"

PGconn *
oneshot_connect(const struct config *c, const char *what)
{
	char application_name[64];
	const char *const keywords[] = {"dbname", "application_name", NULL};
	const char *const values[] = {c->dbname, application_name, NULL};
	PGconn *conn;

	snprintf(application_name, sizeof(application_name), "clustered_nodes:%s", what);
	conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char line[512];

		pgconn_one_line(line, sizeof(line), PQerrorMessage(conn));
		fprintf(stderr, "clustered_nodes: cannot connect to the database: %s\n", line);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

bool
oneshot_schema_current(PGconn *conn, long long *version)
{
	PGresult *res = PQexec(conn, SQL_SCHEMA_VERSION);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	*version = ok ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	if (*version < SCHEMA_VERSION) {
		fprintf(stderr, "clustered_nodes: the clustered_nodes schema is %s (version %lld, "
			"this binary needs %d): apply the files in sql/ from %03lld on with "
			"psql -v ON_ERROR_STOP=1 -f FILE\n", ok ? "too old" : "missing", *version,
			SCHEMA_VERSION, *version + 1);
		return false;
	}
	return true;
}

int
run_check(const struct config *c)
{
	PGconn *conn = oneshot_connect(c, "check");
	long long version;

	if (conn == NULL)
		return EX_UNAVAILABLE;
	if (!oneshot_schema_current(conn, &version)) {
		PQfinish(conn);
		return EX_CONFIG;
	}
	if (c->handler_sql[0] != '\0') {
		static const Oid types[HANDLER_PARAMS] = {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID};
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
	printf("connected to host=%s port=%s dbname=%s as %s; schema version %lld%s\n",
	       PQhost(conn), PQport(conn), PQdb(conn), PQuser(conn), version,
	       c->handler_sql[0] ? "; handler_sql prepares" : "");
	printf("configuration OK\n");
	PQfinish(conn);
	return 0;
}
