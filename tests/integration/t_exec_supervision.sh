# SPDX-License-Identifier: PostgreSQL
# Integration tests: an exec program's processes end with it.  A background job and a
# setsid() daemon that a program leaves behind are gone when its step commits; when the
# node is killed while a program runs, everything the program started is gone before the
# next leader leads.  At K = 1 and K = 4.

# How many processes run `sleep SECONDS` (a number no other test uses).
sleepers() { pgrep -c -f "^sleep $1\$" || true; }
# node1 leads all K partitions.
node1_leads() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state
	        WHERE cluster = '$CLUSTER' AND leader = 'node1'")" = "$1" ]
}

exec_leftovers_case() {
	local k=$1 s=$2 n
	start_node "$CLUSTER" node1 --partitions "$k" --handler-exec \
		"setsid sleep $s </dev/null >/dev/null 2>&1 & (sleep $s) </dev/null >/dev/null 2>&1 & exit 0"
	wait_for "node1 leading" 10000 node1_leads "$k"
	send_notifications test_channel 5 left
	wait_for "5 counted" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 5 ]"
	n=$(sleepers "$s")
	assert_eq "$n" 0 "processes the programs left running after their steps committed"
}

test_exec_programs_leave_nothing_running_k1() { exec_leftovers_case 1 313; }
test_exec_programs_leave_nothing_running_k4() { exec_leftovers_case 4 314; }

# node1 is SIGKILLed while its program runs (and has started a setsid() daemon): by the
# time node2 leads, nothing of the program is left.
exec_node_killed_case() {
	local k=$1 s=$2 n
	start_node "$CLUSTER" node1 --partitions "$k" --handler-exec \
		"setsid sleep $s </dev/null >/dev/null 2>&1 & sleep $s"
	wait_for "node1 leading" 10000 node1_leads "$k"
	q "NOTIFY test_channel, 'hang'" >/dev/null
	wait_for "the program and its daemon running" 5000 bash -c "[ \$(pgrep -c -f '^sleep $s\$') -ge 2 ]"
	start_node "$CLUSTER" node2 --partitions "$k" --handler-exec "exit 0"
	wait_for "node2 up" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	kill -9 "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" 2>/dev/null || true
	wait_for "node2 leading what node1 led" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER' AND s.leader = 'node2'\")\" = $k ]"
	n=$(sleepers "$s")
	assert_eq "$n" 0 "processes of node1's program left when node2 leads"
}

test_exec_program_ends_before_the_next_leader_k1() { exec_node_killed_case 1 315; }
test_exec_program_ends_before_the_next_leader_k4() { exec_node_killed_case 4 316; }

# SIGTERM while a program hangs (handler_timeout 20 s): the program (and what it started)
# is ended after the stop's step budget, and the node hands over and exits 0 in seconds.
exec_stop_case() {
	local k=$1 s=$2 rc=0
	start_node "$CLUSTER" node1 --partitions "$k" --handler-timeout 20s --handler-exec \
		"setsid sleep $s </dev/null >/dev/null 2>&1 & sleep $s"
	wait_for "node1 leading" 10000 node1_leads "$k"
	q "NOTIFY test_channel, 'hang'" >/dev/null
	wait_for "the program running" 5000 bash -c "[ \$(pgrep -c -f '^sleep $s\$') -ge 2 ]"
	kill -TERM "${NODE_PID[node1]}"
	wait_for "node1 gone" 5000 dead "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" || rc=$?
	assert_eq "$rc" 0 "exit status"
	assert_eq "$(sleepers "$s")" 0 "processes of the program left"
	grep -q 'handler_exec was ended: the node is stopping' "$(node_log "$CLUSTER" node1)" ||
		fail "the program was not ended by the stop"
	! grep -q 'without handoff' "$(node_log "$CLUSTER" node1)" || fail "stopped without handing over"
}

test_sigterm_ends_a_hanging_program_and_hands_over_k1() { exec_stop_case 1 317; }
test_sigterm_ends_a_hanging_program_and_hands_over_k4() { exec_stop_case 4 318; }

# A program's output goes to the node's log, line by line and marked with its event, with
# hostile bytes escaped; never to the node's own descriptors.
test_exec_output_is_logged_with_its_event() {
	local log
	log=$(node_log "$CLUSTER" node1)
	start_node "$CLUSTER" node1 --handler-exec \
		"echo \"out-\$(cat)\"; printf 'err-\\033[31mred\\n' >&2"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	send_notifications test_channel 2 ev
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
	grep -q 'handler_exec output (counter=0): out-ev-1$' "$log" || fail "stdout: $(grep -m3 output "$log")"
	grep -q 'handler_exec output (counter=1): out-ev-2$' "$log" || fail "the second event's"
	grep -q 'handler_exec output (counter=0): err-\\x1b\[31mred$' "$log" || fail "stderr: $(grep -m3 err- "$log")"
	! grep -q $'\033' "$log" || fail "an escape byte reached the log"
}

# Nobody reads the node's log (a full pipe): programs that print 100 kB each still run
# and exit at once, and every event is processed.
test_exec_output_never_waits_for_a_stalled_log_reader() {
	local fifo=$WORK/$CLUSTER.fifo reader
	mkfifo "$fifo"
	sleep 600 <"$fifo" &
	reader=$!
	"$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--handler-timeout 5s --handler-exec "head -c 100000 /dev/zero | tr '\\0' x; echo" 2>"$fifo" &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	send_notifications test_channel 20 loud
	wait_for "counter 20 with nobody reading the log" 20000 counter_is "$CLUSTER" 20
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
	kill "$reader" 2>/dev/null || true
	wait "$reader" 2>/dev/null || true
}
