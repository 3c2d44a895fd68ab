/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes history`: the cluster's terms, newest first (sql/014_history.sql); and
 * the last few of them, for `status`. */
#ifndef CN_CMD_HISTORY_H
#define CN_CMD_HISTORY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "cli.h"
#include "settings.h"

int run_history(const struct config *c, const struct cli *cli);

/* status: the last `n` terms of the cluster (schema version 14 on), as a "recent terms"
 * table, or as ,"history":[...] inside status's JSON object.  Prints nothing before 14. */
void history_print_recent(PGconn *conn, const struct config *c, long long version, int n,
			  bool json);

#endif
