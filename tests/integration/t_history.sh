# SPDX-License-Identifier: PostgreSQL
# Integration tests: the cluster's history of terms (sql/014_history.sql), written by the
# protocol where a lead is taken, read by `clustered_nodes history`, `status`, the
# takeover's log line and /metrics.  Hand-overs, crashes and a hung leader, at K = 1 and
# K = 4; retention; the command's filters and its errors.  The truth is the table.

# "term:leader:previous:reason" per term of partition P, oldest first.
history_of() {
	local p=${2:-0}
	q "SELECT string_agg(term || ':' || leader || ':' || coalesce(previous_leader, '-') || ':' || reason,
		' ' ORDER BY term) FROM clustered_nodes.history WHERE cluster = '$1' AND partition = $p"
}
history_rows() { q "SELECT count(*) FROM clustered_nodes.history WHERE cluster = '$1'"; }
history_has() { [ "$(history_rows "$1")" -ge "$2" ]; }
# The page at 127.0.0.1:PORT draws rows for K partitions and at least K terms.
page_draws_partitions() {
	local page
	page=$(curl -s --max-time 5 "http://127.0.0.1:$1/")
	[[ "$page" == *">partition $(($2 - 1))<"* ]] &&
		[ "$(grep -o '<g class="term">' <<<"$page" | wc -l)" -ge "$2" ]
}
history_cmd() { "$ROOT/clustered_nodes" history --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" "$@"; }

test_history_records_each_takeover_with_its_reason_k1() {
	local first second third out rc
	for n in node1 node2 node3; do start_node "$CLUSTER" "$n" --lease-timeout 1s; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER" >/dev/null
	first=$(leader_ready "$CLUSTER")
	send_notifications test_channel 3 a
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	# A hand-over.
	kill -TERM "${NODE_PID[$first]}"
	wait "${NODE_PID[$first]}" || true
	wait_for "term 2" 5000 leader_ready "$CLUSTER" 1 >/dev/null
	second=$(leader_ready "$CLUSTER")
	send_notifications test_channel 2 b
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	# A crash.
	{ kill -9 "${NODE_PID[$second]}"; wait "${NODE_PID[$second]}"; } 2>/dev/null || true
	wait_for "term 3" 5000 leader_ready "$CLUSTER" 2 >/dev/null
	third=$(leader_ready "$CLUSTER")
	wait_for "three terms recorded" 5000 history_has "$CLUSTER" 3
	assert_eq "$(history_of "$CLUSTER")" \
		"1:$first:-:first lead 2:$second:$first:handed over 3:$third:$second:session ended" \
		"the history of terms" || return 1
	# The ended terms: their last counters, and an end no later than the next term's start.
	assert_eq "$(q "SELECT string_agg(term || '=' || coalesce(last_counter::text, '-'), ' ' ORDER BY term)
		FROM clustered_nodes.history WHERE cluster = '$CLUSTER'")" "1=3 2=5 3=-" "last counters" || return 1
	assert_eq "$(q "SELECT bool_and(h.ended_at <= n.began_at AND h.gap_ms IS NULL = (h.term = 1)
		AND (n.gap_ms >= 0)) FROM clustered_nodes.history h JOIN clustered_nodes.history n
		ON n.cluster = h.cluster AND n.partition = h.partition AND n.term = h.term + 1
		WHERE h.cluster = '$CLUSTER'")" t "ends, starts and gaps" || return 1
	# The takeover's log line says whom it followed and why.
	grep -q "starting psql listener: cluster=$CLUSTER term=2 counter=3 channels=1 previous=$first reason=\"handed over\" gap_ms=[0-9.]*$" \
		"$(node_log "$CLUSTER" "$second")" || fail "the hand-over's log line" || return 1
	grep -q "term=3 counter=5 channels=1 previous=$second reason=\"session ended\" gap_ms=[0-9.]*$" \
		"$(node_log "$CLUSTER" "$third")" || fail "the crash's log line" || return 1
	# The command: newest first, text and JSON, filters, status's last terms.
	out=$(history_cmd) || fail "history exited $?" || return 1
	[[ "$(sed -n 4p <<<"$out")" == *" 0    3      $third "*"session ended"* ]] || fail "history's first row: $out" || return 1
	out=$(history_cmd --json --since 1h)
	assert_eq "$(python3 -c "import json,sys; d=json.load(sys.stdin); print([(h['term'], h['reason'], h['previous_leader']) for h in d['history']])" <<<"$out")" \
		"[(3, 'session ended', '$second'), (2, 'handed over', '$first'), (1, 'first lead', None)]" "history --json" || return 1
	assert_eq "$(history_cmd --json --limit 1 --partition 0 --since '2000-01-01 00:00Z' |
		python3 -c "import json,sys; print(len(json.load(sys.stdin)['history']))")" 1 "history --limit 1" || return 1
	out=$("$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO")
	[[ "$out" == *"recent terms"*"handed over"* ]] || fail "status shows no recent terms: $out" || return 1
	"$ROOT/clustered_nodes" status --json --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" |
		python3 -c "import json,sys; d=json.load(sys.stdin); assert [h['term'] for h in d['history']] == [3, 2, 1], d" ||
		fail "status --json's history" || return 1
	# Errors: a --since nobody can read, an unknown cluster, history options elsewhere.
	rc=0; history_cmd --since 'last tuesday-ish' >/dev/null 2>"$WORK/$CLUSTER.err" || rc=$?
	assert_eq "$rc" 64 "exit status of a bad --since" || return 1
	rc=0; "$ROOT/clustered_nodes" history --cluster "${CLUSTER:0:40}_typo" --dbname "$NODE_CONNINFO" \
		>/dev/null 2>"$WORK/$CLUSTER.err" || rc=$?
	assert_eq "$rc" 78 "exit status for an unknown cluster" || return 1
	grep -q "unknown cluster ${CLUSTER:0:40}_typo" "$WORK/$CLUSTER.err" || fail "$(cat "$WORK/$CLUSTER.err")" || return 1
	rc=0; "$ROOT/clustered_nodes" --since 1h --cluster "$CLUSTER" 2>/dev/null || rc=$?
	assert_eq "$rc" 64 "--since without history"
}

test_history_names_a_hung_leader_lease_lapsed() {
	local old term
	for n in node1 node2; do start_node "$CLUSTER" "$n" --lease-timeout 1s; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER" >/dev/null
	old=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	kill -STOP "${NODE_PID[$old]}"
	wait_for "a new leader after eviction" 8000 leader_ready "$CLUSTER" "$term" >/dev/null
	kill -CONT "${NODE_PID[$old]}"
	assert_eq "$(q "SELECT reason || ':' || previous_leader FROM clustered_nodes.history
		WHERE cluster = '$CLUSTER' AND term = $term + 1")" "lease lapsed:$old" "the eviction's reason"
}

test_history_of_partitions_and_its_retention_k4() {
	local victim p rows led port page
	port=$(free_port)
	start_node "$CLUSTER" node1 --partitions 4
	start_node "$CLUSTER" node2 --partitions 4 --http "$port"
	wait_for "4 partitions led" 10000 partitions_ready "$CLUSTER" 4
	wait_for "2 partitions each" 10000 shape_is "$CLUSTER" 4 "2 2"
	victim=node1
	led=$(q "SELECT string_agg(partition::text, ',' ORDER BY partition) FROM clustered_nodes.cluster_state
		WHERE cluster = '$CLUSTER' AND leader = 'node1'")
	kill -TERM "${NODE_PID[$victim]}"
	wait "${NODE_PID[$victim]}" || true
	wait_for "4 partitions led by node2" 10000 counts_are "$CLUSTER" 4 "node2=4"
	# Every partition node1 led has a 'handed over' term after it, naming node1.
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.history n JOIN clustered_nodes.history h
		ON h.cluster = n.cluster AND h.partition = n.partition AND h.term = n.term - 1
		WHERE n.cluster = '$CLUSTER' AND h.leader = 'node1'
		  AND (n.reason <> 'handed over' OR n.previous_leader <> 'node1' OR n.leader <> 'node2')")" 0 \
		"terms after node1's that are not hand-overs to node2" || return 1
	# ... and the partitions it led when it stopped are led now in a term it handed over.
	[ -n "$led" ] || fail "node1 led nothing when it stopped" || return 1
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s
		JOIN clustered_nodes.history h USING (cluster, partition, term)
		WHERE s.cluster = '$CLUSTER' AND s.partition IN ($led)
		  AND NOT (h.reason = 'handed over' AND h.previous_leader = 'node1')")" 0 \
		"partitions node1 led when it stopped, now led in a term it did not hand over" || return 1
	# Retention: the schema owner keeps 2 terms per partition; older ones go with the next.
	q "SELECT clustered_nodes.set_history_keep('$CLUSTER', 2)" >/dev/null
	for p in 1 2 3; do
		start_node "$CLUSTER" "r$p" --partitions 4
		wait_for "r$p leading its share" 10000 bash -c "case \" \$(psql -X -At -c \"SELECT string_agg(m.node, ' ') FROM clustered_nodes.cluster_state s JOIN clustered_nodes.members m ON m.backend_pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\") \" in *' r$p '*) exit 0;; esac; exit 1"
		kill -TERM "${NODE_PID[r$p]}"
		wait "${NODE_PID[r$p]}" || true
		wait_for "4 partitions led by node2 again" 10000 counts_are "$CLUSTER" 4 "node2=4"
	done
	rows=$(q "SELECT max(n) FROM (SELECT count(*) n FROM clustered_nodes.history
		WHERE cluster = '$CLUSTER' GROUP BY partition) x")
	[ "$rows" -le 2 ] || fail "$rows terms kept for a partition (keep = 2)" || return 1
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.history h JOIN clustered_nodes.cluster_state s
		USING (cluster, partition, term) WHERE s.cluster = '$CLUSTER'")" 4 "the running terms kept" || return 1
	# node2's page draws a row per partition and a bar per term it read (K = 4).
	wait_for "node2's page drawing the terms of 4 partitions" 10000 page_draws_partitions "$port" 4 ||
		return 1
	# Bad values for the setting.
	[[ "$(q "SELECT clustered_nodes.set_history_keep('$CLUSTER', 0)" 2>&1)" == *"1 to 1000000"* ]] ||
		fail "keep = 0 accepted"
}
