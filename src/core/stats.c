/* SPDX-License-Identifier: PostgreSQL */
/* What a node counts about itself, for /status, /metrics and the page. */
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "stats.h"

const double step_bucket_bounds[STEP_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

const char *const takeover_reason_text[TAKEOVER_REASONS] = {
	"first lead", "handed over", "session ended", "lease lapsed", "server restarted", "unknown",
};
const char *const takeover_reason_label[TAKEOVER_REASONS] = {
	"first_lead", "handed_over", "session_ended", "lease_lapsed", "server_restarted", "unknown",
};

enum takeover_reason
takeover_reason_of(const char *text)
{
	for (int r = 0; r < TAKEOVER_UNKNOWN; r++)
		if (strcmp(text, takeover_reason_text[r]) == 0)
			return (enum takeover_reason) r;
	return TAKEOVER_UNKNOWN;
}

void
stats_count_second(struct node_stats *s, double now, unsigned notifications)
{
	long long second = (long long) now;
	struct rate_second *r = &s->rate[second % RATE_SECONDS];

	if (r->second != second)
		*r = (struct rate_second) {.second = second};
	r->steps++;
	r->notifications += notifications;
}

struct rate_second
stats_second(const struct node_stats *s, long long second)
{
	const struct rate_second *r = &s->rate[((second % RATE_SECONDS) + RATE_SECONDS) % RATE_SECONDS];

	return r->second == second ? *r : (struct rate_second) {.second = second};
}

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
