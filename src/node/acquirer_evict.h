/* SPDX-License-Identifier: PostgreSQL */
/* The acquirer's evictions: ending the session of a partition leader whose lease lapsed,
 * and naming (then, where the database allows, ending) a session that holds a partition's
 * lock without leading it.  Part of the acquirer, which calls it after each read of the
 * map. */
#ifndef CN_ACQUIRER_EVICT_H
#define CN_ACQUIRER_EVICT_H

#include <stdbool.h>

#include "acquirer.h"

/* After a read of the map: at most one eviction (or naming of a holder) per poll
 * interval, of a partition not mine[p]; true if one was sent.  ended(pt) runs when it went
 * through (a lock may be free: look again), failed(pt) when the database refused it (try
 * again in a poll interval). */
bool acquirer_evict_one(struct acquirer *pt, const int *mine, void (*ended)(struct acquirer *pt),
			void (*failed)(struct acquirer *pt));

#endif
