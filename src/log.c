/* One-line, UTC-timestamped log records on stderr, flushed once per loop pass. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"

static enum log_level log_threshold = LEVEL_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static const char *log_node = "";
static char log_buffer[1 << 16];

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
	/* Full buffering: stdio writes when the buffer fills or at log_flush(). */
	setvbuf(stderr, log_buffer, _IOFBF, sizeof(log_buffer));
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
	struct timespec now;
	struct tm tm;
	char stamp[40];
	va_list ap;
	int len;

	if (level > log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = (int) strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Microseconds: latency between nodes and PostgreSQL is read off these. */
	snprintf(stamp + len, sizeof(stamp) - (size_t) len, ".%06ldZ", now.tv_nsec / 1000);

	if (log_format == LOG_FORMAT_TEXT) {
		fprintf(stderr, "%s %s [%s] ", stamp, level_names[level], log_node);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t) len >= sizeof(message))
		len = (int) sizeof(message) - 1;
	fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":", stamp, level_names[level]);
	json_write_string(stderr, log_node);
	fputs(",\"msg\":\"", stderr);
	json_write_escaped(stderr, message, (size_t) len);
	fputs("\"}\n", stderr);
}

void
log_flush(void)
{
	fflush(stderr);
}
