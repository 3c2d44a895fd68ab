/* One-shot subcommands: --check and status.  Blocking libpq is fine here: no loop runs. */
#ifndef CN_ONESHOT_H
#define CN_ONESHOT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "settings.h"

/* Exit statuses of the subcommands beyond 0, EX_USAGE and EX_CONFIG. */
#define EXIT_NO_LEADER 2

/* Connects as clustered_nodes:<what>; on failure prints one line and returns NULL. */
PGconn *oneshot_connect(const struct config *c, const char *what);

/*
 * Reads the schema version; prints one line naming the files to apply and
 * returns false if the schema is missing or older than the binary needs.
 */
bool oneshot_schema_current(PGconn *conn, long long *version);

int run_check(const struct config *c);
int run_status(const struct config *c, bool json);

#endif
