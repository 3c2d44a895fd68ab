/* SPDX-License-Identifier: PostgreSQL */
/* Session setup after each connect: schema version, server-side timeouts, the handler's
 * PREPARE; decides whether this node can run at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "db_fault.h"
#include "log.h"
#include "queries.h"
#include "setup.h"

/* The migration that brings the schema to each version. */
static const char *const migration_files[SCHEMA_VERSION + 1] = {
	[1] = "001_cluster_state.sql",
	[2] = "002_members.sql",
	[3] = "003_lease.sql",
	[4] = "004_events.sql",
	[5] = "005_attempts.sql",
	[6] = "006_protocol.sql",
	[7] = "007_quiet_standbys.sql",
	[8] = "008_partitions.sql",
	[9] = "009_partition_rows.sql",
	[10] = "010_tenants.sql",
	[11] = "011_warm_sessions.sql",
	[12] = "012_whole_errors.sql",
	[13] = "013_lossless_moves.sql",
	[14] = "014_history.sql",
	[15] = "015_one_listener.sql",
	[16] = "016_rehearsed_leads.sql",
	[17] = "017_newest_bell.sql",
};

/* What each statement of the setup batch is, to tell who failed. */
enum setup_tag { TAG_VERSION, TAG_SETTING, TAG_MAY_ACT, TAG_PARTITIONS, TAG_PREPARE };

void
setup_files_to_apply(long long from, int to, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (long long v = from + 1; v <= to && v <= SCHEMA_VERSION && used < size; v++)
		used += (size_t) snprintf(buf + used, size - used, "%s%s",
					  v > from + 1 ? " then " : "", migration_files[v]);
}

static void
read_version(void *ctx, const PGresult *res)
{
	struct setup *s = ctx;

	if (PQntuples(res) < 1)
		return;
	s->has_version = true;
	s->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	s->session->schema_version = s->version;
}

/* The cluster's partitions and key rule, as recorded (by its first node, or now by us). */
static void
read_partitions(void *ctx, const PGresult *res)
{
	struct setup *s = ctx;

	if (PQntuples(res) < 1 || PQnfields(res) < 2)
		return;
	s->recorded_partitions = atoi(PQgetvalue(res, 0, 0));
	snprintf(s->recorded_rule, sizeof(s->recorded_rule), "%s", PQgetvalue(res, 0, 1));
}

/* K and the key rule are the cluster's, recorded in the database: a node started with
 * others would split the events differently from its peers. */
static bool
partitions_match(struct setup *s)
{
	char rule[PARTITION_RULE_ARG_MAX + 16];

	partition_rule_format(&s->cfg->partition_key, rule, sizeof(rule));
	if (s->recorded_partitions == s->cfg->partitions && strcmp(s->recorded_rule, rule) == 0)
		return true;
	log_error("cluster %s has %d partition(s) with partition_key %s, recorded in "
		  "clustered_nodes.clusters; this node was started with partitions=%d "
		  "partition_key=%s: start it with the cluster's values, or change them "
		  "deliberately (docs/PARTITIONS.md: Changing the partitions)", s->cfg->cluster,
		  s->recorded_partitions, s->recorded_rule, s->cfg->partitions, rule);
	s->hooks->fatal(s->owner, EX_CONFIG, "partitions differ from the cluster's");
	return false;
}

static void send_cluster_checks(struct setup *s);

/* A refused login or a missing grant (roles.sql not applied, or before the migrations it
 * needs): no retry fixes it.  The owner logs it, with its fix, and decides: a node that
 * never registered ends with 77, as --check would; one that has run retries. */
static void
refused(struct setup *s, const char *what, const struct batch_outcome *o)
{
	enum db_fault fault = db_fault_of(o->sqlstate, o->error);
	const char *user = PQuser(s->session->pg.conn);
	char reason[1024];

	snprintf(reason, sizeof(reason), "%s as %s: %s: %s", what, user != NULL ? user : "?",
		 o->error, db_fault_fix(fault));
	s->hooks->refused(s->owner, db_fault_exit_code(fault), reason);
}

/* The schema's version first, alone: what follows may write (cluster_partitions() records
 * the cluster's K), and nothing may be written under a schema this node does not run on. */
static void
on_version_done(void *ctx, const struct batch_outcome *o)
{
	struct setup *s = ctx;
	char files[256];
	int needed = SCHEMA_VERSION_NEEDED(s->cfg->partitions);

	if (o->failed && o->failed_tag == TAG_VERSION &&
	    (strcmp(o->sqlstate, "3F000") == 0 || strcmp(o->sqlstate, "42P01") == 0)) {
		/* 3F000: no such schema; 42P01: no such table. */
		setup_files_to_apply(0, needed, files, sizeof(files));
		log_error("the clustered_nodes schema is missing in this database: apply %s from %s "
			  "(psql -v ON_ERROR_STOP=1 -f FILE, as the schema's owner), then roles.sql",
			  files, db_fault_sql_dir());
		s->hooks->fatal(s->owner, EX_CONFIG, "schema missing");
		return;
	}
	if (s->has_version && s->version < needed) {
		/* What follows the version check may need the newer schema: this comes first. */
		setup_files_to_apply(s->version, needed, files, sizeof(files));
		log_error("the clustered_nodes schema is at version %lld, this node needs %d%s: apply %s "
			  "from %s (psql -v ON_ERROR_STOP=1 -f FILE, as the schema's owner), then "
			  "roles.sql", s->version, needed,
			  needed > SCHEMA_VERSION_SINGLE ? " for partitions" : "", files,
			  db_fault_sql_dir());
		s->hooks->fatal(s->owner, EX_CONFIG, "schema too old");
		return;
	}
	if (o->failed && db_fault_of(o->sqlstate, o->error) != DB_FAULT_NONE) {
		refused(s, "cannot read the clustered_nodes schema", o);
		return;
	}
	if (o->failed || !s->has_version) {
		session_reset(s->session, "schema check failed: %s", o->failed ? o->error : "no version read");
		return;
	}
	send_cluster_checks(s);
}

static void
on_setup_done(void *ctx, const struct batch_outcome *o)
{
	struct setup *s = ctx;

	if (o->failed && o->failed_tag == TAG_MAY_ACT &&
	    strcmp(o->sqlstate, SQLSTATE_MAY_NOT_ACT) == 0) {
		log_error("%s: log in as a member of the cluster's role (docs/SECURITY.md: Tenants)",
			  o->error);
		s->hooks->fatal(s->owner, EX_CONFIG, "login may not act for the cluster");
		return;
	}
	if (o->failed && o->failed_tag == TAG_PREPARE) {
		log_error("handler_sql does not work: %s", o->error);
		s->hooks->fatal(s->owner, EX_CONFIG, "bad handler_sql");
		return;
	}
	if (o->failed && db_fault_of(o->sqlstate, o->error) != DB_FAULT_NONE) {
		refused(s, "the cluster's checks failed", o);
		return;
	}
	if (o->failed) {
		session_reset(s->session, "schema check failed: %s", o->error);
		return;
	}
	if (s->recorded_partitions == 0) {
		session_reset(s->session, "schema check failed: no partitions read");
		return;
	}
	if (partitions_match(s))
		s->hooks->ready(s->owner);
}

void
setup_start(struct setup *s)
{
	const struct fault_timing_text *t = s->timing;
	const char *timeouts[] = {t->keepalive_idle, t->keepalive_interval, t->keepalive_count,
		t->user_timeout};
	struct session *ss = s->session;

	s->has_version = false;
	s->version = 0;
	s->recorded_partitions = 0;
	s->recorded_rule[0] = '\0';
	if (!session_add(ss, TAG_VERSION, 0, SQL_SCHEMA_VERSION, 0, NULL, read_version, s) ||
	    !session_add(ss, TAG_SETTING, 0, SQL_SESSION_TIMEOUTS, 4, timeouts, NULL, NULL) ||
	    !session_add(ss, TAG_SETTING, 0, SQL_CHECK_CLIENT, 0, NULL, NULL, NULL) ||
	    !session_send(ss, on_version_done, s, true))
		return;
	fsm_set(s->fsm, ST_CHECKING, "connected; checking the schema");
}

/* The schema is current: may this login act for the cluster, what K it has, and whether
 * the handler prepares. */
static void
send_cluster_checks(struct setup *s)
{
	const char *cluster[] = {s->cfg->cluster};
	char partitions[12], rule[PARTITION_RULE_ARG_MAX + 16];
	const char *partition_params[] = {s->cfg->cluster, partitions, rule};
	struct session *ss = s->session;

	snprintf(partitions, sizeof(partitions), "%d", s->cfg->partitions);
	partition_rule_format(&s->cfg->partition_key, rule, sizeof(rule));
	if (!session_add(ss, TAG_MAY_ACT, 0, SQL_MAY_ACT, 1, cluster, NULL, NULL) ||
	    !session_add(ss, TAG_PARTITIONS, 0, SQL_CLUSTER_PARTITIONS, 3, partition_params,
			 read_partitions, s))
		return;
	if (s->cfg->handler_sql[0] != '\0') {
		/* Prepared on every session: a statement that cannot work stops us at start. */
		static const Oid types[HANDLER_PARAMS] = HANDLER_PARAM_TYPES;

		if (!session_add_prepare(ss, TAG_PREPARE, HANDLER_STATEMENT, s->cfg->handler_sql,
					 HANDLER_PARAMS, types))
			return;
	}
	session_send(ss, on_setup_done, s, true);
}

void
setup_init(struct setup *s, struct session *session, const struct config *cfg, struct fsm *fsm,
	   const struct fault_timing_text *timing, const struct setup_hooks *hooks, void *owner)
{
	memset(s, 0, sizeof(*s));
	s->session = session;
	s->cfg = cfg;
	s->fsm = fsm;
	s->timing = timing;
	s->hooks = hooks;
	s->owner = owner;
}
