/* SPDX-License-Identifier: PostgreSQL */
/* What the one-shot subcommands (--check, status) share: a blocking connection and the
 * schema check.  Blocking libpq is fine here: no event loop runs. */
#ifndef CN_ONESHOT_H
#define CN_ONESHOT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "settings.h"

/* One line on stderr: what failed and, for a cause retrying cannot fix (db_fault.h),
 * what fixes it.  Returns its exit status: 77, 78, or 69 for anything else. */
int oneshot_report(const char *what, const char *sqlstate, const char *message);

/* Connects as clustered_nodes:<what>; on failure prints one line (with the fix, for a
 * refused login or a missing database) and returns NULL with *exit_code set: 77 for a
 * refused login or connect privilege, 78 for no such database, 69 otherwise. */
PGconn *oneshot_connect(const struct config *c, const char *what, int *exit_code);

/*
 * Reads the schema version.  0 when it is at least `needed` (SCHEMA_VERSION_NEEDED());
 * else prints one line and returns 78 (missing or older: the files to apply), 77 (this
 * login may not read it: the grant that fixes it) or 69 (the query failed).
 */
int oneshot_schema_check(PGconn *conn, int needed, long long *version);

/* 0 when some node of `cluster` has registered (or led) here; else prints "unknown
 * cluster" and returns 78 (69 when the query fails).  Needs schema version 8. */
int oneshot_cluster_known(PGconn *conn, const char *cluster);

/* A query's rows, or NULL after printing "<what> query failed: ..." to stderr. */
PGresult *oneshot_query(PGconn *conn, const char *what, const char *sql, int nparams,
			const char *const *params);

/*
 * A value as a person may see it on a terminal: control characters, escapes and bidi
 * overrides shown as \xHH / \u{HHHH} (escape_for_log), so that a hostile name in a table
 * cannot drive the operator's terminal.  Valid until eight more calls.
 */
const char *oneshot_shown(const PGresult *res, int row, int col);

#endif
