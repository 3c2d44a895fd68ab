/* SPDX-License-Identifier: PostgreSQL */
/* What a --handler-sql statement may not be: one that ends or steers the step's
 * transaction, or changes the session the node leads on.  Pure; unit-tested. */
#ifndef CN_HANDLER_SQL_H
#define CN_HANDLER_SQL_H

/*
 * NULL if sql may run as a handler, else why not (a phrase: "ends the step's
 * transaction (ROLLBACK)").  Looks at the statement's first word, after blanks and
 * comments: transaction control (BEGIN, START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT,
 * RELEASE, PREPARE TRANSACTION), LISTEN, UNLISTEN, RESET, DISCARD, and SET other than
 * SET LOCAL.  A function the statement calls is not looked into: what it does to the
 * session is undone or caught in each step (leader_step.c).
 */
const char *handler_sql_problem(const char *sql);

#endif
