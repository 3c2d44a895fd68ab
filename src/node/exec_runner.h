/* SPDX-License-Identifier: PostgreSQL */
/* The exec handler's runner: one program per event, one at a time, on the loop (ev_child);
 * it reports back once per batch.  It knows nothing of leaders or steps. */
#ifndef CN_EXEC_RUNNER_H
#define CN_EXEC_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "exec_output.h"

/* What one program is run for. */
struct exec_item {
	const char *channel;
	const char *payload;
	long long counter;	/* the counter value this event gets */
	long long event_id;	/* durable events; 0 for a plain notification */
};

struct exec_hooks {
	/* The i-th item of the batch (i < the batch's size). */
	void (*item)(void *owner, size_t i, struct exec_item *out);
	/* The batch is over: `succeeded` programs exited 0; if that is short of the batch,
	 * program number `succeeded` failed, for the reason in `why`. */
	void (*done)(void *owner, size_t succeeded, const char *why);
};

struct exec_runner {
	struct ev_loop *loop;
	const struct exec_hooks *hooks;
	void *owner;
	const char *command;	/* run by /bin/sh -c */
	unsigned long timeout_ms;
	const char *term_text;
	const char *node;
	const char *cluster;
	const char *partition_text;
	ev_child child_watcher;
	ev_timer child_timer;
	pid_t child_pid;	/* 0: none running */
	bool child_timed_out;	/* we ended it: its timeout, or exec_runner_end() */
	bool ended_by_stop;	/* ... exec_runner_end() */
	bool tempfail;		/* the failing program exited 75 (EX_TEMPFAIL) */
	struct exec_output output;	/* the running program's stdout and stderr */
	size_t index;		/* the item running */
	size_t size;		/* items in the batch */
};

void exec_runner_init(struct exec_runner *r, struct ev_loop *loop, const struct exec_hooks *hooks,
		      void *owner);
/* What every program of the node gets; the strings must outlive the runner. */
void exec_runner_configure(struct exec_runner *r, const char *command, unsigned long timeout_ms,
			   const char *term_text, const char *node, const char *cluster,
			   const char *partition_text);
/* Runs the programs for items 0..size-1, then calls done. */
void exec_runner_start(struct exec_runner *r, size_t size);
bool exec_runner_busy(const struct exec_runner *r);
/* The last failure reported was the program's exit 75 (EX_TEMPFAIL): transient. */
bool exec_runner_failed_transiently(const struct exec_runner *r);
/* Ends the running program and what it started (the node is stopping): done reports it
 * as a failed attempt, "ended: the node is stopping". */
void exec_runner_end(struct exec_runner *r);
/* Ends the running program and what it started; done is not called. */
void exec_runner_abort(struct exec_runner *r);

#endif
