/* SPDX-License-Identifier: PostgreSQL */
/* Naming a database error's cause for the operator (db_fault.h).  libpq gives a failed
 * connection attempt as text only; the phrases below are those of the PostgreSQL server
 * (auth.c, postinit.c) and of libpq in English, the language of a server whose
 * lc_messages is C or en_*.  A translated message is not recognised: the node then
 * retries, as it did before, and the text it logs still says what happened. */
#include <stdbool.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "db_fault.h"

#ifndef CN_SQLDIR
#define CN_SQLDIR "/usr/local/share/clustered_nodes/sql/"
#endif

static bool
mentions(const char *message, const char *const *phrases)
{
	for (; *phrases != NULL; phrases++)
		if (strstr(message, *phrases) != NULL)
			return true;
	return false;
}

enum db_fault
db_fault_of(const char *sqlstate, const char *message)
{
	static const char *const login[] = {
		"authentication failed for user",	/* password, md5, scram, peer, ident, ... */
		"no password supplied",			/* libpq: none in the string or ~/.pgpass */
		"no pg_hba.conf entry for",
		"pg_hba.conf rejects connection",
		"is not permitted to log in",
		NULL,
	};
	/* CONNECT on the database; USAGE, SELECT, EXECUTE on the schema's objects (the
	 * setup's own message, retried by a node that has run, goes through here too). */
	static const char *const permission[] = {"permission denied for ", NULL};
	static const char *const no_database[] = {"\" does not exist", NULL};

	if (sqlstate != NULL && sqlstate[0] != '\0') {
		if (strcmp(sqlstate, "42501") == 0)
			return DB_FAULT_PERMISSION;
		if (strcmp(sqlstate, "28P01") == 0 || strcmp(sqlstate, "28000") == 0)
			return DB_FAULT_LOGIN;
		if (strcmp(sqlstate, "3D000") == 0)
			return DB_FAULT_NO_DATABASE;
		return DB_FAULT_NONE;
	}
	if (message == NULL)
		return DB_FAULT_NONE;
	if (mentions(message, login))
		return DB_FAULT_LOGIN;
	if (mentions(message, permission))
		return DB_FAULT_PERMISSION;
	/* At login, `role "x" does not exist` is a refused login; `database "x" ...` not. */
	if (strstr(message, "FATAL:  role \"") != NULL && mentions(message, no_database))
		return DB_FAULT_LOGIN;
	if (strstr(message, "FATAL:  database \"") != NULL && mentions(message, no_database))
		return DB_FAULT_NO_DATABASE;
	return DB_FAULT_NONE;
}

int
db_fault_exit_code(enum db_fault fault)
{
	switch (fault) {
	case DB_FAULT_LOGIN:
	case DB_FAULT_PERMISSION:
		return EX_NOPERM;
	case DB_FAULT_NO_DATABASE:
		return EX_CONFIG;
	case DB_FAULT_NONE:
		break;
	}
	return 0;
}

const char *
db_fault_fix(enum db_fault fault)
{
	switch (fault) {
	case DB_FAULT_LOGIN:
		return "check the user and password of dbname and the server's pg_hba.conf; a "
		    "password is read from the ~/.pgpass of the user who runs the program (the "
		    "service's: /var/lib/clustered_nodes/.pgpass, mode 0600; run by hand as that "
		    "user: runuser -u clustered_nodes -- clustered_nodes --check)";
	case DB_FAULT_PERMISSION:
		return "as the schema's owner, apply roles.sql (after every migration) and make the "
		    "node's login a member of clustered_nodes_node: GRANT clustered_nodes_node TO "
		    "the login";
	case DB_FAULT_NO_DATABASE:
		return "check the dbname of the connection string (dbname=... inside it)";
	case DB_FAULT_NONE:
		break;
	}
	return "retrying";
}

const char *
db_fault_sql_dir(void)
{
	static const char *const candidates[] = {
		CN_SQLDIR, "/usr/share/clustered_nodes/sql/", "/usr/local/share/clustered_nodes/sql/",
	};
	static const char *found;

	if (found != NULL)
		return found;
	found = "sql/";
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		char probe[512];
		size_t len = strlen(candidates[i]);

		if (len + sizeof("001_cluster_state.sql") > sizeof(probe))
			continue;
		memcpy(probe, candidates[i], len);
		memcpy(probe + len, "001_cluster_state.sql", sizeof("001_cluster_state.sql"));
		if (access(probe, R_OK) == 0) {
			found = candidates[i];
			break;
		}
	}
	return found;
}
