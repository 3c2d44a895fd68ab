/* SPDX-License-Identifier: PostgreSQL */
/* `clustered_nodes --check`: settings valid, database reachable, schema current. */
#ifndef CN_CMD_CHECK_H
#define CN_CMD_CHECK_H

#include "settings.h"

/* 0 when all is well; EX_UNAVAILABLE or EX_CONFIG with one line on stderr otherwise. */
int run_check(const struct config *c);

#endif
