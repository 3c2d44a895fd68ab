/* SPDX-License-Identifier: PostgreSQL */
/* The exec handler's runner: one program per event, one at a time, on the loop (ev_child).
 *
 * Each program gets its event's payload on stdin (from an unlinked temporary file),
 * CLUSTERED_NODES_* and what it needs of the node's environment (PATH, HOME, locale,
 * never credentials) as its environment, under a supervisor process (supervise()) that
 * ends whatever the program started when the program ends, times out or the node dies,
 * so no program's process outlives its step or its node.  The runner reports once per
 * batch: all succeeded, or which one failed and why (a non-zero exit, a signal, the
 * timeout).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_runner.h"
#include "names.h"
#include "log.h"
#include "util.h"

/* How long the supervisor has to end a timed-out program's processes before the node
 * kills its process group itself. */
#define SWEEP_GRACE_S 1.0

static void run_child(struct exec_runner *r);

/* What a program inherits of the node's environment: what programs need to run, never
 * the node's credentials (PGPASSWORD, CLUSTERED_NODES_DBNAME, tokens of any kind). */
static const char *const inherited[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
};

static bool
inherited_variable(const char *entry)
{
	size_t name = strcspn(entry, "=");

	if (strncmp(entry, "LC_", 3) == 0)
		return true;	/* locale categories */
	for (size_t i = 0; i < sizeof(inherited) / sizeof(inherited[0]); i++)
		if (strlen(inherited[i]) == name && strncmp(entry, inherited[i], name) == 0)
			return true;
	return false;
}

/* The program itself, in the supervisor's process group, with an explicit environment. */
static void
exec_program(const struct exec_runner *r, int stdin_fd, int output_fd,
	     const struct exec_item *item)
{
	extern char **environ;
	char *env[64 + 10];
	char vars[7][NAME_MAX_BYTES + 64];
	int n = 0;

	dup2(stdin_fd, STDIN_FILENO);
	if (stdin_fd != STDIN_FILENO)
		close(stdin_fd);
	/* Its output goes to the node's pipe (exec_output.c), never to the node's own
	 * descriptors, which a stalled log reader could block. */
	dup2(output_fd, STDOUT_FILENO);
	dup2(output_fd, STDERR_FILENO);
	for (char **e = environ; *e && n < 64; e++)
		if (inherited_variable(*e))
			env[n++] = *e;
	if (getenv("PATH") == NULL)
		env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	snprintf(vars[0], sizeof(vars[0]), "CLUSTERED_NODES_CHANNEL=%s", item->channel);
	snprintf(vars[1], sizeof(vars[1]), "CLUSTERED_NODES_COUNTER=%lld", item->counter);
	snprintf(vars[2], sizeof(vars[2]), "CLUSTERED_NODES_TERM=%s", r->term_text);
	snprintf(vars[3], sizeof(vars[3]), "CLUSTERED_NODES_NODE=%s", r->node);
	snprintf(vars[4], sizeof(vars[4]), "CLUSTERED_NODES_CLUSTER=%s", r->cluster);
	snprintf(vars[5], sizeof(vars[5]), "CLUSTERED_NODES_PARTITION=%s", r->partition_text);
	snprintf(vars[6], sizeof(vars[6]), "CLUSTERED_NODES_EVENT_ID=%lld", item->event_id);
	for (int i = 0; i < (item->event_id > 0 ? 7 : 6); i++)
		env[n++] = vars[i];
	env[n] = NULL;
	{
		/* execve() takes non-const strings: this child's own copy of the command. */
		char *command = strdup(r->command);
		char sh[] = "sh", dash_c[] = "-c";
		char *const argv[] = {sh, dash_c, command, NULL};

		if (command != NULL)
			execve("/bin/sh", argv, env);
	}
	_exit(127);
}

/* SIGTERM to the supervisor: the node died (its parent-death signal), or the node ends
 * the program (a timeout, a stop).  The sweep below follows. */
static volatile sig_atomic_t told_to_end;

static void
on_told_to_end(int sig)
{
	(void) sig;
	told_to_end = 1;
}

/* SIGKILL every process whose parent is this one; how many.  (Read from /proc: a
 * descendant that left the process group with setsid() is still found, once its parents
 * have ended, because the supervisor is their subreaper.) */
static int
kill_children(void)
{
	pid_t me = getpid();
	int killed = 0;
	DIR *proc = opendir("/proc");
	struct dirent *d;

	if (proc == NULL)
		return 0;
	while ((d = readdir(proc)) != NULL) {
		char path[64], buf[512], *close_paren;
		FILE *f;
		long ppid;
		pid_t pid = (pid_t) strtol(d->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		close_paren = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
		if (close_paren != NULL && sscanf(close_paren + 1, " %*c %ld", &ppid) == 1 &&
		    ppid == me && kill(pid, SIGKILL) == 0)
			killed++;
	}
	closedir(proc);
	return killed;
}

/* The program is over (or the node died): end everything it started, a background job
 * or a setsid() daemon included, and reap it.  Each round kills our children; their
 * own children come to us as they end; no child left means nothing is left. */
static void
end_descendants(void)
{
	for (;;) {
		kill_children();
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			return;
	}
}

/*
 * In the child, after fork: nothing here may touch the parent's stdio buffers or loop.
 * The child supervises the program rather than becoming it: PR_SET_PDEATHSIG covers only
 * the process that set it, so a program's own children would outlive a killed node and
 * overlap with the next leader's.  The supervisor is the subreaper of everything the
 * program starts, so a process that leaves the group (setsid) still comes back to it.
 * When the program ends, or the node dies or ends it (SIGTERM), the supervisor kills and
 * reaps every descendant, then exits as the program did.  It also keeps the node's
 * database socket open (inherited; libpq closes it only on exec), so when the node is
 * killed the server frees the lock only after this sweep: no process of this program
 * overlaps with the next leader.
 */
static void
supervise(const struct exec_runner *r, int stdin_fd, int output_fd, const struct exec_item *item,
	  pid_t node)
{
	struct sigaction sa = {.sa_handler = on_told_to_end};
	int status;
	pid_t pid;

	setpgid(0, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != node ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		_exit(127);	/* the node is already gone */
	pid = fork();
	if (pid < 0)
		_exit(127);
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		exec_program(r, stdin_fd, output_fd, item);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR || told_to_end) {
			end_descendants();
			_exit(127);
		}
	}
	end_descendants();	/* what it left running goes with it */
	if (WIFSIGNALED(status)) {
		/* Die the same way, so the node reports the program's signal. */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

static void
finish(struct exec_runner *r, const char *why)
{
	size_t succeeded = r->index;

	ev_timer_stop(r->loop, &r->child_timer);
	r->child_pid = 0;
	r->size = 0;
	r->hooks->done(r->owner, succeeded, why);
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct exec_runner *r = container_of(w, struct exec_runner, child_watcher);
	char why[64];

	(void) revents;
	ev_child_stop(loop, w);
	if (w->rpid != r->child_pid)
		return;		/* a child we gave up on */
	exec_output_finish(&r->output);	/* its last lines before what follows it */
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0) {
		ev_timer_stop(loop, &r->child_timer);
		r->child_pid = 0;
		if (++r->index < r->size)
			run_child(r);
		else
			finish(r, NULL);
		return;
	}
	if (r->child_timed_out && r->ended_by_stop)
		snprintf(why, sizeof(why), "handler_exec was ended: the node is stopping");
	else if (r->child_timed_out)	/* ended by its supervisor (127) or, failing that, by us */
		snprintf(why, sizeof(why), "handler_exec timed out after %lu ms", r->timeout_ms);
	else if (WIFEXITED(w->rstatus)) {
		snprintf(why, sizeof(why), "handler_exec exited with status %d", WEXITSTATUS(w->rstatus));
		r->tempfail = WEXITSTATUS(w->rstatus) == EX_TEMPFAIL;
	}
	else
		snprintf(why, sizeof(why), "handler_exec was killed by signal %d", WTERMSIG(w->rstatus));
	finish(r, why);
}

static void
child_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_runner *r = container_of(w, struct exec_runner, child_timer);

	(void) loop;
	(void) revents;
	if (r->child_pid <= 0)
		return;
	if (!r->child_timed_out) {
		/* The supervisor ends the program and everything it started, then exits. */
		kill(r->child_pid, SIGTERM);
		r->child_timed_out = true;
		ev_timer_set(&r->child_timer, SWEEP_GRACE_S, 0.);
		ev_timer_start(loop, &r->child_timer);
		return;
	}
	kill(-r->child_pid, SIGKILL);	/* the supervisor did not: the whole group, at least */
}

static void
run_child(struct exec_runner *r)
{
	struct exec_item item;
	char why[160];
	FILE *input;
	int output_fd;
	pid_t pid, node;

	r->hooks->item(r->owner, r->index, &item);
	/*
	 * The payload goes through an unlinked temporary file, not a pipe: a write to a
	 * file never waits for the program to read, and a program that ignores its input
	 * cannot make us block or cut the payload short.
	 */
	input = tmpfile();
	if (input == NULL || fputs(item.payload, input) == EOF || fflush(input) != 0 ||
	    fseek(input, 0, SEEK_SET) != 0) {
		int err = errno;

		if (input)
			fclose(input);
		snprintf(why, sizeof(why), "handler_exec %s", strerror(err));
		finish(r, why);
		return;
	}
	if (!exec_output_open(&r->output, item.counter, &output_fd)) {
		int err = errno;

		fclose(input);
		snprintf(why, sizeof(why), "handler_exec %s", strerror(err));
		finish(r, why);
		return;
	}
	log_flush();		/* nothing buffered twice */
	node = getpid();
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(output_fd);
		fclose(input);
		snprintf(why, sizeof(why), "handler_exec %s", strerror(err));
		finish(r, why);
		return;
	}
	if (pid == 0)
		supervise(r, fileno(input), output_fd, &item, node);
	close(output_fd);	/* the supervisor and the program hold it: EOF when all are gone */
	fclose(input);
	setpgid(pid, pid);	/* also in the child: whichever runs first */
	r->child_pid = pid;
	r->child_timed_out = false;
	r->ended_by_stop = false;
	r->tempfail = false;
	ev_child_stop(r->loop, &r->child_watcher);
	ev_child_set(&r->child_watcher, pid, 0);
	ev_child_start(r->loop, &r->child_watcher);
	ev_timer_set(&r->child_timer, r->timeout_ms / 1000.0, 0.);
	ev_timer_start(r->loop, &r->child_timer);
}

void
exec_runner_start(struct exec_runner *r, size_t size)
{
	r->index = 0;
	r->size = size;
	run_child(r);
}

bool
exec_runner_failed_transiently(const struct exec_runner *r)
{
	return r->tempfail;
}

void
exec_runner_end(struct exec_runner *r)
{
	if (r->child_pid <= 0 || r->child_timed_out)
		return;
	r->ended_by_stop = true;
	ev_timer_stop(r->loop, &r->child_timer);
	ev_timer_set(&r->child_timer, 0., 0.);	/* the timeout's way, now */
	ev_timer_start(r->loop, &r->child_timer);
}

bool
exec_runner_busy(const struct exec_runner *r)
{
	return r->size > 0;
}

void
exec_runner_abort(struct exec_runner *r)
{
	if (r->child_pid > 0)
		kill(r->child_pid, SIGTERM);	/* the supervisor sweeps, then exits */
	r->child_pid = 0;
	r->size = 0;
	/* libev reaps every child on SIGCHLD, watched or not. */
	ev_child_stop(r->loop, &r->child_watcher);
	ev_timer_stop(r->loop, &r->child_timer);
}

void
exec_runner_init(struct exec_runner *r, struct ev_loop *loop, const struct exec_hooks *hooks,
		 void *owner)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->hooks = hooks;
	r->owner = owner;
	ev_child_init(&r->child_watcher, child_cb, 0, 0);
	exec_output_init(&r->output, loop);
	ev_init(&r->child_timer, child_timeout_cb);
}

void
exec_runner_configure(struct exec_runner *r, const char *command, unsigned long timeout_ms,
		      const char *term_text, const char *node, const char *cluster,
		      const char *partition_text)
{
	r->command = command;
	r->timeout_ms = timeout_ms;
	r->term_text = term_text;
	r->node = node;
	r->cluster = cluster;
	r->partition_text = partition_text;
}
