#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# `make soak`: three nodes under a steady NOTIFY stream while random faults
# hit them for SOAK_SECONDS (default 120): SIGKILL, SIGSTOP/SIGCONT,
# SIGTERM and restart, pg_terminate_backend, PostgreSQL restart and (as
# root) a network partition of one node.  A test-only trigger records every
# committed step with its partition, term, leader and backend; afterwards the
# invariants are checked per partition and a summary printed.  Exit 0 only
# with zero violations.  Starts and removes its own PostgreSQL.
# SOAK_PARTITIONS=K (default 1) runs the nodes with --partitions K.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CLUSTERED_NODES_CONFIG=	# not an installed /etc/clustered_nodes/clustered_nodes.conf
source "$ROOT/scripts/pgtmp.sh"
source "$ROOT/tests/integration/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-120}
SOAK_PARTITIONS=${SOAK_PARTITIONS:-1}
CLUSTER=soak
WORK=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.soak.XXXXXX")
NS=cnsoak$$ HOST_IF=cns$$h NS_IF=cns$$n DB_IP=10.213.78.1 NODE_IP=10.213.78.2
PARTITION=0
[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && PARTITION=1
declare -A FAULTS=()
declare -A STOPPED=()

cleanup() {
	local pid
	for pid in "${NODE_PID[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	kill_nodes
	[ -n "${PRODUCER:-}" ] && kill "$PRODUCER" 2>/dev/null
	[ "$PARTITION" = 1 ] && netns_down "$NS" "$HOST_IF"
	pgtmp_stop
	if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say() { echo "soak: $*"; }
NODE_OPTS=(--session-timeout 4s --lease-timeout 2s --heartbeat-interval 1s --partitions "$SOAK_PARTITIONS")

# Single leader: the node that leads.  Partitions: every partition's lock is held by the
# session its row names (then a node is named: the one leading partition 0).
soak_leader_ready() {
	[ "$SOAK_PARTITIONS" -eq 1 ] && { leader_ready "$CLUSTER"; return; }
	[ "$(q "SELECT count(*) FROM generate_series(0, $SOAK_PARTITIONS - 1) g(p)
		JOIN clustered_nodes.cluster_state s ON s.cluster = '$CLUSTER' AND s.partition = g.p
		JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$CLUSTER', g.p) AND l.pid = s.leader_pid")" = "$SOAK_PARTITIONS" ]
}
soak_leader_of() {
	q "SELECT leader FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' ORDER BY partition LIMIT 1"
}

if [ "$PARTITION" = 1 ]; then
	netns_up "$NS" "$HOST_IF" "$NS_IF" "$DB_IP" "$NODE_IP" || exit 1
	pgtmp_start "listen_addresses=127.0.0.1,$DB_IP" >/dev/null || exit 1
	printf 'host all all %s/32 trust\n' "$NODE_IP" >>"$PGTMP_DIR/data/pg_hba.conf"
	pgtmp_psql -c "SELECT pg_reload_conf()" >/dev/null
else
	pgtmp_start >/dev/null || exit 1
fi
apply_schema >/dev/null || exit 1
pgtmp_psql <<'SQL' >/dev/null
CREATE SEQUENCE soak_seq;
-- Test-only: every committed step, in commit order (the row lock on
-- cluster_state serialises steps, so id order is commit order).
CREATE TABLE soak_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    partition integer, term bigint, leader text, counter_before bigint, counter_after bigint,
    backend_pid integer NOT NULL DEFAULT pg_backend_pid());
CREATE FUNCTION soak_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF NEW.counter <> OLD.counter THEN
        INSERT INTO public.soak_audit (partition, term, leader, counter_before, counter_after)
            VALUES (NEW.partition, NEW.term, NEW.leader, OLD.counter, NEW.counter);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER soak_audit AFTER UPDATE ON clustered_nodes.cluster_state
    FOR EACH ROW EXECUTE FUNCTION soak_audit();
SQL

start_soak_node() {
	local name=$1
	if [ "$name" = node3 ] && [ "$PARTITION" = 1 ]; then
		ip netns exec "$NS" "$ROOT/clustered_nodes" --node node3 --cluster "$CLUSTER" "${NODE_OPTS[@]}" \
			--dbname "host=$DB_IP port=$PGTMP_PORT user=cn_node dbname=postgres" \
			>>"$(node_log "$CLUSTER" node3)" 2>&1 &
		NODE_PID[node3]=$!
	else
		start_node "$CLUSTER" "$name" "${NODE_OPTS[@]}" $([ "$name" = node2 ] && [ "$SOAK_PARTITIONS" -eq 1 ] && echo --acquire wait)
	fi
}

for n in node1 node2 node3; do start_soak_node "$n"; done
wait_for "a first leader" 10000 soak_leader_ready || exit 1
echo "SELECT pg_notify('test_channel', nextval('soak_seq')::text);" >"$WORK/producer.sql"
# pgbench gives up when the server restarts: start it again until told to stop.
(
	trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
	end=$(( $(now_ms) + (SOAK_SECONDS + 60) * 1000 ))
	while [ "$(now_ms)" -lt "$end" ]; do
		pgbench -h 127.0.0.1 -p "$PGTMP_PORT" -U postgres -n -f "$WORK/producer.sql" -R 200 -c 1 \
			-T $(( (end - $(now_ms)) / 1000 + 1 )) postgres >>"$WORK/pgbench.log" 2>&1 &
		wait $!
		sleep 0.2	# the server is restarting: retry pace
	done
) &
PRODUCER=$!
say "$SOAK_SECONDS s of faults on 3 nodes$([ "$SOAK_PARTITIONS" -gt 1 ] && echo " leading $SOAK_PARTITIONS partitions") under 200 NOTIFY/s$([ "$PARTITION" = 1 ] && echo ', node3 in its own network namespace')"

kinds=(sigkill sigstop sigterm terminate pg_restart)
[ "$PARTITION" = 1 ] && kinds+=(partition)
deadline=$(( $(now_ms) + SOAK_SECONDS * 1000 ))
while [ "$(now_ms)" -lt "$deadline" ]; do
	kind=${kinds[RANDOM % ${#kinds[@]}]}
	leader=$(soak_leader_of)
	[ -n "$leader" ] || leader=node$((RANDOM % 3 + 1))
	victim=$leader
	[ $((RANDOM % 3)) -eq 0 ] && victim=node$((RANDOM % 3 + 1))
	case $kind in
	sigkill)
		{ kill -9 "${NODE_PID[$victim]}"; wait "${NODE_PID[$victim]}"; } 2>/dev/null
		start_soak_node "$victim" ;;
	sigstop)
		kill -STOP "${NODE_PID[$victim]}"
		sleep 3	# longer than lease_timeout: the fault itself, not synchronisation
		kill -CONT "${NODE_PID[$victim]}" ;;
	sigterm)
		kill -TERM "${NODE_PID[$victim]}"
		rc=0
		wait "${NODE_PID[$victim]}" || rc=$?
		[ "$rc" -eq 0 ] || { say "VIOLATION: $victim exited $rc after SIGTERM"; echo x >>"$WORK/violations"; }
		start_soak_node "$victim" ;;
	terminate)
		pgtmp_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = 'clustered_nodes:$victim'" >/dev/null ;;
	pg_restart)
		pgtmp_restart || say "PostgreSQL restart failed" ;;
	partition)
		victim=node3
		ip netns exec "$NS" ip link set "$NS_IF" down
		sleep 6	# longer than session_timeout: the fault itself
		ip netns exec "$NS" ip link set "$NS_IF" up ;;
	esac
	FAULTS[$kind]=$(( ${FAULTS[$kind]:-0} + 1 ))
	sleep "$(( RANDOM % 3 + 1 )).$(( RANDOM % 10 ))"	# pace between faults
done
say "faults stopped; waiting for one leader"
t0=$(now_ms)
wait_for "a leader after the faults" 20000 soak_leader_ready || echo x >>"$WORK/violations"
settle_ms=$(( $(now_ms) - t0 ))
kill "$PRODUCER" 2>/dev/null
wait "$PRODUCER" 2>/dev/null
PRODUCER=
send_notifications test_channel 1 final
wait_for "the final notification" 10000 bash -c "grep -q 'payload=\"final-1\"' '$WORK'/$CLUSTER.*.log" || echo x >>"$WORK/violations"
for n in node1 node2 node3; do alive "${NODE_PID[$n]}" || { say "VIOLATION: $n is not running"; echo x >>"$WORK/violations"; }; done

# The audit and the counters from one snapshot: durable events (a partitioned cluster's
# relayed notifications among them) may still be processed while they are read.
pgtmp_psql -A -F $'\t' >/dev/null <<EOF
BEGIN ISOLATION LEVEL REPEATABLE READ;
\o $WORK/audit.tsv
SELECT id, extract(epoch FROM at), partition, term, leader, counter_before, counter_after, backend_pid FROM soak_audit ORDER BY id;
\o $WORK/final.tsv
SELECT partition, counter FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER';
\o
COMMIT;
EOF
final_counter=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$WORK/final.tsv")
sent=$(pgtmp_psql -c "SELECT last_value FROM soak_seq")
fault_summary=$(for k in "${!FAULTS[@]}"; do printf '%s=%s ' "$k" "${FAULTS[$k]}"; done)
python3 - "$WORK/audit.tsv" "$WORK/final.tsv" "$final_counter" "$sent" "$settle_ms" "$fault_summary" "$(cat "$WORK/violations" 2>/dev/null | wc -l)" "$WORK"/$CLUSTER.*.log <<'PY'
import re, sys
audit_file, final_file, final_counter, sent, settle_ms, faults, earlier = sys.argv[1:8]
logs = sys.argv[8:]
rows = [l.rstrip('\n').split('\t') for l in open(audit_file) if l.strip()]
rows = [(int(i), float(at), int(part), int(term), leader, int(b), int(a), int(pid))
        for i, at, part, term, leader, b, a, pid in rows]
finals = dict((int(p), int(c)) for p, c in (l.rstrip('\n').split('\t') for l in open(final_file) if l.strip()))
violations = []
leaders, pids = {}, {}
prev = {}
gap = 0.0
terms_seen = set()
# Per partition: each is a single-leader cluster of its own.
for r in rows:
    _, at, part, term, leader, before, after, pid = r
    if after <= before:
        violations.append(f'step {r[0]} of partition {part}: counter {before} -> {after}')
    leaders.setdefault((part, term), set()).add(leader)
    pids.setdefault((part, term), set()).add(pid)
    terms_seen.add((part, term))
    p = prev.get(part)
    if p:
        if term < p[3]:
            violations.append(f'partition {part}: step {r[0]} of term {term} committed after term {p[3]}')
        if before != p[6]:
            violations.append(f'partition {part}: step {r[0]} starts at {before}, the previous ended at {p[6]}')
        if term != p[3]:
            gap = max(gap, at - p[1])
    prev[part] = r
for key in leaders:
    if len(leaders[key]) > 1 or len(pids[key]) > 1:
        violations.append(f'partition {key[0]} term {key[1]} committed by {sorted(leaders[key])} / backends {sorted(pids[key])}')
for part, last in prev.items():
    if finals.get(part) != last[6]:
        violations.append(f'partition {part}: final counter {finals.get(part)} but its last step ended at {last[6]}')
    steps = [r for r in rows if r[2] == part]
    if sum(r[6] - r[5] for r in steps) != steps[-1][6] - steps[0][5]:
        violations.append(f'partition {part}: steps do not add up to the counter')
seen = {}
for path in logs:
    for line in open(path, encoding='utf-8', errors='replace'):
        m = re.search(r'Received message: channel="[^"]*" payload="(\d+)"', line)
        if m:
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
twice = [p for p, n in seen.items() if n > 1]
if twice:
    violations.append(f'{len(twice)} notifications processed twice, e.g. {twice[:5]}')
violations += ['earlier check'] * int(earlier)
terms = sorted(terms_seen)
print(f'soak summary: faults {faults.strip() or "none"}')
print(f'soak summary: {len(rows)} steps committed in {len(terms)} terms over {len(prev)} partition(s), '
      f'{max(0, len(terms) - len(prev))} takeovers between them, counter {final_counter}')
print(f'soak summary: {sent} notifications sent, {final_counter} processed (the rest fell in leaderless gaps: plain NOTIFY is at-most-once)')
print(f'soak summary: longest gap between two terms\' steps {gap:.2f} s; a leader {int(settle_ms) / 1000:.2f} s after the faults stopped')
print(f'soak summary: invariant violations: {len(violations)}')
for v in violations[:20]:
    print(f'  VIOLATION: {v}')
sys.exit(1 if violations else 0)
PY
