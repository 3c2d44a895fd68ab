/* SPDX-License-Identifier: PostgreSQL */
/* Waking the cluster's other nodes, which listen on nothing (sql/015, src/node/bell.c). */
#ifndef CN_BELL_H
#define CN_BELL_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"
#include "settings.h"

struct bell {
	struct session *session;
	const struct config *cfg;
	bool in_flight;		/* a ring of leaders is out */
	uint64_t due;		/* the partitions whose leaders are to be rung next */
	char error[512];	/* the last failure, logged once */
};

void bell_init(struct bell *b, struct session *session, const struct config *cfg);
/* Every other node of the cluster reads the partition map (a member came or went, a
 * partition was taken or handed over, a leader's end was seen). */
void bell_announce(struct bell *b);
/* The leader of partition p fetches its durable events (coalesced: at most one ring of
 * leaders on its way at a time). */
void bell_ring(struct bell *b, int partition);
/* The session is gone: what was due goes with it (the others' safety nets find it). */
void bell_forget(struct bell *b);

#endif
