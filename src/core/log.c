/* SPDX-License-Identifier: PostgreSQL */
/* One-line, UTC-timestamped log records on stderr, flushed once per loop pass.
 *
 * Records go into an in-memory stream; log_flush() writes what stderr takes
 * without waiting (poll() first, at most PIPE_BUF bytes a write, so a write
 * to a pipe that polled writable cannot block).  A log reader that stalls
 * therefore never stalls the node's loop: records wait in memory, up to
 * LOG_BACKLOG_MAX bytes, beyond which they are counted and dropped.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "json.h"
#include "log.h"

#define LOG_BACKLOG_MAX (8 << 20)

static enum log_level log_threshold = LEVEL_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static const char *log_node = "";
static FILE *log_stream;	/* the backlog: an open_memstream */
static char *log_backlog;
static size_t log_backlog_size;
static size_t log_written;	/* of the backlog, already on stderr */
static unsigned long log_dropped;

static const char *const level_names[] = {
	[LEVEL_ERROR] = "error",
	[LEVEL_WARN] = "warn",
	[LEVEL_INFO] = "info",
	[LEVEL_DEBUG] = "debug",
};

void
log_init(const char *node)
{
	log_node = node;
	log_stream = open_memstream(&log_backlog, &log_backlog_size);
}

/* Where a record goes: the backlog, or stderr itself if there is none. */
static FILE *
log_out(void)
{
	return log_stream ? log_stream : stderr;
}

void
log_set_level(enum log_level threshold)
{
	log_threshold = threshold;
}

void
log_set_format(enum log_format format)
{
	log_format = format;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

bool
log_level_parse(const char *text, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(text, level_names[i]) == 0) {
			*out = (enum log_level) i;
			return true;
		}
	return false;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	/* Large enough for a maximal payload escaped four times over. */
	static char message[40 * 1024];
	static char shown[ESCAPE_MAX_LEN(sizeof(message))];
	struct timespec now;
	struct tm tm;
	char stamp[40];
	va_list ap;
	int len;

	if (level > log_threshold)
		return;
	if (log_stream && ftello(log_stream) > LOG_BACKLOG_MAX) {
		log_dropped++;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = (int) strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Microseconds: latency between nodes and PostgreSQL is read off these. */
	snprintf(stamp + len, sizeof(stamp) - (size_t) len, ".%06ldZ", now.tv_nsec / 1000);

	va_start(ap, fmt);
	len = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t) len >= sizeof(message))
		len = (int) sizeof(message) - 1;
	if (log_format == LOG_FORMAT_TEXT) {
		/* Whatever a record quotes (a server's error message may carry a payload) reaches
		 * the reader's terminal without controls, escapes or bidi overrides, on one line. */
		escape_hazards(shown, sizeof(shown), message, (size_t) len);
		fprintf(log_out(), "%s %s [%s] %s\n", stamp, level_names[level], log_node, shown);
		return;
	}
	fprintf(log_out(), "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":", stamp, level_names[level]);
	json_write_string(log_out(), log_node);
	fputs(",\"msg\":\"", log_out());
	json_write_escaped(log_out(), message, (size_t) len);
	fputs("\"}\n", log_out());
}

/* Writes backlog to stderr; waits up to timeout_ms for it to become writable (0: never). */
static void
write_backlog(int timeout_ms)
{
	struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};

	if (log_stream == NULL) {
		fflush(stderr);
		return;
	}
	fflush(log_stream);
	while (log_written < log_backlog_size) {
		size_t chunk = log_backlog_size - log_written;
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0 || !(pfd.revents & POLLOUT))
			return;	/* not now: the rest waits for the next pass */
		if (chunk > PIPE_BUF)
			chunk = PIPE_BUF;
		n = write(STDERR_FILENO, log_backlog + log_written, chunk);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_written = log_backlog_size;	/* stderr is gone: nothing to keep */
			break;
		}
		log_written += (size_t) n;
	}
	/* All out: start the backlog over. */
	rewind(log_stream);
	fflush(log_stream);
	log_written = 0;
	if (log_dropped > 0) {
		unsigned long dropped = log_dropped;

		log_dropped = 0;
		log_warn("%lu log records were dropped while stderr did not take them", dropped);
	}
}

void
log_flush(void)
{
	write_backlog(0);
}

void
log_drain(void)
{
	write_backlog(1000);
	if (log_stream) {
		fclose(log_stream);
		log_stream = NULL;
		free(log_backlog);
		log_backlog = NULL;
	}
}
