/* SPDX-License-Identifier: PostgreSQL */
/* Unit-test suites for the pure modules, one per module under test. */
#ifndef CN_TEST_SUITES_H
#define CN_TEST_SUITES_H

#include <check.h>

Suite *backoff_suite(void);
Suite *balance_suite(void);
Suite *cli_suite(void);
Suite *config_suite(void);
Suite *db_fault_suite(void);
Suite *duration_suite(void);
Suite *escape_suite(void);
Suite *fsm_suite(void);
Suite *handler_sql_suite(void);
Suite *json_suite(void);
Suite *leader_plan_suite(void);
Suite *listen_addr_suite(void);
Suite *lockkey_suite(void);
Suite *names_suite(void);
Suite *notifyq_suite(void);
Suite *partition_suite(void);
Suite *pgarray_suite(void);
Suite *redact_suite(void);
Suite *stats_suite(void);
Suite *timing_suite(void);

#endif
