/* Unit tests: one-line escaping of payloads for the log. */
#include <string.h>

#include "escape.h"
#include "suites.h"

static const struct {
	const char *in;
	size_t len;
	const char *out;
} cases[] = {
	{"test", 4, "test"},
	{"", 0, ""},
	{"say \"hi\"", 8, "say \\\"hi\\\""},
	{"back\\slash", 10, "back\\\\slash"},
	{"two\nlines\r\n", 11, "two\\nlines\\r\\n"},
	{"tab\there", 8, "tab\\there"},
	{"bell\a", 5, "bell\\x07"},
	{"del\x7f", 4, "del\\x7f"},
	{"z\xc3\xbc" "rich \xe2\x82\xac \xf0\x9f\x98\x80", 16, "z\xc3\xbc" "rich \xe2\x82\xac \xf0\x9f\x98\x80"},
	{"bad \xff byte", 10, "bad \\xff byte"},
	{"cut \xe2\x82", 6, "cut \\xe2\\x82"},
	{"overlong \xc0\xaf", 11, "overlong \\xc0\\xaf"},
	{"surrogate \xed\xa0\x80", 13, "surrogate \\xed\\xa0\\x80"},
	{"nul\0inside", 10, "nul\\x00inside"},
};

START_TEST(test_cases)
{
	char buf[128];
	size_t need = escape_for_log(buf, sizeof(buf), cases[_i].in, cases[_i].len);

	ck_assert_str_eq(buf, cases[_i].out);
	ck_assert_uint_eq(need, strlen(cases[_i].out));
	ck_assert_ptr_null(strchr(buf, '\n'));
}
END_TEST

START_TEST(test_truncation_reports_needed_length)
{
	char buf[5];
	size_t need = escape_for_log(buf, sizeof(buf), "\n\n\n\n", 4);

	ck_assert_uint_eq(need, 8);
	ck_assert_uint_eq(strlen(buf), 4);
}
END_TEST

START_TEST(test_worst_case_fits_max_len)
{
	char in[64];
	char out[ESCAPE_MAX_LEN(sizeof(in))];

	memset(in, 0x01, sizeof(in));
	ck_assert_uint_lt(escape_for_log(out, sizeof(out), in, sizeof(in)), sizeof(out));
}
END_TEST

/* Nothing that drives a terminal or reorders text reaches a person raw. */
START_TEST(test_terminal_hazards)
{
	static const struct {
		const char *in, *for_log, *hazards_only;
	} c[] = {
		{"\x1b[2J", "\\x1b[2J", "\\x1b[2J"},
		{"bell\a", "bell\\x07", "bell\\x07"},
		{"c1 \xc2\x9b" "31m", "c1 \\u{009b}31m", "c1 \\u{009b}31m"},
		{"rlo \xe2\x80\xae" "gnp.exe", "rlo \\u{202e}gnp.exe", "rlo \\u{202e}gnp.exe"},
		{"isolate \xe2\x81\xa6x", "isolate \\u{2066}x", "isolate \\u{2066}x"},
		{"not a hazard: \xe2\x80\x94 \xc3\xbc", "not a hazard: \xe2\x80\x94 \xc3\xbc",
		 "not a hazard: \xe2\x80\x94 \xc3\xbc"},
		{"q\"b\\n\n", "q\\\"b\\\\n\\n", "q\"b\\n\\x0a"},
		{"bad \xff", "bad \\xff", "bad \\xff"},
	};
	char out[256];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		escape_for_log(out, sizeof(out), c[i].in, strlen(c[i].in));
		ck_assert_str_eq(out, c[i].for_log);
		escape_hazards(out, sizeof(out), c[i].in, strlen(c[i].in));
		ck_assert_str_eq(out, c[i].hazards_only);
		/* Escaping twice for hazards changes nothing more. */
		{
			char again[256];

			escape_hazards(again, sizeof(again), out, strlen(out));
			ck_assert_str_eq(again, out);
		}
	}
	ck_assert(utf8_valid("z\xc3\xbcrich"));
	ck_assert(!utf8_valid("bad\xff"));
	ck_assert(!utf8_valid("cut \xc3"));
}
END_TEST

Suite *
escape_suite(void)
{
	Suite *s = suite_create("escape");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_cases, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_truncation_reports_needed_length);
	tcase_add_test(tc, test_worst_case_fits_max_len);
	tcase_add_test(tc, test_terminal_hazards);
	suite_add_tcase(s, tc);
	return s;
}
