# SPDX-License-Identifier: PostgreSQL
# Integration tests: exactly-once among listeners, failover, handoff, persistence.

# Starts node1..node3 of $CLUSTER (extra options apply to all) and waits for a leader.
start_three() {
	local i
	for i in 1 2 3; do start_node "$CLUSTER" "node$i" "$@"; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
}

test_three_nodes_process_each_notification_once() {
	local leader n i
	start_three
	leader=$(leader_ready "$CLUSTER")
	send_notifications test_channel 50 msg
	wait_for "counter 50" 5000 counter_is "$CLUSTER" 50
	assert_eq "$(received_total "$CLUSTER")" 50 "log lines over all nodes"
	assert_eq "$(received_in "$(node_log "$CLUSTER" "$leader")")" 50 "log lines of the leader"
	# Each counter value 0..49 appears exactly once, in order.
	grep -o 'with state: counter=[0-9]*' "$(node_log "$CLUSTER" "$leader")" |
		sed 's/.*=//' >"$WORK/$CLUSTER.values"
	assert_eq "$(seq 0 49 | diff - "$WORK/$CLUSTER.values" && echo same)" same "counter values"
	for i in 1 2 3; do
		n=node$i
		[ "$n" = "$leader" ] && continue
		assert_eq "$(received_in "$(node_log "$CLUSTER" "$n")")" 0 "log lines of standby $n"
	done
	assert_eq "$(lock_holders "$CLUSTER")" 1 "lock holders"
	# Still 50 once everything that could arrive late has had time to.
	send_notifications test_channel 1 marker
	wait_for "counter 51" 5000 counter_is "$CLUSTER" 51
	assert_eq "$(received_total "$CLUSTER")" 51 "log lines after the marker"
}

# Kills the leader with SIGNAL/method, then checks takeover and continuity.
failover_case() {
	local how=$1 old new term t0 elapsed
	shift
	start_three "$@"
	old=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 3 before
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	t0=$(now_ms)
	case $how in
	sigkill) kill -9 "${NODE_PID[$old]}" ;;
	terminate) q "SELECT pg_terminate_backend(leader_pid) FROM clustered_nodes.cluster_state
		WHERE cluster = '$CLUSTER'" >/dev/null ;;
	esac
	wait_for "a new leader" 1000 leader_ready "$CLUSTER" "$term"
	elapsed=$(( $(now_ms) - t0 ))
	echo "takeover after $how: ${elapsed} ms"
	new=$(leader_ready "$CLUSTER" "$term")
	assert_eq "$(term_of "$CLUSTER")" $((term + 1)) "term after takeover"
	if [ "$how" = sigkill ]; then
		[ "$new" != "$old" ] || fail "the killed node $old cannot lead again"
	fi
	send_notifications test_channel 2 after
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	grep -q "starting psql listener: cluster=$CLUSTER term=$((term + 1)) counter=3" \
		"$(node_log "$CLUSTER" "$new")" || fail "$new did not start from counter 3"
	grep -q 'payload="after-2".*counter=4' "$(node_log "$CLUSTER" "$new")" ||
		fail "$new did not log counter=4 for the last notification"
	assert_eq "$(received_total "$CLUSTER")" 5 "log lines over all nodes"
}

test_sigkill_of_leader_hands_over_within_a_second() {
	failover_case sigkill
}

test_sigkill_of_leader_hands_over_in_wait_mode() {
	failover_case sigkill --acquire wait
	grep -q 'acquire=wait' "$(node_log "$CLUSTER" node1)" || fail "wait mode not in effect"
}

test_terminated_leader_hands_over_in_wait_mode() {
	failover_case terminate --acquire wait
}

test_waiting_standby_stops_at_once_and_leaves_the_queue() {
	local leader n rc t0
	start_three --acquire wait
	leader=$(leader_ready "$CLUSTER")
	for n in node1 node2 node3; do [ "$n" != "$leader" ] && break; done
	wait_for "$n waiting in the lock queue" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted\")\" -ge 2 ]"
	t0=$(now_ms)
	kill -TERM "${NODE_PID[$n]}"
	rc=0
	wait "${NODE_PID[$n]}" || rc=$?
	unset "NODE_PID[$n]"
	assert_eq "$rc" 0 "exit status of the stopped waiting standby"
	[ $(( $(now_ms) - t0 )) -lt 1000 ] || fail "stopping a waiting standby took over a second"
	# Its backend leaves the lock queue (client_connection_check_interval).
	wait_for "one waiter left" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted\")\" = 1 ]"
}

test_terminated_leader_session_hands_over_and_rejoins() {
	local n
	failover_case terminate
	# The node whose session was ended reconnects as a standby.
	for n in node1 node2 node3; do alive "${NODE_PID[$n]}" || fail "$n exited"; done
	wait_for "three sessions again" 5000 bash -c \
		"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'clustered_nodes:node%'\")\" = 3 ]"
}

test_postgres_restart_keeps_counter_and_one_leader() {
	local term n
	start_three
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 4 before
	wait_for "counter 4" 5000 counter_is "$CLUSTER" 4
	pgtmp_restart
	wait_for "a leader after the restart" 15000 leader_ready "$CLUSTER" "$term"
	assert_eq "$(counter_of "$CLUSTER")" 4 "counter after restart"
	assert_eq "$(lock_holders "$CLUSTER")" 1 "lock holders after restart"
	for n in node1 node2 node3; do alive "${NODE_PID[$n]}" || fail "$n exited"; done
	send_notifications test_channel 2 after
	wait_for "counter 6" 5000 counter_is "$CLUSTER" 6
	assert_eq "$(received_total "$CLUSTER")" 6 "log lines over all nodes"
}

test_sigterm_hands_over_faster_than_poll_interval() {
	local old new term t0 elapsed rc
	# Standbys poll every 10 s, so a takeover within 500 ms can only come
	# from the handoff notification.
	start_three --poll-interval 10s
	old=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 3 before
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	t0=$(now_ms)
	kill -TERM "${NODE_PID[$old]}"
	wait_for "a new leader" 500 leader_ready "$CLUSTER" "$term"
	elapsed=$(( $(now_ms) - t0 ))
	echo "handoff after SIGTERM: ${elapsed} ms"
	rc=0
	wait "${NODE_PID[$old]}" || rc=$?
	assert_eq "$rc" 0 "exit status of the stopped leader"
	unset "NODE_PID[$old]"
	new=$(leader_ready "$CLUSTER" "$term")
	[ "$new" != "$old" ] || fail "the stopped node still leads"
	grep -q 'released the leader lock' "$(node_log "$CLUSTER" "$old")" ||
		fail "$old did not log its release"
	send_notifications test_channel 2 after
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	assert_eq "$(received_total "$CLUSTER")" 5 "log lines over all nodes"
}

test_sigterm_of_standby_exits_zero() {
	local leader n rc
	start_three
	leader=$(leader_ready "$CLUSTER")
	for n in node1 node2 node3; do [ "$n" != "$leader" ] && break; done
	kill -TERM "${NODE_PID[$n]}"
	rc=0
	wait "${NODE_PID[$n]}" || rc=$?
	unset "NODE_PID[$n]"
	assert_eq "$rc" 0 "exit status of the stopped standby"
	assert_eq "$(leader_ready "$CLUSTER")" "$leader" "leader after a standby stopped"
}

test_counter_persists_when_every_node_restarts() {
	local term n rc
	start_three
	send_notifications test_channel 5 first
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	for n in node1 node2 node3; do kill -TERM "${NODE_PID[$n]}"; done
	for n in node1 node2 node3; do
		rc=0
		wait "${NODE_PID[$n]}" || rc=$?
		assert_eq "$rc" 0 "exit status of $n"
	done
	NODE_PID=()
	assert_eq "$(lock_holders "$CLUSTER")" 0 "lock holders with every node stopped"
	term=$(term_of "$CLUSTER")
	start_three
	wait_for "a leader of a new term" 5000 leader_ready "$CLUSTER" "$term"
	assert_eq "$(counter_of "$CLUSTER")" 5 "counter after restarting every node"
	send_notifications test_channel 2 second
	wait_for "counter 7" 5000 counter_is "$CLUSTER" 7
}

test_standby_never_processes_while_lock_is_held_elsewhere() {
	local key holder
	# Another session holds the cluster's lock: the node must stay standby.
	start_node "$CLUSTER" node1
	wait_for "the node's key" 5000 grep -q 'lock_key=' "$(node_log "$CLUSTER" node1)"
	key=$(grep -o 'lock_key=-\?[0-9]*' "$(node_log "$CLUSTER" node1)" | head -n1 | cut -d= -f2)
	kill -9 "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" 2>/dev/null || true
	q "DELETE FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'" >/dev/null
	psql -X -q -c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	holder=$!
	wait_for "the outside holder" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::int8 << 32) | objid::int8) = $key\")\" = 1 ]"
	start_node "$CLUSTER" node2
	wait_for "node2 standing by" 5000 grep -q '→ standby' "$(node_log "$CLUSTER" node2)"
	send_notifications test_channel 5 ignored
	# The outside holder's session ends; node2 must take over within a poll
	# interval or so.  (Killing psql alone would leave its backend sleeping.)
	q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
		AND granted AND ((classid::int8 << 32) | objid::int8) = $key" >/dev/null
	wait "$holder" 2>/dev/null || true
	wait_for "node2 leading" 2000 leader_ready "$CLUSTER"
	assert_eq "$(counter_of "$CLUSTER")" 0 "counter: nothing was processed while standby"
	assert_eq "$(received_total "$CLUSTER")" 0 "log lines while standby"
	send_notifications test_channel 1 counted
	wait_for "counter 1" 5000 counter_is "$CLUSTER" 1
}

test_superseded_term_makes_leader_step_down() {
	local leader term
	start_three
	leader=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 2 before
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
	# Someone else raised the term: the leader's next step must not commit.
	q "UPDATE clustered_nodes.cluster_state SET term = term + 1 WHERE cluster = '$CLUSTER'" >/dev/null
	send_notifications test_channel 1 superseded
	wait_for "the leader stepping down" 5000 grep -q 'was superseded' "$(node_log "$CLUSTER" "$leader")"
	wait_for "a leader of a newer term" 5000 leader_ready "$CLUSTER" $((term + 1))
	assert_eq "$(counter_of "$CLUSTER")" 2 "counter: the superseded step did not commit"
	send_notifications test_channel 1 after
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
}

# A node killed while its sessions wait (a single leader's standby on the handoff key, a
# partitioned node's watch): PostgreSQL ends each of its waiting backends within about a
# second (client_connection_check_interval), not when the wait would have ended (here a
# look interval of 10 s).  Until then the dead node's member row reads as live, and a
# node restarted under its name waits for it.
test_a_killed_nodes_waiting_sessions_end_within_a_second() {
	local k pid watch standby
	for k in 1 4; do
		start_node "$CLUSTER-$k" "lead$k" --partitions "$k" --lease-timeout 40s --heartbeat-interval 10s
		wait_for "lead$k leads" 5000 leader_ready "$CLUSTER-$k"
		start_node "$CLUSTER-$k" "wait$k" --partitions "$k" --lease-timeout 40s --heartbeat-interval 10s \
			--log-level debug
		if [ "$k" = 1 ]; then
			wait_for "wait1 waits on the handoff key" 5000 \
				grep -q "waiting for the leader to hand over" "$(node_log "$CLUSTER-$k" wait1)"
		else
			wait_for "wait4's watch is its bell" 5000 bash -c \
				"[ -n \"\$(psql -X -At -c \"SELECT bell_pid FROM clustered_nodes.members WHERE cluster = '$CLUSTER-$k' AND node = 'wait4'\")\" ]"
		fi
		standby=$(q "SELECT backend_pid FROM clustered_nodes.members WHERE cluster = '$CLUSTER-$k' AND node = 'wait$k'")
		watch=$(q "SELECT coalesce(bell_pid, 0) FROM clustered_nodes.members WHERE cluster = '$CLUSTER-$k' AND node = 'wait$k'")
		[ "$k" = 1 ] && pid=$standby || pid=$watch
		wait_for "K = $k: wait$k's backend $pid waits" 5000 bash -c \
			"[ \"\$(psql -X -At -c \"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid\")\" != '' ] &&
			 [ \"\$(psql -X -At -c \"SELECT state FROM pg_stat_activity WHERE pid = $pid\")\" = active ]"
		kill -9 "${NODE_PID[wait$k]}"
		wait "${NODE_PID[wait$k]}" 2>/dev/null || true
		unset "NODE_PID[wait$k]"
		wait_for "K = $k: the killed node's waiting backend $pid ended" 2500 bash -c \
			"[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid\")\" = 0 ]"
	done
}
