/* SPDX-License-Identifier: PostgreSQL */
/* A leader's processing steps: build, send and read one step's transaction, and report
 * how it ended.  What to do about it is the leader's decision. */
#ifndef CN_LEADER_STEP_H
#define CN_LEADER_STEP_H

#include <stdbool.h>
#include <stddef.h>

#include "leader.h"

/* Picks the events the next step covers (durable ones first); returns how many wait. */
size_t step_choose_source(struct leader *l);
/* The i-th event of the step being prepared or in flight. */
void step_item(const struct leader *l, size_t i, const char **channel, const char **payload,
	       long long *event_id);
/* How many events the next step or exec batch covers: the time budget (what is left of
 * the drain, when stopping) divided by what one costs (c). */
size_t step_next_size(struct leader *l, size_t available, size_t cap, bool handler,
		      const struct step_cost *c);
/* Marks the durable event at the head to run alone (recording its attempt first) if a
 * session died while it ran, or it has recorded attempts. */
void step_check_head_event(struct leader *l);
/* A payload escaped for one log line (valid until the next call). */
const char *step_escaped(struct leader *l, const char *payload);

/*
 * Sends one transaction over the first `size` events of the chosen source (0: a lease
 * renewal that carries the housekeeping).  `done` hears how it ended, unless the session
 * was reset: then nothing is called.
 */
void step_send(struct leader *l, size_t size, step_done_fn done);
/*
 * Whether a step (or programs) over `size` events is an attempt the events table counts:
 * a durable event that runs alone because it failed before, or was in flight when a
 * session died.  Such an attempt is committed before it runs, in a transaction of its
 * own, so that the count survives for whichever node leads next (sql/012; on 011, only
 * events whose session died under a SQL handler).
 */
bool step_attempt_counted(const struct leader *l, size_t size);
/* Sends that commit; `done` (or, NULL, a check that resets the session if it failed)
 * hears of it.  False if the session went. */
bool step_record_attempt(struct leader *l, batch_done_fn done);

/* Keeps the failing head event's error, whole, and its SQLSTATE ("" if none): what its
 * dead letter will say. */
void step_keep_head_error(struct leader *l, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The head event failed max_attempts times: count it and record it in dead_letters. */
void step_send_dead_letter(struct leader *l, step_done_fn done);
/* Reads whether this session took the handoff key (a standby may hold it for an instant;
 * then the next step tries again). */
void step_read_handoff(void *ctx, const PGresult *res);
/* Programs are running: renew the lease outside any step. */
void step_send_renewal(struct leader *l);

#endif
