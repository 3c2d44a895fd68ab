/* SPDX-License-Identifier: PostgreSQL */
/* What the status endpoint answers: health, readiness, JSON status, metrics, the page.
 * Everything comes from the node's memory (its own state and the view read
 * with its last heartbeat): answering never waits for the database. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "escape.h"
#include "html.h"
#include "http_pages.h"
#include "http_svg.h"
#include "json.h"
#include "node.h"
#include "version.h"

#define TEXT "text/plain; charset=utf-8"

static const char *
role_of(const struct node *n)
{
	/* Partitioned: a node leading any partition is a leader. */
	if (node_partitions_led(n) > 0)
		return "leader";
	switch (node_current_state(n)) {
	case ST_REGISTERING:
	case ST_STANDBY:
	case ST_ACQUIRING:
	case ST_LEAVING:
		return "standby";
	case ST_STOPPED:
		return "stopped";
	default:
		return "disconnected";
	}
}

static bool
session_up(const struct node *n)
{
	enum node_state state = node_current_state(n);

	return state != ST_DISCONNECTED && state != ST_CONNECTING && state != ST_STOPPED;
}

static void
iso_time(double t, char *buf, size_t size)
{
	time_t secs = (time_t) t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
render_healthz(const struct node *n, FILE *out, struct page *page)
{
	int first, deaf = node_deaf_partitions(n, &first);

	page->content_type = TEXT;
	if (session_up(n) && deaf > 0) {
		page->status = 503;
		fprintf(out, "unhealthy: the session of %d led partition(s) (first: %d) does not listen "
			"on all of their channels; listening again\n", deaf, first);
	} else if (session_up(n)) {
		page->status = 200;
		fprintf(out, "ok: %s\n", node_state_name(node_current_state(n)));
	} else {
		page->status = 503;
		fprintf(out, "unhealthy: no database session (%s)%s%s\n",
			node_state_name(node_current_state(n)), node_last_failure(n)[0] ? ": " : "",
			node_last_failure(n));
	}
}

static void
render_readyz(const struct node *n, FILE *out, struct page *page)
{
	int first, squatted = node_squatted_partitions(n, &first), deaf_first;
	int deaf = node_deaf_partitions(n, &deaf_first);

	page->content_type = TEXT;
	page->status = 503;
	if (node_is_stopping(n))
		fprintf(out, "not ready: stopping\n");
	else if (deaf > 0)
		fprintf(out, "not ready: the session of %d led partition(s) (first: %d) does not "
			"listen on all of their channels; listening again\n", deaf, deaf_first);
	else if (squatted > 0) {
		const struct lock_squatter *q = node_lock_squatter(n);

		/* This node should take them, and cannot while they are held. */
		fprintf(out, "not ready: %d partition(s) this node should lead (first: %d) are held "
			"by a session that does not lead them", squatted, first);
		if (q->pid != 0)
			fprintf(out, " (partition %d: backend pid %lld, user %s, application %s, "
				"client %s)", node_lock_squatter_partition(n), q->pid, q->user,
				q->application, q->client);
		fputc('\n', out);
	} else if (node_partitions_led(n) > 0 && node_partition_count(n) > 1) {
		page->status = 200;
		fprintf(out, "ready: leading %d of %d partitions\n", node_partitions_led(n),
			node_partition_count(n));
	} else if (node_state_holds_lock(node_current_state(n))) {
		page->status = 200;
		fprintf(out, "ready: leader\n");
	} else if (node_lock_squatter(n)->pid != 0) {
		const struct lock_squatter *q = node_lock_squatter(n);

		/* Nobody can take over while it holds the lock (until it is evicted). */
		fprintf(out, "not ready: the lock is held by backend pid %lld (user %s, application %s, "
			"client %s), which does not lead\n", q->pid, q->user, q->application, q->client);
	} else if (node_current_state(n) == ST_STANDBY || node_current_state(n) == ST_ACQUIRING) {
		page->status = 200;
		fprintf(out, "ready: standby, able to take over\n");
	} else
		fprintf(out, "not ready: %s\n", node_state_name(node_current_state(n)));
}

static void
render_status(const struct node *n, FILE *out, struct page *page)
{
	double now = ev_time();
	char when[32];

	page->status = 200;
	page->content_type = "application/json";
	fputs("{\"node\":", out);
	json_write_string(out, node_config(n)->node);
	fputs(",\"cluster\":", out);
	json_write_string(out, node_config(n)->cluster);
	fprintf(out, ",\"role\":\"%s\",\"state\":\"%s\",\"term\":%lld,\"counter\":%lld,\"leader\":",
		role_of(n), node_state_name(node_current_state(n)), node_known_term(n), node_known_counter(n));
	json_write_string(out, node_known_leader(n));
	fprintf(out, ",\"connected\":%s,\"last_notification_at\":", session_up(n) ? "true" : "false");
	if (node_stats(n)->last_notification_at > 0) {
		iso_time(node_stats(n)->last_notification_at, when, sizeof(when));
		json_write_string(out, when);
	} else
		fputs("null", out);
	fprintf(out, ",\"uptime_s\":%.1f,\"version\":\"%s\",\"view_age_s\":", now - node_stats(n)->started_at,
		CN_VERSION);
	if (node_view(n)->valid)
		fprintf(out, "%.1f", now - node_view(n)->taken_at);
	else
		fputs("null", out);
	fputs(",\"listening\":[", out);
	for (int i = 0; node_view(n)->valid && i < node_view(n)->nlistening; i++) {
		fputs(i ? "," : "", out);
		json_write_string(out, node_view(n)->listening[i]);
	}
	fputs("],\"lock_held_without_leading\":", out);
	if (node_lock_squatter(n)->pid != 0) {
		const struct lock_squatter *q = node_lock_squatter(n);

		fprintf(out, "{\"pid\":%lld,\"user\":", q->pid);
		json_write_string(out, q->user);
		fputs(",\"application\":", out);
		json_write_string(out, q->application);
		fputs(",\"client\":", out);
		json_write_string(out, q->client);
		fputs(",\"member\":", out);
		json_write_string(out, q->member[0] ? q->member : NULL);
		if (node_partition_count(n) > 1)
			fprintf(out, ",\"partition\":%d", node_lock_squatter_partition(n));
		fputs("}", out);
	} else
		fputs("null", out);
	fprintf(out, ",\"listener\":%s,\"partitions\":%d,\"partitions_led\":%d,"
		"\"partitions_held_without_leading\":%d,\"partition_map\":[",
		node_listens(n) ? "true" : "false", node_partition_count(n), node_partitions_led(n),
		node_squatted_partitions(n, &(int) {0}));
	for (int p = 0; p < node_partition_count(n); p++) {
		struct partition_status st;

		node_partition_status(n, p, &st);
		fprintf(out, "%s{\"partition\":%d,\"leader\":", p ? "," : "", p);
		json_write_string(out, st.leader);
		fprintf(out, ",\"term\":%lld,\"counter\":%lld,\"here\":%s}", st.term, st.counter,
			st.here ? "true" : "false");
	}
	fputs("],\"members\":[", out);
	for (int i = 0; node_view(n)->valid && i < node_view(n)->nmembers; i++) {
		const struct member_view *m = &node_view(n)->members[i];

		fputs(i ? ",{\"node\":" : "{\"node\":", out);
		json_write_string(out, m->node);
		fputs(",\"role\":", out);
		json_write_string(out, m->role);
		fputs(",\"host\":", out);
		json_write_string(out, m->host);
		fprintf(out, ",\"pid\":%d,\"session\":", m->pid);
		json_write_string(out, m->session);
		fprintf(out, ",\"heartbeat_age_s\":%.1f}", m->heartbeat_age + (now - node_view(n)->taken_at));
	}
	fputs("]}\n", out);
}

/* Prometheus label values escape backslash, double quote and newline. */
static void
write_label(FILE *out, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		if (*p == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*p, out);
	}
}

static void
metric(FILE *out, const char *name, const char *type, const char *help, double value)
{
	fprintf(out, "# HELP clustered_nodes_%s %s\n# TYPE clustered_nodes_%s %s\n"
		"clustered_nodes_%s %.17g\n", name, help, name, type, name, value);
}

/* A counter with one value per configured channel. */
static void
per_channel(const struct node *n, FILE *out, const char *name, const char *help,
	    const unsigned long long *values)
{
	fprintf(out, "# HELP clustered_nodes_%s %s\n# TYPE clustered_nodes_%s counter\n", name, help,
		name);
	for (int c = 0; c < node_config(n)->nchannels; c++) {
		fprintf(out, "clustered_nodes_%s{channel=\"", name);
		write_label(out, node_config(n)->channels[c]);
		fprintf(out, "\"} %llu\n", values[c]);
	}
}

/* Partitioned: each partition's counter and term as this node knows them, and which it
 * leads (the cluster's map is the union of every node's partition_led). */
static void
partition_metrics(const struct node *n, FILE *out)
{
	static const char *const names[] = {"partition_processed", "partition_term", "partition_led"};
	static const char *const helps[] = {
		"A partition's counter: this node's own for the partitions it leads, else as its "
		"last partition poll read it.",
		"A partition's term, likewise.",
		"1 for each partition this node leads; the leader label names who leads it."};

	metric(out, "partitions", "gauge", "The cluster's partition count K.",
	       node_partition_count(n));
	metric(out, "partitions_led", "gauge", "Partitions this node leads.", node_partitions_led(n));
	for (int k = 0; k < 3; k++) {
		fprintf(out, "# HELP clustered_nodes_%s %s\n# TYPE clustered_nodes_%s gauge\n",
			names[k], helps[k], names[k]);
		for (int p = 0; p < node_partition_count(n); p++) {
			struct partition_status st;

			node_partition_status(n, p, &st);
			fprintf(out, "clustered_nodes_%s{partition=\"%d\",leader=\"", names[k], p);
			write_label(out, st.leader ? st.leader : "");
			fprintf(out, "\"} %lld\n", k == 0 ? st.counter : k == 1 ? st.term : st.here);
		}
	}
}

static void
render_metrics(const struct node *n, FILE *out, struct page *page)
{
	unsigned long long cumulative = 0;

	page->status = 200;
	page->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metric(out, "up", "gauge", "1 while the node's loop runs.", 1);
	metric(out, "is_leader", "gauge", "1 while this node holds the cluster's lock (partitioned: "
	       "leads at least one partition).", node_partitions_led(n) > 0);
	metric(out, "listener", "gauge", "1 while this node's session listens for the cluster "
	       "(receives its plain notifications).", node_listens(n));
	metric(out, "db_connected", "gauge", "1 while the coordination session is up.",
	       session_up(n));
	metric(out, "term", "gauge", "The cluster's term as this node last saw it.",
	       (double) node_known_term(n));
	metric(out, "cluster_processed", "gauge", "The cluster's counter (notifications and "
	       "events it processed, cluster_state.counter) as this node last saw it.",
	       (double) node_known_counter(n));
	fprintf(out, "# HELP clustered_nodes_build_info The running version.\n"
		"# TYPE clustered_nodes_build_info gauge\nclustered_nodes_build_info{version=\"%s\"} 1\n",
		CN_VERSION);
	if (node_view(n)->valid && node_view(n)->lease_age >= 0)
		metric(out, "lease_age_seconds", "gauge", "Since the leader's last commit (step, "
		       "renewal) at the last view: near the renewal interval while it is alive, "
		       "growing toward lease_timeout when it hangs (partitioned: partition 0's).",
		       node_view(n)->lease_age + (ev_time() - node_view(n)->taken_at));
	if (node_view(n)->valid && node_view(n)->events_waiting >= 0) {
		metric(out, "durable_events_waiting", "gauge", "The cluster's durable events not yet "
		       "processed, at the last view (schema 14).",
		       (double) node_view(n)->events_waiting);
		metric(out, "dead_letters", "gauge", "The cluster's dead letters, at the last view "
		       "(schema 14; redrive() takes them back).", (double) node_view(n)->dead_letters);
	}
	per_channel(n, out, "notifications_processed_total",
		    "Notifications whose step this node committed.", node_stats(n)->processed);
	per_channel(n, out, "notifications_dropped_total", "Plain notifications dropped because "
		    "the backlog was at backlog_limit.", node_stats(n)->dropped);
	metric(out, "backlog_bytes", "gauge", "Memory held by received, unprocessed notifications.",
	       (double) node_backlog_bytes(n));
	metric(out, "lock_held_without_leading", "gauge", "1 while this node sees the cluster's "
	       "lock held by a session that does not lead (a squatter, a stopped standby); "
	       "partitioned: how many partitions this node should take are held so.",
	       node_partition_count(n) > 1 ? (double) node_squatted_partitions(n, &(int) {0}) :
	       node_lock_squatter(n)->pid != 0);
	fputs("# HELP clustered_nodes_step_duration_seconds Time from sending a processing step to "
	      "its commit.\n# TYPE clustered_nodes_step_duration_seconds histogram\n", out);
	for (int b = 0; b < STEP_BUCKETS; b++) {
		cumulative += node_stats(n)->step_buckets[b];
		fprintf(out, "clustered_nodes_step_duration_seconds_bucket{le=\"%g\"} %llu\n",
			step_bucket_bounds[b], cumulative);
	}
	fprintf(out, "clustered_nodes_step_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"clustered_nodes_step_duration_seconds_sum %.9f\n"
		"clustered_nodes_step_duration_seconds_count %llu\n",
		node_stats(n)->step_count, node_stats(n)->step_seconds_sum, node_stats(n)->step_count);
	metric(out, "failovers_total", "counter", "Times this node took the lead from another "
	       "leader (not a first lead; with a schema before 14, every lead taken).",
	       (double) node_stats(n)->failovers);
	fputs("# HELP clustered_nodes_takeovers_total Leads this node took, by why the lead "
	      "moved (clustered_nodes.history, schema 14; unknown before it).\n"
	      "# TYPE clustered_nodes_takeovers_total counter\n", out);
	for (int r = 0; r < TAKEOVER_REASONS; r++)
		fprintf(out, "clustered_nodes_takeovers_total{reason=\"%s\"} %llu\n",
			takeover_reason_label[r], node_stats(n)->takeovers[r]);
	if (node_stats(n)->last_takeover_gap_ms >= 0)
		metric(out, "last_takeover_gap_seconds", "gauge", "At this node's last lead taken: "
		       "the time since the previous leader's last commit.",
		       node_stats(n)->last_takeover_gap_ms / 1000.0);
	metric(out, "reconnects_total", "counter", "Times this node lost or could not open its session.",
	       (double) node_stats(n)->reconnects);
	metric(out, "notification_queue_usage", "gauge",
	       "pg_notification_queue_usage() at the last heartbeat (0 to 1).", node_view(n)->queue_usage);
	if (node_partition_count(n) > 1)
		partition_metrics(n, out);
}

/* Partitioned: which node leads what. */
static void
partition_map(const struct node *n, FILE *out)
{
	fprintf(out, "<h2>Partitions</h2>\n<p class=\"sub\">%d partitions; this node leads %d</p>\n"
		"<table id=\"partitions\"><tr><th>partition</th><th>leader</th><th>term</th>"
		"<th>counter</th></tr>\n", node_partition_count(n), node_partitions_led(n));
	for (int p = 0; p < node_partition_count(n); p++) {
		struct partition_status st;

		node_partition_status(n, p, &st);
		fprintf(out, "<tr class=\"%s\"><td>%d</td><td>", st.here ? "leader" :
			st.leader ? "" : "gone", p);
		html_text(out, st.leader ? st.leader : "none");
		fprintf(out, "</td><td>%lld</td><td>%lld</td></tr>\n", st.term, st.counter);
	}
	fputs("</table>\n", out);
}

static void
render_index(const struct node *n, FILE *out, struct page *page)
{
	double now = ev_time();
	const char *leader = node_known_leader(n);
	char when[32];

	page->status = 200;
	page->content_type = "text/html; charset=utf-8";
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta http-equiv=\"refresh\" content=\"2\">"
	      "<meta name=\"viewport\" content=\"width=device-width\"><title>", out);
	html_text(out, node_config(n)->cluster);
	fputs(" · clustered_nodes</title><style>"
	      "body{font:15px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}"
	      "h1{font-size:1.4em;margin:0 0 .2em}.sub{color:#666;margin-bottom:1.5em}"
	      ".cards{display:flex;gap:1em;flex-wrap:wrap;margin-bottom:1.5em}"
	      ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1.2em;min-width:9em}"
	      ".card b{display:block;font-size:1.6em}.card span{color:#666;font-size:.85em}"
	      "table{border-collapse:collapse;background:#fff;margin-bottom:1.5em}"
	      "th,td{border:1px solid #ddd;padding:.35em .8em;text-align:left}th{background:#f0f0f0}"
	      ".leader{font-weight:bold;color:#0a6d2c}.gone{color:#b00}code{font-size:.9em}"
	      "</style></head><body>\n<h1>Cluster <span id=\"cluster\">", out);
	html_text(out, node_config(n)->cluster);
	fputs("</span></h1>\n<div class=\"sub\">seen from node <b id=\"self\">", out);
	html_text(out, node_config(n)->node);
	/* The state adds something only where it differs from the role. */
	fprintf(out, "</b> (%s%s%s) · refreshes every 2 s</div>\n<div class=\"cards\">"
		"<div class=\"card\"><span>leader</span><b id=\"leader\">", role_of(n),
		strcmp(role_of(n), node_state_name(node_current_state(n))) ? ", " : "",
		strcmp(role_of(n), node_state_name(node_current_state(n))) ? node_state_name(node_current_state(n)) : "");
	if (node_partition_count(n) > 1)	/* one leader per partition: the map below */
		fprintf(out, "this node: %d of %d partitions", node_partitions_led(n),
			node_partition_count(n));
	else
		html_text(out, leader ? leader : "none");
	fprintf(out, "</b></div><div class=\"card\"><span>term</span><b id=\"term\">%lld</b></div>"
		"<div class=\"card\"><span>counter</span><b id=\"counter\">%lld</b></div>"
		"<div class=\"card\"><span>database session</span><b>%s</b></div></div>\n",
		node_known_term(n), node_known_counter(n), session_up(n) ? "up" : "down");
	fputs("<h2>Members</h2>\n<table id=\"members\"><tr><th>node</th><th>role</th><th>session"
	      "</th><th>host</th><th>pid</th><th>heartbeat age</th></tr>\n", out);
	for (int i = 0; node_view(n)->valid && i < node_view(n)->nmembers; i++) {
		const struct member_view *m = &node_view(n)->members[i];

		fprintf(out, "<tr class=\"%s\"><td>", strcmp(m->session, "gone") == 0 ? "gone" :
			strcmp(m->role, "leader") == 0 ? "leader" : "");
		/* Its own page, if it serves one: only an http(s) address becomes a link. */
		if (strncmp(m->status_url, "http://", 7) == 0 ||
		    strncmp(m->status_url, "https://", 8) == 0) {
			fputs("<a class=\"member-page\" href=\"", out);
			html_text(out, m->status_url);
			fputs("\">", out);
			html_text(out, m->node);
			fputs("</a>", out);
		} else
			html_text(out, m->node);
		fputs("</td><td>", out);
		html_text(out, m->role);
		fputs("</td><td>", out);
		html_text(out, m->session);
		fputs("</td><td>", out);
		html_text(out, m->host);
		fprintf(out, "</td><td>%d</td><td>%.1f s</td></tr>\n", m->pid,
			m->heartbeat_age + (now - node_view(n)->taken_at));
	}
	fputs("</table>\n", out);
	if (node_partition_count(n) > 1)
		partition_map(n, out);
	fputs("<h2>Terms</h2>\n<p class=\"sub\">The last 10 minutes at most, a bar per term; "
	      "in red, from a term's last commit to the next one's start.</p>\n", out);
	if (node_view(n)->valid && node_view(n)->nterms > 0)
		svg_timeline(out, node_view(n), node_partition_count(n), now - node_view(n)->taken_at);
	else
		fputs("<p id=\"no-history\" class=\"sub\">No history read yet (it needs schema "
		      "version 14, sql/014_history.sql).</p>\n", out);
	fputs("<h2>This node's steps and notifications per second</h2>\n", out);
	svg_rates(out, node_stats(n), now);
	fputs("<h2>Recent notifications</h2>\n", out);
	if (node_stats(n)->recent_count == 0)
		fputs("<p id=\"recent\">None processed by this node.", out);
	else {
		fputs("<table id=\"recent\"><tr><th>time (UTC)</th><th>counter</th><th>channel</th>"
		      "<th>payload</th></tr>\n", out);
		for (size_t i = 0; i < node_stats(n)->recent_count; i++) {
			const struct recent_notification *r = stats_recent(node_stats(n), i);

			iso_time(r->at, when, sizeof(when));
			fprintf(out, "<tr><td>%s</td><td>%lld</td><td>", when, r->counter);
			html_text(out, r->channel);
			fputs("</td><td><code>", out);
			html_text(out, r->payload);
			fputs("</code></td></tr>\n", out);
		}
		fputs("</table>", out);
	}
	fprintf(out, "\n<p class=\"sub\">clustered_nodes %s · <a href=\"/status\">/status</a> · "
		"<a href=\"/metrics\">/metrics</a></p></body></html>\n", CN_VERSION);
}

void
http_render(const struct node *n, const char *url, FILE *out, struct page *page)
{
	if (strcmp(url, "/") == 0)
		render_index(n, out, page);
	else if (strcmp(url, "/healthz") == 0)
		render_healthz(n, out, page);
	else if (strcmp(url, "/readyz") == 0)
		render_readyz(n, out, page);
	else if (strcmp(url, "/status") == 0)
		render_status(n, out, page);
	else if (strcmp(url, "/metrics") == 0)
		render_metrics(n, out, page);
	else {
		page->status = 404;
		page->content_type = TEXT;
		fputs("not found: try /, /healthz, /readyz, /status or /metrics\n", out);
	}
}
