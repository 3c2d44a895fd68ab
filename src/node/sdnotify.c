/* SPDX-License-Identifier: PostgreSQL */
/* systemd's notification protocol over $NOTIFY_SOCKET (the documented datagram protocol;
 * no libsystemd needed).  Sends never block: a full socket buffer drops the message,
 * which systemd tolerates (a missed WATCHDOG=1 is followed by the next one). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

static void
send_message(struct sdnotify *sd, const char *message)
{
	struct sockaddr_un addr;
	socklen_t len;
	size_t path_len = strlen(sd->path);

	if (sd->fd < 0)
		return;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, sd->path, path_len);
	if (sd->path[0] == '@')
		addr.sun_path[0] = '\0';	/* the abstract namespace: no terminating NUL */
	len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + path_len +
			   (sd->path[0] == '@' ? 0 : 1));
	if (sendto(sd->fd, message, strlen(message), MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *) &addr, len) < 0 && errno != EAGAIN)
		log_debug("systemd notification \"%.40s\" not sent: %s", message, strerror(errno));
}

void
sdnotify_init(struct sdnotify *sd)
{
	const char *socket_path = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	memset(sd, 0, sizeof(*sd));
	sd->fd = -1;
	/* The watchdog is ours unless systemd named another process. */
	if (usec != NULL && (pid == NULL || strtol(pid, NULL, 10) == (long) getpid()))
		sd->watchdog_usec = strtoul(usec, NULL, 10);
	if (socket_path != NULL && socket_path[0] != '\0') {
		if ((socket_path[0] != '/' && socket_path[0] != '@') ||
		    strlen(socket_path) >= sizeof(sd->path))
			log_warn("NOTIFY_SOCKET=%s is not a socket path systemd would give: ignored",
				 socket_path);
		else if ((sd->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			log_warn("cannot open a socket for systemd notifications: %s", strerror(errno));
		else
			snprintf(sd->path, sizeof(sd->path), "%s", socket_path);
	}
	if (sd->fd < 0)
		sd->watchdog_usec = 0;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void
sdnotify_close(struct sdnotify *sd)
{
	if (sd->fd >= 0)
		close(sd->fd);
	sd->fd = -1;
}

bool
sdnotify_enabled(const struct sdnotify *sd)
{
	return sd->fd >= 0;
}

void
sdnotify_ready(struct sdnotify *sd)
{
	if (sd->ready_sent || sd->fd < 0)
		return;
	sd->ready_sent = true;
	send_message(sd, "READY=1");
}

void
sdnotify_status(struct sdnotify *sd, const char *text)
{
	char message[sizeof(sd->status) + 8];

	if (sd->fd < 0 || strcmp(sd->status, text) == 0)
		return;
	snprintf(sd->status, sizeof(sd->status), "%s", text);
	snprintf(message, sizeof(message), "STATUS=%s", sd->status);
	send_message(sd, message);
}

void
sdnotify_stopping(struct sdnotify *sd)
{
	send_message(sd, "STOPPING=1");
}

void
sdnotify_watchdog(struct sdnotify *sd)
{
	send_message(sd, "WATCHDOG=1");
}
