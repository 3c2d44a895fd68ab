/* SPDX-License-Identifier: PostgreSQL */
/* A session that holds a cluster's (or a partition's) lock without leading it, as
 * clustered_nodes.lock_holder() names it: shown by /status, /metrics, /readyz. */
#ifndef CN_SQUATTER_H
#define CN_SQUATTER_H

struct lock_squatter {
	long long pid;		/* 0: none seen */
	char user[64];
	char application[64];
	char client[64];
	char member[64];	/* "" when it is not a member of the cluster */
};

#endif
