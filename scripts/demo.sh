#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# `make demo`: the seed's last section, replayed with ClusteredNodes.  Three
# nodes, NOTIFYs from psql, one node reacts; SIGKILL the leader, another node
# continues the counter.  Starts a throwaway PostgreSQL and cleans up after.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CLUSTERED_NODES_CONFIG=	# not an installed /etc/clustered_nodes/clustered_nodes.conf
source "$ROOT/scripts/pgtmp.sh"
source "$ROOT/tests/integration/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.demo.XXXXXX")
CLUSTER=demo
cleanup() {
	kill_nodes
	pgtmp_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
# Prints what each node logged since the last call (the seed's terminal panes).
declare -A SHOWN=()
show_logs() {
	local n log lines
	for n in node1 node2 node3; do
		log=$(node_log "$CLUSTER" "$n")
		lines=$(wc -l <"$log")
		if [ "$lines" -gt "${SHOWN[$n]:-0}" ]; then
			tail -n +"$(( ${SHOWN[$n]:-0} + 1 ))" "$log" | head -n $(( lines - ${SHOWN[$n]:-0} )) |
				grep -E 'starting psql listener|Received message|state .* → (leader|standby)|connected:' |
				sed "s/^/  $n | /" || true
		fi
		SHOWN[$n]=$lines
	done
}
notify() {
	local i
	for ((i = 0; i < $1; i++)); do
		echo "  psql> NOTIFY test_channel, 'test';"
		pgtmp_psql -c "NOTIFY test_channel, 'test'"
	done
}

say "Starting a throwaway PostgreSQL and applying sql/"
pgtmp_start
apply_schema
echo "  PostgreSQL on 127.0.0.1:$PGTMP_PORT, schema clustered_nodes applied"

say "Starting node1, node2, node3 (one process each, same database)"
for n in node1 node2 node3; do
	: >"$(node_log "$CLUSTER" "$n")"
	start_node "$CLUSTER" "$n"
	echo "  $ROOT/clustered_nodes --node $n --cluster $CLUSTER --dbname '$PGTMP_CONNINFO'   (pid ${NODE_PID[$n]})"
done
wait_for "a leader" 10000 leader_ready "$CLUSTER"
first=$(leader_ready "$CLUSTER")
show_logs

say "Sending 3 notifications: exactly one node reacts"
notify 3
wait_for "counter 3" 10000 counter_is "$CLUSTER" 3
show_logs

say "Killing the leader, $first, with SIGKILL"
term=$(term_of "$CLUSTER")
t0=$(now_ms)
{ kill -9 "${NODE_PID[$first]}"; wait "${NODE_PID[$first]}"; } 2>/dev/null || true
unset "NODE_PID[$first]"
wait_for "a new leader" 10000 leader_ready "$CLUSTER" "$term"
second=$(leader_ready "$CLUSTER")
echo "  $second took over after $(( $(now_ms) - t0 )) ms"
show_logs

say "Sending 2 more notifications: the new leader continues the counter"
notify 2
wait_for "counter 5" 10000 counter_is "$CLUSTER" 5
show_logs

say "The state in PostgreSQL"
pgtmp_psql -P pager=off -c "SELECT cluster, counter, term, leader, elected_at
	FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'" -A -F ' | ' --no-align
received_first=$(received_in "$(node_log "$CLUSTER" "$first")")
received_second=$(received_in "$(node_log "$CLUSTER" "$second")")
echo
echo "  $first processed $received_first (counter 0, 1, 2), was killed; $second processed" \
	"$received_second (counter 3, 4). Counter in the database: $(counter_of "$CLUSTER")."
[ "$(counter_of "$CLUSTER")" = 5 ] && [ "$received_first" = 3 ] && [ "$received_second" = 2 ]
say "Done: cleaning up the nodes and the throwaway PostgreSQL"
