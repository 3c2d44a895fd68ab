/* SPDX-License-Identifier: PostgreSQL */
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

/* Why a lead changed hands, as clustered_nodes.history says (sql/014); UNKNOWN before it. */
enum takeover_reason {
	TAKEOVER_FIRST_LEAD,
	TAKEOVER_HANDED_OVER,
	TAKEOVER_SESSION_ENDED,
	TAKEOVER_LEASE_LAPSED,
	TAKEOVER_SERVER_RESTARTED,
	TAKEOVER_UNKNOWN,
	TAKEOVER_REASONS
};
/* As the history writes them ("handed over"), and as metric labels ("handed_over"). */
extern const char *const takeover_reason_text[TAKEOVER_REASONS];
extern const char *const takeover_reason_label[TAKEOVER_REASONS];
enum takeover_reason takeover_reason_of(const char *text);

/* Steps and notifications per second over the last RATE_SECONDS, for the page's lines. */
#define RATE_SECONDS 600
struct rate_second {
	long long second;	/* the wall-clock second this slot counts, or 0 */
	unsigned steps;
	unsigned notifications;
};

struct node_stats {
	double started_at;	/* wall clock, seconds */
	unsigned long long processed[MAX_CHANNELS];	/* by channel index */
	unsigned long long dropped[MAX_CHANNELS];	/* the backlog was full */
	unsigned long long step_buckets[STEP_BUCKETS];	/* non-cumulative */
	unsigned long long step_count;
	double step_seconds_sum;
	unsigned long long failovers;	/* times this node took the lead from another leader */
	unsigned long long takeovers[TAKEOVER_REASONS];	/* every lead taken, by reason */
	double last_takeover_gap_ms;	/* -1: none known yet */
	unsigned long long reconnects;	/* sessions lost or refused */
	double last_notification_at;	/* 0: none yet */
	struct recent_notification recent[RECENT_NOTIFICATIONS];	/* a ring */
	size_t recent_next;
	size_t recent_count;
	struct rate_second rate[RATE_SECONDS];	/* a ring indexed by the second */
};

void stats_observe_step(struct node_stats *s, double seconds);
/* A committed step of `notifications` at wall-clock time `now`, counted in its second. */
void stats_count_second(struct node_stats *s, double now, unsigned notifications);
/* The counts of the second `second` (wall clock), zero if it was not counted. */
struct rate_second stats_second(const struct node_stats *s, long long second);
/* Keeps the last RECENT_NOTIFICATIONS processed, payloads cut to a readable length. */
void stats_remember(struct node_stats *s, double at, long long counter, const char *channel,
		    const char *payload);
/* The i-th most recent, i < recent_count. */
const struct recent_notification *stats_recent(const struct node_stats *s, size_t i);

#endif
