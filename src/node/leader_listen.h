/* SPDX-License-Identifier: PostgreSQL */
/* What a leader's session listens on (src/node/leader_listen.c). */
#ifndef CN_LEADER_LISTEN_H
#define CN_LEADER_LISTEN_H

#include <stdbool.h>

#include "leader.h"

/* Adds to the batch being built: LISTEN on every data channel, the durable events'
 * wake-up channel and, when the session is shared by partitions, the fence.  LISTEN on a
 * channel the session listens on already is harmless. */
bool listen_add_all(struct leader *l, int tag);
/* Adds the check that the session listens on all of them (l->deaf is set from its
 * answer; the LISTENs of a transaction count from its commit: check after it). */
bool listen_add_check(struct leader *l, int tag);
/* ... at most this often (a lease renewal comes more often: idle leaders check too). */
#define LISTENING_CHECK_INTERVAL_S 2.0

#endif
