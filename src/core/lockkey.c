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

static int64_t
key_for(const char *prefix, const char *cluster)
{
	uint64_t hash = fnv1a64(FNV64_OFFSET_BASIS, prefix, strlen(prefix));

	hash = fnv1a64(hash, cluster, strlen(cluster));
	/* Two's-complement reinterpretation, as PostgreSQL stores bigint. */
	return (int64_t) hash;
}

int64_t
lock_key_for_cluster(const char *cluster)
{
	return key_for("clustered_nodes:", cluster);
}

int64_t
handoff_key_for_cluster(const char *cluster)
{
	return key_for("clustered_nodes_handoff:", cluster);
}

int64_t
lock_key_for_partition(const char *cluster, int partition)
{
	char suffix[16];
	uint64_t hash;

	if (partition == 0)
		return lock_key_for_cluster(cluster);
	snprintf(suffix, sizeof(suffix), "\x1f%d", partition);
	hash = fnv1a64(FNV64_OFFSET_BASIS, "clustered_nodes:", strlen("clustered_nodes:"));
	hash = fnv1a64(hash, cluster, strlen(cluster));
	return (int64_t) fnv1a64(hash, suffix, strlen(suffix));
}
