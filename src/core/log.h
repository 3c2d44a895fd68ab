/* SPDX-License-Identifier: PostgreSQL */
/* One-line, UTC-timestamped log records on stderr, flushed once per loop pass. */
#ifndef CN_LOG_H
#define CN_LOG_H

#include <stdbool.h>

enum log_level {
	LEVEL_ERROR,
	LEVEL_WARN,
	LEVEL_INFO,
	LEVEL_DEBUG,
};

enum log_format {
	LOG_FORMAT_TEXT,	/* 2026-11-27T12:00:00.123456Z info [node1] message */
	LOG_FORMAT_JSON,	/* {"ts":"…","level":"info","node":"node1","msg":"…"} */
};

/* Sets the node name shown on every record and starts the in-memory backlog. */
void log_init(const char *node);
void log_set_level(enum log_level threshold);
void log_set_format(enum log_format format);

const char *log_level_name(enum log_level level);
/* Parses "error", "warn", "info", "debug"; false if it is none of them. */
bool log_level_parse(const char *text, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LEVEL_DEBUG, __VA_ARGS__)

/*
 * Records are buffered and written by log_flush(), which the event loop runs
 * before it waits: one write() per loop pass instead of one per record, so a
 * burst of notifications costs one syscall for its log lines; and it never
 * waits for a slow reader (see log.c).
 */
void log_flush(void);
/* At exit: write everything, waiting a little for a slow reader if need be. */
void log_drain(void);

#endif
