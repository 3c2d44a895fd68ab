# SPDX-License-Identifier: PostgreSQL
# Integration tests: standbys cost the database nothing.  They LISTEN on nothing, read
# pg_locks only when they need the holder, wait on the leader's handoff key between polls,
# and their periodic waits leave nothing in the server's log.

# listening PORT: the channels a node's own session listens on, as its /status says.
listening() {
	curl -s --max-time 5 "http://127.0.0.1:$1/status" |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(','.join(d['listening']) if d['view_age_s'] is not None else 'no view yet')"
}
listens_on() { [ "$(listening "$1")" = "$2" ]; }

test_standbys_listen_on_nothing_and_wake_on_the_handoff_key() {
	local pa pb leader standby lp sp term t0 waits before_log
	pa=$(free_port)
	pb=$(free_port)
	before_log=$(grep -c 'lock timeout' "$PGTMP_DIR/postgres.log" || true)
	# Standbys poll every 10 s: anything faster than that comes from the handoff key.
	start_node "$CLUSTER" node1 --http "$pa" --poll-interval 10s
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --http "$pb" --poll-interval 10s --log-level debug
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	leader=node1 lp=$pa standby=node2 sp=$pb
	wait_for "the leader's LISTENs in its /status" 5000 listens_on "$lp" "clustered_nodes_events,clustered_nodes_fence,test_channel"
	wait_for "the standby's view" 5000 bash -c "! curl -s http://127.0.0.1:$sp/status | grep -q '\"view_age_s\":null'"
	assert_eq "$(listening "$sp")" "" "channels the standby's session listens on"
	# The standby waits on the handoff key (a shared lock request that is not granted).
	wait_for "the standby waiting on the handoff key" 5000 bash -c \
		"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND NOT l.granted AND l.mode = 'ShareLock' AND a.application_name = 'clustered_nodes:$standby'\")\" = 1 ]"
	# Several waits run out meanwhile (each lasts a look interval: lease_timeout / 4 = 2.5 s
	# by default); none leaves a line in the server's log.
	waits=$(grep -c 'the handoff key was let go, or the wait ended' "$(node_log "$CLUSTER" "$standby")" || true)
	wait_for "three waits over" 10000 bash -c "[ \$(grep -c 'the handoff key was let go, or the wait ended' '$(node_log "$CLUSTER" "$standby")') -ge $((waits + 3)) ]"
	assert_eq "$(grep -c 'lock timeout' "$PGTMP_DIR/postgres.log" || true)" "$before_log" "lock timeouts in the server's log"
	# SIGTERM: the standby takes over in far less than its 10 s poll interval.
	term=$(term_of "$CLUSTER")
	t0=$(now_ms)
	kill -TERM "${NODE_PID[$leader]}"
	wait_for "$standby leading after the handover" 500 leader_ready "$CLUSTER" "$term"
	echo "handover after SIGTERM: $(( $(now_ms) - t0 )) ms"
	wait "${NODE_PID[$leader]}" 2>/dev/null || true
	unset "NODE_PID[$leader]"
	wait_for "the new leader's LISTENs" 5000 listens_on "$sp" "clustered_nodes_events,clustered_nodes_fence,test_channel"
	# SIGKILL: the dead session lets the handoff key go; the standby wakes at once.
	start_node "$CLUSTER" node1 --http "$pa" --poll-interval 10s
	wait_for "node1 standing by again" 5000 bash -c "[ \$(grep -c '→ standby: registered' '$(node_log "$CLUSTER" node1)') -ge 2 ]"
	wait_for "node1 waiting on the handoff key" 5000 bash -c \
		"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'clustered_nodes:node1'\")\" = 1 ]"
	term=$(term_of "$CLUSTER")
	t0=$(now_ms)
	{ kill -9 "${NODE_PID[$standby]}"; wait "${NODE_PID[$standby]}"; } 2>/dev/null || true
	unset "NODE_PID[$standby]"
	wait_for "node1 leading after the SIGKILL" 1000 leader_ready "$CLUSTER" "$term"
	echo "takeover after SIGKILL: $(( $(now_ms) - t0 )) ms"
	send_notifications test_channel 2 after
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
}

# A standby's stop does not wait for its wait on the handoff key (here 20 s: a look
# interval of --heartbeat-interval 20s): the wait is cancelled from a second session, and
# the node deregisters and exits 0 at once.  K = 1.
test_a_standby_stops_without_waiting_for_its_wait() {
	local t0 rc=0 elapsed
	start_node "$CLUSTER" node1 --heartbeat-interval 20s --lease-timeout 80s
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --heartbeat-interval 20s --lease-timeout 80s
	wait_for "node2 waiting on the handoff key" 5000 bash -c \
		"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'clustered_nodes:node2' AND state = 'active' AND query LIKE '%wait_lock%'\")\" = 1 ]"
	t0=$(now_ms)
	kill -TERM "${NODE_PID[node2]}"
	wait "${NODE_PID[node2]}" || rc=$?
	elapsed=$(( $(now_ms) - t0 ))
	echo "the standby stopped in $elapsed ms"
	assert_eq "$rc" 0 "the standby's exit status"
	[ "$elapsed" -lt 5000 ] || fail "the standby took $elapsed ms to stop (its wait lasts 20 s)"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = 'node2'")" 0 \
		"node2's members row after its stop"
}

# In a single-leader cluster of more than 8 nodes, the standbys after the first 8 in name
# order wait longer than a look interval (here 500 ms: --lease-timeout 2s); they take
# over as fast, woken by the key's release.
test_a_large_clusters_later_standbys_wait_longer() {
	local i leader term
	for i in 01 02 03 04 05 06 07 08 09 10 11; do
		start_node "$CLUSTER" "node$i" --lease-timeout 2s
	done
	wait_for "11 members" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'\")\" = 11 ]"
	wait_for "a wait longer than a look interval" 10000 bash -c \
		"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'clustered_nodes:node%' AND state = 'active' AND query LIKE '%wait_lock%' AND now() - query_start > interval '650 ms'\")\" -ge 1 ]"
	leader=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	kill -9 "${NODE_PID[$leader]}"
	wait "${NODE_PID[$leader]}" 2>/dev/null || true
	wait_for "a new leader" 5000 leader_ready "$CLUSTER" "$term"
}
