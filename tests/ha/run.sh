#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# `make ha-test`: clustered_nodes under a real HA manager.  Builds a pg_auto_failover
# formation (monitor, primary, synchronous standby) from Debian's packages on loopback
# ports, runs three nodes on the formation's multi-host URI with durable events at 50/s
# and a SQL handler writing one ledger row per event, then:
#   two planned failovers, a SIGKILLed postmaster, the synchronous standby lost (commits
#   stall), the primary lost (keeper and postmaster).
# It asserts: every committed event processed exactly once (ambiguous commits, whose
# fate the client could not know, counted apart), no node exits, a leader at the end,
# and during the commit stall no session dropped, no eviction, no term change.  It prints
# per fault the leaderless gap beside pg_auto_failover's own write outage.
#
#   HA_FAULTS=all (default) or short (a planned failover and the standby loss: make check)
#   KEEP_LOGS=1 keeps the logs.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CLUSTERED_NODES_CONFIG=	# not an installed /etc/clustered_nodes/clustered_nodes.conf
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/ha/formation.sh"

HA_FAULTS=${HA_FAULTS:-all}
CLUSTER=ha
WORK=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.hatest.XXXXXX")
PRODUCER=$ROOT/build/ha_producer
NODE_OPTS=(--listen ha_events --session-timeout 4s --lease-timeout 2s --heartbeat-interval 1s)
[ "$(id -u)" -eq 0 ] && chmod 755 "$WORK"
failures=()

cleanup() {
	touch "$WORK/producer.stop"
	kill_nodes
	[ -n "${PRODUCER_PID:-}" ] && { kill "$PRODUCER_PID" 2>/dev/null; wait "$PRODUCER_PID" 2>/dev/null; }
	[ "${KEEP_LOGS:-0}" = 1 ] && HA_KEEP_LOGS=$WORK
	fa_down
	if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "ha: $*"; }
problem() { say "FAIL: $*"; failures+=("$*"); }
# SQL on whichever server is the primary now, as the superuser.
pq() { PGCONNECT_TIMEOUT=3 psql -X -qAt -v ON_ERROR_STOP=1 -U "$DBUSER" -d "$FORMATION_URI" "$@"; }
state() { pq -c "SELECT $1 FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'" 2>/dev/null; }
ledger_count() { pq -c "SELECT count(*) FROM ha.ledger" 2>/dev/null; }

# The node holding the cluster's lock on the primary, with a term above $1.
leader_on_primary() {
	local l
	l=$(pq -c "SELECT s.leader FROM clustered_nodes.cluster_state s JOIN pg_locks l
		ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$CLUSTER' AND s.term > ${1:-0}" 2>/dev/null)
	[ -n "$l" ] && echo "$l"
}
progressing() { [ "$(ledger_count)" -gt "$1" ] 2>/dev/null; }
all_alive() { local n; for n in n1 n2 n3; do alive "${NODE_PID[$n]}" || return 1; done; }
# How often a node log says something, over all nodes.
log_count() { cat "$WORK/$CLUSTER".*.log 2>/dev/null | grep -cE "$1" || true; }

start_ha_node() {
	"$ROOT/clustered_nodes" --node "$1" --cluster "$CLUSTER" --dbname "$NODE_URI" "${NODE_OPTS[@]}" \
		--handler-sql 'INSERT INTO ha.ledger (seq, term, node) VALUES ($2::bigint, $4, $5)' \
		>>"$(node_log "$CLUSTER" "$1")" 2>&1 &
	NODE_PID[$1]=$!
}

# ---- the formation, the schema, the nodes, the producer ----
t_setup=$(now_ms)
fa_up fast || { say "FAIL: the formation did not come up"; exit 1; }
say "formation up in $(( $(now_ms) - t_setup )) ms: $(fa_states)"
for f in "$ROOT"/sql/[0-9][0-9][0-9]_*.sql "$ROOT/sql/roles.sql"; do
	pq -f "$f" >/dev/null || { say "FAIL: applying $f"; exit 1; }
done
pq -c "CREATE ROLE cn_node LOGIN IN ROLE clustered_nodes_node" \
	-c "CREATE SCHEMA ha" -c "GRANT USAGE ON SCHEMA ha TO clustered_nodes_node" \
	-c "CREATE TABLE ha.produced (seq bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())" \
	-c "CREATE TABLE ha.ledger (seq bigint NOT NULL, term bigint NOT NULL, node text NOT NULL,
	    at timestamptz NOT NULL DEFAULT clock_timestamp())" \
	-c "GRANT INSERT ON ha.ledger TO clustered_nodes_node" >/dev/null || exit 1
# The formation's URI, as the node role (pg_autoctl's carries no user).
NODE_URI="$FORMATION_URI&user=cn_node"
say "nodes connect to $NODE_URI"
for n in n1 n2 n3; do start_ha_node "$n"; done
wait_for "a leader" 20000 leader_on_primary || exit 1
"$PRODUCER" "$FORMATION_URI&user=$DBUSER&connect_timeout=2" ha_events 50 "$WORK/producer.stop" \
	>"$WORK/producer.out" 2>"$WORK/producer.err" &
PRODUCER_PID=$!
wait_for "events processed" 20000 progressing 20 || exit 1

# ---- the faults ----
declare -a REPORT=()
# fault NAME FUNCTION: runs it, waits for a leader and progress, reports the gaps.
fault() {
	local name=$1 t0 term before
	shift
	term=$(state term)
	before=$(ledger_count)
	t0=$(pq -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" | cut -d. -f1)
	say "$name"
	"$@" || { problem "$name: the fault itself failed ($(fa_states))"; return 1; }
	wait_for "a leader after $name" 60000 leader_on_primary || { problem "no leader after $name"; return 1; }
	wait_for "progress after $name" 30000 progressing "$before" || { problem "no progress after $name"; return 1; }
	sleep 2	# the gaps are measured over a window that includes some steady state
	gaps "$name" "$t0" "$term"
}
# The longest time without a committed produced row (the HA manager's write outage), the
# longest without a processed event (the leaderless gap, which includes the outage), and
# how long processing lagged after writes came back.
gaps() {
	local name=$1 t0=$2 term=$3 row
	row=$(pq -c "WITH p AS (SELECT at, at - lag(at) OVER (ORDER BY at) AS gap FROM ha.produced
	                        WHERE at >= to_timestamp($t0 / 1000.0) - interval '1 second'),
	              l AS (SELECT at, at - lag(at) OVER (ORDER BY at) AS gap FROM ha.ledger
	                        WHERE at >= to_timestamp($t0 / 1000.0) - interval '1 second')
	         SELECT round(extract(epoch FROM (SELECT max(gap) FROM p)) * 1000),
	                round(extract(epoch FROM (SELECT max(gap) FROM l)) * 1000)")
	REPORT+=("$(printf '%-38s %14s %16s %6s' "$name" "${row%%|*} ms" "${row##*|} ms" \
		"$(( $(state term) - term ))")")
}
planned_failover() { as_pg pg_autoctl perform failover --pgdata "$B/monitor" --wait 120 >>"$WORK/perform.log" 2>&1; }
kill_primary_postmaster() {
	local p
	p=$(fa_primary)
	remember_shm "$p"
	kill -KILL "$(postmaster_pid "$p")"
	wait_until 120 fa_healthy >/dev/null
}
lose_sync_standby() {
	local s before_drops before_evictions term t0 stall
	s=$(fa_secondary)
	term=$(state term)
	before_drops=$(log_count '→ disconnected')
	before_evictions=$(log_count 'ending its session|eviction attempt')
	t0=$(now_ms)
	kill_node "$s"
	wait_until 120 fa_node_in "$(fa_primary)" "'wait_primary'" >/dev/null || return 1
	stall=$(( $(now_ms) - t0 ))
	wait_for "commits after the stall" 30000 progressing "$(ledger_count)" || return 1
	say "  commits stalled about $stall ms (nodes: session_timeout 4s, lease_timeout 2s)"
	[ "$(log_count '→ disconnected')" = "$before_drops" ] ||
		problem "a session was dropped during the commit stall"
	[ "$(log_count 'ending its session|eviction attempt')" = "$before_evictions" ] ||
		problem "a node tried to evict during the commit stall"
	[ "$(state term)" = "$term" ] || problem "the term changed during the commit stall ($term -> $(state term))"
	keeper_start "$s"
	wait_until 180 fa_healthy >/dev/null
}
lose_primary() {
	local p
	p=$(fa_primary)
	kill_node "$p"
	wait_until 180 fa_node_in "$(fa_secondary)" "'wait_primary','primary'" >/dev/null || return 1
	keeper_start "$p"
	wait_until 180 fa_healthy >/dev/null
}

fault "planned failover 1" planned_failover
if [ "$HA_FAULTS" = all ]; then
	fault "planned failover 2" planned_failover
	fault "primary's postmaster SIGKILLed" kill_primary_postmaster
fi
fault "synchronous standby lost (commits stall)" lose_sync_standby
[ "$HA_FAULTS" = all ] && fault "primary lost (keeper and postmaster)" lose_primary

# ---- the end: everything committed, processed exactly once ----
touch "$WORK/producer.stop"
wait "$PRODUCER_PID" 2>/dev/null
PRODUCER_PID=
wait_for "every event processed" 60000 bash -c \
	"[ \"\$(PGCONNECT_TIMEOUT=3 psql -X -qAt -U $DBUSER -d '$FORMATION_URI' -c 'SELECT count(*) FROM clustered_nodes.events')\" = 0 ]" ||
	problem "events left unprocessed: $(pq -c 'SELECT count(*) FROM clustered_nodes.events')"
ok=$(grep -c '^ok ' "$WORK/producer.out")
ambiguous=$(grep -c '^ambiguous ' "$WORK/producer.out")
failed=$(grep -c '^failed ' "$WORK/producer.out")
grep '^ok ' "$WORK/producer.out" | cut -d' ' -f2 | sort -n >"$WORK/ok.seq"
pq -c "SELECT seq FROM ha.produced ORDER BY seq" >"$WORK/produced.seq"
pq -c "SELECT seq FROM ha.ledger ORDER BY seq" >"$WORK/ledger.seq"
committed=$(wc -l <"$WORK/produced.seq")
say "producer: $ok committed, $ambiguous ambiguous ($(( committed - ok )) of them committed), $failed failed before COMMIT"
[ -z "$(comm -23 "$WORK/ok.seq" "$WORK/produced.seq")" ] || problem "a commit the client saw succeed is missing"
[ -z "$(uniq -d "$WORK/ledger.seq")" ] || problem "events processed twice: $(uniq -d "$WORK/ledger.seq" | head -5 | tr '\n' ' ')"
cmp -s "$WORK/produced.seq" "$WORK/ledger.seq" ||
	problem "processed events differ from committed ones: $(diff "$WORK/produced.seq" "$WORK/ledger.seq" | head -5 | tr '\n' ' ')"
[ "$(state counter)" = "$committed" ] || problem "counter $(state counter), $committed events committed"
[ "$(pq -c "SELECT count(*) FROM clustered_nodes.dead_letters")" = 0 ] || problem "dead letters"
all_alive || problem "a node exited"
leader_on_primary >/dev/null || problem "no leader at the end"

echo
printf '%-38s %14s %16s %6s\n' "fault" "write outage" "processing gap" "terms"
printf '%s\n' "${REPORT[@]}"
echo "(write outage: pg_auto_failover's, the longest time without a committed event; processing"
echo " gap: the longest time without a processed one, which contains the outage; terms: takeovers)"
echo
if [ ${#failures[@]} -gt 0 ]; then
	say "${#failures[@]} problem(s)"
	exit 1
fi
say "passed: $committed events committed, each processed exactly once, through ${#REPORT[@]} faults"
