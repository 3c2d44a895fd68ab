/* SPDX-License-Identifier: PostgreSQL */
/* HA test producer: durable events at a steady rate through a (multi-host) conninfo, each
 * with a ledger row in the same transaction, and what the client knows of each commit.
 *
 *   producer CONNINFO CHANNEL RATE_PER_S STOP_FILE
 *
 * For each sequence number, one transaction: BEGIN; clustered_nodes.notify(CHANNEL, seq);
 * INSERT INTO ha.produced (seq); COMMIT.  It prints one line per transaction on stdout:
 *   ok SEQ         the COMMIT succeeded
 *   failed SEQ     it failed before COMMIT was sent: nothing committed
 *   ambiguous SEQ  the session broke during COMMIT: it may or may not have committed
 * and reconnects (every 50 ms) whenever the session is gone, until STOP_FILE exists.
 * Blocking libpq is fine here: this is a test tool with nothing else to do.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
pause_s(double s)
{
	if (s > 0)
		usleep((useconds_t) (s * 1e6));
}

/* Runs one statement; true if it succeeded. */
static bool
run(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "producer: %s", PQerrorMessage(c));
	PQclear(r);
	return ok;
}

int
main(int argc, char **argv)
{
	PGconn *c = NULL;
	double rate, next;
	long long seq = 0;

	if (argc != 5 || (rate = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: producer CONNINFO CHANNEL RATE_PER_S STOP_FILE\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	next = now_s();
	while (access(argv[4], F_OK) != 0) {
		char seq_text[24];
		const char *notify[] = {argv[2], seq_text};
		const char *insert[] = {seq_text};

		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = PQconnectdb(argv[1]);
			if (PQstatus(c) != CONNECTION_OK) {
				PQfinish(c);
				c = NULL;
				pause_s(0.05);
				continue;
			}
		}
		snprintf(seq_text, sizeof(seq_text), "%lld", ++seq);
		if (!run(c, "BEGIN", 0, NULL) ||
		    !run(c, "SELECT clustered_nodes.notify($1, $2)", 2, notify) ||
		    !run(c, "INSERT INTO ha.produced (seq) VALUES ($1::bigint)", 1, insert)) {
			printf("failed %lld\n", seq);
			run(c, "ROLLBACK", 0, NULL);
		} else if (run(c, "COMMIT", 0, NULL))
			printf("ok %lld\n", seq);
		else
			printf("%s %lld\n", PQstatus(c) == CONNECTION_OK ? "failed" : "ambiguous", seq);
		next += 1.0 / rate;
		pause_s(next - now_s());
		if (now_s() - next > 1.0)
			next = now_s();	/* a stall: do not burst to catch up */
	}
	PQfinish(c);
	return 0;
}
