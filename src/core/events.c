/* SPDX-License-Identifier: PostgreSQL */
/* Durable events fetched from clustered_nodes.events and not yet committed, oldest first. */
#include <stdlib.h>
#include <string.h>

#include "events.h"

void
event_buffer_init(struct event_buffer *b)
{
	memset(b, 0, sizeof(*b));
}

size_t
event_buffer_store(struct event_buffer *b, const PGresult *res)
{
	size_t rows = (size_t) PQntuples(res), stored = 0;

	if (b->count + rows > b->capacity) {
		size_t capacity = b->count + rows;
		struct durable_event *grown = realloc(b->items, capacity * sizeof(*grown));

		if (grown == NULL)
			return 0;
		b->items = grown;
		b->capacity = capacity;
	}
	for (size_t r = 0; r < rows; r++) {
		struct durable_event *e = &b->items[b->count];

		e->id = strtoll(PQgetvalue(res, (int) r, 0), NULL, 10);
		e->channel = strdup(PQgetvalue(res, (int) r, 1));
		e->payload = strdup(PQgetvalue(res, (int) r, 2));
		e->attempts = PQnfields(res) > 3 ? atoi(PQgetvalue(res, (int) r, 3)) : 0;
		if (e->channel == NULL || e->payload == NULL) {
			free(e->channel);
			free(e->payload);
			break;
		}
		b->count++;
		stored++;
	}
	return stored;
}

void
event_buffer_drop(struct event_buffer *b, size_t k)
{
	if (k > b->count)
		k = b->count;
	for (size_t i = 0; i < k; i++) {
		free(b->items[i].channel);
		free(b->items[i].payload);
	}
	memmove(b->items, b->items + k, (b->count - k) * sizeof(b->items[0]));
	b->count -= k;
}

void
event_buffer_clear(struct event_buffer *b)
{
	event_buffer_drop(b, b->count);
}

void
event_buffer_free(struct event_buffer *b)
{
	event_buffer_clear(b);
	free(b->items);
	event_buffer_init(b);
}
