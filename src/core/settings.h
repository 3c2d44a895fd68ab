/* SPDX-License-Identifier: PostgreSQL */
/* The node's settings: one table drives the command line, the config file,
 * the environment, --help and reload. */
#ifndef CN_SETTINGS_H
#define CN_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "names.h"
#include "event_route.h"

#define MAX_CHANNELS 64
#define DEFAULT_CLUSTER "default"
#define DEFAULT_CHANNEL "test_channel"
#define ENV_PREFIX "CLUSTERED_NODES_"

/* How a standby competes for the leader lock. */
enum acquire_mode {
	ACQUIRE_POLL,		/* pg_try_advisory_lock every poll interval */
	ACQUIRE_WAIT,		/* queue in pg_advisory_lock; woken by the release */
};

struct config {
	char *node;
	char *dbname;		/* conninfo or URI; "" = libpq's PG* defaults */
	char *cluster;
	char *channels[MAX_CHANNELS];
	int nchannels;
	int partitions;		/* K: 1 is the single-leader mode */
	struct partition_rule partition_key;	/* how an event's key comes from its payload */
	unsigned long poll_interval_ms;
	enum acquire_mode acquire;
	unsigned long heartbeat_interval_ms;
	enum log_level log_level;
	enum log_format log_format;
	char *http;		/* listen address of the status endpoint; "" = off */
	char *http_hosts;	/* further names the endpoint answers to in Host, comma-separated */
	unsigned long session_timeout_ms;	/* the server frees a vanished node's lock within this */
	unsigned long lease_timeout_ms;	/* evict a leader whose lease expired this long ago; 0 = never */
	char *handler_sql;	/* run in each step's transaction per event; "" = none */
	unsigned long max_attempts;	/* handler failures before an event is dead-lettered */
	unsigned long transient_retries;	/* transient failures that are not counted */
	char *handler_exec;	/* program run per event before its step commits; "" = none */
	unsigned long handler_timeout_ms;	/* an exec handler running longer is killed */
	unsigned long backlog_limit;	/* bytes of received, unprocessed notifications kept */
};

struct setting {
	const char *key;	/* config key; --key with '-' for '_'; CLUSTERED_NODES_KEY */
	char short_option;	/* or 0 */
	const char *argument;	/* what --help calls the value */
	bool reloadable;	/* SIGHUP applies it without a restart */
	/* The default, as apply() takes it; NULL when it is computed (the node name). */
	const char *default_value;
	const char *help;
	/* Validates and stores text; false with a short reason. */
	bool (*apply)(struct config *c, const char *text, const char **why);
	/* Writes the value as an operator would write it. */
	void (*show)(const struct config *c, char *buf, size_t size);
	/* How --help describes the default, where default_value alone would not say it. */
	const char *default_shown;
};

extern const struct setting settings[];
extern const size_t settings_count;

const struct setting *setting_by_key(const char *key);
/* The default as --help shows it. */
const char *setting_default_shown(const struct setting *s);

/* Replaces the channel list (each validated, no duplicates). */
bool config_set_channels(struct config *c, const char *const *channels, int n,
			 const char **why);

#endif
