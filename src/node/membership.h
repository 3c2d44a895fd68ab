/* SPDX-License-Identifier: PostgreSQL */
/* This node's row in clustered_nodes.members: registration, heartbeats, the cluster view
 * for the status endpoint, and leaving.  Heartbeats and view refreshes ride on whatever
 * batch the node sends next. */
#ifndef CN_MEMBERSHIP_H
#define CN_MEMBERSHIP_H

#include <stdbool.h>

#include <ev.h>

#include "fsm.h"
#include "session.h"
#include "settings.h"
#include "view.h"

/* How long a live namesake may keep refusing our registration before we give up. */
#define DUPLICATE_GRACE_S 2.0
#define DUPLICATE_RETRY_S 0.2

struct membership_hooks {
	/* Our row is written: stand by. */
	void (*registered)(void *owner);
	/* Another live node has our name: stop. */
	void (*duplicate)(void *owner);
	/* A heartbeat or view refresh is due: an idle node should send a batch now. */
	void (*housekeeping_due)(void *owner);
};

struct membership {
	struct ev_loop *loop;
	struct session *session;
	const struct config *cfg;
	struct fsm *fsm;
	struct cluster_view *view;
	const struct membership_hooks *hooks;
	void *owner;
	const char *host;
	const char *pid_text;
	const char *status_url;	/* "" without --http */
	bool want_view;		/* the status endpoint is on */
	ev_timer heartbeat_timer;
	ev_timer view_timer;
	ev_timer register_timer;	/* a refused registration is retried */
	double first_refusal_at;	/* when a live namesake first refused us, or 0 */
	bool heartbeat_due;
	bool view_due;
	bool accepted;		/* read by the registration in flight */
	bool row_lost;		/* a heartbeat found our row gone: write it again */
};

void membership_init(struct membership *m, struct ev_loop *loop, struct session *session,
		     const struct config *cfg, struct fsm *fsm, struct cluster_view *view,
		     const struct membership_hooks *hooks, void *owner);
/* host, pid and status URL as registered; they must outlive the membership. */
void membership_identify(struct membership *m, const char *host, const char *pid_text,
			 const char *status_url, bool want_view);
void membership_start_timers(struct membership *m);
void membership_stop_timers(struct membership *m);
/* heartbeat_interval changed (SIGHUP). */
void membership_reload(struct membership *m);

void membership_register(struct membership *m);
/* The session is gone: a pending registration retry is moot. */
void membership_forget(struct membership *m);

/* Refresh our row (and the view) with the next batch. */
void membership_want_heartbeat(struct membership *m);
bool membership_housekeeping_due(const struct membership *m);
/* Adds what is due to the batch being built, after the caller's own statements. */
bool membership_add_housekeeping(struct membership *m);
/* Adds the removal of our row to the batch being built. */
bool membership_add_leave(struct membership *m);

#endif
