/* SPDX-License-Identifier: PostgreSQL */
/* FIFO of received notifications waiting for (or inside) a processing step. */
#include <stdlib.h>
#include <string.h>

#include "notifyq.h"

void
notifyq_init(struct notifyq *q)
{
	q->items = NULL;
	q->capacity = 0;
	q->head = 0;
	q->count = 0;
	q->bytes = 0;
}

size_t
notifyq_cost(const PGnotify *n)
{
	/* libpq allocates the struct and both strings in one block; malloc rounds up. */
	return sizeof(*n) + strlen(n->relname) + strlen(n->extra) + 2 + 16 + sizeof(PGnotify *);
}

static bool
grow(struct notifyq *q)
{
	size_t capacity = q->capacity ? q->capacity * 2 : 256;
	PGnotify **items = malloc(capacity * sizeof(*items));

	if (items == NULL)
		return false;
	for (size_t i = 0; i < q->count; i++)
		items[i] = notifyq_at(q, i);
	free(q->items);
	q->items = items;
	q->capacity = capacity;
	q->head = 0;
	return true;
}

bool
notifyq_push(struct notifyq *q, PGnotify *n)
{
	if (q->count == q->capacity && !grow(q))
		return false;
	q->items[(q->head + q->count) & (q->capacity - 1)] = n;
	q->count++;
	q->bytes += notifyq_cost(n);
	return true;
}

PGnotify *
notifyq_at(const struct notifyq *q, size_t i)
{
	return q->items[(q->head + i) & (q->capacity - 1)];
}

void
notifyq_drop(struct notifyq *q, size_t k)
{
	if (k > q->count)
		k = q->count;
	for (size_t i = 0; i < k; i++) {
		q->bytes -= notifyq_cost(notifyq_at(q, i));
		PQfreemem(notifyq_at(q, i));
	}
	if (q->capacity)
		q->head = (q->head + k) & (q->capacity - 1);
	q->count -= k;
}

PGnotify *
notifyq_shift(struct notifyq *q)
{
	PGnotify *n;

	if (q->count == 0)
		return NULL;
	n = notifyq_at(q, 0);
	q->bytes -= notifyq_cost(n);
	q->head = (q->head + 1) & (q->capacity - 1);
	q->count--;
	return n;
}

void
notifyq_free(struct notifyq *q)
{
	notifyq_drop(q, q->count);
	free(q->items);
	notifyq_init(q);
}
