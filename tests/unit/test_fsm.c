/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: the node's state machine transitions. */
#include "fsm.h"
#include "suites.h"

START_TEST(test_happy_path_is_allowed)
{
	static const enum node_state path[] = {
		ST_DISCONNECTED, ST_CONNECTING, ST_CHECKING, ST_REGISTERING, ST_STANDBY,
		ST_ACQUIRING,
		ST_STANDBY, ST_ACQUIRING, ST_PROMOTING, ST_LEADER, ST_PROCESSING,
		ST_LEADER, ST_RELEASING, ST_PROCESSING, ST_RELEASING, ST_STOPPED,
	};

	for (unsigned i = 1; i < sizeof(path) / sizeof(path[0]); i++)
		ck_assert_msg(node_transition_allowed(path[i - 1], path[i]), "%s → %s",
			      node_state_name(path[i - 1]), node_state_name(path[i]));
}
END_TEST

START_TEST(test_only_leaders_process)
{
	for (int s = 0; s < ST__COUNT; s++) {
		bool allowed = node_transition_allowed((enum node_state) s, ST_PROCESSING);

		if (allowed)
			ck_assert_msg(node_state_holds_lock((enum node_state) s),
				      "%s may process without the lock",
				      node_state_name((enum node_state) s));
	}
	ck_assert(!node_transition_allowed(ST_STANDBY, ST_PROCESSING));
	ck_assert(!node_transition_allowed(ST_ACQUIRING, ST_LEADER));
}
END_TEST

START_TEST(test_every_session_state_can_lose_it)
{
	for (int s = ST_CONNECTING; s <= ST_LEAVING; s++)
		ck_assert_msg(node_transition_allowed((enum node_state) s, ST_DISCONNECTED),
			      "%s cannot fall back", node_state_name((enum node_state) s));
}
END_TEST

START_TEST(test_stopped_is_final)
{
	for (int s = 0; s < ST__COUNT; s++)
		ck_assert(!node_transition_allowed(ST_STOPPED, (enum node_state) s));
}
END_TEST

START_TEST(test_leader_only_stops_through_release_or_loss)
{
	ck_assert(!node_transition_allowed(ST_LEADER, ST_STOPPED));
	ck_assert(!node_transition_allowed(ST_PROCESSING, ST_STOPPED));
	ck_assert(node_transition_allowed(ST_RELEASING, ST_STOPPED));
	/* A single leader's hand-over at a stop: released, it deregisters. */
	ck_assert(node_transition_allowed(ST_RELEASING, ST_LEAVING));
	ck_assert(!node_transition_allowed(ST_LEADER, ST_LEAVING));
	/* A lead the database refuses for good (CN003, CN007): the session goes first. */
	ck_assert(!node_transition_allowed(ST_PROMOTING, ST_STOPPED));
	ck_assert(node_transition_allowed(ST_PROMOTING, ST_DISCONNECTED));
	ck_assert(node_transition_allowed(ST_PROCESSING, ST_DISCONNECTED));
}
END_TEST

START_TEST(test_names_and_bounds)
{
	ck_assert_str_eq(node_state_name(ST_LEADER), "leader");
	ck_assert_str_eq(node_state_name(ST__COUNT), "invalid");
	ck_assert(!node_transition_allowed(ST__COUNT, ST_LEADER));
	ck_assert(!node_state_holds_lock(ST_STANDBY));
	ck_assert(node_state_holds_lock(ST_PROCESSING));
}
END_TEST

Suite *
fsm_suite(void)
{
	Suite *s = suite_create("fsm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_happy_path_is_allowed);
	tcase_add_test(tc, test_only_leaders_process);
	tcase_add_test(tc, test_every_session_state_can_lose_it);
	tcase_add_test(tc, test_stopped_is_final);
	tcase_add_test(tc, test_leader_only_stops_through_release_or_loss);
	tcase_add_test(tc, test_names_and_bounds);
	suite_add_tcase(s, tc);
	return s;
}
