/* One-line, UTC-timestamped log records on stderr, flushed once per loop pass. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static enum log_level log_threshold = LEVEL_INFO;
static const char *log_node = "";
static char log_buffer[1 << 16];

static const char *const level_names[] = {
	[LEVEL_ERROR] = "error",
	[LEVEL_WARN] = "warn",
	[LEVEL_INFO] = "info",
	[LEVEL_DEBUG] = "debug",
};

void
log_init(enum log_level threshold, const char *node)
{
	log_threshold = threshold;
	log_node = node;
	/* Full buffering: stdio writes when the buffer fills or at log_flush(). */
	setvbuf(stderr, log_buffer, _IOFBF, sizeof(log_buffer));
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	struct timespec now;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (level > log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Microseconds: latency between nodes and PostgreSQL is read off these. */
	fprintf(stderr, "%s.%06ldZ %s [%s] ", stamp, now.tv_nsec / 1000,
		level_names[level], log_node);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
log_flush(void)
{
	fflush(stderr);
}
