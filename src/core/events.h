/* SPDX-License-Identifier: PostgreSQL */
/* Durable events fetched from clustered_nodes.events and not yet committed, oldest first. */
#ifndef CN_EVENTS_H
#define CN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

struct durable_event {
	long long id;
	char *channel;
	char *payload;
	int attempts;		/* recorded tries whose session ended with it in flight */
};

struct event_buffer {
	struct durable_event *items;
	size_t count;
	size_t capacity;
};

void event_buffer_init(struct event_buffer *b);
/* Appends the rows (id, channel, payload, attempts) of a fetch; returns how many it read.  On
 * running out of memory the rest stay in the table for the next fetch. */
size_t event_buffer_store(struct event_buffer *b, const PGresult *res);
/* Frees and removes the k oldest. */
void event_buffer_drop(struct event_buffer *b, size_t k);
void event_buffer_clear(struct event_buffer *b);
void event_buffer_free(struct event_buffer *b);

#endif
