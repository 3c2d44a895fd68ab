/* SPDX-License-Identifier: PostgreSQL */
/* Derivation of the advisory-lock key that a cluster's nodes compete for. */
#ifndef CN_LOCKKEY_H
#define CN_LOCKKEY_H

#include <stdint.h>

/*
 * The key is the 64-bit FNV-1a hash of the bytes "clustered_nodes:" followed
 * by the cluster name, read as a signed bigint.  The prefix keeps us out of
 * the way of applications that lock small integers or hash bare names; the
 * 64-bit space makes a clash between two clusters improbable, and the unique
 * index on cluster_state.lock_key turns one into a clear error instead of two
 * clusters sharing a leader.  In pg_locks the key shows as classid = high
 * 32 bits, objid = low 32 bits, objsubid = 1.
 */
int64_t lock_key_for_cluster(const char *cluster);

/*
 * The handoff key: FNV-1a-64 of "clustered_nodes_handoff:" followed by the cluster name.
 * The leader holds it exclusively; standbys wait on it in shared mode and wake when it is
 * released (handover, or the leader's session ending).  The prefixes differ at their
 * 16th byte, so no cluster's handoff key is another's lock key (short of a hash clash).
 */
int64_t handoff_key_for_cluster(const char *cluster);

/*
 * A partition's lock key, as clustered_nodes.lock_key(cluster, partition): partition 0
 * has the cluster's key (K = 1 is the single-leader mode); partition p > 0 hashes
 * "clustered_nodes:" + cluster + US (0x1f, in no valid name) + p in decimal.
 */
int64_t lock_key_for_partition(const char *cluster, int partition);

/*
 * A partition's handoff key, held by its leader alongside the lock: partition 0 has the
 * cluster's handoff key; partition p > 0 hashes "clustered_nodes_handoff:" + cluster + US +
 * p.  Other nodes wait on it in shared mode to hear of the leader's end at once.
 */
int64_t handoff_key_for_partition(const char *cluster, int partition);

#endif
