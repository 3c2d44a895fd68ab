/* SPDX-License-Identifier: PostgreSQL */
/* A leader's graceful end: the hand-over. */
#ifndef CN_LEADER_RELEASE_H
#define CN_LEADER_RELEASE_H

#include "leader.h"

/* Hand over: the hooks' releasing() first (it may forward what was received); clear our
 * mark, then free the lock and the handoff key; the leader's hooks hear released() once
 * that committed. */
void leader_release(struct leader *l);

#endif
