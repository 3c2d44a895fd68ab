/* SPDX-License-Identifier: PostgreSQL */
/* What the one-shot subcommands (--check, status) share: a blocking connection and the
 * schema check.  Blocking libpq is fine here: no event loop runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
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
oneshot_schema_current(PGconn *conn, int needed, long long *version)
{
	PGresult *res = PQexec(conn, SQL_SCHEMA_VERSION);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	*version = ok ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	if (*version < needed) {
		fprintf(stderr, "clustered_nodes: the clustered_nodes schema is %s (version %lld, "
			"this configuration needs %d): apply the files in sql/ from %03lld on with "
			"psql -v ON_ERROR_STOP=1 -f FILE\n", ok ? "too old" : "missing", *version,
			needed, *version + 1);
		return false;
	}
	return true;
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
