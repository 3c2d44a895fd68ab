/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: which Host headers the status endpoint answers. */
#include "listen_addr.h"
#include "suites.h"

START_TEST(test_host_headers)
{
	static const struct {
		const char *host;
		bool ok;
	} c[] = {
		{NULL, true},
		{"127.0.0.1", true}, {"127.0.0.1:8081", true}, {"10.1.2.3:80", true},
		{"[::1]:8081", true}, {"[::1]", true}, {"[fe80::1]:9", true},
		{"localhost", true}, {"LOCALHOST:8081", true},
		{"db1", true}, {"db1.example.com:8081", true}, {"DB1:1", true},
		{"status.example.org", true}, {"lb:8081", true},
		{"attacker.example", false}, {"attacker.example:8081", false}, {"", false},
		{"[not-an-address]:1", false}, {"[::1", false}, {"127.0.0.1.evil.com", false},
		{"db", false}, {"db1.example.com.evil", false}, {"localhost.evil", false},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(host_header_allowed(c[i].host, "db1.example.com",
						  "status.example.org, lb") == c[i].ok,
			      "Host %s", c[i].host ? c[i].host : "(none)");
}
END_TEST

Suite *
listen_addr_suite(void)
{
	Suite *s = suite_create("listen_addr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_host_headers);
	suite_add_tcase(s, tc);
	return s;
}
