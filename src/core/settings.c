/* SPDX-License-Identifier: PostgreSQL */
/* The node's settings: one table drives the command line, the config file,
 * the environment, --help and reload. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "duration.h"
#include "listen_addr.h"
#include "event_route.h"
#include "handler_sql.h"
#include "settings.h"

#define HOUR_MS (3600UL * 1000)

static bool
replace_string(char **slot, const char *text, const char **why)
{
	char *copy = strdup(text);

	if (copy == NULL) {
		*why = "out of memory";
		return false;
	}
	free(*slot);
	*slot = copy;
	return true;
}

static bool
apply_name(char **slot, const char *text, const char **why)
{
	if ((*why = name_problem(text)) != NULL)
		return false;
	return replace_string(slot, text, why);
}

static bool
apply_node(struct config *c, const char *text, const char **why)
{
	return apply_name(&c->node, text, why);
}

static bool
apply_cluster(struct config *c, const char *text, const char **why)
{
	return apply_name(&c->cluster, text, why);
}

/*
 * libpq's parse errors quote what they could not parse, which may be a password: keep
 * what names the problem, replace every quoted part with "…", stop at the first line.
 */
static void
redact_quoted(char *dst, size_t size, const char *libpq_error)
{
	size_t pos = 0;
	bool quoted = false;

	for (const char *p = libpq_error; *p && *p != '\n' && pos + 8 < size; p++) {
		if (*p == '"') {
			if (!quoted)
				pos += (size_t) snprintf(dst + pos, size - pos, "\"…\"");
			quoted = !quoted;
		} else if (!quoted)
			dst[pos++] = *p;
	}
	dst[pos] = '\0';
}

/* Rejects what libpq cannot parse now, rather than at every reconnect; never shows it. */
static bool
apply_dbname(struct config *c, const char *text, const char **why)
{
	static char reason[256];
	char *err = NULL;
	PQconninfoOption *parsed;

	if (text[0] != '\0') {
		parsed = PQconninfoParse(text, &err);
		if (parsed == NULL) {
			char part[200];

			redact_quoted(part, sizeof(part), err ? err : "out of memory");
			snprintf(reason, sizeof(reason), "is not a valid connection string (%s)", part);
			PQfreemem(err);
			*why = reason;
			return false;
		}
		PQconninfoFree(parsed);
	}
	return replace_string(&c->dbname, text, why);
}

/* Comma-separated in files and the environment; blanks around names are dropped. */
static bool
apply_listen(struct config *c, const char *text, const char **why)
{
	char *copy = strdup(text), *save = NULL;
	const char *names[MAX_CHANNELS + 1];
	int n = 0;
	bool ok;

	if (copy == NULL) {
		*why = "out of memory";
		return false;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (n == MAX_CHANNELS) {
			free(copy);
			*why = "lists more than 64 channels";
			return false;
		}
		names[n++] = tok;
	}
	if (n == 0)
		names[n++] = "";	/* reported as "is empty" */
	ok = config_set_channels(c, names, n, why);
	free(copy);
	return ok;
}

static bool
apply_duration(unsigned long *slot, const char *text, unsigned long min_ms,
	       unsigned long max_ms, const char *range, const char **why)
{
	if (!parse_duration_ms(text, min_ms, max_ms, slot, why)) {
		if (strcmp(*why, "is out of range") == 0)
			*why = range;
		return false;
	}
	return true;
}

static bool
apply_poll_interval(struct config *c, const char *text, const char **why)
{
	return apply_duration(&c->poll_interval_ms, text, 1, HOUR_MS,
			      "is out of range (1ms to 1h)", why);
}

static bool
apply_heartbeat_interval(struct config *c, const char *text, const char **why)
{
	return apply_duration(&c->heartbeat_interval_ms, text, 100, HOUR_MS,
			      "is out of range (100ms to 1h)", why);
}

static bool
apply_session_timeout(struct config *c, const char *text, const char **why)
{
	return apply_duration(&c->session_timeout_ms, text, 3000, HOUR_MS,
			      "is out of range (3s to 1h)", why);
}

static bool
apply_lease_timeout(struct config *c, const char *text, const char **why)
{
	if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0) {
		c->lease_timeout_ms = 0;
		return true;
	}
	return apply_duration(&c->lease_timeout_ms, text, 1000, HOUR_MS,
			      "is out of range (1s to 1h, or off)", why);
}

static bool
apply_handler_sql(struct config *c, const char *text, const char **why)
{
	if ((*why = handler_sql_problem(text)) != NULL)
		return false;	/* it would break the step or the session it runs on */
	return replace_string(&c->handler_sql, text, why);
}

static bool
apply_handler_exec(struct config *c, const char *text, const char **why)
{
	return replace_string(&c->handler_exec, text, why);
}

static bool
apply_handler_timeout(struct config *c, const char *text, const char **why)
{
	return apply_duration(&c->handler_timeout_ms, text, 100, HOUR_MS,
			      "is out of range (100ms to 1h)", why);
}

/* A whole number from min to max (range: how an error names that). */
static bool
apply_count(unsigned long *slot, const char *text, unsigned long min, unsigned long max,
	    const char *range, const char **why)
{
	char *end;
	unsigned long value;

	if (text[0] < '0' || text[0] > '9' || (value = strtoul(text, &end, 10), *end != '\0') ||
	    value < min || value > max) {
		*why = range;
		return false;
	}
	*slot = value;
	return true;
}

static bool
apply_max_attempts(struct config *c, const char *text, const char **why)
{
	return apply_count(&c->max_attempts, text, 1, 100, "must be a whole number from 1 to 100",
			   why);
}

static bool
apply_transient_retries(struct config *c, const char *text, const char **why)
{
	return apply_count(&c->transient_retries, text, 0, 1000,
			   "must be a whole number from 0 to 1000", why);
}

static bool
apply_backlog_limit(struct config *c, const char *text, const char **why)
{
	if (!parse_size_bytes(text, 1024 * 1024, 1024UL * 1024 * 1024 * 64, &c->backlog_limit,
			      why)) {
		if (strcmp(*why, "is out of range") == 0)
			*why = "is out of range (1MB to 64GB)";
		return false;
	}
	return true;
}

static bool
apply_partitions(struct config *c, const char *text, const char **why)
{
	char *end;
	unsigned long value;

	if (text[0] < '0' || text[0] > '9' || (value = strtoul(text, &end, 10), *end != '\0') ||
	    value < 1 || value > MAX_PARTITIONS) {
		*why = "must be a whole number from 1 to 64";
		return false;
	}
	c->partitions = (int) value;
	return true;
}

static bool
apply_partition_key(struct config *c, const char *text, const char **why)
{
	return partition_rule_parse(text, &c->partition_key, why);
}

static bool
apply_acquire(struct config *c, const char *text, const char **why)
{
	if (strcmp(text, "poll") == 0)
		c->acquire = ACQUIRE_POLL;
	else if (strcmp(text, "wait") == 0)
		c->acquire = ACQUIRE_WAIT;
	else {
		*why = "is not a mode (use poll or wait)";
		return false;
	}
	return true;
}

static bool
apply_log_level(struct config *c, const char *text, const char **why)
{
	if (!log_level_parse(text, &c->log_level)) {
		*why = "is not a level (use error, warn, info or debug)";
		return false;
	}
	return true;
}

static bool
apply_log_format(struct config *c, const char *text, const char **why)
{
	if (strcmp(text, "text") == 0)
		c->log_format = LOG_FORMAT_TEXT;
	else if (strcmp(text, "json") == 0)
		c->log_format = LOG_FORMAT_JSON;
	else {
		*why = "is not a format (use text or json)";
		return false;
	}
	return true;
}

static bool
apply_http(struct config *c, const char *text, const char **why)
{
	char host[256], port[8];

	if (text[0] != '\0' && strcmp(text, "off") != 0 &&
	    !listen_addr_parse(text, host, sizeof(host), port, sizeof(port), why))
		return false;
	return replace_string(&c->http, strcmp(text, "off") == 0 ? "" : text, why);
}

/* Names, comma-separated, as a Host header carries them (letters, digits, '-', '.'). */
static bool
apply_http_hosts(struct config *c, const char *text, const char **why)
{
	for (const char *p = text; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '.' || *p == ',' || *p == ' ')) {
			*why = "must be host names separated by commas";
			return false;
		}
	return replace_string(&c->http_hosts, text, why);
}

static void
show_http_hosts(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->http_hosts[0] ? c->http_hosts : "(none)");
}

static void
show_http(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->http[0] ? c->http : "off");
}

static void
show_node(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->node);
}

static void
show_cluster(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->cluster);
}

/* Never the conninfo itself: it may carry a password. */
static void
show_dbname(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "(%zu bytes, not shown)", strlen(c->dbname));
}

static void
show_listen(const struct config *c, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < c->nchannels && used < size; i++)
		used += (size_t) snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					  c->channels[i]);
}

static void
show_ms(unsigned long ms, char *buf, size_t size)
{
	snprintf(buf, size, "%lums", ms);
}

static void
show_poll_interval(const struct config *c, char *buf, size_t size)
{
	show_ms(c->poll_interval_ms, buf, size);
}

static void
show_heartbeat_interval(const struct config *c, char *buf, size_t size)
{
	show_ms(c->heartbeat_interval_ms, buf, size);
}

static void
show_session_timeout(const struct config *c, char *buf, size_t size)
{
	show_ms(c->session_timeout_ms, buf, size);
}

static void
show_lease_timeout(const struct config *c, char *buf, size_t size)
{
	if (c->lease_timeout_ms == 0)
		snprintf(buf, size, "off");
	else
		show_ms(c->lease_timeout_ms, buf, size);
}

static void
show_handler_sql(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->handler_sql[0] ? c->handler_sql : "(none)");
}

static void
show_handler_exec(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->handler_exec[0] ? c->handler_exec : "(none)");
}

static void
show_handler_timeout(const struct config *c, char *buf, size_t size)
{
	show_ms(c->handler_timeout_ms, buf, size);
}

static void
show_max_attempts(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%lu", c->max_attempts);
}

static void
show_transient_retries(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%lu", c->transient_retries);
}

static void
show_backlog_limit(const struct config *c, char *buf, size_t size)
{
	if (c->backlog_limit % (1024 * 1024) == 0)
		snprintf(buf, size, "%luMB", c->backlog_limit / (1024 * 1024));
	else
		snprintf(buf, size, "%luB", c->backlog_limit);
}

static void
show_partitions(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%d", c->partitions);
}

static void
show_partition_key(const struct config *c, char *buf, size_t size)
{
	partition_rule_format(&c->partition_key, buf, size);
}

static void
show_acquire(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->acquire == ACQUIRE_WAIT ? "wait" : "poll");
}

static void
show_log_level(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", log_level_name(c->log_level));
}

static void
show_log_format(const struct config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", c->log_format == LOG_FORMAT_JSON ? "json" : "text");
}

const struct setting settings[] = {
	{"node", 'n', "NAME", false, NULL,
	 "this node's name, unique in the cluster", apply_node, show_node, "the short host name"},
	{"dbname", 'd', "CONNINFO", false, "",
	 "libpq connection string or URI; what it leaves out comes from PG* variables "
	 "and ~/.pgpass, as in psql", apply_dbname, show_dbname, "empty: libpq's PG* defaults"},
	{"cluster", 'c', "NAME", false, DEFAULT_CLUSTER,
	 "the cluster this node belongs to", apply_cluster, show_cluster, NULL},
	{"listen", 'l', "CHANNEL", false, DEFAULT_CHANNEL,
	 "a channel the leader LISTENs on; repeat the option for more (at most 64); "
	 "in a file or the environment, a comma-separated list", apply_listen, show_listen, NULL},
	{"partitions", 0, "K", false, "1",
	 "split the work into K partitions (1 to 64), each led by one node, spread evenly over "
	 "the live nodes; fixed when the cluster is created (docs/PARTITIONS.md)",
	 apply_partitions, show_partitions, "1: one leader does all the work"},
	{"partition_key", 0, "RULE", false, "payload",
	 "what an event's partition is computed from: 'payload', 'prefix:SEP' (the text before "
	 "the first SEP) or 'json:FIELD' (a top-level field); fixed with the partitions",
	 apply_partition_key, show_partition_key, NULL},
	{"poll_interval", 'p', "TIME", true, "100ms",
	 "how often a standby tries a lock held by a session that holds no handoff key",
	 apply_poll_interval, show_poll_interval, NULL},
	{"acquire", 'a', "MODE", false, "poll",
	 "kept for old configurations: both wait on the leader's handoff key; with 'wait' a stop "
	 "during a wait closes the session at once instead of deregistering after it",
	 apply_acquire, show_acquire, NULL},
	{"heartbeat_interval", 0, "TIME", true, "5s",
	 "how often a node refreshes its row in clustered_nodes.members",
	 apply_heartbeat_interval, show_heartbeat_interval, NULL},
	{"log_level", 0, "LEVEL", true, "info",
	 "error, warn, info or debug", apply_log_level, show_log_level, NULL},
	{"log_format", 0, "FORMAT", true, "text",
	 "text, or json (one object per line)", apply_log_format, show_log_format, NULL},
	{"session_timeout", 0, "TIME", false, "10s",
	 "the server ends a vanished node's session, freeing its lock, within this; a leader "
	 "without answers stops processing well before", apply_session_timeout,
	 show_session_timeout, NULL},
	{"lease_timeout", 0, "TIME", false, "10s",
	 "a standby ends the session of a leader that has not renewed its lease for this long "
	 "(hung or stopped); 'off' never evicts", apply_lease_timeout, show_lease_timeout, NULL},
	{"handler_sql", 0, "STATEMENT", false, "",
	 "SQL run in each step's transaction for each event, with $1 channel, $2 payload, "
	 "$3 counter, $4 term, $5 node, $6 partition: its effects commit with the counter, "
	 "exactly once; not a transaction command, LISTEN, UNLISTEN, RESET, DISCARD or SET "
	 "without LOCAL",
	 apply_handler_sql, show_handler_sql, "none"},
	{"handler_exec", 0, "PROGRAM", false, "",
	 "a program (run by /bin/sh -c) per event before its step commits: payload on "
	 "stdin, CLUSTERED_NODES_CHANNEL, _COUNTER, _TERM, _NODE, _PARTITION, _EVENT_ID in its "
	 "environment; "
	 "exit 0 commits the step (at-least-once)", apply_handler_exec, show_handler_exec, "none"},
	{"handler_timeout", 0, "TIME", false, "30s",
	 "an exec handler still running after this is killed and counts as failed",
	 apply_handler_timeout, show_handler_timeout, NULL},
	{"max_attempts", 0, "N", false, "5",
	 "handler failures (with backoff) before an event goes to clustered_nodes.dead_letters",
	 apply_max_attempts, show_max_attempts, NULL},
	{"transient_retries", 0, "N", false, "10",
	 "transient handler failures (serialization failure, deadlock, lock or statement "
	 "timeout; an exec program's exit 75) retried, 0.5 s doubling to 10 s, before they "
	 "count toward max_attempts",
	 apply_transient_retries, show_transient_retries, NULL},
	{"backlog_limit", 0, "SIZE", false, "64MB",
	 "memory for received notifications not yet processed; beyond it the leader drops new "
	 "plain notifications, counts and logs them (durable events are never dropped)",
	 apply_backlog_limit, show_backlog_limit, NULL},
	{"http", 0, "ADDR:PORT", false, "off",
	 "serve /healthz, /readyz, /status, /metrics and a status page there; a bare port "
	 "binds 127.0.0.1", apply_http, show_http, NULL},
	{"http_hosts", 0, "NAMES", false, "",
	 "names besides IP literals, localhost and this host's name that requests to the status "
	 "endpoint may carry in Host (comma-separated); others get 421", apply_http_hosts,
	 show_http_hosts, "none"},
};

const size_t settings_count = sizeof(settings) / sizeof(settings[0]);

const char *
setting_default_shown(const struct setting *s)
{
	return s->default_shown ? s->default_shown : s->default_value;
}

const struct setting *
setting_by_key(const char *key)
{
	for (size_t i = 0; i < settings_count; i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

bool
config_set_channels(struct config *c, const char *const *channels, int n, const char **why)
{
	char *copies[MAX_CHANNELS];

	if (n > MAX_CHANNELS) {
		*why = "is given more than 64 times";
		return false;
	}
	for (int i = 0; i < n; i++) {
		if ((*why = channel_problem(channels[i])) != NULL)
			return false;
		for (int j = 0; j < i; j++)
			if (strcmp(channels[i], channels[j]) == 0) {
				*why = "names a channel twice";
				return false;
			}
	}
	for (int i = 0; i < n; i++)
		if ((copies[i] = strdup(channels[i])) == NULL) {
			while (i-- > 0)
				free(copies[i]);
			*why = "out of memory";
			return false;
		}
	for (int i = 0; i < c->nchannels; i++)
		free(c->channels[i]);
	memcpy(c->channels, copies, (size_t) n * sizeof(copies[0]));
	c->nchannels = n;
	return true;
}
