/* SPDX-License-Identifier: PostgreSQL */
/* Ending the node's own wait on a leader's handoff key when it stops (src/node/wait_cancel.c). */
#ifndef CN_WAIT_CANCEL_H
#define CN_WAIT_CANCEL_H

#include <stdbool.h>

#include <ev.h>

#include "session.h"

struct wait_cancel {
	struct session session;
	const bool *still_waiting;	/* the owner's: cancel only while it is true */
	int backend_pid;
	bool started;
};

void wait_cancel_init(struct wait_cancel *c, struct ev_loop *loop, const char *const *keywords,
		      const char *const *values, const bool *still_waiting);
/* Asks the server, from a short session of its own, to cancel the statement that backend
 * runs (pg_cancel_backend(): a login may cancel its own backends), if *still_waiting
 * is still true once connected. */
void wait_cancel_send(struct wait_cancel *c, int backend_pid);
void wait_cancel_free(struct wait_cancel *c);

#endif
