/* `clustered_nodes --check`: settings valid, database reachable, schema current. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd_check.h"
#include "oneshot.h"
#include "pgconn.h"
#include "queries.h"

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
	printf("connected to host=%s port=%s dbname=%s as %s; schema version %lld%s\n",
	       PQhost(conn), PQport(conn), PQdb(conn), PQuser(conn), version,
	       c->handler_sql[0] ? "; handler_sql prepares" : "");
	printf("configuration OK\n");
	PQfinish(conn);
	return 0;
}
