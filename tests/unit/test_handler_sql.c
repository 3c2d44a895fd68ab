/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: which --handler-sql statements are refused at start. */
#include "handler_sql.h"
#include "suites.h"

START_TEST(test_ordinary_statements_pass)
{
	ck_assert_ptr_null(handler_sql_problem("INSERT INTO t VALUES ($2)"));
	ck_assert_ptr_null(handler_sql_problem("select app.handle($1, $2)"));
	ck_assert_ptr_null(handler_sql_problem("WITH x AS (SELECT 1) UPDATE t SET n = n + 1"));
	ck_assert_ptr_null(handler_sql_problem("  -- a comment\n  SET LOCAL work_mem = '64MB'"));
	ck_assert_ptr_null(handler_sql_problem("SELECT 'ROLLBACK'"));
	ck_assert_ptr_null(handler_sql_problem("ENDLESS_FUNCTION()"));	/* not END */
	ck_assert_ptr_null(handler_sql_problem(""));
}
END_TEST

START_TEST(test_transaction_control_is_refused)
{
	ck_assert_str_eq(handler_sql_problem("ROLLBACK"), "ends the step's transaction (ROLLBACK)");
	ck_assert_str_eq(handler_sql_problem("commit;"), "ends the step's transaction (COMMIT)");
	ck_assert_str_eq(handler_sql_problem("/* x /* nested */ */ Begin"),
			 "starts a transaction inside the step's (BEGIN)");
	ck_assert_ptr_nonnull(handler_sql_problem("\n\t-- why\nSTART TRANSACTION"));
	ck_assert_ptr_nonnull(handler_sql_problem("savepoint a"));
	ck_assert_ptr_nonnull(handler_sql_problem("PREPARE TRANSACTION 'x'"));
	ck_assert_ptr_nonnull(handler_sql_problem("end"));
	ck_assert_ptr_nonnull(handler_sql_problem("abort"));
}
END_TEST

START_TEST(test_session_changes_are_refused)
{
	ck_assert_ptr_nonnull(handler_sql_problem("UNLISTEN *"));
	ck_assert_ptr_nonnull(handler_sql_problem("listen other"));
	ck_assert_ptr_nonnull(handler_sql_problem("RESET ALL"));
	ck_assert_ptr_nonnull(handler_sql_problem("DISCARD ALL"));
	ck_assert_str_eq(handler_sql_problem("SET ROLE nobody"),
			 "changes the leader's session settings (SET without LOCAL)");
	ck_assert_ptr_nonnull(handler_sql_problem("set  session  tcp_keepalives_idle = 7200"));
	ck_assert_ptr_nonnull(handler_sql_problem("SET/**/statement_timeout = 0"));
}
END_TEST

Suite *
handler_sql_suite(void)
{
	Suite *s = suite_create("handler_sql");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ordinary_statements_pass);
	tcase_add_test(tc, test_transaction_control_is_refused);
	tcase_add_test(tc, test_session_changes_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
