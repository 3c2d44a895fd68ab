/* SPDX-License-Identifier: PostgreSQL */
/* Validation of operator-supplied names: node, cluster and channel names. */
#ifndef CN_NAMES_H
#define CN_NAMES_H

#include <stdbool.h>

/*
 * PostgreSQL truncates identifiers (channel names) to NAMEDATALEN - 1 = 63
 * bytes; a longer channel would silently LISTEN on a different name, so it
 * is refused.  Node and cluster names share the limit so that they fit in
 * application_name and stay readable in status output.
 */
#define NAME_MAX_BYTES 63

/* The channel on which a stopping leader wakes the standbys. */
#define HANDOFF_CHANNEL "clustered_nodes_handoff"
/* The channel clustered_nodes.notify() wakes the leader on for durable events. */
#define EVENTS_CHANNEL "clustered_nodes_events"
/* Every take-over notifies its fence here ("partition:term:cluster"; partitioned
 * clusters' take_lead() also "partition:term", sql/008): a leader processes a partition's
 * plain notifications only after its own fence, and one that handed the partition over
 * forwards what it receives until the next leader's fence (sql/013). */
#define FENCE_CHANNEL "clustered_nodes_fence"

/*
 * Returns NULL when the name is acceptable, else a short reason
 * ("is empty", "is longer than 63 bytes", "contains a control character").
 */
const char *name_problem(const char *name);

/* As name_problem(), and also refuses the reserved channels. */
const char *channel_problem(const char *channel);

#endif
