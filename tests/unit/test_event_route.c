/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: partition keys and hashing agree with sql/008's key_of() and partition_of()
 * (every expected partition and ->> text below was computed by PostgreSQL 15.18 from the
 * same inputs). */
#include <stdlib.h>
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

/* A text built of pieces, each repeated (deep nesting and long numbers do not fit a literal). */
struct piece {
	const char *text;
	size_t times;
};

#define MAX_PIECES 6
#define NO_KEY {{NULL, 0}}

static char *
build(const struct piece *pieces, size_t *len)
{
	size_t n = 0, at = 0;
	char *text;

	for (int i = 0; i < MAX_PIECES && pieces[i].text; i++)
		n += strlen(pieces[i].text) * pieces[i].times;
	text = malloc(n + 1);
	ck_assert_ptr_nonnull(text);
	for (int i = 0; i < MAX_PIECES && pieces[i].text; i++)
		for (size_t t = 0; t < pieces[i].times; t++) {
			memcpy(text + at, pieces[i].text, strlen(pieces[i].text));
			at += strlen(pieces[i].text);
		}
	text[n] = '\0';
	*len = n;
	return text;
}

/* The extreme classes of issue 20, routed: partition_of(key_of(payload, rule), 64). */
struct shaped_sql_case {
	struct piece payload[MAX_PIECES];
	const char *rule;
	int partition;
};

static const struct shaped_sql_case shaped_sql_cases[] = {
	{{{"{\"id\": 1e131071}", 1}}, "json:id", 4},
	{{{"{\"id\": 1e131072}", 1}}, "json:id", 44},
	{{{"{\"id\": 0e5}", 1}}, "json:id", 47},
	{{{"{\"id\": 0E-16384}", 1}}, "json:id", 36},
	{{{"{\"id\": 1e-16383}", 1}}, "json:id", 30},
	{{{"{\"id\": 7, \"x\": 1e-16384}", 1}}, "json:id", 4},
	{{{"{\"id\": \"deep\", \"x\": ", 1}, {"[", 3980}, {"]", 3980}, {"}", 1}}, "json:id", 47},
	{{{"{\"id\": ", 1}, {"[", 3980}, {"]", 3980}, {"}", 1}}, "json:id", 14},
	{{{"{\"id\": ", 1}, {"3", 7000}, {"}", 1}}, "json:id", 29},
	{{{"{\"id\": ", 1}, {"3", 7000}, {"e124072}", 1}}, "json:id", 61},
	{{{"{\"id\": ", 1}, {"3", 7000}, {"e124073}", 1}}, "json:id", 10},
	{{{"{\"id\": \"a\\u0000\"}", 1}}, "json:id", 56},
	{{{"{\"id\": \"\\ud83d\\ude00\", \"id\": \"\\u00e9\"}", 1}}, "json:id", 1},
	{{{"{\"id\": \"x\", \"y\": \"\\udc00\"}", 1}}, "json:id", 33},
	{{{"\x09{\"id\": -0.0}\x0a", 1}}, "json:id", 25},
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
	for (size_t i = 0; i < sizeof(shaped_sql_cases) / sizeof(shaped_sql_cases[0]); i++) {
		const struct shaped_sql_case *c = &shaped_sql_cases[i];
		struct partition_rule rule;
		const char *why = NULL;
		size_t len;
		char *payload = build(c->payload, &len);
		int got;

		ck_assert_msg(partition_rule_parse(c->rule, &rule, &why), "%s: %s", c->rule, why);
		got = partition_of_payload(&rule, payload, len, 64);
		ck_assert_msg(got == c->partition, "shaped case %zu (%.40s...): expected %d, got %d",
			      i, payload, c->partition, got);
		free(payload);
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

/* What ->> gives for a payload's field (expect NO_KEY: key_of() falls back to the payload,
 * because the cast to jsonb fails or the value is null, an object or an array). */
struct field_case {
	struct piece payload[MAX_PIECES];
	const char *field;
	struct piece expect[MAX_PIECES];
};

static const struct field_case field_cases[] = {
	/* numbers, as numeric_out prints them: no exponent, the literal's scale less the exponent, no -0 */
	{{{"{\"k\": 1e3}", 1}}, "k", {{"1000", 1}}},
	{{{"{\"k\": 0e5}", 1}}, "k", {{"0", 1}}},
	{{{"{\"k\": 1.50}", 1}}, "k", {{"1.50", 1}}},
	{{{"{\"k\": -0}", 1}}, "k", {{"0", 1}}},
	{{{"{\"k\": 1E+2}", 1}}, "k", {{"100", 1}}},
	{{{"{\"k\": 1e-3}", 1}}, "k", {{"0.001", 1}}},
	{{{"{\"k\": -0.0}", 1}}, "k", {{"0.0", 1}}},
	{{{"{\"k\": 0.000e-2}", 1}}, "k", {{"0.00000", 1}}},
	{{{"{\"k\": -1.0e-0}", 1}}, "k", {{"-1.0", 1}}},
	{{{"{\"k\": 100e-2}", 1}}, "k", {{"1.00", 1}}},
	{{{"{\"k\": 123.456e1}", 1}}, "k", {{"1234.56", 1}}},
	{{{"{\"k\": -0e-3}", 1}}, "k", {{"0.000", 1}}},
	{{{"{\"k\": 1.5e-1}", 1}}, "k", {{"0.15", 1}}},
	{{{"{\"k\": 0.0001e-2}", 1}}, "k", {{"0.000001", 1}}},
	{{{"{\"k\": 12345678901234567890123}", 1}}, "k", {{"12345678901234567890123", 1}}},
	{{{"{\"k\": 1e05}", 1}}, "k", {{"100000", 1}}},
	{{{"{\"k\": -12.5E-1}", 1}}, "k", {{"-1.25", 1}}},
	{{{"{\"k\": 1.50e1}", 1}}, "k", {{"15.0", 1}}},
	{{{"{\"k\": 0E+131072}", 1}}, "k", {{"0", 1}}},
	{{{"{\"k\": 0e1073741822}", 1}}, "k", {{"0", 1}}},
	{{{"{\"k\": -0e99999}", 1}}, "k", {{"0", 1}}},
	{{{"{\"k\": 5e-0}", 1}}, "k", {{"5", 1}}},
	{{{"{\"k\": 0.10}", 1}}, "k", {{"0.10", 1}}},
	/* outside numeric's range (|exponent| >= 2^30 - 1, over 16383 digits after the point, or
	 * 10^131072 and up), wherever the number is: the whole cast fails */
	{{{"{\"k\": 1e131072}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 10e131071}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0.1e131073}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0e1073741823}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0e-1073741822}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0e-16384}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0.0e-16383}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e-16384}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1.5e-16383}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e99999999999999999999}", 1}}, "k", NO_KEY},
	{{{"{\"k\": -1e1073741823}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e-1073741823}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0.00000e-16379}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": 1e131072}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": [{\"y\": 0e-16384}]}", 1}}, "k", NO_KEY},
	{{{"{\"x\": [1e99999999999], \"k\": \"a\"}", 1}}, "k", NO_KEY},
	/* printed keys over 16 KiB */
	{{{"{\"k\": 1e131071}", 1}}, "k", {{"1", 1}, {"0", 131071}}},
	{{{"{\"k\": -9e131071}", 1}}, "k", {{"-9", 1}, {"0", 131071}}},
	{{{"{\"k\": 1e100000}", 1}}, "k", {{"1", 1}, {"0", 100000}}},
	{{{"{\"k\": 0.0001e131075}", 1}}, "k", {{"1", 1}, {"0", 131071}}},
	{{{"{\"k\": 1e-16383}", 1}}, "k", {{"0.", 1}, {"0", 16382}, {"1", 1}}},
	{{{"{\"k\": 1.5e-16382}", 1}}, "k", {{"0.", 1}, {"0", 16381}, {"15", 1}}},
	{{{"{\"k\": 0e-16383}", 1}}, "k", {{"0.", 1}, {"0", 16383}}},
	{{{"{\"k\": 0.00000e-16378}", 1}}, "k", {{"0.", 1}, {"0", 16383}}},
	{{{"{\"k\": 25e20000, \"k\": 3e16384}", 1}}, "k", {{"3", 1}, {"0", 16384}}},
	{{{"{\"k\": 1, \"x\": 7e131071}", 1}}, "k", {{"1", 1}}},
	/* numbers longer than 512 digits */
	{{{"{\"k\": ", 1}, {"7", 7000}, {".", 1}, {"5", 900}, {"}", 1}}, "k", {{"7", 7000}, {".", 1}, {"5", 900}}},
	{{{"{\"k\": -0.", 1}, {"0", 7900}, {"}", 1}}, "k", {{"0.", 1}, {"0", 7900}}},
	{{{"{\"k\": 0.", 1}, {"0", 7000}, {"12e5000}", 1}}, "k", {{"0.", 1}, {"0", 2000}, {"12", 1}}},
	{{{"{\"k\": ", 1}, {"9", 600}, {"e-600}", 1}}, "k", {{"0.", 1}, {"9", 600}}},
	{{{"{\"k\": ", 1}, {"1", 3000}, {"e128000}", 1}}, "k", {{"1", 3000}, {"0", 128000}}},
	{{{"{\"k\": ", 1}, {"1", 3000}, {"e128072}", 1}}, "k", {{"1", 3000}, {"0", 128072}}},
	{{{"{\"k\": ", 1}, {"1", 3000}, {"e128073}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0.", 1}, {"0", 7990}, {"}", 1}}, "k", {{"0.", 1}, {"0", 7990}}},
	/* nesting deeper than 1,000 */
	{{{"{\"k\": 1, \"x\": ", 1}, {"[", 3990}, {"]", 3990}, {"}", 1}}, "k", {{"1", 1}}},
	{{{"{\"x\": ", 1}, {"[", 3985}, {"]", 3985}, {", \"k\": \"after\"}", 1}}, "k", {{"after", 1}}},
	{{{"{\"x\": ", 1}, {"{\"a\":", 1320}, {"1", 1}, {"}", 1320}, {", \"k\": true}", 1}}, "k", {{"true", 1}}},
	{{{"{\"x\": ", 1}, {"[{\"\":", 1140}, {"null", 1}, {"}]", 1140}, {", \"k\": 2}", 1}}, "k", {{"2", 1}}},
	{{{"{\"k\": ", 1}, {"[", 3990}, {"]", 3990}, {"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": ", 1}, {"[", 3990}, {"]", 3989}, {"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": ", 1}, {"[", 3985}, {"]", 3984}, {"}}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": ", 1}, {"[", 3000}, {"}", 3000}, {"}", 1}}, "k", NO_KEY},
	/* strings: escapes, UTF-8, \u0000 and surrogates (refused in every string, names included) */
	{{{"{\"k\": \"x\\ty\"}", 1}}, "k", {{"x\x09y", 1}}},
	{{{"{\"k\": \"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}", 1}}, "k", {{"a\"b\\c/d\x08""e\x0c""f\x0ag\x0dh\x09i", 1}}},
	{{{"{\"k\": \"\\u00e9\\u00E9\xc3\xa9\"}", 1}}, "k", {{"\xc3\xa9\xc3\xa9\xc3\xa9", 1}}},
	{{{"{\"k\": \"\\ud83d\\ude00\"}", 1}}, "k", {{"\xf0\x9f\x98\x80", 1}}},
	{{{"{\"k\": \"\\uD83D\\uDE00\xf0\x9f\x98\x80\"}", 1}}, "k", {{"\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 1}}},
	{{{"{\"k\": \"\\udbff\\udfff\"}", 1}}, "k", {{"\xf4\x8f\xbf\xbf", 1}}},
	{{{"{\"k\": \"\\uffff\\ufffe\"}", 1}}, "k", {{"\xef\xbf\xbf\xef\xbf\xbe", 1}}},
	{{{"{\"k\": \"\\u0001\"}", 1}}, "k", {{"\x01", 1}}},
	{{{"{\"k\": \"\x7f\"}", 1}}, "k", {{"\x7f", 1}}},
	{{{"{\"k\": \"\"}", 1}}, "k", {{"", 1}}},
	{{{"{\"k\": \"\\u0000\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"a\\u0000b\"}", 1}}, "k", NO_KEY},
	{{{"{\"x\": \"\\u0000\", \"k\": 1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": [{\"y\": \"\\u0000\"}]}", 1}}, "k", NO_KEY},
	{{{"{\"\\u0000\": 1, \"k\": 2}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\ud800\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\udc00\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\ud800\\ud800\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\ud800\\n\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\ud800x\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\ud800\\u0041\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": [1, {\"y\": \"\\udc00\"}]}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\x\"}", 1}}, "k", NO_KEY},
	{{{"{\\\"k\\\": \\\"\\'\\\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\u12\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\\u12g4\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\x09\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"a\x0a""b\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"\x1f\"}", 1}}, "k", NO_KEY},
	{{{"{\"k\": \"unterminated}", 1}}, "k", NO_KEY},
	/* member names: unescaped before comparing, top level only */
	{{{"{\"\\u006b\": \"esc\"}", 1}}, "k", {{"esc", 1}}},
	{{{"{\"K\": 1}", 1}}, "k", NO_KEY},
	{{{"{\"k \": 1}", 1}}, "k", NO_KEY},
	{{{"{\"kk\": 1, \"x\": {\"k\": 1}, \"y\": [{\"k\": 2}]}", 1}}, "k", NO_KEY},
	{{{"{\"cl\\u00e9 x\": \"\xc3\xa9\"}", 1}}, "cl\xc3\xa9 x", {{"\xc3\xa9", 1}}},
	{{{"{\"cl\xc3\xa9 x\": 5}", 1}}, "cl\xc3\xa9 x", {{"5", 1}}},
	{{{"{\"cl\xc3\xa9\": 5}", 1}}, "cl\xc3\xa9 x", NO_KEY},
	/* duplicate members: the last one wins, whatever it holds */
	{{{"{\"k\": \"x\", \"k\": \"y\"}", 1}}, "k", {{"y", 1}}},
	{{{"{\"k\": 1, \"k\": null}", 1}}, "k", NO_KEY},
	{{{"{\"k\": null, \"k\": 1}", 1}}, "k", {{"1", 1}}},
	{{{"{\"k\": [1], \"k\": \"a\"}", 1}}, "k", {{"a", 1}}},
	{{{"{\"k\": \"a\", \"k\": {}}", 1}}, "k", NO_KEY},
	{{{"{\"k\": {\"k\": 1}, \"k\": false}", 1}}, "k", {{"false", 1}}},
	/* literals */
	{{{"{\"k\": true}", 1}}, "k", {{"true", 1}}},
	{{{"{\"k\": false }", 1}}, "k", {{"false", 1}}},
	{{{"{\"k\": null}", 1}}, "k", NO_KEY},
	{{{"{\"k\": TRUE}", 1}}, "k", NO_KEY},
	{{{"{\"k\": tru}", 1}}, "k", NO_KEY},
	{{{"{\"k\": truex}", 1}}, "k", NO_KEY},
	{{{"{\"k\": nul}", 1}}, "k", NO_KEY},
	/* number syntax jsonb refuses */
	{{{"{\"k\": 01}", 1}}, "k", NO_KEY},
	{{{"{\"k\": -01}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1.}", 1}}, "k", NO_KEY},
	{{{"{\"k\": .5}", 1}}, "k", NO_KEY},
	{{{"{\"k\": +1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": -}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e+}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 0x1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": Infinity}", 1}}, "k", NO_KEY},
	{{{"{\"k\": NaN}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1.5x}", 1}}, "k", NO_KEY},
	{{{"{\"k\": - 1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1e5.5}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 00}", 1}}, "k", NO_KEY},
	/* whitespace: space, \t, \n, \r only */
	{{{" \x09\x0a\x0d{ \"k\" \x0a:\x0d 1\x09} \x0a", 1}}, "k", {{"1", 1}}},
	{{{"\x0c{\"k\": 1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1}\x0b", 1}}, "k", NO_KEY},
	{{{"\xc2\xa0{\"k\": 1}", 1}}, "k", NO_KEY},
	{{{"\xef\xbb\xbf{\"k\": 1}", 1}}, "k", NO_KEY},
	{{{"{\"k\":\xe2\x80\x83 1}", 1}}, "k", NO_KEY},
	/* not an object, or not JSON */
	{{{"[{\"k\": 1}]", 1}}, "k", NO_KEY},
	{{{"\"k\"", 1}}, "k", NO_KEY},
	{{{"1", 1}}, "k", NO_KEY},
	{{{"true", 1}}, "k", NO_KEY},
	{{{"null", 1}}, "k", NO_KEY},
	{{{"", 1}}, "k", NO_KEY},
	{{{" ", 1}}, "k", NO_KEY},
	{{{"{}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1}{}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1} x", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1}/*c*/", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1,}", 1}}, "k", NO_KEY},
	{{{"{\"k\" 1}", 1}}, "k", NO_KEY},
	{{{"{k: 1}", 1}}, "k", NO_KEY},
	{{{"{'k': 1}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1]", 1}}, "k", NO_KEY},
	{{{"[", 1}}, "k", NO_KEY},
	{{{"{", 1}}, "k", NO_KEY},
	{{{"{\"k\": [1,]}", 1}}, "k", NO_KEY},
	{{{"{\"k\": [,1]}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": [1 2]}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": {\"a\" \"b\"}}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, , \"x\": 2}", 1}}, "k", NO_KEY},
	{{{"not json", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1}}", 1}}, "k", NO_KEY},
	{{{"{\"k\": 1, \"x\": [], \"y\": {}, \"z\": [[], {}]}", 1}}, "k", {{"1", 1}}},
};

/* A json_sink that keeps everything it is given. */
struct collected {
	char *text;
	size_t len;
	size_t calls;
};

static void
collect(void *arg, const char *bytes, size_t len)
{
	struct collected *c = arg;

	c->text = realloc(c->text, c->len + len + 1);
	ck_assert_ptr_nonnull(c->text);
	memcpy(c->text + c->len, bytes, len);
	c->len += len;
	c->text[c->len] = '\0';
	c->calls++;
}

static void
check_field_case(size_t i, const struct field_case *c)
{
	struct collected got = {0};
	size_t len, want_len = 0;
	char *payload = build(c->payload, &len);
	char *want = c->expect[0].text ? build(c->expect, &want_len) : NULL;
	bool found = json_field(payload, len, c->field, collect, &got);

	if (want == NULL)
		ck_assert_msg(!found && got.calls == 0, "case %zu (%.60s): expected no key, got %zu bytes",
			      i, payload, got.len);
	else
		ck_assert_msg(found && got.len == want_len && (want_len == 0 || memcmp(got.text, want, want_len) == 0),
			      "case %zu (%.60s): expected %zu bytes \"%.40s\", got %s %zu bytes \"%.40s\"",
			      i, payload, want_len, want, found ? "found" : "not found", got.len,
			      got.text ? got.text : "");
	free(got.text);
	free(want);
	free(payload);
}

START_TEST(test_json_field_values)
{
	for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++)
		check_field_case(i, &field_cases[i]);
}
END_TEST

/*
 * Bytes that are not UTF-8 inside a string: refused (no key).  PostgreSQL has no answer to
 * agree with here: a UTF8 database refuses such text before any cast ("invalid byte
 * sequence for encoding"), so no notification carries it; refusing keeps the whole payload
 * as the key, as for anything else jsonb could not read.
 */
START_TEST(test_json_field_invalid_utf8)
{
	static const char *const refused[] = {
		"{\"k\": \"\xff\"}", "{\"k\": \"\xc3\"}", "{\"k\": \"\xc0\xaf\"}",
		"{\"k\": \"\xed\xa0\x80\"}", "{\"k\": \"\xf4\x90\x80\x80\"}",
		"{\"k\": 1, \"x\": \"\x80\"}", "{\"\xfe\": 1, \"k\": 2}",
	};
	struct collected got = {0};
	const char *valid;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_msg(!json_field(refused[i], strlen(refused[i]), "k", collect, &got),
			      "invalid UTF-8 case %zu found a key", i);
	ck_assert_uint_eq(got.calls, 0);
	/* the longest valid sequences pass through unchanged */
	valid = "{\"k\": \"\xf4\x8f\xbf\xbf\xef\xbf\xbd\"}";
	ck_assert(json_field(valid, strlen(valid), "k", collect, &got));
	ck_assert_uint_eq(got.len, 7);
	ck_assert(memcmp(got.text, "\xf4\x8f\xbf\xbf\xef\xbf\xbd", 7) == 0);
	free(got.text);
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
	tcase_add_test(tc, test_json_field_invalid_utf8);
	suite_add_tcase(s, tc);
	return s;
}
