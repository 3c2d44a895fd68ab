/* SPDX-License-Identifier: PostgreSQL */
/* Derivation of the advisory-lock key that a cluster's nodes compete for. */
#include <stdio.h>
#include <string.h>

#include "lockkey.h"

#define FNV64_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

static uint64_t
fnv1a64(uint64_t hash, const char *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		hash ^= (unsigned char) bytes[i];
		hash *= FNV64_PRIME;
	}
	return hash;
}

static int64_t partition_key_for(const char *prefix, const char *cluster, int partition);

/* Two's-complement reinterpretation of the hash, as PostgreSQL stores bigint. */
int64_t
lock_key_for_cluster(const char *cluster)
{
	return partition_key_for("clustered_nodes:", cluster, 0);
}

int64_t
handoff_key_for_cluster(const char *cluster)
{
	return partition_key_for("clustered_nodes_handoff:", cluster, 0);
}

/* prefix + cluster + US + partition in decimal; partition 0 is prefix + cluster. */
static int64_t
partition_key_for(const char *prefix, const char *cluster, int partition)
{
	char suffix[16];
	uint64_t hash;

	hash = fnv1a64(FNV64_OFFSET_BASIS, prefix, strlen(prefix));
	hash = fnv1a64(hash, cluster, strlen(cluster));
	if (partition == 0)
		return (int64_t) hash;
	snprintf(suffix, sizeof(suffix), "\x1f%d", partition);
	return (int64_t) fnv1a64(hash, suffix, strlen(suffix));
}

int64_t
lock_key_for_partition(const char *cluster, int partition)
{
	return partition_key_for("clustered_nodes:", cluster, partition);
}

int64_t
handoff_key_for_partition(const char *cluster, int partition)
{
	return partition_key_for("clustered_nodes_handoff:", cluster, partition);
}
