/* SPDX-License-Identifier: PostgreSQL */
/*
 * A single-leader cluster's idle node waits on the leader's handoff key on its own
 * session, for a look interval or, in a large cluster, several (timing.h's
 * standby_wait_ms()).  A stop deregisters on that session, behind the wait.  A wait
 * cannot be cancelled from its own session, and libpq 15's PQcancel() blocks the loop,
 * so a second, short session asks the server to cancel it: clustered_nodes.wait_lock()
 * catches the cancel as the end of its wait, and the stop goes on at once.
 */
#include <stdio.h>

#include "log.h"
#include "wait_cancel.h"

#define CANCEL_CONNECT_TIMEOUT_S 5.0

static void
on_cancelled(void *ctx, const struct batch_outcome *o)
{
	struct wait_cancel *c = ctx;

	if (o->failed)
		log_debug("cancelling our wait failed: %s", o->error);
	session_stop(&c->session);
}

static void
on_connected(void *owner)
{
	struct wait_cancel *c = owner;
	char pid[16];
	const char *params[] = {pid};

	if (!*c->still_waiting) {
		session_stop(&c->session);
		return;
	}
	snprintf(pid, sizeof(pid), "%d", c->backend_pid);
	if (!session_add(&c->session, 0, 0, "SELECT pg_cancel_backend($1::integer)", 1, params,
			 NULL, NULL))
		return;
	session_send(&c->session, on_cancelled, c, true);
}

static void
on_lost(void *owner, const char *reason)
{
	(void) owner;
	log_debug("the session that cancels our wait was lost: %s", reason);
}

/* It listens to nothing; an answer that is late is waited for (the node's stop deadline
 * bounds it). */
static const struct session_hooks wait_cancel_hooks = {
	.connected = on_connected,
	.lost = on_lost,
};

void
wait_cancel_init(struct wait_cancel *c, struct ev_loop *loop, const char *const *keywords,
		 const char *const *values, const bool *still_waiting)
{
	c->still_waiting = still_waiting;
	c->backend_pid = 0;
	c->started = false;
	session_init(&c->session, loop, &wait_cancel_hooks, c);
	session_configure(&c->session, keywords, values, CANCEL_CONNECT_TIMEOUT_S, 0);
}

void
wait_cancel_send(struct wait_cancel *c, int backend_pid)
{
	if (c->started || backend_pid <= 0)
		return;
	c->started = true;
	c->backend_pid = backend_pid;
	session_connect(&c->session);
}

void
wait_cancel_free(struct wait_cancel *c)
{
	if (c->started)
		session_stop(&c->session);
	session_free(&c->session);
}
