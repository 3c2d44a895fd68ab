/* SPDX-License-Identifier: PostgreSQL */
/* An exec program's output (stdout and stderr): read from a pipe on the loop, never
 * written to the node's own descriptors, and logged line by line, marked with the event,
 * up to a bound per program.  A stalled log reader therefore never stalls a program. */
#ifndef CN_EXEC_OUTPUT_H
#define CN_EXEC_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

/* What one program may have logged; the rest is counted and named in one line. */
#define EXEC_OUTPUT_MAX_BYTES (64 * 1024)
#define EXEC_OUTPUT_LINE_MAX 1024

struct exec_output {
	struct ev_loop *loop;
	ev_io watcher;
	int fd;			/* the pipe's read end, -1 when closed */
	long long counter;	/* the event's counter, named in each line */
	char line[EXEC_OUTPUT_LINE_MAX];
	size_t len;		/* of the line being read */
	size_t logged;		/* bytes of this program logged */
	size_t dropped;		/* ... and beyond the bound */
};

void exec_output_init(struct exec_output *o, struct ev_loop *loop);
/* A new pipe for the program of event `counter`: *write_fd is for the child (close-on-exec;
 * the child puts it on its standard output and error), closed by the caller after fork. */
bool exec_output_open(struct exec_output *o, long long counter, int *write_fd);
/* The program and whatever it started are gone: read what is left, log it, close. */
void exec_output_finish(struct exec_output *o);

#endif
