/* SPDX-License-Identifier: PostgreSQL */
/* What a --handler-sql statement may not be (see handler_sql.h). */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "handler_sql.h"

/* Past blanks, -- comments and (nested) block comments. */
static const char *
skip_blanks(const char *p)
{
	for (;;) {
		while (isspace((unsigned char) *p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			int depth = 0;

			do {
				if (p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else
					p++;
			} while (depth > 0 && *p != '\0');
		} else
			return p;
	}
}

/* The word at p (letters and underscores) into buf, upper-cased; returns past it. */
static const char *
read_word(const char *p, char *buf, size_t size)
{
	size_t n = 0;

	while ((isalpha((unsigned char) *p) || *p == '_') && n + 1 < size)
		buf[n++] = (char) toupper((unsigned char) *p++);
	buf[n] = '\0';
	while (isalpha((unsigned char) *p) || *p == '_')
		p++;	/* longer than any word below */
	return p;
}

static const struct refused_word {
	const char *word;
	const char *why;
} refused[] = {
	{"BEGIN", "starts a transaction inside the step's (BEGIN)"},
	{"START", "starts a transaction inside the step's (START TRANSACTION)"},
	{"COMMIT", "ends the step's transaction (COMMIT)"},
	{"END", "ends the step's transaction (END)"},
	{"ROLLBACK", "ends the step's transaction (ROLLBACK)"},
	{"ABORT", "ends the step's transaction (ABORT)"},
	{"SAVEPOINT", "steers the step's transaction (SAVEPOINT)"},
	{"RELEASE", "steers the step's transaction (RELEASE)"},
	{"PREPARE", "steers the step's transaction or the session (PREPARE)"},
	{"LISTEN", "changes what the leader listens on (LISTEN)"},
	{"UNLISTEN", "changes what the leader listens on (UNLISTEN)"},
	{"RESET", "changes the leader's session settings (RESET)"},
	{"DISCARD", "changes the leader's session (DISCARD)"},
};

const char *
handler_sql_problem(const char *sql)
{
	char word[16], next[16];
	const char *p = read_word(skip_blanks(sql), word, sizeof(word));

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(word, refused[i].word) == 0)
			return refused[i].why;
	if (strcmp(word, "SET") == 0) {
		read_word(skip_blanks(p), next, sizeof(next));
		if (strcmp(next, "LOCAL") != 0)
			return "changes the leader's session settings (SET without LOCAL)";
	}
	return NULL;
}
