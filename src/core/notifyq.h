/* SPDX-License-Identifier: PostgreSQL */
/* FIFO of received notifications waiting for (or inside) a processing step. */
#ifndef CN_NOTIFYQ_H
#define CN_NOTIFYQ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/*
 * A ring of pointers that grows by doubling and never shrinks: once warm,
 * queueing a notification allocates nothing beyond what libpq already did.
 */
struct notifyq {
	PGnotify **items;
	size_t capacity;	/* a power of two, or 0 */
	size_t head;
	size_t count;
	size_t bytes;		/* what the queued notifications take, as notifyq_cost() counts */
};

/* The memory one notification takes in the queue (libpq's block and our slot). */
size_t notifyq_cost(const PGnotify *n);

void notifyq_init(struct notifyq *q);
bool notifyq_push(struct notifyq *q, PGnotify *n);
/* The i-th oldest entry; i < count. */
PGnotify *notifyq_at(const struct notifyq *q, size_t i);
/* Frees and removes the k oldest entries. */
void notifyq_drop(struct notifyq *q, size_t k);
/* Removes the oldest entry and hands it to the caller (who frees it), or NULL if empty. */
PGnotify *notifyq_shift(struct notifyq *q);
void notifyq_free(struct notifyq *q);

#endif
