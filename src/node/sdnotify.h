/* SPDX-License-Identifier: PostgreSQL */
/* systemd's notification protocol, spoken directly (sd_notify(3)): one datagram per
 * message to the AF_UNIX socket named by $NOTIFY_SOCKET.  Outside systemd (no such
 * variable) every call does nothing. */
#ifndef CN_SDNOTIFY_H
#define CN_SDNOTIFY_H

#include <stdbool.h>

struct sdnotify {
	int fd;			/* -1: not under a notify socket */
	char path[108];		/* sun_path; a leading '@' is the abstract namespace */
	unsigned long watchdog_usec;	/* $WATCHDOG_USEC for this process, or 0 */
	bool ready_sent;
	char status[640];	/* the last STATUS= sent */
};

/* Reads and unsets $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (so that programs
 * the node runs do not inherit them), and opens the socket.  Never fails: a socket that
 * cannot be used is logged once and ignored. */
void sdnotify_init(struct sdnotify *sd);
void sdnotify_close(struct sdnotify *sd);

/* True under a notify socket. */
bool sdnotify_enabled(const struct sdnotify *sd);
/* READY=1, once. */
void sdnotify_ready(struct sdnotify *sd);
/* STATUS=text, when it differs from the last one sent. */
void sdnotify_status(struct sdnotify *sd, const char *text);
void sdnotify_stopping(struct sdnotify *sd);
void sdnotify_watchdog(struct sdnotify *sd);

#endif
