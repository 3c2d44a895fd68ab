/* The exec handler: a program per event, run from the loop with ev_child, before its step commits.
 *
 * Children run one at a time: fork, the payload on the child's stdin (from
 * an unlinked temporary file), CLUSTERED_NODES_* in its environment.  Exit 0
 * moves on to the next event; once all of the batch succeeded, one step
 * commits them.  A failure, a signal or handler_timeout (the process group
 * is killed) counts as a failed attempt.  While programs run, the session is
 * free, so the leader keeps renewing its lease.  At-least-once: a program
 * whose step then fails to commit runs again for the next attempt or leader.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "node_internal.h"
#include "queries.h"

/* Events per step when every program succeeds. */
#define EXEC_BATCH 64

static struct node *
node_of(void *watcher, size_t offset)
{
	return (struct node *) ((char *) watcher - offset);
}

static void run_child(struct node *n);

/* In the child, after fork: nothing here may touch the parent's stdio buffers. */
static void
exec_child(struct node *n, int stdin_fd, const char *channel, long long event_id)
{
	char counter[24], term[24], id[24];

	setpgid(0, 0);
	dup2(stdin_fd, STDIN_FILENO);
	if (stdin_fd != STDIN_FILENO)
		close(stdin_fd);
	snprintf(counter, sizeof(counter), "%" PRId64, n->counter + (int64_t) n->exec_index);
	snprintf(term, sizeof(term), "%" PRId64, n->term);
	snprintf(id, sizeof(id), "%lld", event_id);
	setenv("CLUSTERED_NODES_CHANNEL", channel, 1);
	setenv("CLUSTERED_NODES_COUNTER", counter, 1);
	setenv("CLUSTERED_NODES_TERM", term, 1);
	setenv("CLUSTERED_NODES_NODE", n->cfg->node, 1);
	setenv("CLUSTERED_NODES_CLUSTER", n->cfg->cluster, 1);
	if (event_id > 0)
		setenv("CLUSTERED_NODES_EVENT_ID", id, 1);
	else
		unsetenv("CLUSTERED_NODES_EVENT_ID");
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", n->cfg->handler_exec, (char *) NULL);
	_exit(127);
}

static void
child_failed(struct node *n, const char *why)
{
	ev_timer_stop(n->loop, &n->child_timer);
	n->child_pid = 0;
	snprintf(n->exec_failure, sizeof(n->exec_failure), "handler_exec %s", why);
	if (n->renewing) {
		/* The renewal's answer must come first; it hands the failure on. */
		n->exec_failure_pending = true;
		return;
	}
	leader_handler_failed(n, n->exec_index, n->exec_failure);
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, child_watcher));
	char why[64];

	(void) revents;
	ev_child_stop(loop, w);
	if (w->rpid != n->child_pid || n->state != ST_HANDLING)
		return;		/* a child we gave up on (session lost, stopping) */
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0) {
		ev_timer_stop(loop, &n->child_timer);
		n->child_pid = 0;
		if (++n->exec_index < n->exec_batch) {
			run_child(n);
			return;
		}
		/* Every program of the batch succeeded: commit them in one step. */
		n->forced_step_size = n->exec_batch;
		if (!n->renewing)
			leader_step(n);
		return;
	}
	if (WIFEXITED(w->rstatus))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(w->rstatus));
	else if (WIFSIGNALED(w->rstatus) && n->child_timed_out)
		snprintf(why, sizeof(why), "timed out after %lu ms", n->cfg->handler_timeout_ms);
	else
		snprintf(why, sizeof(why), "was killed by signal %d", WTERMSIG(w->rstatus));
	child_failed(n, why);
}

static void
child_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *n = node_of(w, offsetof(struct node, child_timer));

	(void) loop;
	(void) revents;
	if (n->child_pid > 0) {
		/* The whole group: a shell's own children go too. */
		kill(-n->child_pid, SIGKILL);
		n->child_timed_out = true;
	}
}

static void
run_child(struct node *n)
{
	const char *channel, *payload;
	long long event_id;
	FILE *input;
	pid_t pid;

	leader_item(n, n->exec_index, &channel, &payload);
	event_id = n->step_durable ? n->events[n->exec_index].id : 0;
	/*
	 * The payload goes through an unlinked temporary file, not a pipe: a
	 * write to a file never waits for the program to read, and a program
	 * that ignores its input cannot make us block or cut the payload short.
	 */
	input = tmpfile();
	if (input == NULL || fputs(payload, input) == EOF || fflush(input) != 0 ||
	    fseek(input, 0, SEEK_SET) != 0) {
		int err = errno;

		if (input)
			fclose(input);
		child_failed(n, strerror(err));
		return;
	}
	log_flush();	/* nothing buffered twice */
	pid = fork();
	if (pid < 0) {
		int err = errno;

		fclose(input);
		child_failed(n, strerror(err));
		return;
	}
	if (pid == 0)
		exec_child(n, fileno(input), channel, event_id);
	fclose(input);
	setpgid(pid, pid);	/* also in the child: whichever runs first */
	n->child_pid = pid;
	n->child_timed_out = false;
	ev_child_stop(n->loop, &n->child_watcher);
	ev_child_set(&n->child_watcher, pid, 0);
	ev_child_start(n->loop, &n->child_watcher);
	ev_timer_set(&n->child_timer, n->cfg->handler_timeout_ms / 1000.0, 0.);
	ev_timer_start(n->loop, &n->child_timer);
}

void
exec_start(struct node *n)
{
	size_t available;

	n->step_durable = n->nevents > 0;
	available = n->step_durable ? n->nevents : n->queue.count;
	n->exec_batch = available < EXEC_BATCH ? available : EXEC_BATCH;
	if (n->isolate)
		n->exec_batch = 1;
	n->exec_index = 0;
	node_set_state(n, ST_HANDLING, "running the exec handler");
	run_child(n);
}

/* Session lost or stopping at once: the running program's work will not be committed. */
void
exec_abort(struct node *n)
{
	if (n->child_pid > 0)
		kill(-n->child_pid, SIGKILL);
	n->child_pid = 0;
	/* libev reaps every child on SIGCHLD, watched or not. */
	ev_child_stop(n->loop, &n->child_watcher);
	ev_timer_stop(n->loop, &n->child_timer);
	n->exec_failure_pending = false;
	n->renewing = false;
	n->forced_step_size = 0;
}

/* Handlers are running: renew the lease on the idle session (an empty advance). */
void
exec_renew_lease(struct node *n)
{
	char counter_text[24];
	const char *params[] = {n->cfg->cluster, n->term_text, counter_text, "0", n->lease_ms_text,
		"{}"};

	snprintf(counter_text, sizeof(counter_text), "%" PRId64, n->counter);
	node_answer_reset(n, -1);
	if (!node_send(n, SQL_ADVANCE, 6, params) || !node_sync(n))
		return;
	n->renewing = true;
	n->lease_due = false;
}

void
exec_on_renewal_done(struct node *n)
{
	char reason[600];

	n->renewing = false;
	if (n->answer.failed) {
		snprintf(reason, sizeof(reason), "lease renewal while handlers run failed: %s",
			 n->answer.error);
		exec_abort(n);
		node_reset(n, reason);
		return;
	}
	if (n->exec_failure_pending) {
		n->exec_failure_pending = false;
		leader_handler_failed(n, n->exec_index, n->exec_failure);
	} else if (n->forced_step_size > 0)
		leader_step(n);	/* the programs finished while the renewal was out */
}

void
exec_init(struct node *n)
{
	ev_child_init(&n->child_watcher, child_cb, 0, 0);
	ev_init(&n->child_timer, child_timeout_cb);
}
