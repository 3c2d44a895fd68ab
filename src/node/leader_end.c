/* SPDX-License-Identifier: PostgreSQL */
/* How a leader's state ends: halted with its session or a hand-over (what it held in
 * memory dropped, its timers stopped), forgotten after a lost session (what was in
 * flight named in the log, and durable events a handler may have killed the session on
 * marked to run alone), freed.  Part of the leader. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "leader.h"
#include "log.h"

void
leader_halt(struct leader *l)
{
	leader_report_drops(l, true);
	exec_runner_abort(&l->exec);
	ev_timer_stop(l->loop, &l->retry_timer);
	ev_timer_stop(l->loop, &l->stop_exec_timer);
	notifyq_drop(&l->queue, l->queue.count);
	event_buffer_clear(&l->events);
	l->step.size = 0;
	l->holds_handoff = false;
	l->flight = FLIGHT_NONE;	/* the owner of the turn forgets it with the session */
	/* Positions in the dropped buffers mean nothing any more. */
	memset(&l->failure, 0, sizeof(l->failure));
}

void
leader_forget(struct leader *l)
{
	if (node_state_holds_lock(l->fsm->state) && l->queue.count > 0)
		log_warn("%zu received notification(s) not processed: their step did not commit",
			 l->queue.count);
	if (l->fsm->state == ST_PROCESSING)
		log_warn("step of term %" PRId64 " was in flight: whether it committed is recorded "
			 "only in the database", l->term);
	if (l->fsm->state == ST_PROCESSING && l->step.durable && l->step.size > 0 &&
	    l->step.size <= l->events.count && l->cfg->handler_sql[0] != '\0') {
		/* The handler may have ended the session: run those events alone from now on,
		 * each attempt recorded first, so that a poisonous one ends in dead_letters. */
		long long last = l->events.items[l->step.size - 1].id;

		if (last > l->suspect_max_id)
			l->suspect_max_id = last;
	}
	leader_halt(l);
}

void
leader_stop_timers(struct leader *l)
{
	ev_timer_stop(l->loop, &l->lease_timer);
	ev_timer_stop(l->loop, &l->events_timer);
	ev_timer_stop(l->loop, &l->retry_timer);
	ev_timer_stop(l->loop, &l->stop_exec_timer);
}

void
leader_free(struct leader *l)
{
	leader_halt(l);
	notifyq_free(&l->queue);
	event_buffer_free(&l->events);
	free(l->escaped_payload);
	l->escaped_payload = NULL;
	free(l->channels_array);
	l->channels_array = NULL;
	free(l->head_error);
	l->head_error = NULL;
	free(l->step.whole_error);
	l->step.whole_error = NULL;
}
