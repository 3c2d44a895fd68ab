/* SPDX-License-Identifier: PostgreSQL */
/* The leader's decisions as pure functions: what to do next, how big a step is, how to
 * handle a failing event, how long to wait before retrying it. */
#include <string.h>

#include "backoff.h"
#include "leader_plan.h"

/* Event `failing` failed: a later event than the head becomes the head (the ones before
 * it are committed first), with no failures counted yet. */
static void
new_head(struct failure_state *st, size_t failing)
{
	if (st->prefix == 0 && failing == 0)
		return;		/* the head itself failed again */
	st->prefix = failing;
	st->head_attempts = 0;
	st->head_transient = 0;
}

void
leader_plan_failed(struct failure_state *st, size_t failing)
{
	new_head(st, failing);
	st->head_attempts++;
	st->last_transient = false;
	st->isolate = true;
}

void
leader_plan_failed_transiently(struct failure_state *st, size_t failing,
			       unsigned long transient_retries)
{
	new_head(st, failing);
	st->isolate = true;
	if (st->head_transient < transient_retries) {
		st->head_transient++;
		st->last_transient = true;
		return;
	}
	st->head_attempts++;	/* its transient retries are spent: an attempt like any */
	st->last_transient = false;
}

bool
leader_plan_sqlstate_is_transient(const char *sqlstate)
{
	static const char *const transient[] = {
		"40001",	/* serialization_failure */
		"40P01",	/* deadlock_detected */
		"55P03",	/* lock_not_available (lock_timeout) */
		"57014",	/* query_canceled (statement_timeout: the call's limit) */
	};

	for (size_t i = 0; sqlstate != NULL && i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(sqlstate, transient[i]) == 0)
			return true;
	return false;
}

void
leader_plan_committed(struct failure_state *st, size_t size)
{
	if (size == 0)
		return;
	if (st->prefix > 0 && size <= st->prefix) {
		st->prefix -= size;	/* the failing event comes next */
		return;
	}
	/* The head event itself committed (or was dead-lettered): back to whole batches. */
	st->prefix = 0;
	st->isolate = false;
	st->head_attempts = 0;
	st->head_transient = 0;
	st->last_transient = false;
}

bool
leader_plan_needs_turn(enum leader_action action, const struct leader_facts *f)
{
	return action == LEADER_EXEC || action == LEADER_DEAD_LETTER ||
	    (action == LEADER_STEP && f->work > 0);
}

static enum leader_action
next_ignoring_turns(const struct leader_facts *f)
{
	const struct failure_state *fs = &f->failure;

	if (f->stopping && f->drain_over)
		return LEADER_RELEASE;
	/* Events known to be good are committed at once, backoff or not. */
	if (fs->prefix > 0 && f->work > 0)
		return f->exec_handler ? LEADER_EXEC : LEADER_STEP;
	if (!f->stopping && f->retry_waiting)
		/* Keep the lease while backing off: a rolled-back step renewed nothing. */
		return f->lease_due ? LEADER_RENEW : LEADER_WAIT_RETRY;
	/* Durable events are not starved by a backlog of plain notifications. */
	if (!f->stopping && f->events_due && f->events_buffered == 0)
		return LEADER_FETCH;
	/* A stopping leader does not retry a failing event: it stays for the next leader. */
	if (f->work > 0 && !(f->stopping && fs->isolate)) {
		if (fs->isolate && fs->head_attempts >= f->max_attempts)
			return LEADER_DEAD_LETTER;
		return f->exec_handler ? LEADER_EXEC : LEADER_STEP;
	}
	if (f->stopping)
		return LEADER_RELEASE;
	if (f->housekeeping_due || f->lease_due)
		return LEADER_STEP;
	return LEADER_IDLE;
}

void
leader_plan_observe(struct step_cost *c, size_t events, double seconds)
{
	double sample;

	if (events == 0 || seconds < 0)
		return;
	sample = seconds * 1000.0 / (double) events;
	if (c->per_event_ms <= 0 || sample > c->per_event_ms)
		c->per_event_ms = sample;	/* slower: believe it at once */
	else
		c->per_event_ms = (c->per_event_ms + sample) / 2;
}

size_t
leader_plan_step_size(const struct step_size_facts *f)
{
	size_t size = f->available < f->cap ? f->available : f->cap;

	if (f->failure.prefix > 0)
		return f->failure.prefix < size ? f->failure.prefix : size;
	if (f->failure.isolate)
		return size > 1 ? 1 : size;
	if (f->handler && f->per_event_ms <= 0) {
		if (size > FIRST_HANDLER_STEP)
			size = FIRST_HANDLER_STEP;	/* measure before trusting it with more */
	} else if (f->per_event_ms > 0 && f->budget_ms > 0) {
		double fits = f->budget_ms / f->per_event_ms;

		if (fits < (double) size)
			size = fits < 1 ? 1 : (size_t) fits;
	}
	return size;
}

unsigned
leader_plan_retry_delay_ms(unsigned long head_attempts, unsigned long max_attempts)
{
	if (head_attempts == 0 || head_attempts >= max_attempts)
		return 0;
	return backoff_bound_ms(HANDLER_RETRY_BASE_MS, HANDLER_RETRY_CAP_MS,
				(unsigned) (head_attempts - 1));
}

unsigned
leader_plan_transient_delay_ms(unsigned long head_transient)
{
	if (head_transient == 0)
		return 0;
	return backoff_bound_ms(TRANSIENT_RETRY_BASE_MS, TRANSIENT_RETRY_CAP_MS,
				(unsigned) (head_transient - 1));
}

enum leader_action
leader_plan_next(const struct leader_facts *f)
{
	enum leader_action action = next_ignoring_turns(f);

	/* Another partition's step has the session: our lease must not wait for it. */
	if (f->turn_busy && leader_plan_needs_turn(action, f))
		return f->lease_due ? LEADER_RENEW : LEADER_WAIT_TURN;
	return action;
}
