/* The SQL a node sends.  Every outside value is a parameter ($n), never spliced in. */
#ifndef CN_QUERIES_H
#define CN_QUERIES_H

/* On connect: the schema version present ($ none). */
#define SQL_SCHEMA_VERSION \
	"SELECT coalesce(max(version), 0) FROM clustered_nodes.schema_migrations"

/* On connect: standbys are woken on this channel when a leader stops. */
#define SQL_LISTEN_HANDOFF "LISTEN " HANDOFF_CHANNEL

/* Standby poll.  $1 lock key. */
#define SQL_TRY_LOCK "SELECT pg_try_advisory_lock($1::bigint)"

/*
 * Standby in wait mode: queue for the lock (FIFO among waiters).  The wait
 * ends when the lock is granted or after WAIT_LOCK_TIMEOUT (SQLSTATE 55P03),
 * when the node simply queues again; the server checks every second that the
 * client is still there, so a standby that goes away leaves the queue.
 * $1 lock key.
 */
#define WAIT_LOCK_TIMEOUT "60s"
#define SQL_WAIT_LOCK_TIMEOUT "SET lock_timeout = '" WAIT_LOCK_TIMEOUT "'"
#define SQL_WAIT_CLIENT_CHECK "SET client_connection_check_interval = '1s'"
#define SQL_WAIT_LOCK "SELECT true FROM pg_advisory_lock($1::bigint)"
/* In the take-lead transaction: a leader's own statements never time out on locks. */
#define SQL_RESET_LOCK_TIMEOUT "RESET lock_timeout"

/*
 * Taking the lead, inside BEGIN ... LISTEN ... COMMIT: raise the term, record
 * ourselves, create the row on first use.  $1 cluster, $2 lock key, $3 node.
 */
#define SQL_TAKE_LEAD \
	"INSERT INTO clustered_nodes.cluster_state AS s " \
	"  (cluster, lock_key, term, leader, leader_pid, elected_at, updated_at) " \
	"VALUES ($1, $2::bigint, 1, $3, pg_backend_pid(), now(), now()) " \
	"ON CONFLICT (cluster) DO UPDATE SET term = s.term + 1, " \
	"  leader = excluded.leader, leader_pid = excluded.leader_pid, " \
	"  elected_at = excluded.elected_at, updated_at = excluded.updated_at " \
	"RETURNING term, counter"

/*
 * One processing step covering $3 notifications, guarded by our term: no
 * row means another node has taken over.  Returns the counter before the
 * step.  $1 cluster, $2 term, $3 count.
 */
#define SQL_STEP \
	"UPDATE clustered_nodes.cluster_state " \
	"SET counter = counter + $3::bigint, updated_at = now() " \
	"WHERE cluster = $1 AND term = $2::bigint " \
	"RETURNING counter - $3::bigint"

/* Graceful stop: forget the data channels. */
#define SQL_UNLISTEN_ALL "UNLISTEN *"

/*
 * Graceful stop: clear our leader mark (if still ours), release the lock
 * and wake the standbys.  $1 cluster, $2 term, $3 lock key.
 */
#define SQL_CLEAR_LEADER \
	"UPDATE clustered_nodes.cluster_state " \
	"SET leader = NULL, leader_pid = NULL, updated_at = now() " \
	"WHERE cluster = $1 AND term = $2::bigint"
#define SQL_RELEASE \
	"SELECT pg_advisory_unlock($2::bigint), pg_notify('" HANDOFF_CHANNEL "', $1)"

#endif
