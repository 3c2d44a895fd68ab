/* SPDX-License-Identifier: PostgreSQL */
/* The fault-tolerance timings derived from session_timeout and lease_timeout. */
#include <stdio.h>

#include "timing.h"

void
fault_timing_compute(unsigned long session_timeout_ms, unsigned long lease_timeout_ms,
		     struct fault_timing *t)
{
	unsigned long bound_s = session_timeout_ms / 1000;
	unsigned long rest;

	if (bound_s < 3)
		bound_s = 3;
	/* Half the bound idle, the other half spent probing (integer seconds). */
	t->keepalive_idle_s = (unsigned) (bound_s / 2);
	rest = bound_s - t->keepalive_idle_s;
	t->keepalive_interval_s = (unsigned) (rest / 3 ? rest / 3 : 1);
	t->keepalive_count = (unsigned) (rest / t->keepalive_interval_s);
	t->server_release_ms = 1000UL * (t->keepalive_idle_s +
					 t->keepalive_interval_s * t->keepalive_count);
	t->user_timeout_ms = t->server_release_ms;
	t->answer_deadline_ms = t->server_release_ms / 2;
	t->renew_interval_ms = t->server_release_ms / 4;
	t->lease_ms = lease_timeout_ms ? lease_timeout_ms : t->server_release_ms;
	/* Several renewals per lease, so a busy-but-healthy leader never lapses. */
	if (t->renew_interval_ms > t->lease_ms / 3)
		t->renew_interval_ms = t->lease_ms / 3;
	t->demote_bound_ms = t->renew_interval_ms + t->answer_deadline_ms;
	/* A step answers well inside the deadline, and a stop is not held up for long. */
	t->step_budget_ms = t->answer_deadline_ms / 4 < 1000 ? t->answer_deadline_ms / 4 : 1000;
	t->client_keepalive_count = (unsigned) (t->answer_deadline_ms / 1000 ? t->answer_deadline_ms / 1000 : 1);
	t->client_user_timeout_ms = t->answer_deadline_ms + 500;
}

unsigned long
fault_timing_event_limit(const struct fault_timing *t, unsigned long handler_timeout_ms)
{
	unsigned long half = t->answer_deadline_ms / 2;

	if (t->lease_ms / 2 < half)
		half = t->lease_ms / 2;
	return handler_timeout_ms < half ? handler_timeout_ms : half;
}

void
fault_timing_format(const struct fault_timing *t, struct fault_timing_text *out)
{
	snprintf(out->keepalive_idle, sizeof(out->keepalive_idle), "%u", t->keepalive_idle_s);
	snprintf(out->keepalive_interval, sizeof(out->keepalive_interval), "%u",
		 t->keepalive_interval_s);
	snprintf(out->keepalive_count, sizeof(out->keepalive_count), "%u", t->keepalive_count);
	snprintf(out->user_timeout, sizeof(out->user_timeout), "%lu", t->user_timeout_ms);
	snprintf(out->lease_ms, sizeof(out->lease_ms), "%lu", t->lease_ms);
	snprintf(out->client_keepalive_count, sizeof(out->client_keepalive_count), "%u",
		 t->client_keepalive_count);
	snprintf(out->client_user_timeout, sizeof(out->client_user_timeout), "%lu",
		 t->client_user_timeout_ms);
}

unsigned long
look_interval_ms(unsigned long lease_timeout_ms, unsigned long heartbeat_interval_ms)
{
	unsigned long ms = lease_timeout_ms ? lease_timeout_ms / 4 : heartbeat_interval_ms;

	return ms > heartbeat_interval_ms ? heartbeat_interval_ms : ms;
}

/* `looks` look intervals less up to a fifth at random (random01 clamped to 0..1). */
static unsigned long
looks_less_a_random_fifth(unsigned long look_ms, int looks, double random01)
{
	if (random01 < 0)
		random01 = 0;
	if (random01 > 1)
		random01 = 1;
	return (unsigned long) ((double) look_ms * looks * (1.0 - 0.2 * random01));
}

unsigned long
standby_wait_ms(unsigned long look_ms, int rank, int members, double random01)
{
	int looks = (members + SAFETY_READERS - 1) / SAFETY_READERS;

	if (rank < 0 || rank < SAFETY_READERS || looks <= 1)
		return look_ms;
	if (looks > SLOW_LOOKS_MAX)
		looks = SLOW_LOOKS_MAX;
	return looks_less_a_random_fifth(look_ms, looks, random01);
}

unsigned long
watch_wait_ms(unsigned long look_ms, double random01)
{
	return looks_less_a_random_fifth(look_ms, SLOW_LOOKS_MAX, random01);
}
