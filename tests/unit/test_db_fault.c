/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: naming a database error's cause, from a SQLSTATE or libpq's text. */
#include <string.h>
#include <sysexits.h>

#include "db_fault.h"
#include "suites.h"

static const struct {
	const char *sqlstate, *message;
	enum db_fault expected;
} cases[] = {
	{NULL, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password "
	 "authentication failed for user \"node\"", DB_FAULT_LOGIN},
	{NULL, "connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: "
	 "fe_sendauth: no password supplied", DB_FAULT_LOGIN},
	{NULL, "connection to server at \"10.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf "
	 "entry for host \"10.0.0.2\", user \"node\", database \"app\", no encryption",
	 DB_FAULT_LOGIN},
	{NULL, "FATAL:  pg_hba.conf rejects connection for host \"[local]\", user \"x\"",
	 DB_FAULT_LOGIN},
	{NULL, "FATAL:  Peer authentication failed for user \"node\"", DB_FAULT_LOGIN},
	{NULL, "FATAL:  role \"nobody\" does not exist", DB_FAULT_LOGIN},
	{NULL, "FATAL:  role \"producer\" is not permitted to log in", DB_FAULT_LOGIN},
	{NULL, "FATAL:  database \"ap\" does not exist", DB_FAULT_NO_DATABASE},
	{NULL, "FATAL:  permission denied for database \"app\" DETAIL:  User does not have "
	 "CONNECT privilege.", DB_FAULT_PERMISSION},
	{NULL, "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused",
	 DB_FAULT_NONE},
	{NULL, "FATAL:  the database system is starting up", DB_FAULT_NONE},
	{NULL, "timed out while connecting", DB_FAULT_NONE},
	/* a payload or name that merely contains the words is not a login's refusal */
	{NULL, "session lost: server closed the connection unexpectedly", DB_FAULT_NONE},
	{NULL, NULL, DB_FAULT_NONE},
	{"42501", "permission denied for schema clustered_nodes", DB_FAULT_PERMISSION},
	/* the setup's own message, as a node that has run retries it */
	{NULL, "cannot read the clustered_nodes schema as x: permission denied for schema "
	 "clustered_nodes: as the schema's owner, apply roles.sql", DB_FAULT_PERMISSION},
	{"28P01", "anything", DB_FAULT_LOGIN},
	{"3D000", "anything", DB_FAULT_NO_DATABASE},
	/* a SQLSTATE decides: the text of another error is not read */
	{"P0001", "permission denied for database \"x\"", DB_FAULT_NONE},
	{"", "FATAL:  database \"ap\" does not exist", DB_FAULT_NO_DATABASE},
};

START_TEST(test_classify)
{
	ck_assert_int_eq(db_fault_of(cases[_i].sqlstate, cases[_i].message), cases[_i].expected);
}
END_TEST

START_TEST(test_exit_codes_and_fixes)
{
	ck_assert_int_eq(db_fault_exit_code(DB_FAULT_LOGIN), EX_NOPERM);
	ck_assert_int_eq(db_fault_exit_code(DB_FAULT_PERMISSION), EX_NOPERM);
	ck_assert_int_eq(db_fault_exit_code(DB_FAULT_NO_DATABASE), EX_CONFIG);
	ck_assert_int_eq(db_fault_exit_code(DB_FAULT_NONE), 0);
	ck_assert_ptr_nonnull(strstr(db_fault_fix(DB_FAULT_LOGIN), ".pgpass"));
	ck_assert_ptr_nonnull(strstr(db_fault_fix(DB_FAULT_PERMISSION), "roles.sql"));
	ck_assert_ptr_nonnull(strstr(db_fault_fix(DB_FAULT_NO_DATABASE), "dbname"));
}
END_TEST

Suite *
db_fault_suite(void)
{
	Suite *s = suite_create("db_fault");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_classify, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_exit_codes_and_fixes);
	suite_add_tcase(s, tc);
	return s;
}
