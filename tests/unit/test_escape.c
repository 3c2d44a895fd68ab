/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: one-line escaping of payloads for the log, and HTML text for the status page. */
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

/* The status page: markup is neutralised and so is every hazard, whatever its encoding. */
START_TEST(test_html)
{
	static const struct {
		const char *in, *out;
	} c[] = {
		{"plain", "plain"},
		{"<b>\"x\" & 'y'</b>", "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"},
		{"esc\x1b[2J bel\a del\x7f", "esc\\x1b[2J bel\\x07 del\\x7f"},
		{"c1 \xc2\x80\xc2\x9b\xc2\x9f", "c1 \\u{0080}\\u{009b}\\u{009f}"},
		{"bidi \xe2\x80\xaa\xe2\x80\xae\xe2\x81\xa6\xe2\x81\xa9",
		 "bidi \\u{202a}\\u{202e}\\u{2066}\\u{2069}"},
		{"lines\n\ttab\r", "lines\\x0a\\x09tab\\x0d"},
		{"bad \xff cut \xe2\x80", "bad \\xff cut \\xe2\\x80"},
		{"back\\slash", "back\\slash"},
		{"kept: \xe2\x80\x94 \xc3\xbc \xc2\xb7 \xf0\x9f\x98\x80",
		 "kept: \xe2\x80\x94 \xc3\xbc \xc2\xb7 \xf0\x9f\x98\x80"},
	};
	char out[256];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t need = escape_for_html(out, sizeof(out), c[i].in, strlen(c[i].in));

		ck_assert_str_eq(out, c[i].out);
		ck_assert_uint_eq(need, strlen(c[i].out));
		ck_assert_uint_eq(escape_for_html(NULL, 0, c[i].in, strlen(c[i].in)), need);
	}
}
END_TEST

/* Every code point up to U+2100 and every single byte: no hazard survives, and the
 * worst case fits ESCAPE_HTML_MAX_LEN. */
START_TEST(test_html_leaves_no_hazard)
{
	static char in[4 * 0x2100 + 256], out[ESCAPE_HTML_MAX_LEN(sizeof(in))];
	size_t len = 0, need;

	for (unsigned cp = 1; cp < 0x2100; cp++) {
		if (cp < 0x80)
			in[len++] = (char) cp;
		else if (cp < 0x800) {
			in[len++] = (char) (0xC0 | (cp >> 6));
			in[len++] = (char) (0x80 | (cp & 0x3F));
		} else {
			in[len++] = (char) (0xE0 | (cp >> 12));
			in[len++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			in[len++] = (char) (0x80 | (cp & 0x3F));
		}
	}
	for (unsigned b = 0x80; b < 0x100; b++)
		in[len++] = (char) b;	/* lone continuation and lead bytes */
	need = escape_for_html(out, sizeof(out), in, len);
	ck_assert_uint_lt(need, sizeof(out));
	ck_assert(utf8_valid(out));
	for (size_t i = 0; i < need;) {
		size_t seq = utf8_sequence_length((const unsigned char *) out + i, need - i);

		ck_assert(!code_point_is_hazard(utf8_code_point((const unsigned char *) out + i, seq)));
		ck_assert(out[i] != '<' && out[i] != '>' && out[i] != '"' && out[i] != '\'');
		i += seq;
	}
	memset(in, '"', sizeof(in));
	ck_assert_uint_lt(escape_for_html(out, sizeof(out), in, sizeof(in)), sizeof(out));
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
	tcase_add_test(tc, test_html);
	tcase_add_test(tc, test_html_leaves_no_hazard);
	suite_add_tcase(s, tc);
	return s;
}
