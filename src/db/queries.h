/* SPDX-License-Identifier: PostgreSQL */
/* The SQL a node sends.  Every outside value is a parameter ($n), never spliced in.
 * Every write goes through a function of sql/006_protocol.sql, which checks the caller
 * in the database (the lock's session, the member's own session, a login allowed to act
 * for the cluster); errors CN001 (superseded), CN002 (not the lock's session), CN003 (may
 * not act for the cluster), CN004 (will not end a superuser's session). */
#ifndef CN_QUERIES_H
#define CN_QUERIES_H

#include "names.h"

/* The newest schema version (sql/NNN_*.sql) this binary knows.  The single-leader mode
 * runs on SCHEMA_VERSION_SINGLE already (009 moves a primary key that nodes of 0.1.0 still
 * rely on while an upgrade is under way, and 010's row-level security would refuse their
 * direct writes), partitioned clusters on SCHEMA_VERSION_PARTITIONS; `--check` warns
 * until 010, which keeps tenants apart, 011, which warms a node's session before a
 * takeover, 012, from which dead letters keep their SQLSTATE and whole error and
 * attempts are counted across failovers, 013, which makes planned moves lossless for
 * plain notifications, 014, which keeps the history of terms, 015, which gives a
 * partitioned cluster one listener, 016, which has a standby rehearse the lead before a
 * takeover, and 017, which keeps a node's newest watch session its bell, are applied. */
#define SCHEMA_VERSION 17
#define SCHEMA_VERSION_SINGLE 8
#define SCHEMA_VERSION_TENANTS 10
/* From this version a node warms its session when it registers (SQL_WARM_UP). */
#define SCHEMA_VERSION_WARM_UP 11
/* From this version SQL_RECORD_ATTEMPT_AT and SQL_DEAD_LETTER_WHOLE exist. */
#define SCHEMA_VERSION_WHOLE_ERRORS 12
/* From this version SQL_FORWARD exists. */
#define SCHEMA_VERSION_FORWARD 13
/* From this version clustered_nodes.history exists (SQL_TAKEOVER_STORY, `history`). */
#define SCHEMA_VERSION_HISTORY 14
/* From this version a partitioned cluster has one listener, the leader of partition 0, and
 * its other nodes are rung (SQL_WATCH, SQL_RING, SQL_WAKE, sql/015). */
#define SCHEMA_VERSION_ONE_LISTENER 15
/* From this version a node's warm-up at registration rehearses a whole lead (sql/016). */
#define SCHEMA_VERSION_REHEARSAL 16
/* From this version the newest watch session of a member is its bell, whatever order
 * their first calls commit in (sql/017). */
#define SCHEMA_VERSION_NEWEST_BELL 17
#define ONE_LISTENER(session, partitions) \
	((partitions) > 1 && (session)->schema_version >= SCHEMA_VERSION_ONE_LISTENER)
/* What a partitioned cluster needs (the fence, the turn, the liveness rule of 011). */
#define SCHEMA_VERSION_PARTITIONS 11
#define SCHEMA_VERSION_NEEDED(partitions) \
	((partitions) > 1 ? SCHEMA_VERSION_PARTITIONS : SCHEMA_VERSION_SINGLE)

/* On connect: the schema version present. */
#define SQL_SCHEMA_VERSION \
	"SELECT coalesce(max(version), 0) FROM clustered_nodes.schema_migrations"

/*
 * On connect: register, or take over our own row.  A row held by another process whose
 * session is still alive is left alone and false is returned: a second live node with
 * our name.  A namesake whose session is gone (crashed, restarted by systemd) is
 * replaced.  $1 cluster, $2 node, $3 host, $4 pid, $5 version, $6 status URL or NULL.
 */
#define SQL_REGISTER "SELECT clustered_nodes.register($1, $2, $3, $4::integer, $5, $6)"

/* ... and, with it, compile what a lead runs and load the tables it touches, so that a
 * takeover does not pay for that on its critical path (sql/011).  $1 cluster, $2 node. */
#define SQL_WARM_UP "SELECT clustered_nodes.warm_up($1, $2)"

/* Piggybacked on a lock poll or a step when due; false when our row is gone (then we
 * register again).  $1 cluster, $2 node. */
#define SQL_HEARTBEAT "SELECT clustered_nodes.heartbeat($1, $2)"

/* Graceful stop.  $1 cluster, $2 node. */
#define SQL_DEREGISTER "SELECT clustered_nodes.deregister($1, $2)"

/*
 * Whoever wins a lock takes the handoff key $k in the same statement: there is then no
 * moment when another node sees the lock held and the key free, and has nothing to wait
 * on.  It waits (HANDOFF_TAKE_WAIT_MS at most) for the waiters that hold the key in
 * shared mode for an instant as the previous leader lets it go.  The wait sets
 * lock_timeout for the rest of the transaction: the statement must be its batch's last
 * but for other lock tries.  (A FROM subquery with a volatile function is evaluated once.)
 */
#define HANDOFF_TAKE_WAIT_MS_TEXT "200"
#define SQL_TAKE_WITH_HANDOFF(k) \
	"clustered_nodes.wait_lock(" k "::bigint, " HANDOFF_TAKE_WAIT_MS_TEXT ", false)"

/*
 * An idle node of a single-leader cluster (K = 1), before it looks: wait (at most $2 ms)
 * for the leader to let the handoff key go, in shared mode, so that every idle node wakes
 * at once and none can hold another up (sql/007); also the watch session's wait.  $1
 * handoff key.
 */
#define SQL_WAIT_HANDOFF "SELECT clustered_nodes.wait_lock($1::bigint, $2::integer, true)"

/*
 * ... and, K = 1, if the key was let go, try the lock $3 at once, in the same statement: a
 * takeover then costs no round trip between hearing the leader's end and trying its lock.
 * With one partition the plan is "take it when it is free", and the lock decides.  The
 * winner only tries the key here: every other waiter was granted it, shared, at the same
 * instant, and lets it go when its own backend next runs (4-6 ms on a busy 2-core server,
 * measured).  Without the key, the take-over waits for it at the end of its transaction
 * (SQL_WAIT_TAKE_HANDOFF), while the term's raise is already done, and before the commit
 * that makes it the recorded leader.  Columns: the key was let go, the lock won, the
 * handoff key held.
 */
#define SQL_WAIT_HANDOFF_THEN_TRY \
	"SELECT t.free, t.got, CASE WHEN t.got THEN pg_try_advisory_lock($1::bigint) ELSE false END " \
	"FROM (SELECT w.free, CASE WHEN w.free THEN pg_try_advisory_lock($3::bigint) ELSE false END " \
	"AS got FROM (SELECT clustered_nodes.wait_lock($1::bigint, $2::integer, true) AS free) w) t"

/* Leader: take the handoff key (after winning the lock, and until it has it).  $1 key. */
#define SQL_TAKE_HANDOFF "SELECT pg_try_advisory_lock($1::bigint)"
/* ... in the take-over's transaction, when the lock was won without it (the key was held
 * longer than an instant).  $1 key. */
#define SQL_WAIT_TAKE_HANDOFF "SELECT " SQL_TAKE_WITH_HANDOFF("$1")

/* Who holds the lock (pid, user, application, client, member or NULL, superuser), to name
 * a holder that does not lead.  $1 cluster. */
#define SQL_LOCK_HOLDER "SELECT * FROM clustered_nodes.lock_holder($1)"

/* On connect: the cluster's partitions and key rule, recorded by its first node (this one,
 * if it is the first).  $1 cluster, $2 partitions, $3 rule.  Columns: partitions, rule. */
#define SQL_CLUSTER_PARTITIONS \
	"SELECT * FROM clustered_nodes.cluster_partitions($1, $2::integer, $3)"

/* On connect: may this login act for the cluster?  (CN003 if not.)  $1 cluster. */
#define SQL_MAY_ACT "SELECT clustered_nodes.check_may_act($1)"
#define SQLSTATE_MAY_NOT_ACT "CN003"

/*
 * Connect: server-side TCP keepalives and tcp_user_timeout for this session,
 * so the server ends it (and frees the lock) within session_timeout when the
 * node vanishes.  No statement_timeout or lock_timeout of the role or the server
 * applies to the node's own statements: their waits are bounded by the node (a
 * standby's wait sets its own lock_timeout; a handler call gets the step's limit), and
 * a role's 50 ms would turn every wait into a busy loop.  $1 idle s, $2 interval s,
 * $3 count, $4 user timeout ms.
 */
#define NO_STATEMENT_LIMITS \
	"set_config('statement_timeout', '0', false), set_config('lock_timeout', '0', false)"
#define SQL_NO_STATEMENT_LIMITS "SELECT " NO_STATEMENT_LIMITS
/*
 * Connect, every session of the node: while a statement runs, its backend checks each
 * second that the node is still connected, so that a wait whose node closed the
 * connection (a watch moved to another leader reconnects; a node stopped or killed while
 * a standby waits) ends within a second, not when the wait does (up to a lease_timeout):
 * until then it keeps a connection and, for a killed node, the member's live session,
 * which a restarted node of the same name waits for.  PostgreSQL 14 and later (on an
 * older server the setting is unknown and the statement selects nothing; it reads one
 * setting, not the pg_settings view, as it runs at every connect).
 */
#define SQL_CHECK_CLIENT \
	"SELECT set_config('client_connection_check_interval', '1000', false) " \
	"WHERE current_setting('client_connection_check_interval', true) IS NOT NULL"
#define SQL_SESSION_TIMEOUTS \
	"SELECT set_config('tcp_keepalives_idle', $1, false), " \
	"  set_config('tcp_keepalives_interval', $2, false), " \
	"  set_config('tcp_keepalives_count', $3, false), " \
	"  set_config('tcp_user_timeout', $4, false), " NO_STATEMENT_LIMITS

/*
 * Taking the lead of a partition (0 in the single-leader mode), inside BEGIN ... LISTEN
 * ... COMMIT: raise its term, record ourselves in cluster_state (creating the row on first
 * use) and, single-leader, in members; subscribe to the channels' durable events; in a
 * partitioned cluster, notify the fence.  $1 cluster, $2 partition, $3 node, $4 lease in
 * ms, $5 channels (text[]).  Columns: term, counter.
 */
#define SQL_TAKE_LEAD \
	"SELECT * FROM clustered_nodes.take_lead($1, $2::integer, $3, $4::bigint, $5::text[])"

/*
 * In the take-over's transaction, after SQL_TAKE_LEAD, at every K: the fence as
 * "partition:term:cluster", for the leader that handed the partition over and still
 * listens (sql/013): it forwards what it received before this, and nothing after.  $1
 * cluster, $2 partition.
 */
#define SQL_SEND_FENCE \
	"SELECT pg_notify('" FENCE_CHANNEL "', s.partition || ':' || s.term || ':' || s.cluster) " \
	"FROM clustered_nodes.cluster_state s WHERE s.cluster = $1 AND s.partition = $2::integer"

/* In the take-over's transaction, after SQL_TAKE_LEAD, from schema version 14: the term's
 * history row, for the log line (sql/014).  $1 cluster, $2 partition.  Columns: previous
 * leader (or ''), reason, gap in ms (or ''). */
#define SQL_TAKEOVER_STORY \
	"SELECT coalesce(h.previous_leader, ''), h.reason, " \
	"  coalesce(round(h.gap_ms::numeric, 1)::text, '') " \
	"FROM clustered_nodes.history h JOIN clustered_nodes.cluster_state s " \
	"  ON s.cluster = h.cluster AND s.partition = h.partition AND s.term = h.term " \
	"WHERE s.cluster = $1 AND s.partition = $2::integer"

/* A handed-over partition's received plain notifications, as its durable events, in
 * order (sql/013).  $1 cluster, $2 partition, $3 channels, $4 payloads (text[] each). */
#define SQL_FORWARD \
	"SELECT clustered_nodes.forward($1, $2::integer, $3::text[], $4::text[])"

/*
 * A processing step's first statement: raise partition $2's counter by $5 if this session
 * holds its lock and term $3 and counter $4 are still ours, move the lease forward by $6
 * ms, delete the step's durable events $7.  Any mismatch raises CN001 (CN002 without the
 * lock) and aborts the step, handler effects included.  $1 cluster.
 */
#define SQL_ADVANCE \
	"SELECT clustered_nodes.advance($1, $2::integer, $3::bigint, $4::bigint, $5::bigint, " \
	"$6::bigint, $7::bigint[])"
#define SQLSTATE_SUPERSEDED "CN001"
/* take_lead() or advance(): the cluster's partitions or key rule changed since this
 * session read them (sql/010): the node stops rather than process under the old layout. */
#define SQLSTATE_LAYOUT_CHANGED "CN007"

/* The leader's next durable events of its partition, oldest first: its cluster's, and any
 * no cluster has taken yet.  $1 cluster, $2 partition, $3 its channels (text[]), $4 how
 * many.  Columns: id, channel, payload, attempts. */
#define EVENTS_BATCH 500
#define SQL_FETCH_EVENTS \
	"SELECT * FROM clustered_nodes.fetch_events($1, $2::integer, $3::text[], $4::integer)"

/* With each lease renewal: does the session listen on every channel of $1 and $2 (text[])?
 * A handler's UNLISTEN is undone in its own step; this is the check that it held. */
#define SQL_LISTENING \
	"SELECT NOT EXISTS (SELECT unnest($1::text[] || $2::text[]) " \
	"EXCEPT SELECT pg_listening_channels())"

/* A suspect durable event's attempt, committed before it runs.  $1 cluster, $2 event id. */
#define SQL_RECORD_ATTEMPT "SELECT clustered_nodes.record_attempt($1, $2::bigint)"
/* ... any durable event running alone, as the attempt it is ($3, from 1): sql/012. */
#define SQL_RECORD_ATTEMPT_AT \
	"SELECT clustered_nodes.record_attempt($1, $2::bigint, $3::integer)"

/* In a step: how long one handler call may run ($1 ms; "0" lifts it before COMMIT). */
#define SQL_STATEMENT_TIMEOUT "SELECT set_config('statement_timeout', $1, true)"

/* At the end of a step with SQL handlers: does this session still hold partition $2's
 * lock?  CN002 if not (a handler let it go).  $1 cluster.  Granted from sql/011. */
#define SQL_CHECK_HOLDS_LOCK "SELECT clustered_nodes.check_still_leads($1, $2::integer)"

/* The handler, prepared on every session: $1 channel, $2 payload, $3 counter, $4 term,
 * $5 node, $6 partition (a statement may use any of them, or none). */
#define HANDLER_STATEMENT "clustered_nodes_handler"
#define HANDLER_PARAMS 6
/* Type OIDs from pg_type.h, fixed since PostgreSQL's first releases. */
#define TEXTOID 25
#define INT8OID 20
#define INT4OID 23
#define HANDLER_PARAM_TYPES {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, INT4OID}

/*
 * An event whose handler failed max_attempts times, in the step that counts it.
 * $1 cluster, $2 partition, $3 term, $4 channel, $5 payload, $6 event id or NULL,
 * $7 counter, $8 node, $9 attempts, $10 error.
 */
#define SQL_DEAD_LETTER \
	"SELECT clustered_nodes.dead_letter($1, $2::integer, $3::bigint, $4, $5, $6::bigint, " \
	"$7::bigint, $8, $9::integer, $10)"
/* ... with $11 the error's SQLSTATE or NULL, the error whole (sql/012). */
#define SQL_DEAD_LETTER_WHOLE \
	"SELECT clustered_nodes.dead_letter($1, $2::integer, $3::bigint, $4, $5, $6::bigint, " \
	"$7::bigint, $8, $9::integer, $10, $11)"

/* A partition handed over: clear our mark ($1 cluster, $2 partition, $3 term; it needs the
 * lock); SQL_RELEASE then frees its lock and handoff key and wakes the cluster's other
 * nodes, in a transaction of its own, so that they need not wait for this one's row. */
#define SQL_CLEAR_PARTITION "SELECT clustered_nodes.release_lead($1, $2::integer, $3::bigint)"

/*
 * Graceful stop, after SQL_CLEAR_PARTITION has committed: release the
 * lock and the handoff key, which wakes the standbys and a partitioned cluster's watches
 * ($1 cluster, $2 lock key, $3 handoff key, $4 whether we hold it).  The NOTIFY wakes a
 * partitioned cluster's nodes, which LISTEN on the handoff channel (and single-leader
 * standbys of versions before 0.2, during a rolling upgrade).
 */
#define SQL_RELEASE \
	"SELECT pg_advisory_unlock($2::bigint), " \
	"  CASE WHEN $4::boolean THEN pg_advisory_unlock($3::bigint) END, " \
	"  pg_notify('" HANDOFF_CHANNEL "', $1)"

/* The server processes alive now, as a set of pids: only their pids are read from the
 * backends' status (pg_stat_activity and pg_stat_get_activity() build some thirty columns
 * per backend, the text of its query included, which costs a look several times more). */
#define LIVE_BACKEND_PIDS \
	"(SELECT pg_stat_get_backend_pid(b) FROM pg_stat_get_backend_idset() b)"

/* Whether another member of cluster $1 is alive to take what we hand over: without one, no
 * fence will come, and a stopping node need not wait for it. */
#define SQL_OTHER_MEMBER_LIVE \
	"SELECT EXISTS (SELECT 1 FROM clustered_nodes.members m WHERE m.cluster = $1 " \
	"  AND m.backend_pid <> pg_backend_pid() AND m.backend_pid IN " LIVE_BACKEND_PIDS ")"

/*
 * A cluster's members and how alive their sessions are, for the status endpoint's view
 * and `status`.  $1 cluster.  Columns: node, role (partitioned: "leads N"), host, pid,
 * version, term,
 * heartbeat age (s), backend pid, session (live, gone), status URL.  (Every standby's
 * session waits on a lock between polls: "waiting" would say nothing.)
 */
#define SQL_MEMBERS \
	"SELECT m.node, CASE WHEN coalesce((SELECT c.partitions FROM clustered_nodes.clusters c " \
	"    WHERE c.cluster = m.cluster), 1) > 1 THEN 'leads ' || (SELECT count(*) " \
	"    FROM clustered_nodes.cluster_state s WHERE s.cluster = m.cluster " \
	"    AND s.leader_pid = m.backend_pid) ELSE m.role END, " \
	"  m.host, m.pid, m.version, coalesce(m.term::text, ''), " \
	"  round(extract(epoch FROM clock_timestamp() - m.heartbeat_at)::numeric, 1), " \
	"  coalesce(m.backend_pid, 0), " \
	"  CASE WHEN m.backend_pid IN " LIVE_BACKEND_PIDS " THEN 'live' ELSE 'gone' END, " \
	"  coalesce(m.status_url, '') " \
	"FROM clustered_nodes.members m " \
	"WHERE m.cluster = $1 ORDER BY m.node"

/* The page's timeline: the terms of the history (sql/014) that ran within the last 10
 * minutes, at most 256 (the newest).  $1 cluster.  Columns: partition, term, leader,
 * reason, seconds since it began, seconds since it ended (-1 while it runs). */
#define SQL_VIEW_TERMS \
	"SELECT partition, term, leader, reason, began_ago, ended_ago FROM (" \
	"  SELECT h.partition, h.term, h.leader, h.reason, " \
	"    round(extract(epoch FROM clock_timestamp() - h.began_at)::numeric, 3) AS began_ago, " \
	"    coalesce(round(extract(epoch FROM clock_timestamp() - h.ended_at)::numeric, 3), -1) " \
	"      AS ended_ago " \
	"  FROM clustered_nodes.history h WHERE h.cluster = $1 " \
	"    AND (h.ended_at IS NULL OR h.ended_at > clock_timestamp() - interval '10 minutes') " \
	"  ORDER BY h.began_at DESC LIMIT 256) x ORDER BY partition, term"

/* For /metrics: the cluster's durable events waiting and dead letters (sql/014).  $1
 * cluster. */
#define SQL_VIEW_BACKLOG "SELECT * FROM clustered_nodes.backlog($1)"

/* The cluster's state row for the view: term, counter, leader, elected_at, queue usage,
 * whether the row exists, the channels this session listens on, and the seconds since the
 * leader's last commit (its lease's age; NULL without a leader).  $1 cluster. */
#define SQL_VIEW_STATE \
	"SELECT s.term, s.counter, coalesce(s.leader, ''), " \
	"  coalesce(to_char(s.elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
	"  pg_notification_queue_usage(), s.cluster IS NOT NULL, " \
	"  (SELECT coalesce(string_agg(c, E'\\n' ORDER BY c), '') FROM pg_listening_channels() c), " \
	"  CASE WHEN s.leader IS NOT NULL " \
	"    THEN round(extract(epoch FROM clock_timestamp() - s.updated_at)::numeric, 3) END " \
	"FROM (SELECT 1) one LEFT JOIN clustered_nodes.cluster_state s " \
	"  ON s.cluster = $1 AND s.partition = 0"

/*
 * After each wake-up and as a slow safety net (K = 1: after each wait): each partition's
 * recorded leader, whether it is alive, its term, counter, whether its lease has lapsed and
 * since when it leads (epoch seconds).  Alive means some session holds the partition's
 * handoff key (a probe in shared mode) and, once the lease has run out, that the leader's
 * backend is still there: a leader takes the key in its take-over's transaction and a
 * session's locks go before its pg_stat_activity row does, so a leader that has just died
 * is never read as alive by a node its death woke; a dead leader whose key someone else
 * holds is not alive once its lease is over.  A lapsed lease is not read as lapsed while its
 * leader's commit waits for a synchronous standby (a stalled primary's victim, which
 * clustered_nodes.evict() would not end either), nor while its session has acted within
 * the last lease it claimed (lease_until - updated_at): a step's renewal commits with the
 * step, so a busy leader's lease can run out while its handler calls, each ending within
 * half a lease, keep its session acting; a hung leader's session is silent (sql/011's
 * evict() applies the same rule).  The backend is looked up only then
 * (pg_stat_get_activity() copies every backend's status): an idle cluster's reads cost
 * little.  The time is clock_timestamp(): the read may follow a wait in its transaction.
 * $1 cluster, $2 partitions, $3 the handoff keys (bigint[], partition p at p + 1).
 * Columns: partition, leader, leader pid, term, counter, lapsed, elected at, leader live.
 */
#define SQL_PARTITION_MAP \
	"SELECT g.p, coalesce(s.leader, ''), coalesce(s.leader_pid, 0), coalesce(s.term, 0), " \
	"  coalesce(s.counter, 0), " \
	"  CASE WHEN s.leader_pid IS NOT NULL AND s.lease_until < clock_timestamp() " \
	"    THEN NOT EXISTS (SELECT 1 " \
	"    FROM pg_stat_get_activity(s.leader_pid) a WHERE a.wait_event = 'SyncRep' " \
	"    OR a.state_change > clock_timestamp() - (s.lease_until - s.updated_at)) " \
	"    ELSE false END, " \
	"  coalesce(extract(epoch FROM s.elected_at), 0), " \
	"  CASE WHEN s.leader_pid IS NULL THEN false WHEN s.leader_pid = pg_backend_pid() THEN true " \
	"    WHEN pg_try_advisory_lock_shared(($3::bigint[])[g.p + 1]) " \
	"    THEN NOT pg_advisory_unlock_shared(($3::bigint[])[g.p + 1]) " \
	"    WHEN s.lease_until >= clock_timestamp() THEN true " \
	"    ELSE EXISTS (SELECT 1 FROM pg_stat_get_activity(s.leader_pid)) END " \
	"FROM generate_series(0, $2::integer - 1) g(p) " \
	"LEFT JOIN clustered_nodes.cluster_state s ON s.cluster = $1 AND s.partition = g.p " \
	"ORDER BY g.p"

/* ... and the members whose session is alive, in byte order of their names (every node
 * must see the same order).  $1 cluster. */
#define SQL_LIVE_MEMBERS \
	"SELECT m.node FROM clustered_nodes.members m " \
	"WHERE m.cluster = $1 AND m.backend_pid IN " LIVE_BACKEND_PIDS " " \
	"ORDER BY m.node COLLATE \"C\""

/* K = 1, with each look: how many live members come before $2 in name order, and how
 * many there are (timing.h's standby_wait_ms()).  $1 cluster. */
#define SQL_LOOK_RANK \
	"SELECT count(*) FILTER (WHERE m.node COLLATE \"C\" < $2 COLLATE \"C\"), count(*) " \
	"FROM clustered_nodes.members m " \
	"WHERE m.cluster = $1 AND m.backend_pid IN " LIVE_BACKEND_PIDS

/* A partitioned cluster's nodes hear hand-overs here (payload: the cluster). */
#define SQL_LISTEN_HANDOFF "LISTEN " HANDOFF_CHANNEL

/* Try partition lock $1 and, if won, take its handoff key $2 in the same statement (see
 * SQL_TAKE_WITH_HANDOFF).  Columns: won, handoff key held. */
#define SQL_TRY_PARTITION \
	"SELECT t.got, CASE WHEN t.got THEN " SQL_TAKE_WITH_HANDOFF("$2") " ELSE false END " \
	"FROM (SELECT pg_try_advisory_lock($1::bigint) AS got) t"

/* A hung partition leader (its lease lapsed): end its session, if the database agrees.
 * $1 cluster, $2 partition, $3 pid, $4 term. */
#define SQL_EVICT_PARTITION \
	"SELECT clustered_nodes.evict($1, $2::integer, $3::integer, $4::bigint)"

/* Who holds partition $2's lock, other than us: named before any eviction (which the
 * database may decline).  $1 cluster.  Columns as SQL_LOCK_HOLDER's. */
#define SQL_PARTITION_HOLDER \
	"SELECT * FROM clustered_nodes.lock_holder($1, $2::integer) h WHERE h.pid <> pg_backend_pid()"

/* A session that holds a partition's lock without leading it, named, and ended if the
 * database agrees (no live lease of another).  $1 cluster, $2 partition.  Columns: pid,
 * user, application, client, member, ended. */
#define SQL_EVICT_PARTITION_HOLDER \
	"SELECT h.pid, h.usename, h.application_name, h.client_addr, coalesce(h.member, ''), " \
	"  clustered_nodes.evict($1, $2::integer, h.pid, 0) " \
	"FROM clustered_nodes.lock_holder($1, $2::integer) h WHERE h.pid <> pg_backend_pid()"

/*
 * First in a transaction on a takeover's path (a standby's look, a take-over, a hand-over)
 * or in one that only says "alive" (a lease renewal, a heartbeat): its commit does not
 * wait for the WAL flush, which would cost a disk write on the path (fsync on: a few ms),
 * or, at idle, a disk write per renewal and heartbeat of every node.  None of them is work
 * that must survive a crash of the server: a lost look or hand-over is looked at again; a
 * take-over whose commit is lost leaves no leader behind (the crash ended its session),
 * and the first step with events after it commits with the flush, which makes everything
 * before it in the WAL durable too (a term that processed nothing may be lost with the
 * crash, and is then taken again); a crash ends every session, and with them every lease
 * and heartbeat.
 */
#define SQL_NO_FLUSH_WAIT "SELECT set_config('synchronous_commit', 'off', true)"

/* A partitioned node's graceful stop, after its last hand-over: wake the others. */
#define SQL_NOTIFY_HANDOFF "SELECT pg_notify('" HANDOFF_CHANNEL "', $1)"
/* A partitioned node's announcement that something changed (a join, a take, a leader's
 * end its watch saw): the others look at once.  Its transaction need not wait for the WAL
 * flush (a NOTIFY goes out at commit; one lost in a crash only delays a look to the
 * safety read): that is a disk flush less before the others hear of a death.  $1 cluster. */
#define SQL_ANNOUNCE \
	"SELECT set_config('synchronous_commit', 'off', true), " \
	"  pg_notify('" HANDOFF_CHANNEL "', $1)"


/* One listener (sql/015).  The watch session's wait: $1 cluster, $2 node, $3 the handoff
 * key to wait on (NULL: none), $4 ms, $5 $6 the look epoch and rings last seen (-1: none).
 * Columns: how it ended (moved, freed, rung, timeout), the epoch and rings now. */
#define SQL_WATCH \
	"SELECT woke, epoch, rings FROM clustered_nodes.watch($1, $2, $3::bigint, $4::integer, " \
	"$5::bigint, $6::bigint)"
/* Why the others are woken, committed first ($1 cluster, $2 partitions whose leaders
 * fetch, NULL: every node looks); then the wake-up itself.  Neither waits for the WAL
 * flush: one lost in a crash only delays a look or a fetch to the safety net. */
#define SQL_RING \
	"SELECT set_config('synchronous_commit', 'off', true), " \
	"  clustered_nodes.ring($1, $2::integer[])"
/* A wait cancelled (the bell rung) outside watch()'s own block. */
#define SQLSTATE_QUERY_CANCELED "57014"
#define SQL_WAKE "SELECT clustered_nodes.wake($1, $2::integer[])"
/* Stop listening: a handed-over partition 0's forwarding is over (sql/015). */
#define SQL_UNLISTEN_ALL "UNLISTEN *"

#endif
