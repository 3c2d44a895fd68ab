/* SPDX-License-Identifier: PostgreSQL */
/* Unit tests: the FIFO of received notifications, across its growth and wrap-around, and
 * handing entries out (notifyq_shift) without freeing them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifyq.h"
#include "suites.h"

/* A notification laid out as libpq allocates one: the struct and its strings in one block,
 * which PQfreemem() (free) releases. */
static PGnotify *
make_note(int n)
{
	PGnotify *note = calloc(1, sizeof(*note) + 32);

	ck_assert_ptr_nonnull(note);
	note->relname = (char *) (note + 1);
	note->extra = note->relname + 8;
	strcpy(note->relname, "ch");
	snprintf(note->extra, 24, "%d", n);
	return note;
}

static int
number_of(const PGnotify *note)
{
	return atoi(note->extra);
}

START_TEST(test_fifo_order_across_growth_and_wrap)
{
	struct notifyq q;
	int next = 0, expect = 0;

	notifyq_init(&q);
	/* Past the first capacity (256), with the head moved, so that entries wrap. */
	for (int i = 0; i < 200; i++)
		ck_assert(notifyq_push(&q, make_note(next++)));
	notifyq_drop(&q, 150);
	expect = 150;
	for (int i = 0; i < 300; i++)
		ck_assert(notifyq_push(&q, make_note(next++)));
	ck_assert_uint_eq(q.count, 350);
	for (size_t i = 0; i < q.count; i++)
		ck_assert_int_eq(number_of(notifyq_at(&q, i)), expect + (int) i);
	notifyq_free(&q);
	ck_assert_uint_eq(q.count, 0);
	ck_assert_uint_eq(q.bytes, 0);
}
END_TEST

START_TEST(test_shift_hands_out_the_oldest_and_counts_its_bytes)
{
	struct notifyq q;
	PGnotify *note;
	size_t bytes;

	notifyq_init(&q);
	ck_assert_ptr_null(notifyq_shift(&q));
	for (int i = 0; i < 3; i++)
		ck_assert(notifyq_push(&q, make_note(i)));
	bytes = q.bytes;
	note = notifyq_shift(&q);
	ck_assert_int_eq(number_of(note), 0);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_uint_eq(q.bytes, bytes - notifyq_cost(note));
	free(note);		/* ours now: the queue no longer frees it */
	ck_assert_int_eq(number_of(notifyq_at(&q, 0)), 1);
	/* Moving a queue into another keeps the order (what forward.c does). */
	{
		struct notifyq other;

		notifyq_init(&other);
		ck_assert(notifyq_push(&other, make_note(7)));
		while ((note = notifyq_shift(&q)) != NULL)
			ck_assert(notifyq_push(&other, note));
		ck_assert_uint_eq(q.bytes, 0);
		ck_assert_uint_eq(other.count, 3);
		ck_assert_int_eq(number_of(notifyq_at(&other, 0)), 7);
		ck_assert_int_eq(number_of(notifyq_at(&other, 1)), 1);
		ck_assert_int_eq(number_of(notifyq_at(&other, 2)), 2);
		notifyq_free(&other);
	}
	notifyq_free(&q);
}
END_TEST

Suite *
notifyq_suite(void)
{
	Suite *s = suite_create("notifyq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_fifo_order_across_growth_and_wrap);
	tcase_add_test(tc, test_shift_hands_out_the_oldest_and_counts_its_bytes);
	suite_add_tcase(s, tc);
	return s;
}
