/* SPDX-License-Identifier: PostgreSQL */
/* Runs every unit-test suite; exit status 0 only if all pass. */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner *runner;
	int failed;

	/* Not the machine's installed configuration (config.h's CONFIG_DEFAULT_PATH). */
	setenv("CLUSTERED_NODES_CONFIG", "", 1);
	runner = srunner_create(backoff_suite());

	srunner_add_suite(runner, balance_suite());
	srunner_add_suite(runner, cli_suite());
	srunner_add_suite(runner, config_suite());
	srunner_add_suite(runner, db_fault_suite());
	srunner_add_suite(runner, duration_suite());
	srunner_add_suite(runner, escape_suite());
	srunner_add_suite(runner, fsm_suite());
	srunner_add_suite(runner, handler_sql_suite());
	srunner_add_suite(runner, json_suite());
	srunner_add_suite(runner, leader_plan_suite());
	srunner_add_suite(runner, listen_addr_suite());
	srunner_add_suite(runner, lockkey_suite());
	srunner_add_suite(runner, names_suite());
	srunner_add_suite(runner, notifyq_suite());
	srunner_add_suite(runner, partition_suite());
	srunner_add_suite(runner, pgarray_suite());
	srunner_add_suite(runner, redact_suite());
	srunner_add_suite(runner, stats_suite());
	srunner_add_suite(runner, timing_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
