/* SPDX-License-Identifier: PostgreSQL */
/* A leader's graceful end, the hand-over: clear our mark, then free the lock and the
 * handoff key, which wakes whoever waits on it.  What arrives meanwhile, and what was
 * received and not processed, the hooks may forward (forward.c).  Part of the leader
 * (leader.c decides when it is due). */
#include <inttypes.h>

#include "leader_release.h"
#include "log.h"
#include "queries.h"

/* What each statement of these batches is (apart from leader.c's tags). */
enum release_tag { TAG_RELEASE = 200 };

/* A stopping leader's release failed: the lock may still be ours; closing the
 * session releases it (and the LISTENs) all the same. */
static bool
release_failed(struct leader *l, const struct batch_outcome *o)
{
	if (!o->failed)
		return false;
	if (l->shared)
		session_reset(l->session, "handing over partition %d failed (%s); closing the "
			      "session, which frees its locks", l->partition, o->error);
	else
		session_reset(l->session, "release failed (%s); closing the session, which frees "
			      "the lock", o->error);
	return true;
}

static void
on_cleared(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	release_failed(l, o);	/* (then the release behind it never answers) */
}

static void
on_released(void *ctx, const struct batch_outcome *o)
{
	struct leader *l = ctx;

	if (release_failed(l, o))
		return;
	if (l->shared)
		log_info("handed over partition %d: term %" PRId64 " at counter %" PRId64,
			 l->partition, l->term, l->counter);
	else
		log_info("released the leader lock of term %" PRId64 " at counter %" PRId64
			 " and woke the standbys", l->term, l->counter);
	l->hooks->released(l->owner, l, "handed over");
}

void
leader_release(struct leader *l)
{
	const char *clear_params[] = {l->cfg->cluster, l->partition_text, l->term_text};
	const char *release_params[] = {l->cfg->cluster, l->lock_key_text, l->handoff_key_text,
		l->holds_handoff ? "true" : "false"};

	if (l->hooks->releasing != NULL)
		l->hooks->releasing(l->owner, l);	/* first: ahead of the hand-over's batch */
	if (l->queue.count > 0)
		log_warn("%s%zu received notification(s) left unprocessed are lost with the "
			 "hand-over (at most %.0f ms to finish what was received, or their handler "
			 "is failing; from schema version 13 they are forwarded to the next leader)",
			 l->log_label, l->queue.count, l->step_budget_ms);
	/* Our mark first (it needs the lock), committed in a transaction of its own, then the
	 * locks, pipelined right behind it: whoever they wake takes the lead without waiting
	 * for a transaction of ours that holds the state row. */
	if (!session_add_cached(l->session, TAG_RELEASE, 0, SQL_NO_FLUSH_WAIT, 0, NULL, NULL,
				NULL) ||
	    !session_add(l->session, TAG_RELEASE, 0, SQL_CLEAR_PARTITION, 3, clear_params, NULL,
			 NULL) ||
	    !session_send(l->session, on_cleared, l, true) ||
	    !session_add(l->session, TAG_RELEASE, 0, SQL_RELEASE, 4, release_params, NULL, NULL) ||
	    !session_send(l->session, on_released, l, true))
		return;
	fsm_set(l->fsm, ST_RELEASING, l->shared ? "handing over" :
		"releasing the leader lock and waking the standbys");
}
