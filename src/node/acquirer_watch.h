/* SPDX-License-Identifier: PostgreSQL */
/* The acquirer's watch (K > 1): aiming the watch session at the next node that leads. */
#ifndef CN_ACQUIRER_WATCH_H
#define CN_ACQUIRER_WATCH_H

#include "acquirer.h"

/* After a read of the map: point the watch at the next member after `me` (our index in
 * the members read; in name order, at most WATCHERS places on) that leads, or at nothing
 * (K = 1: the node waits on its own session). */
void acquirer_aim_watch(struct acquirer *pt, int me);

#endif
