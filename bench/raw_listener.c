/* SPDX-License-Identifier: PostgreSQL */
/*
 * The limit for benchmarks: a minimal LISTEN client (libpq + libev) that only
 * counts notifications.  Everything the leader does beyond this is overhead.
 *
 *   raw_listener CONNINFO CHANNEL
 * prints "ready" once listening; on SIGTERM or SIGINT prints
 * "<count> <first receipt, epoch µs> <last receipt, epoch µs>" and exits.
 * Blocking libpq for connect and LISTEN is fine here: nothing else runs yet.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <libpq-fe.h>

static PGconn *conn;
static unsigned long long received, first_us, last_us;

static unsigned long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000;
}

static void
readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	PGnotify *n;
	unsigned long long t;

	(void) w;
	(void) revents;
	if (!PQconsumeInput(conn)) {
		fprintf(stderr, "raw_listener: %s", PQerrorMessage(conn));
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	t = now_us();
	while ((n = PQnotifies(conn)) != NULL) {
		if (received++ == 0)
			first_us = t;
		last_us = t;
		PQfreemem(n);
	}
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) w;
	(void) revents;
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_io readable;
	ev_signal term, intr;
	PGresult *res;
	char *channel, *sql;

	if (argc != 3) {
		fprintf(stderr, "usage: raw_listener CONNINFO CHANNEL\n");
		return 64;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "raw_listener: %s", PQerrorMessage(conn));
		return 1;
	}
	channel = PQescapeIdentifier(conn, argv[2], strlen(argv[2]));
	sql = malloc(strlen(channel) + 8);
	sprintf(sql, "LISTEN %s", channel);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "raw_listener: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	PQsetnonblocking(conn, 1);

	ev_io_init(&readable, readable_cb, PQsocket(conn), EV_READ);
	ev_io_start(loop, &readable);
	ev_signal_init(&term, stop_cb, SIGTERM);
	ev_signal_start(loop, &term);
	ev_signal_init(&intr, stop_cb, SIGINT);
	ev_signal_start(loop, &intr);
	printf("ready\n");
	fflush(stdout);
	ev_run(loop, 0);
	printf("%llu %llu %llu\n", received, first_us, last_us);
	PQfreemem(channel);
	free(sql);
	PQfinish(conn);
	return 0;
}
