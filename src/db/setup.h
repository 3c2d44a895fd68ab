/* SPDX-License-Identifier: PostgreSQL */
/* Session setup after each connect: schema version, server-side timeouts, the cluster's
 * partitions, the handler's PREPARE; decides whether this node can run at all. */
#ifndef CN_SETUP_H
#define CN_SETUP_H

#include <stdbool.h>

#include "fsm.h"
#include "session.h"
#include "settings.h"
#include "timing.h"

struct setup_hooks {
	/* The session is set up: register next. */
	void (*ready)(void *owner);
	/* This node cannot run with this database (schema, handler): stop with exit_code. */
	void (*fatal)(void *owner, int exit_code, const char *reason);
	/* The database refused this login something no retry fixes (db_fault.h): reason
	 * names it and its fix, unlogged; exit_code is what --check would exit with. */
	void (*refused)(void *owner, int exit_code, const char *reason);
};

struct setup {
	struct session *session;
	const struct config *cfg;
	struct fsm *fsm;
	const struct fault_timing_text *timing;
	const struct setup_hooks *hooks;
	void *owner;
	bool has_version;	/* read by the batch in flight */
	long long version;
	int recorded_partitions;	/* the cluster's K, 0 until read */
	char recorded_rule[PARTITION_RULE_ARG_MAX + 16];
};

void setup_init(struct setup *s, struct session *session, const struct config *cfg,
		struct fsm *fsm, const struct fault_timing_text *timing,
		const struct setup_hooks *hooks, void *owner);
/* Sends the setup batch on a fresh session. */
void setup_start(struct setup *s);

/* The files that bring the schema from version `from` to `to`, for messages. */
void setup_files_to_apply(long long from, int to, char *buf, size_t size);

#endif
