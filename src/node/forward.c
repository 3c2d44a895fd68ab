/* SPDX-License-Identifier: PostgreSQL */
/* A handed-over partition's plain notifications, forwarded as its durable events until
 * the next leader's fence (sql/013).
 *
 * Why this is exactly once: PostgreSQL delivers notifications to every listener in commit
 * order.  The next leader's take-over transaction LISTENs and notifies its fence; it
 * processes only what comes after that fence (leader_accepts_notifications), and anything
 * it receives before it was committed before the take-over.  This node still listens
 * after its hand-over, so it receives the same stream: what it held unprocessed and what
 * arrives up to the fence it forwards; after the fence, nothing.  Each notification is
 * therefore either processed here, forwarded here (and processed once, as a durable
 * event, by whoever leads the partition), or processed by the next leader.
 *
 * Batches run on the node's one session, pipelined behind whatever it sends; their
 * answers come back in the order they were sent, which is how each is matched to its
 * partition below. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "log.h"
#include "pgarray.h"
#include "queries.h"

/* What one batch forwards at most: NOTIFY payloads are under 8000 bytes, so a batch stays
 * under a few megabytes of parameters. */
#define FORWARD_BATCH 500
/* The longest a hand-over waits for the next leader's fence. */
#define FORWARD_WAIT_MAX_S 5.0

static void flush(struct forward *fw, int p, bool check);

static void
off_if_done(struct forward *fw, int p)
{
	struct forward_slot *s = &fw->slots[p];

	if ((s->phase != FORWARD_FENCED && s->phase != FORWARD_RELAY) || s->kept.count > 0 ||
	    s->pending > 0)
		return;
	if (s->phase == FORWARD_RELAY && s->lost > 0)
		log_warn("partition %d: relayed %llu plain notification(s) as durable events; %llu "
			 "could not be and are lost", p, s->sent, s->lost);
	else if (s->phase == FORWARD_RELAY)
		;	/* the listener's everyday work */
	else if (s->lost > 0)
		log_warn("partition %d: forwarded %llu plain notification(s) received after its "
			 "hand-over as durable events; %llu could not be and are lost", p, s->sent,
			 s->lost);
	else if (s->sent > 0)
		log_info("partition %d: forwarded %llu plain notification(s) received after its "
			 "hand-over as durable events", p, s->sent);
	s->phase = FORWARD_OFF;
	s->sent = s->lost = 0;
	if (!forward_busy(fw))
		fw->idle(fw->owner);
}

static void
fence(struct forward *fw, int p, const char *why)
{
	struct forward_slot *s = &fw->slots[p];

	if (s->phase != FORWARD_SENDING)
		return;		/* (while it holds, no one else can take the partition) */
	log_debug("partition %d: forwarding ends: %s", p, why);
	s->phase = FORWARD_FENCED;
	flush(fw, p, false);
	off_if_done(fw, p);
}

/* ---- answers ---- */

static void
read_others_live(void *ctx, const PGresult *res)
{
	struct forward *fw = ctx;

	fw->others_live = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
}

static void
on_forwarded(void *ctx, const struct batch_outcome *o)
{
	struct forward *fw = ctx;
	struct forward_flight done;
	struct forward_slot *s;

	if (fw->flights_count == 0)
		return;		/* forgotten meanwhile */
	done = fw->flights[fw->flights_head];
	fw->flights_head = (fw->flights_head + 1) % FORWARD_MAX_FLIGHTS;
	fw->flights_count--;
	s = &fw->slots[done.partition];
	s->pending -= done.count;
	if (o->failed) {
		log_error("partition %d: could not forward %zu plain notification(s) received after "
			  "its hand-over (%s): they are lost", done.partition, done.count, o->error);
		s->lost += done.count;
	} else {
		s->sent += done.count;
	}
	notifyq_drop(&s->kept, done.count);
	if (done.check && !o->failed && !fw->others_live)
		fence(fw, done.partition, "no other member is alive to take it over");
	/* What a full ring held back, and what a finished partition leaves. */
	for (int p = 0; p < fw->count; p++)
		if (fw->slots[p].phase == FORWARD_SENDING || fw->slots[p].phase == FORWARD_FENCED ||
		    fw->slots[p].phase == FORWARD_RELAY)
			flush(fw, p, false);
	off_if_done(fw, done.partition);
}

/* ---- sending ---- */

static bool
add_forward(struct forward *fw, int p, size_t from, size_t n)
{
	const char **channels = malloc(n * sizeof(*channels));
	const char **payloads = malloc(n * sizeof(*payloads));
	char partition[12], *channels_text = NULL, *payloads_text = NULL;
	size_t channels_size, payloads_size;
	bool ok = false;

	if (channels == NULL || payloads == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const PGnotify *note = notifyq_at(&fw->slots[p].kept, from + i);

		channels[i] = note->relname;
		payloads[i] = note->extra;
	}
	channels_size = pg_text_array(NULL, 0, channels, (int) n) + 1;
	payloads_size = pg_text_array(NULL, 0, payloads, (int) n) + 1;
	channels_text = malloc(channels_size);
	payloads_text = malloc(payloads_size);
	if (channels_text == NULL || payloads_text == NULL)
		goto out;
	pg_text_array(channels_text, channels_size, channels, (int) n);
	pg_text_array(payloads_text, payloads_size, payloads, (int) n);
	snprintf(partition, sizeof(partition), "%d", p);
	{
		const char *params[] = {fw->cfg->cluster, partition, channels_text, payloads_text};

		ok = session_add(fw->session, 0, 0, SQL_FORWARD, 4, params, NULL, NULL);
	}
out:
	if (!ok && (channels == NULL || payloads == NULL || channels_text == NULL ||
		    payloads_text == NULL))
		log_error("out of memory forwarding %zu plain notification(s)", n);
	free(channels);
	free(payloads);
	free(channels_text);
	free(payloads_text);
	return ok;
}

/* Send what partition p keeps and has not sent yet (and, with `check`, ask whether anyone
 * else lives to take it), as one batch. */
static void
flush(struct forward *fw, int p, bool check)
{
	struct forward_slot *s = &fw->slots[p];
	size_t n = s->kept.count - s->pending;
	const char *params[] = {fw->cfg->cluster};

	if (n > FORWARD_BATCH)
		n = FORWARD_BATCH;
	if ((n == 0 && !check) || fw->flights_count == FORWARD_MAX_FLIGHTS ||
	    !session_is_up(fw->session))
		return;
	if ((n > 0 && !add_forward(fw, p, s->pending, n)) ||
	    (check && !session_add(fw->session, 0, 0, SQL_OTHER_MEMBER_LIVE, 1, params,
				   read_others_live, fw)) ||
	    !session_send(fw->session, on_forwarded, fw, true))
		return;
	fw->flights[(fw->flights_head + fw->flights_count) % FORWARD_MAX_FLIGHTS] =
	    (struct forward_flight) {p, n, check};
	fw->flights_count++;
	s->pending += n;
}

/* ---- waiting for the fence ---- */

static void
arm_wait(struct forward *fw)
{
	double earliest = 0;

	ev_timer_stop(fw->loop, &fw->wait_timer);
	for (int p = 0; p < fw->count; p++)
		if (fw->slots[p].phase == FORWARD_SENDING &&
		    (earliest == 0 || fw->slots[p].until < earliest))
			earliest = fw->slots[p].until;
	if (earliest == 0)
		return;
	ev_timer_set(&fw->wait_timer, earliest > ev_now(fw->loop) ? earliest - ev_now(fw->loop) :
		     0., 0.);
	ev_timer_start(fw->loop, &fw->wait_timer);
}

static void
on_wait_over(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct forward *fw = w->data;

	(void) loop;
	(void) revents;
	for (int p = 0; p < fw->count; p++)
		if (fw->slots[p].phase == FORWARD_SENDING && fw->slots[p].until <= ev_now(fw->loop)) {
			log_warn("partition %d: no next leader's fence within %.1f s of its hand-over: "
				 "plain notifications that arrive from now on are not forwarded", p,
				 fw->wait_s);
			fence(fw, p, "no fence in time");
		}
	arm_wait(fw);
}

/* ---- the leads' calls ---- */

bool
forward_init(struct forward *fw, struct ev_loop *loop, struct session *session,
	     const struct config *cfg, int count, void (*idle)(void *owner), void *owner)
{
	memset(fw, 0, sizeof(*fw));
	fw->loop = loop;
	fw->session = session;
	fw->cfg = cfg;
	fw->count = count;
	fw->idle = idle;
	fw->owner = owner;
	/* The next leader is woken by our hand-over and takes over in milliseconds when it
	 * waits, within a look interval when it polls.  Bounded by a lease, and by half of the
	 * 10 s a stopping node gives itself (node.c), so that the stop is never cut short. */
	fw->wait_s = (cfg->lease_timeout_ms > 0 ? (double) cfg->lease_timeout_ms : 10000.) / 1000.;
	if (fw->wait_s > FORWARD_WAIT_MAX_S)
		fw->wait_s = FORWARD_WAIT_MAX_S;
	fw->slots = calloc((size_t) count, sizeof(*fw->slots));
	if (fw->slots == NULL)
		return false;
	for (int p = 0; p < count; p++)
		notifyq_init(&fw->slots[p].kept);
	ev_timer_init(&fw->wait_timer, on_wait_over, 0., 0.);
	fw->wait_timer.data = fw;
	return true;
}

void
forward_free(struct forward *fw)
{
	if (fw->slots == NULL)
		return;
	forward_forget(fw);
	free(fw->slots);
	fw->slots = NULL;
}

void
forward_hold(struct forward *fw, int p)
{
	if (fw->session->schema_version < SCHEMA_VERSION_FORWARD)
		return;		/* forward() is missing: the old behaviour (cmd_check warns) */
	fw->slots[p].phase = FORWARD_HOLDING;
}

void
forward_start(struct forward *fw, int p, long long term, struct notifyq *leftover)
{
	struct forward_slot *s = &fw->slots[p];
	struct notifyq later = s->kept;
	PGnotify *note;

	if (s->phase == FORWARD_OFF)
		return;
	/* What the leader holds came first, then what was kept while it stopped; a batch of
	 * this partition's is not on its way yet (it is sent from here on). */
	notifyq_init(&s->kept);
	while ((note = notifyq_shift(leftover)) != NULL || (note = notifyq_shift(&later)) != NULL)
		if (!notifyq_push(&s->kept, note)) {
			log_error("out of memory forwarding a plain notification: it is lost");
			PQfreemem(note);
			s->lost++;
		}
	notifyq_free(&later);
	if (s->phase == FORWARD_HOLDING) {
		s->phase = FORWARD_SENDING;
		s->term = term;
		s->until = ev_now(fw->loop) + fw->wait_s;
		arm_wait(fw);
	}
	flush(fw, p, s->phase == FORWARD_SENDING);
	off_if_done(fw, p);
}

bool
forward_take(struct forward *fw, int p, PGnotify *note)
{
	struct forward_slot *s = &fw->slots[p];

	if (s->phase != FORWARD_HOLDING && s->phase != FORWARD_SENDING)
		return false;
	if (s->kept.bytes + notifyq_cost(note) > fw->cfg->backlog_limit ||
	    !notifyq_push(&s->kept, note)) {
		if (s->lost++ == 0)	/* once per hand-over; off_if_done() says it again */
			log_warn("partition %d: %zu plain notification(s) wait to be forwarded, at "
				 "the backlog's limit: dropping what comes until they are sent", p,
				 s->kept.count);
		PQfreemem(note);
		return true;
	}
	if (s->phase == FORWARD_SENDING)
		flush(fw, p, false);
	return true;
}

void
forward_relay(struct forward *fw, int p, PGnotify *note)
{
	struct forward_slot *s = &fw->slots[p];

	if (s->phase == FORWARD_OFF)
		s->phase = FORWARD_RELAY;
	if (s->kept.bytes + notifyq_cost(note) > fw->cfg->backlog_limit ||
	    !notifyq_push(&s->kept, note)) {
		if (s->lost++ == 0)
			log_warn("partition %d: %zu plain notification(s) wait to be relayed, at the "
				 "backlog's limit: dropping what comes until they are sent", p,
				 s->kept.count);
		PQfreemem(note);
		return;
	}
	if (s->pending == 0)	/* else what arrives meanwhile goes with the answer's flush */
		flush(fw, p, false);
}

bool
forward_relaying(const struct forward *fw)
{
	return fw->slots[0].phase == FORWARD_HOLDING || fw->slots[0].phase == FORWARD_SENDING;
}

void
forward_fence(struct forward *fw, const PGnotify *note)
{
	char *end, *cluster;
	long p;
	long long term;

	/* "partition:term:cluster", from any session: anyone may NOTIFY (docs/DESIGN.md, Planned
	 * moves), so nothing here may overflow or read past the text. */
	errno = 0;
	p = strtol(note->extra, &end, 10);
	if (end == note->extra || *end != ':' || errno != 0 || p < 0 || p >= fw->count)
		return;
	term = strtoll(end + 1, &cluster, 10);
	if (cluster == end + 1 || *cluster != ':' || errno != 0 ||
	    strcmp(cluster + 1, fw->cfg->cluster) != 0 || term <= fw->slots[p].term)
		return;
	fence(fw, (int) p, "the next leader's fence came");
}

bool
forward_busy(const struct forward *fw)
{
	if (fw->flights_count > 0)
		return true;
	for (int p = 0; p < fw->count; p++)
		if (fw->slots[p].phase != FORWARD_OFF)
			return true;
	return false;
}

void
forward_forget(struct forward *fw)
{
	ev_timer_stop(fw->loop, &fw->wait_timer);
	fw->flights_head = fw->flights_count = 0;
	for (int p = 0; p < fw->count; p++) {
		struct forward_slot *s = &fw->slots[p];

		if (s->phase != FORWARD_OFF && s->kept.count > 0)
			log_warn("partition %d: the session is gone: %zu plain notification(s) kept "
				 "to forward are lost", p, s->kept.count);
		notifyq_free(&s->kept);
		s->phase = FORWARD_OFF;
		s->pending = 0;
		s->sent = s->lost = 0;
	}
}
