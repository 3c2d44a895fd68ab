/* The SQL a node sends.  Every outside value is a parameter ($n), never spliced in. */
#ifndef CN_QUERIES_H
#define CN_QUERIES_H

#include "names.h"

/* The schema version (sql/NNN_*.sql) this binary needs. */
#define SCHEMA_VERSION 5

/* The pg_locks row (alias l) of a granted advisory lock on the bigint key $k: PostgreSQL
 * shows an int8 key as classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
#define SQL_ADVISORY_LOCK_ON(l, k) \
	l ".locktype = 'advisory' AND " l ".granted AND " l ".objsubid = 1 " \
	"AND ((" l ".classid::int8 << 32) | " l ".objid::int8) = " k

/* On connect: the schema version present. */
#define SQL_SCHEMA_VERSION \
	"SELECT coalesce(max(version), 0) FROM clustered_nodes.schema_migrations"

/* On connect: standbys are woken on this channel when a leader stops. */
#define SQL_LISTEN_HANDOFF "LISTEN " HANDOFF_CHANNEL

/*
 * On connect: register, or take over our own row.  A row held by another
 * process whose session is still alive is left alone and nothing is
 * returned: a second live node with our name.  A namesake whose session is
 * gone (crashed, restarted by systemd) is replaced.
 * $1 cluster, $2 node, $3 host, $4 pid, $5 version, $6 status URL or NULL.
 */
#define SQL_REGISTER \
	"INSERT INTO clustered_nodes.members AS m " \
	"  (cluster, node, host, pid, version, role, term, started_at, heartbeat_at, backend_pid, " \
	"   status_url) " \
	"VALUES ($1, $2, $3, $4::integer, $5, 'standby', NULL, now(), now(), pg_backend_pid(), $6) " \
	"ON CONFLICT (cluster, node) DO UPDATE SET host = excluded.host, pid = excluded.pid, " \
	"  version = excluded.version, role = 'standby', term = NULL, " \
	"  status_url = excluded.status_url, " \
	"  started_at = CASE WHEN m.host = excluded.host AND m.pid = excluded.pid " \
	"    THEN m.started_at ELSE excluded.started_at END, " \
	"  heartbeat_at = now(), backend_pid = pg_backend_pid() " \
	"WHERE (m.host = excluded.host AND m.pid = excluded.pid) " \
	"   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a " \
	"                  WHERE a.pid = m.backend_pid AND a.pid <> pg_backend_pid()) " \
	"RETURNING true"

/* Piggybacked on a lock poll or a step when due; a row back means it was written.
 * $1 cluster, $2 node. */
#define SQL_HEARTBEAT \
	"UPDATE clustered_nodes.members SET heartbeat_at = now() " \
	"WHERE cluster = $1 AND node = $2 AND backend_pid = pg_backend_pid() RETURNING true"

/* Graceful stop.  $1 cluster, $2 node. */
#define SQL_DEREGISTER \
	"DELETE FROM clustered_nodes.members " \
	"WHERE cluster = $1 AND node = $2 AND backend_pid = pg_backend_pid()"

/*
 * Standby poll: try the lock, and read what eviction needs: the term, whether the lease
 * has lapsed, the recorded leader's backend pid, and, only when it matters (the lock
 * not won, and no leader with a live lease recorded), the lock holder's pid.  The holder
 * subquery has no outer reference, so PostgreSQL runs it (reading pg_locks, which takes
 * every lock-manager partition lock) only when that CASE branch is taken.
 * $1 lock key, $2 cluster.  Columns: got, term, lapsed, leader_pid, holder.
 */
#define SQL_TRY_LOCK \
	"SELECT t.got, coalesce(s.term, 0), coalesce(s.lease_until < now(), false), " \
	"  coalesce(s.leader_pid, 0), " \
	"  CASE WHEN t.got OR (s.leader_pid IS NOT NULL AND s.lease_until >= now()) THEN 0 " \
	"  ELSE coalesce((SELECT l.pid FROM pg_locks l WHERE " SQL_ADVISORY_LOCK_ON("l", "$1::bigint") \
	"    AND l.pid <> pg_backend_pid() LIMIT 1), 0) END " \
	"FROM (SELECT pg_try_advisory_lock($1::bigint) AS got) t " \
	"LEFT JOIN clustered_nodes.cluster_state s ON s.cluster = $2"

/* A holder whose backend waits for a synchronous standby is a stalled primary's
 * victim, not a hung leader: never evicted. */
#define SQL_NOT_WAITING_ON_SYNC_REP(pid) \
	"NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = " pid \
	"  AND a.wait_event = 'SyncRep')"

/*
 * Hung-leader eviction: end the holder's backend, only if it still holds the lock and is
 * the recorded leader of the term we read, whose lease has lapsed; wait up to a second
 * for it to exit.  A session that took the lock since (a fresh winner) is never ended.
 * $1 lock key, $2 cluster, $3 term, $4 pid.
 */
#define SQL_EVICT_LEADER \
	"SELECT pg_terminate_backend(l.pid, 1000) FROM pg_locks l " \
	"JOIN clustered_nodes.cluster_state s ON s.cluster = $2 AND s.term = $3::bigint " \
	"  AND s.lease_until < now() AND s.leader_pid = l.pid " \
	"WHERE " SQL_ADVISORY_LOCK_ON("l", "$1::bigint") " AND l.pid = $4::integer " \
	"  AND " SQL_NOT_WAITING_ON_SYNC_REP("l.pid")

/*
 * A session that has held the lock for lease_timeout without ever leading (a stopped
 * standby granted the lock in wait mode, a squatter): end it, if it still holds the lock
 * and is still not the recorded leader.  $1 lock key, $2 cluster, $3 pid.
 */
#define SQL_EVICT_HOLDER \
	"SELECT pg_terminate_backend(l.pid, 1000) FROM pg_locks l " \
	"WHERE " SQL_ADVISORY_LOCK_ON("l", "$1::bigint") " AND l.pid = $3::integer " \
	"  AND NOT EXISTS (SELECT 1 FROM clustered_nodes.cluster_state s " \
	"                  WHERE s.cluster = $2 AND s.leader_pid = l.pid) " \
	"  AND " SQL_NOT_WAITING_ON_SYNC_REP("l.pid")

/*
 * Connect: server-side TCP keepalives and tcp_user_timeout for this session,
 * so the server ends it (and frees the lock) within session_timeout when the
 * node vanishes.  $1 idle s, $2 interval s, $3 count, $4 user timeout ms.
 */
#define SQL_SESSION_TIMEOUTS \
	"SELECT set_config('tcp_keepalives_idle', $1, false), " \
	"  set_config('tcp_keepalives_interval', $2, false), " \
	"  set_config('tcp_keepalives_count', $3, false), " \
	"  set_config('tcp_user_timeout', $4, false)"

/*
 * Standby in wait mode: queue for the lock (FIFO among waiters).  The wait
 * ends when the lock is granted or after WAIT_LOCK_TIMEOUT_MS, or the lease
 * timeout if shorter (SQLSTATE 55P03), when the node polls once (refreshing
 * its heartbeat and checking the lease) and queues again; the server checks
 * every second that the client is still there, so a standby that goes away
 * leaves the queue.  $1 lock key.
 */
#define WAIT_LOCK_TIMEOUT_MS 60000
/* $1: the wait, e.g. '60s' (the lease timeout when eviction is on). */
#define SQL_WAIT_LOCK_TIMEOUT "SELECT set_config('lock_timeout', $1, false)"
#define SQL_WAIT_CLIENT_CHECK "SET client_connection_check_interval = '1s'"
#define SQL_WAIT_LOCK "SELECT true FROM pg_advisory_lock($1::bigint)"
/* In the take-lead transaction: a leader's own statements never time out on locks. */
#define SQL_RESET_LOCK_TIMEOUT "RESET lock_timeout"

/*
 * Taking the lead, inside BEGIN ... LISTEN ... COMMIT: raise the term, record
 * ourselves in cluster_state (creating the row on first use) and in members.
 * $1 cluster, $2 lock key, $3 node, $4 lease in ms.
 */
#define SQL_TAKE_LEAD \
	"WITH s AS (" \
	"  INSERT INTO clustered_nodes.cluster_state AS s " \
	"    (cluster, lock_key, term, leader, leader_pid, elected_at, updated_at, lease_until) " \
	"  VALUES ($1, $2::bigint, 1, $3, pg_backend_pid(), now(), now(), " \
	"    now() + $4::bigint * interval '1 millisecond') " \
	"  ON CONFLICT (cluster) DO UPDATE SET term = s.term + 1, " \
	"    leader = excluded.leader, leader_pid = excluded.leader_pid, " \
	"    elected_at = excluded.elected_at, updated_at = excluded.updated_at, " \
	"    lease_until = excluded.lease_until " \
	"  RETURNING term, counter), " \
	"m AS (" \
	"  UPDATE clustered_nodes.members SET role = 'leader', term = (SELECT term FROM s), " \
	"    heartbeat_at = now() " \
	"  WHERE cluster = $1 AND node = $3 AND backend_pid = pg_backend_pid()) " \
	"SELECT term, counter FROM s"

/*
 * A processing step's first statement (sql/004_events.sql): raise the counter
 * by $4 if term $2 and counter $3 are still ours, renew the lease for $5 ms,
 * delete the step's durable events $6.  Any mismatch raises SQLSTATE CN001
 * and aborts the step, handler effects included.  $1 cluster.
 */
#define SQL_ADVANCE \
	"SELECT clustered_nodes.advance($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, " \
	"$6::bigint[])"
#define SQLSTATE_SUPERSEDED "CN001"

/* The leader's next durable events, oldest first.  $1 its channels (text[]), $2 how many. */
#define EVENTS_BATCH 500
#define SQL_FETCH_EVENTS \
	"SELECT id, channel, payload, attempts FROM clustered_nodes.events " \
	"WHERE channel = ANY ($1::text[]) ORDER BY id LIMIT $2::integer"

/* A suspect durable event's attempt, committed before it runs (sql/005).  $1 event id. */
#define SQL_RECORD_ATTEMPT "SELECT clustered_nodes.record_attempt($1::bigint)"

/* In a step: how long one handler call may run ($1 ms; "0" lifts it before COMMIT). */
#define SQL_STATEMENT_TIMEOUT "SELECT set_config('statement_timeout', $1, true)"

/* The handler, prepared on every session: $1 channel, $2 payload, $3 counter, $4 term, $5 node. */
#define HANDLER_STATEMENT "clustered_nodes_handler"
#define HANDLER_PARAMS 5
/* Type OIDs from pg_type.h, fixed since PostgreSQL's first releases. */
#define TEXTOID 25
#define INT8OID 20
#define HANDLER_PARAM_TYPES {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID}

/*
 * An event whose handler failed max_attempts times, in the step that counts
 * it.  $1 cluster, $2 channel, $3 payload, $4 event id or NULL, $5 counter,
 * $6 term, $7 node, $8 attempts, $9 error.
 */
#define SQL_DEAD_LETTER \
	"INSERT INTO clustered_nodes.dead_letters " \
	"  (cluster, channel, payload, event_id, counter, term, node, attempts, error) " \
	"VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7, $8::integer, $9)"

/* Graceful stop: forget the data channels. */
#define SQL_UNLISTEN_ALL "UNLISTEN *"

/*
 * Graceful stop: clear our leader mark (if still ours), release the lock
 * and wake the standbys.  $1 cluster, $2 term / lock key.
 */
#define SQL_CLEAR_LEADER \
	"UPDATE clustered_nodes.cluster_state " \
	"SET leader = NULL, leader_pid = NULL, updated_at = now() " \
	"WHERE cluster = $1 AND term = $2::bigint"
#define SQL_RELEASE \
	"SELECT pg_advisory_unlock($2::bigint), pg_notify('" HANDOFF_CHANNEL "', $1)"

/*
 * A cluster's members and how alive their sessions are, for the status endpoint's view
 * and `status`.  $1 cluster.  Columns: node, role, host, pid, version, term,
 * heartbeat age (s), backend pid, session (live, waiting, gone), status URL.
 */
#define SQL_MEMBERS \
	"SELECT m.node, m.role, m.host, m.pid, m.version, coalesce(m.term::text, ''), " \
	"  round(extract(epoch FROM now() - m.heartbeat_at)::numeric, 1), " \
	"  coalesce(m.backend_pid, 0), " \
	"  CASE WHEN a.pid IS NULL THEN 'gone' " \
	"       WHEN a.wait_event_type = 'Lock' THEN 'waiting' ELSE 'live' END, " \
	"  coalesce(m.status_url, '') " \
	"FROM clustered_nodes.members m " \
	"LEFT JOIN pg_stat_activity a ON a.pid = m.backend_pid " \
	"WHERE m.cluster = $1 ORDER BY m.node"

/* The cluster's state row for the view: term, counter, leader, elected_at, queue usage,
 * whether the row exists.  $1 cluster. */
#define SQL_VIEW_STATE \
	"SELECT s.term, s.counter, coalesce(s.leader, ''), " \
	"  coalesce(to_char(s.elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
	"  pg_notification_queue_usage(), s.cluster IS NOT NULL " \
	"FROM (SELECT 1) one LEFT JOIN clustered_nodes.cluster_state s ON s.cluster = $1"

#endif
