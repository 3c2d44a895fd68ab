/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes status [--json]`: the cluster as the database and pg_locks see it. */
#ifndef CN_CMD_STATUS_H
#define CN_CMD_STATUS_H

#include <stdbool.h>

#include "settings.h"

/* Exit status of status when no session holds the cluster's lock. */
#define EXIT_NO_LEADER 2

int run_status(const struct config *c, bool json);

#endif
