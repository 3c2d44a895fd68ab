/* SPDX-License-Identifier: PostgreSQL */
/* What a database error means for the operator.  A refused login, a missing grant or a
 * database that does not exist need someone to fix them: retrying cannot; a node that
 * never had a working session ends on them with a documented exit status (--check,
 * status and history too), and says what fixes them.  Anything else may pass. */
#ifndef CN_DB_FAULT_H
#define CN_DB_FAULT_H

enum db_fault {
	DB_FAULT_NONE,		/* transient, or not one we can name: retry */
	DB_FAULT_LOGIN,		/* authentication refused: password, pg_hba.conf, the role */
	DB_FAULT_PERMISSION,	/* permission denied (SQLSTATE 42501) */
	DB_FAULT_NO_DATABASE,	/* the database named does not exist (3D000) */
};

/* From an error's SQLSTATE when there is one (a query's), else from the text libpq gives
 * for a failed connection attempt (it carries no SQLSTATE): the server's English
 * messages and libpq's own. */
enum db_fault db_fault_of(const char *sqlstate, const char *message);
/* 77 (EX_NOPERM) for a refused login or a missing grant, 78 (EX_CONFIG) for a database
 * that does not exist, 0 for DB_FAULT_NONE. */
int db_fault_exit_code(enum db_fault fault);
/* What fixes it, one sentence without a final period. */
const char *db_fault_fix(enum db_fault fault);
/* Where the package keeps the migrations and roles.sql, ending in "/", or "sql/" when
 * neither the build's DATADIR nor /usr/share has them (a source tree). */
const char *db_fault_sql_dir(void);

#endif
