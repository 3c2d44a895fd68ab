/* The leader's decisions as pure functions: what to do next, how big a step is, how long
 * to wait before retrying a failed event. */
#include "backoff.h"
#include "leader_plan.h"

enum leader_action
leader_plan_next(const struct leader_facts *f)
{
	if (!f->stopping && f->retry_waiting)
		/* Keep the lease while backing off: a rolled-back step renewed nothing. */
		return f->lease_due ? LEADER_RENEW : LEADER_WAIT_RETRY;
	if (f->stopping && !f->unlistened)
		return LEADER_UNLISTEN;
	/* A stopping leader does not retry a failing event: it stays for the next leader. */
	if (f->work > 0 && !(f->stopping && f->isolate)) {
		if (f->head_attempts >= f->max_attempts)
			return LEADER_DEAD_LETTER;
		return f->exec_handler ? LEADER_EXEC : LEADER_STEP;
	}
	if (f->stopping)
		return LEADER_RELEASE;
	if (f->events_due)
		return LEADER_FETCH;
	if (f->housekeeping_due || f->lease_due)
		return LEADER_STEP;
	return LEADER_IDLE;
}

size_t
leader_plan_step_size(size_t available, bool durable, bool isolate, size_t events_batch)
{
	size_t size = available < MAX_STEP_NOTIFICATIONS ? available : MAX_STEP_NOTIFICATIONS;

	if (durable && size > events_batch)
		size = events_batch;
	if (isolate && size > 1)
		size = 1;
	return size;
}

size_t
leader_plan_exec_size(size_t available, bool isolate)
{
	size_t size = available < EXEC_BATCH ? available : EXEC_BATCH;

	return isolate && size > 1 ? 1 : size;
}

unsigned
leader_plan_retry_delay_ms(unsigned long head_attempts, unsigned long max_attempts)
{
	if (head_attempts == 0 || head_attempts >= max_attempts)
		return 0;
	return backoff_bound_ms(HANDLER_RETRY_BASE_MS, HANDLER_RETRY_CAP_MS,
				(unsigned) (head_attempts - 1));
}
