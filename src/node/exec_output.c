/* SPDX-License-Identifier: PostgreSQL */
/* An exec program's output, logged line by line on the loop (see exec_output.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "exec_output.h"
#include "log.h"
#include "util.h"

static void
log_line(struct exec_output *o)
{
	char shown[ESCAPE_MAX_LEN(EXEC_OUTPUT_LINE_MAX)];

	if (o->len == 0)
		return;
	if (o->logged + o->len > EXEC_OUTPUT_MAX_BYTES) {
		o->dropped += o->len;
	} else {
		escape_for_log(shown, sizeof(shown), o->line, o->len);
		log_info("handler_exec output (counter=%lld): %s", o->counter, shown);
		o->logged += o->len;
	}
	o->len = 0;
}

enum read_result { READ_MORE, READ_EMPTY, READ_END };

/* Reads what is there: more may follow, nothing is there now, or the end (EOF, or an
 * error: either way the pipe is done). */
static enum read_result
read_some(struct exec_output *o)
{
	char buf[4096];
	ssize_t n = read(o->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return READ_EMPTY;
	if (n <= 0)
		return READ_END;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			log_line(o);
			continue;
		}
		if (o->len == sizeof(o->line))
			log_line(o);	/* a very long line goes out in pieces */
		o->line[o->len++] = buf[i];
	}
	return READ_MORE;
}

static void
close_output(struct exec_output *o)
{
	if (o->fd < 0)
		return;
	ev_io_stop(o->loop, &o->watcher);
	close(o->fd);
	o->fd = -1;
	log_line(o);
	if (o->dropped > 0)
		log_info("handler_exec output (counter=%lld): %zu more bytes not logged (at most %d "
			 "per program)", o->counter, o->dropped, EXEC_OUTPUT_MAX_BYTES);
}

static void
output_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct exec_output *o = container_of(w, struct exec_output, watcher);

	(void) loop;
	(void) revents;
	if (read_some(o) == READ_END)
		close_output(o);
}

void
exec_output_init(struct exec_output *o, struct ev_loop *loop)
{
	memset(o, 0, sizeof(*o));
	o->loop = loop;
	o->fd = -1;
	ev_init(&o->watcher, output_cb);
}

bool
exec_output_open(struct exec_output *o, long long counter, int *write_fd)
{
	int fds[2];

	close_output(o);
	if (pipe(fds) != 0)
		return false;
	/* Close-on-exec both: the program gets the write end only as its stdout and stderr. */
	if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK) != 0) {
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	o->fd = fds[0];
	o->counter = counter;
	o->len = o->logged = o->dropped = 0;
	ev_io_set(&o->watcher, o->fd, EV_READ);
	ev_io_start(o->loop, &o->watcher);
	*write_fd = fds[1];
	return true;
}

void
exec_output_finish(struct exec_output *o)
{
	enum read_result r = READ_MORE;

	while (o->fd >= 0 && (r = read_some(o)) == READ_MORE)
		;
	/* Empty with a writer left (there should be none: the supervisor has swept): the
	 * loop reads the rest, until the next program's pipe replaces this one. */
	if (r == READ_END)
		close_output(o);
}
