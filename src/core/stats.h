/* What a node counts about itself, for /status, /metrics and the page. */
#ifndef CN_STATS_H
#define CN_STATS_H

#include <stddef.h>

#include "settings.h"

/* Upper bounds (seconds) of the step-duration histogram's buckets; +Inf is implied. */
#define STEP_BUCKETS 12
extern const double step_bucket_bounds[STEP_BUCKETS];

#define RECENT_NOTIFICATIONS 20
#define RECENT_PAYLOAD_BYTES 120

struct recent_notification {
	double at;		/* wall clock, seconds */
	long long counter;
	char channel[NAME_MAX_BYTES + 1];
	char payload[RECENT_PAYLOAD_BYTES + 1];	/* cut at a UTF-8 boundary */
};

struct node_stats {
	double started_at;	/* wall clock, seconds */
	unsigned long long processed[MAX_CHANNELS];	/* by channel index */
	unsigned long long dropped[MAX_CHANNELS];	/* the backlog was full */
	unsigned long long step_buckets[STEP_BUCKETS];	/* non-cumulative */
	unsigned long long step_count;
	double step_seconds_sum;
	unsigned long long failovers;	/* times this node took the lead */
	unsigned long long reconnects;	/* sessions lost or refused */
	double last_notification_at;	/* 0: none yet */
	struct recent_notification recent[RECENT_NOTIFICATIONS];	/* a ring */
	size_t recent_next;
	size_t recent_count;
};

void stats_observe_step(struct node_stats *s, double seconds);
/* Keeps the last RECENT_NOTIFICATIONS processed, payloads cut to a readable length. */
void stats_remember(struct node_stats *s, double at, long long counter, const char *channel,
		    const char *payload);
/* The i-th most recent, i < recent_count. */
const struct recent_notification *stats_recent(const struct node_stats *s, size_t i);

#endif
