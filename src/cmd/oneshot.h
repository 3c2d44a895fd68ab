/* SPDX-License-Identifier: PostgreSQL */
/* What the one-shot subcommands (--check, status) share: a blocking connection and the
 * schema check.  Blocking libpq is fine here: no event loop runs. */
#ifndef CN_ONESHOT_H
#define CN_ONESHOT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "settings.h"

/* Connects as clustered_nodes:<what>; on failure prints one line and returns NULL. */
PGconn *oneshot_connect(const struct config *c, const char *what);

/*
 * Reads the schema version; prints one line naming the files to apply and returns false
 * if the schema is missing or older than `needed` (SCHEMA_VERSION_NEEDED()).
 */
bool oneshot_schema_current(PGconn *conn, int needed, long long *version);

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
