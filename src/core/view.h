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
	char listening[MAX_LISTENING][NAME_MAX_BYTES + 1];	/* this session's LISTENs */
	int nlistening;
	int nmembers;
	struct member_view members[VIEW_MAX_MEMBERS];
};

/* Readers of SQL_VIEW_STATE and SQL_MEMBERS (queries.h), added to heartbeat batches. */
void view_read_state(struct cluster_view *v, const PGresult *res, double now);
void view_read_members(struct cluster_view *v, const PGresult *res);

#endif
