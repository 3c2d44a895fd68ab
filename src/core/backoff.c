/* SPDX-License-Identifier: PostgreSQL */
/* Capped exponential backoff with jitter for reconnect attempts. */
#include "backoff.h"

void
backoff_init(struct backoff *b, unsigned base_ms, unsigned cap_ms)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->attempt = 0;
}

unsigned
backoff_bound_ms(unsigned base_ms, unsigned cap_ms, unsigned attempt)
{
	uint64_t bound = base_ms;

	for (unsigned i = 0; i < attempt && bound < cap_ms; i++)
		bound *= 2;
	return bound > cap_ms ? cap_ms : (unsigned) bound;
}

unsigned
backoff_next(struct backoff *b, uint32_t random_bits)
{
	unsigned bound = backoff_bound_ms(b->base_ms, b->cap_ms, b->attempt);
	unsigned half;

	/* Stop counting once the cap is reached: no overflow however long it fails. */
	if (bound < b->cap_ms)
		b->attempt++;
	half = bound / 2;
	return half + (unsigned) (random_bits % (bound - half + 1));
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
