/* One-line, UTC-timestamped log records on stderr, flushed once per loop pass. */
#ifndef CN_LOG_H
#define CN_LOG_H

enum log_level {
	LEVEL_ERROR,
	LEVEL_WARN,
	LEVEL_INFO,
	LEVEL_DEBUG,
};

/* Sets the threshold and the node name shown on every record. */
void log_init(enum log_level threshold, const char *node);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LEVEL_DEBUG, __VA_ARGS__)

/*
 * Records are buffered and written by log_flush(), which the event loop runs
 * before it waits: one write() per loop pass instead of one per record, so a
 * burst of notifications costs one syscall for its log lines.
 */
void log_flush(void);

#endif
