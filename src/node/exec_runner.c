/* The exec handler's runner: one program per event, one at a time, on the loop (ev_child).
 *
 * Each program gets its event's payload on stdin (from an unlinked temporary file),
 * CLUSTERED_NODES_* and what it needs of the node's environment (PATH, HOME, locale,
 * never credentials) as its environment, and its own process group, so that a timeout
 * kills whatever it started too; a supervisor process kills that group when the node
 * dies, so no program outlives its node.  The runner reports once per batch: all succeeded, or
 * which one failed and why (a non-zero exit, a signal, the timeout).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_runner.h"
#include "names.h"
#include "log.h"
#include "util.h"

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
exec_program(const struct exec_runner *r, int stdin_fd, const struct exec_item *item)
{
	extern char **environ;
	char *env[64 + 10];
	char vars[7][NAME_MAX_BYTES + 64];
	int n = 0;

	dup2(stdin_fd, STDIN_FILENO);
	if (stdin_fd != STDIN_FILENO)
		close(stdin_fd);
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

/* The node died (the supervisor's parent-death signal): take the whole group along. */
static void
on_parent_death(int sig)
{
	(void) sig;
	kill(0, SIGKILL);
}

/*
 * In the child, after fork: nothing here may touch the parent's stdio buffers or loop.
 * The child supervises the program rather than becoming it: PR_SET_PDEATHSIG covers only
 * the process that set it, so a program's own children would outlive a killed node and
 * overlap with the next leader's.  The supervisor leads the process group; when the node
 * dies it kills the group, itself included.  Otherwise it exits as the program did.
 */
static void
supervise(const struct exec_runner *r, int stdin_fd, const struct exec_item *item, pid_t node)
{
	struct sigaction sa = {.sa_handler = on_parent_death};
	int status;
	pid_t pid;

	setpgid(0, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != node)
		_exit(127);	/* the node is already gone */
	pid = fork();
	if (pid < 0)
		_exit(127);
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		exec_program(r, stdin_fd, item);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(127);
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
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0) {
		ev_timer_stop(loop, &r->child_timer);
		r->child_pid = 0;
		if (++r->index < r->size)
			run_child(r);
		else
			finish(r, NULL);
		return;
	}
	if (WIFEXITED(w->rstatus))
		snprintf(why, sizeof(why), "handler_exec exited with status %d", WEXITSTATUS(w->rstatus));
	else if (WIFSIGNALED(w->rstatus) && r->child_timed_out)
		snprintf(why, sizeof(why), "handler_exec timed out after %lu ms", r->timeout_ms);
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
	if (r->child_pid > 0) {
		/* The whole group: a shell's own children go too. */
		kill(-r->child_pid, SIGKILL);
		r->child_timed_out = true;
	}
}

static void
run_child(struct exec_runner *r)
{
	struct exec_item item;
	char why[160];
	FILE *input;
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
	log_flush();		/* nothing buffered twice */
	node = getpid();
	pid = fork();
	if (pid < 0) {
		int err = errno;

		fclose(input);
		snprintf(why, sizeof(why), "handler_exec %s", strerror(err));
		finish(r, why);
		return;
	}
	if (pid == 0)
		supervise(r, fileno(input), &item, node);
	fclose(input);
	setpgid(pid, pid);	/* also in the child: whichever runs first */
	r->child_pid = pid;
	r->child_timed_out = false;
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
exec_runner_busy(const struct exec_runner *r)
{
	return r->size > 0;
}

void
exec_runner_abort(struct exec_runner *r)
{
	if (r->child_pid > 0)
		kill(-r->child_pid, SIGKILL);
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
