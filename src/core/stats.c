/* What a node counts about itself, for /status, /metrics and the page. */
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "stats.h"

const double step_bucket_bounds[STEP_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

void
stats_observe_step(struct node_stats *s, double seconds)
{
	for (size_t i = 0; i < STEP_BUCKETS; i++)
		if (seconds <= step_bucket_bounds[i]) {
			s->step_buckets[i]++;
			break;
		}
	s->step_count++;
	s->step_seconds_sum += seconds;
}

void
stats_remember(struct node_stats *s, double at, long long counter, const char *channel,
	       const char *payload)
{
	struct recent_notification *r = &s->recent[s->recent_next];
	size_t len = 0;

	r->at = at;
	r->counter = counter;
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
	/* Whole UTF-8 sequences only, so the page never shows half a character. */
	while (payload[len] != '\0') {
		size_t seq = utf8_sequence_length((const unsigned char *) payload + len,
						  strlen(payload + len));

		if (seq == 0)
			seq = 1;
		if (len + seq > RECENT_PAYLOAD_BYTES)
			break;
		len += seq;
	}
	memcpy(r->payload, payload, len);
	r->payload[len] = '\0';
	s->recent_next = (s->recent_next + 1) % RECENT_NOTIFICATIONS;
	if (s->recent_count < RECENT_NOTIFICATIONS)
		s->recent_count++;
}

const struct recent_notification *
stats_recent(const struct node_stats *s, size_t i)
{
	return &s->recent[(s->recent_next + RECENT_NOTIFICATIONS - 1 - i) % RECENT_NOTIFICATIONS];
}
