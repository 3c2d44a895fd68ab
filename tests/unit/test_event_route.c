/* Unit tests: partition keys and hashing agree with sql/008's key_of() and partition_of()
 * (the expected partitions below were computed by PostgreSQL 15 from the same inputs). */
#include <string.h>

#include "json_field.h"
#include "event_route.h"
#include "suites.h"

struct sql_case {
	const char *payload;
	const char *rule;
	int partition;		/* partition_of(key_of(payload, rule), 64) */
};

static const struct sql_case sql_cases[] = {
	{"order-42", "payload", 52},
	{"", "payload", 5},
	{"héllo wörld", "payload", 34},
	{"a|b|c", "prefix:|", 44},
	{"no separator", "prefix:|", 17},
	{"|leading", "prefix:|", 5},
	{"user::7::x", "prefix:::", 50},
	{"{\"id\": \"k1\", \"x\": 1}", "json:id", 1},
	{"{\"id\": 17}", "json:id", 49},
	{"{\"id\": 1e2}", "json:id", 28},
	{"{\"id\": -0}", "json:id", 47},
	{"{\"id\": 1.50}", "json:id", 43},
	{"{\"id\": 1.50e1}", "json:id", 29},
	{"{\"id\": true}", "json:id", 37},
	{"{\"id\": null}", "json:id", 21},
	{"{\"id\": [1]}", "json:id", 1},
	{"{\"id\": {\"a\":1}}", "json:id", 30},
	{"{\"id\": \"a\\u00e9\\n\\\"q\"}", "json:id", 3},
	{"{\"id\":\"x\",\"id\":\"y\"}", "json:id", 52},
	{"not json", "json:id", 40},
	{"[1,2]", "json:id", 54},
	{"{\"other\": 1}", "json:id", 44},
	{"  {\"id\" : \"sp\" }  ", "json:id", 54},
	{"{\"id\": \"\\ud83d\\ude00\"}", "json:id", 8},
	{"{\"id\": 0.0001e-2}", "json:id", 40},
	{"{\"id\": 12345678901234567890123}", "json:id", 35},
	{"{\"id\": \"a\"} x", "json:id", 31},
	{"{\"i\\u0064\": \"esc\"}", "json:id", 62},
	{"{\"id\": 1E+2}", "json:id", 28},
	{"{\"id\": -1.0e-0}", "json:id", 61},
};

START_TEST(test_agrees_with_sql)
{
	for (size_t i = 0; i < sizeof(sql_cases) / sizeof(sql_cases[0]); i++) {
		struct partition_rule rule;
		const char *why = NULL;
		const struct sql_case *c = &sql_cases[i];

		ck_assert_msg(partition_rule_parse(c->rule, &rule, &why), "%s: %s", c->rule, why);
		ck_assert_msg(partition_of_payload(&rule, c->payload, strlen(c->payload), 64) ==
			      c->partition, "payload %s rule %s: expected %d, got %d", c->payload,
			      c->rule, c->partition,
			      partition_of_payload(&rule, c->payload, strlen(c->payload), 64));
	}
}
END_TEST

START_TEST(test_hash_known_values)
{
	/* clustered_nodes.partition_of('order-42', 8) = 4, as the README shows. */
	ck_assert_int_eq(partition_of_key("order-42", 8, 8), 4);
	ck_assert_uint_eq(partition_hash("", 0), 2166136261u);
	ck_assert_int_eq(partition_of_key("anything", 8, 1), 0);
}
END_TEST

START_TEST(test_rule_parse)
{
	struct partition_rule rule;
	const char *why = NULL;
	char buf[80];

	ck_assert(partition_rule_parse("payload", &rule, &why) && rule.kind == KEY_PAYLOAD);
	ck_assert(partition_rule_parse("prefix::", &rule, &why) && rule.kind == KEY_PREFIX);
	ck_assert_str_eq(rule.arg, ":");
	ck_assert(partition_rule_parse("json:customer id", &rule, &why) && rule.kind == KEY_JSON);
	partition_rule_format(&rule, buf, sizeof(buf));
	ck_assert_str_eq(buf, "json:customer id");
	ck_assert(!partition_rule_parse("prefix:", &rule, &why));
	ck_assert(!partition_rule_parse("json:", &rule, &why));
	ck_assert(!partition_rule_parse("body", &rule, &why));
	ck_assert(!partition_rule_parse("json:a\tb", &rule, &why));
	ck_assert(!partition_rule_parse("prefix:0123456789012345678901234567890123456789012345678901234567890123",
					&rule, &why));
}
END_TEST

START_TEST(test_json_field_values)
{
	char out[64];

	ck_assert(json_field("{\"a\":\"x\\ty\"}", 12, "a", out, sizeof(out)));
	ck_assert_str_eq(out, "x\ty");
	ck_assert(json_field("{\"a\":-12.5E-1}", 14, "a", out, sizeof(out)));
	ck_assert_str_eq(out, "-1.25");
	ck_assert(json_field("{\"a\":false}", 11, "a", out, sizeof(out)));
	ck_assert_str_eq(out, "false");
	/* what jsonb refuses: NUL, a lone surrogate, bad syntax; and what ->> has no text for */
	ck_assert(!json_field("{\"a\":\"\\u0000\"}", 14, "a", out, sizeof(out)));
	ck_assert(!json_field("{\"a\":\"\\ud800\"}", 14, "a", out, sizeof(out)));
	ck_assert(!json_field("{\"a\":01}", 8, "a", out, sizeof(out)));
	ck_assert(!json_field("{\"a\":null}", 10, "a", out, sizeof(out)));
	ck_assert(!json_field("{\"a\":1,}", 8, "a", out, sizeof(out)));
	/* a value that does not fit: not found, never cut */
	ck_assert(!json_field("{\"a\":\"0123456789\"}", 18, "a", out, 5));
}
END_TEST

Suite *
partition_suite(void)
{
	Suite *s = suite_create("partition");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_agrees_with_sql);
	tcase_add_test(tc, test_hash_known_values);
	tcase_add_test(tc, test_rule_parse);
	tcase_add_test(tc, test_json_field_values);
	suite_add_tcase(s, tc);
	return s;
}
