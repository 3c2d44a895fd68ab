/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: advisory-lock key derivation from the cluster name. */
#include "lockkey.h"
#include "suites.h"

START_TEST(test_known_values)
{
	/* FNV-1a 64 of "clustered_nodes:default", as documented in the README. */
	ck_assert_int_eq(lock_key_for_cluster("default"), 6443140123505536929LL);
}
END_TEST

START_TEST(test_distinct_clusters_distinct_keys)
{
	static const char *const names[] = {"default", "a", "b", "default2", "Default", ""};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (unsigned j = i + 1; j < sizeof(names) / sizeof(names[0]); j++)
			ck_assert_int_ne(lock_key_for_cluster(names[i]),
					 lock_key_for_cluster(names[j]));
}
END_TEST

/* No cluster's handoff key is any cluster's lock key, even for names that look alike. */
START_TEST(test_handoff_keys_differ_from_lock_keys)
{
	static const char *const names[] = {"default", "handoff:default", "_handoff:default", "a", ""};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (unsigned j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			ck_assert_int_ne(handoff_key_for_cluster(names[i]), lock_key_for_cluster(names[j]));
	ck_assert_int_eq(handoff_key_for_cluster("default"), handoff_key_for_cluster("default"));
}
END_TEST

/* clustered_nodes.lock_key(cluster, partition) computed by PostgreSQL (sql/008). */
START_TEST(test_partition_keys)
{
	ck_assert_int_eq(lock_key_for_partition("default", 0), lock_key_for_cluster("default"));
	ck_assert_int_eq(lock_key_for_partition("default", 3), 6010518491956656363LL);
	ck_assert_int_eq(lock_key_for_partition("default", 63), -4987282869316241547LL);
	ck_assert_int_ne(lock_key_for_partition("default", 1), lock_key_for_partition("default1", 0));
}
END_TEST

/* Each partition's handoff key is its own, and none is any partition's lock key. */
START_TEST(test_partition_handoff_keys)
{
	ck_assert_int_eq(handoff_key_for_partition("default", 0), handoff_key_for_cluster("default"));
	for (int p = 0; p < 64; p++)
		for (int q = 0; q < 64; q++) {
			ck_assert_int_ne(handoff_key_for_partition("default", p),
					 lock_key_for_partition("default", q));
			if (p != q)
				ck_assert_int_ne(handoff_key_for_partition("default", p),
						 handoff_key_for_partition("default", q));
		}
}
END_TEST

START_TEST(test_stable)
{
	ck_assert_int_eq(lock_key_for_cluster("payments"), lock_key_for_cluster("payments"));
}
END_TEST

Suite *
lockkey_suite(void)
{
	Suite *s = suite_create("lockkey");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_known_values);
	tcase_add_test(tc, test_distinct_clusters_distinct_keys);
	tcase_add_test(tc, test_stable);
	tcase_add_test(tc, test_partition_keys);
	tcase_add_test(tc, test_partition_handoff_keys);
	tcase_add_test(tc, test_handoff_keys_differ_from_lock_keys);
	suite_add_tcase(s, tc);
	return s;
}
