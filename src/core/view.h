/* SPDX-License-Identifier: PostgreSQL */
/* The node's latest view of its cluster, read with its heartbeat, for HTTP. */
#ifndef CN_VIEW_H
#define CN_VIEW_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "names.h"

#define VIEW_MAX_MEMBERS 64
#define MAX_LISTENING 66	/* the channels, the durable events' wake-up, and spare */

struct member_view {
	char node[NAME_MAX_BYTES + 1];
	char role[16];
	char host[NAME_MAX_BYTES + 1];
	int pid;
	char session[16];	/* live, gone */
	double heartbeat_age;	/* seconds, when the view was taken */
	char status_url[300];	/* as the member registered it (hostile until checked), or "" */
};

/* A term of the history (sql/014) that ran within the last VIEW_TERMS_SECONDS. */
#define VIEW_MAX_TERMS 256
#define VIEW_TERMS_SECONDS 600
struct term_view {
	int partition;
	long long term;
	char leader[NAME_MAX_BYTES + 1];
	char reason[24];
	double began_ago;	/* seconds before the view was taken */
	double ended_ago;	/* ... or -1 while it runs */
};

struct cluster_view {
	bool valid;
	double taken_at;	/* wall clock, seconds */
	bool has_state;
	long long term;
	long long counter;
	char leader[NAME_MAX_BYTES + 1];	/* "" when none recorded */
	char elected_at[40];
	double queue_usage;	/* pg_notification_queue_usage() */
	double lease_age;	/* seconds since the leader's last commit, or -1 without one */
	char listening[MAX_LISTENING][NAME_MAX_BYTES + 1];	/* this session's LISTENs */
	int nlistening;
	int nmembers;
	struct member_view members[VIEW_MAX_MEMBERS];
	long long events_waiting;	/* -1: not read (a schema before 14) */
	long long dead_letters;
	int nterms;		/* 0 also before schema 14 (no history) */
	struct term_view terms[VIEW_MAX_TERMS];
};

/* Readers of SQL_VIEW_STATE and SQL_MEMBERS (queries.h), added to heartbeat batches. */
void view_read_state(struct cluster_view *v, const PGresult *res, double now);
void view_read_members(struct cluster_view *v, const PGresult *res);
void view_read_terms(struct cluster_view *v, const PGresult *res);
void view_read_backlog(struct cluster_view *v, const PGresult *res);

#endif
