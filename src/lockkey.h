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

#endif
