/* SPDX-License-Identifier: PostgreSQL */
/* Capped exponential backoff with jitter for reconnect attempts. */
#ifndef CN_BACKOFF_H
#define CN_BACKOFF_H

#include <stdint.h>

struct backoff {
	unsigned base_ms;	/* first delay's upper bound */
	unsigned cap_ms;	/* no delay exceeds this */
	unsigned attempt;	/* attempts since the last reset */
};

/* The upper bound of delay number `attempt` (0 first): base doubled per attempt, capped. */
unsigned backoff_bound_ms(unsigned base_ms, unsigned cap_ms, unsigned attempt);

void backoff_init(struct backoff *b, unsigned base_ms, unsigned cap_ms);

/*
 * Returns the next delay and advances.  The delay's upper bound doubles per
 * attempt up to cap_ms; the delay is drawn from [bound/2, bound] using
 * random_bits ("equal jitter"), so nodes that lost the server together do not
 * reconnect in lockstep, yet never retry in a tight loop.
 */
unsigned backoff_next(struct backoff *b, uint32_t random_bits);

/* Called after a success: the next failure starts from base_ms again. */
void backoff_reset(struct backoff *b);

#endif
