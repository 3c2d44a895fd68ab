/* SPDX-License-Identifier: PostgreSQL */
/* What a node reports of itself: the values the status endpoint reads (from memory,
 * never from the database), and systemd's STATUS= and READY=1. */
#include <stdio.h>
#include <string.h>

#include "node.h"

static void partition_totals(const struct node *n, long long *counter, long long *term);

enum node_state
node_current_state(const struct node *n)
{
	return n->fsm.state;
}

bool
node_is_stopping(const struct node *n)
{
	return n->stopping;
}

/* The counter and term as this node knows them best; partitioned: the sum of the
 * partitions' counters (every event counted once) and the highest term. */
static void
known_totals(const struct node *n, long long *counter, long long *term)
{
	if (n->leads.count > 1) {
		partition_totals(n, counter, term);
	} else if (node_state_holds_lock(n->fsm.state)) {
		*counter = n->leads.slots[0].leader.counter;
		*term = n->leads.slots[0].leader.term;
	} else {
		*counter = n->view.counter;
		*term = n->view.term;
	}
}

long long
node_known_counter(const struct node *n)
{
	long long counter, term;

	known_totals(n, &counter, &term);
	return counter;
}

long long
node_known_term(const struct node *n)
{
	long long counter, term;

	known_totals(n, &counter, &term);
	return term;
}

const char *
node_known_leader(const struct node *n)
{
	if (n->leads.count > 1)	/* one per partition: see node_partition_status() */
		return NULL;
	if (node_state_holds_lock(n->fsm.state))
		return n->cfg->node;
	return n->view.leader[0] ? n->view.leader : NULL;
}

const struct config *
node_config(const struct node *n)
{
	return n->cfg;
}

const struct cluster_view *
node_view(const struct node *n)
{
	return &n->view;
}

const struct node_stats *
node_stats(const struct node *n)
{
	return &n->stats;
}

size_t
node_backlog_bytes(const struct node *n)
{
	return leads_backlog_bytes(&n->leads);
}

int
node_partition_count(const struct node *n)
{
	return n->leads.count;
}

void
node_partition_status(const struct node *n, int p, struct partition_status *out)
{
	const struct partition_slot *slot;
	const struct partition_view *v;

	memset(out, 0, sizeof(*out));
	if (n->leads.count == 1) {
		out->leader = node_known_leader(n);
		out->term = node_known_term(n);
		out->counter = node_known_counter(n);
		out->here = node_state_holds_lock(n->fsm.state);
		return;
	}
	slot = &n->leads.slots[p];
	v = &n->leads.acquirer.view[p];
	if (node_state_holds_lock(leads_state(&n->leads, p))) {
		out->leader = n->cfg->node;
		out->term = slot->leader.term;
		out->counter = slot->leader.counter;
		out->here = true;
		return;
	}
	out->leader = v->leader_live && v->leader[0] ? v->leader : NULL;
	out->term = v->term;
	out->counter = v->counter;
}

int
node_partitions_led(const struct node *n)
{
	return leads_led(&n->leads);
}

bool
node_listens(const struct node *n)
{
	return leads_listening(&n->leads);
}

/* Partitioned: the sum of the partitions' counters (every event counted once), and the
 * highest term. */
static void
partition_totals(const struct node *n, long long *counter, long long *term)
{
	struct partition_status st;

	*counter = 0;
	*term = 0;
	for (int p = 0; p < n->leads.count; p++) {
		node_partition_status(n, p, &st);
		*counter += st.counter;
		if (st.term > *term)
			*term = st.term;
	}
}

const struct lock_squatter *
node_lock_squatter(const struct node *n)
{
	return &n->leads.acquirer.squatter;
}

int
node_lock_squatter_partition(const struct node *n)
{
	return n->leads.acquirer.squatter_partition;
}

int
node_squatted_partitions(const struct node *n, int *first)
{
	*first = -1;
	return n->leads.count > 1 ? acquirer_squatted(&n->leads.acquirer, first) : 0;
}

const char *
node_last_failure(const struct node *n)
{
	return n->last_failure;
}

int
node_deaf_partitions(const struct node *n, int *first)
{
	int deaf = 0;

	*first = -1;
	for (int p = 0; p < n->leads.count; p++)
		if (node_state_holds_lock(leads_state(&n->leads, p)) && n->leads.slots[p].leader.deaf) {
			if (deaf++ == 0)
				*first = p;
		}
	return deaf;
}

/* ---- systemd ---- */

/* What the node is, for STATUS=: the role and term (sent at once when they change), then
 * the counter (a change of the counter alone is sent at most once a second). */
static void
describe_for_systemd(struct node *n, char *role, size_t role_size, char *counter,
		     size_t counter_size)
{
	enum node_state st = n->fsm.state;

	counter[0] = '\0';
	if (st == ST_STOPPED) {
		snprintf(role, role_size, "stopped");
	} else if (n->stopping) {
		snprintf(role, role_size, "stopping: handing over");
	} else if ((st == ST_DISCONNECTED || st == ST_CONNECTING) && n->last_failure[0] != '\0') {
		/* Not "connecting" and "disconnected" in turn: why it fails, which stays. */
		snprintf(role, role_size, "no database session: %s", n->last_failure);
	} else if (st == ST_DISCONNECTED || st == ST_CONNECTING || st == ST_CHECKING ||
		   st == ST_REGISTERING) {
		snprintf(role, role_size, "%s", node_state_name(st));
	} else if (st == ST_PROMOTING && n->leads.count == 1) {
		/* Its term is not known before the take-over commits. */
		snprintf(role, role_size, "taking the lead of cluster %s", n->cfg->cluster);
	} else if (n->leads.count > 1) {
		snprintf(role, role_size, "leading %d of %d partitions of cluster %s",
			 leads_led(&n->leads), n->leads.count, n->cfg->cluster);
		snprintf(counter, counter_size, ", counters sum %lld", node_known_counter(n));
	} else if (node_state_holds_lock(st)) {
		snprintf(role, role_size, "leader of cluster %s, term %lld", n->cfg->cluster,
			 (long long) n->leads.slots[0].leader.term);
		snprintf(counter, counter_size, ", counter %lld",
			 (long long) n->leads.slots[0].leader.counter);
	} else {
		if (n->leads.acquirer.view_valid)
			n->standby_term = n->leads.acquirer.view[0].term;
		snprintf(role, role_size, "standby in cluster %s, term %lld", n->cfg->cluster,
			 n->standby_term);
	}
}

void
node_report_to_systemd(struct node *n)
{
	char role[sizeof(n->status_role)], counter[64], status[sizeof(role) + sizeof(counter)];
	double now = ev_now(n->loop);
	enum node_state st = n->fsm.state;

	if (!sdnotify_enabled(&n->systemd))
		return;
	if (st == ST_STANDBY || st == ST_ACQUIRING || node_state_holds_lock(st))
		sdnotify_ready(&n->systemd);	/* connected, registered, able to lead */
	describe_for_systemd(n, role, sizeof(role), counter, sizeof(counter));
	if (strcmp(role, n->status_role) == 0 && now - n->status_sent_at < 1.0)
		return;
	snprintf(status, sizeof(status), "%s%s", role, counter);
	snprintf(n->status_role, sizeof(n->status_role), "%s", role);
	n->status_sent_at = now;
	sdnotify_status(&n->systemd, status);
}
