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
backoff_next(struct backoff *b, uint32_t random_bits)
{
	uint64_t bound = b->base_ms;
	unsigned half;

	for (unsigned i = 0; i < b->attempt && bound < b->cap_ms; i++)
		bound *= 2;
	if (bound > b->cap_ms)
		bound = b->cap_ms;
	/* Stop counting once the cap is reached: no overflow however long it fails. */
	if (bound < b->cap_ms)
		b->attempt++;
	half = (unsigned) (bound / 2);
	return half + (unsigned) (random_bits % ((unsigned) bound - half + 1));
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
