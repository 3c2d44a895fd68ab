# SPDX-License-Identifier: PostgreSQL
# Integration tests: systemd's notification protocol, without systemd.  A listener of our
# own binds the datagram socket a node is told about in $NOTIFY_SOCKET and writes each
# message it receives, with the time, to a file; the tests read that file.

# notify_listener SOCKET OUT: records datagrams as "<epoch ms> <message>" lines.
notify_listener() {
	python3 -u - "$1" "$2" <<'PY' &
import socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, 'a', buffering=1) as f:
    while True:
        data = s.recv(4096).decode('utf-8', 'replace')
        for line in data.split('\n'):
            f.write(f'{int(time.time() * 1000)} {line}\n')
PY
	LISTENER=$!
	NODE_PID[notify_listener]=$LISTENER	# ended with the nodes, if the test fails first
}

messages() { grep -c " $2" "$1" || true; }
has_message() { grep -q " $2" "$1"; }
watchdogs() { messages "$1" 'WATCHDOG=1'; }
watchdogs_above() { [ "$(watchdogs "$1")" -gt "$2" ]; }

test_notify_socket_gets_ready_status_watchdog_and_stopping() {
	local sock=$WORK/$CLUSTER.notify out=$WORK/$CLUSTER.notify.log n0 n1 pid
	: >"$out"
	notify_listener "$sock" "$out"
	wait_for "the listener's socket" 5000 test -S "$sock"
	# WatchdogSec=1s: WATCHDOG=1 every half second.
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 start_node "$CLUSTER" node1 \
		--handler-exec "env >'$WORK/$CLUSTER.env'"
	pid=${NODE_PID[node1]}
	wait_for "READY=1" 5000 has_message "$out" 'READY=1'
	wait_for "a leader's STATUS" 5000 has_message "$out" "STATUS=leader of cluster $CLUSTER, term 1, counter 0"
	assert_eq "$(messages "$out" 'READY=1')" 1 "READY=1 messages"
	# READY=1 came once the node stood by or led, never before it was connected.
	wait_for "leading" 5000 leader_ready "$CLUSTER"
	send_notifications test_channel 3 s
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	wait_for "a STATUS with counter 3" 5000 has_message "$out" "STATUS=leader of cluster $CLUSTER, term 1, counter 3"
	wait_for "two watchdog pings" 5000 watchdogs_above "$out" 1
	# The programs it runs do not inherit the socket (their environment is the node's
	# own choice, and the node dropped NOTIFY_SOCKET from its own at start).
	grep -q '^CLUSTERED_NODES_COUNTER=' "$WORK/$CLUSTER.env" || fail "the handler's environment was not recorded"
	! grep -q '^NOTIFY_SOCKET=\|^WATCHDOG_' "$WORK/$CLUSTER.env" || fail "a program inherited NOTIFY_SOCKET"
	# A stopped loop sends no WATCHDOG=1: SIGSTOP for 2 s (four periods) is the fault itself.
	kill -STOP "$pid"
	sleep 0.3	# a ping already in the socket buffer arrives meanwhile
	n0=$(watchdogs "$out")
	sleep 2
	n1=$(watchdogs "$out")
	kill -CONT "$pid"
	assert_eq "$n1" "$n0" "WATCHDOG=1 messages while the loop was stopped"
	wait_for "the pings to resume" 3000 watchdogs_above "$out" "$n1"
	# A standby reports itself as one.
	NOTIFY_SOCKET=$sock start_node "$CLUSTER" node2
	wait_for "a standby's STATUS" 5000 has_message "$out" "STATUS=standby in cluster $CLUSTER, term 1"
	assert_eq "$(messages "$out" 'READY=1')" 2 "READY=1 messages (one per node)"
	# SIGTERM: STOPPING=1, then the standby takes over and says so.
	kill -TERM "$pid"
	wait_for "STOPPING=1" 5000 has_message "$out" 'STOPPING=1'
	wait "$pid" || fail "node1 did not stop with 0"
	unset "NODE_PID[node1]"
	wait_for "node2 leading, in its STATUS" 5000 has_message "$out" "STATUS=leader of cluster $CLUSTER, term 2, counter 3"
	# Between the lock and the take-over's commit the term is not known: never "term 0".
	! grep -q 'STATUS=leader of cluster .*, term 0' "$out" || fail "a STATUS with term 0: $(grep 'term 0' "$out")"
	kill "$LISTENER" 2>/dev/null || true
}

reconnects_at_least() {	# PORT N: the node's /metrics counts at least N failed sessions
	local got
	got=$(http_body "http://127.0.0.1:$1/metrics" | sed -n 's/^clustered_nodes_reconnects_total \([0-9]*\)$/\1/p')
	[ -n "$got" ] && [ "$got" -ge "$2" ]
}

test_status_says_why_a_node_has_no_session() {
	local sock=$WORK/$CLUSTER.notify out=$WORK/$CLUSTER.notify.log port http log
	: >"$out"
	notify_listener "$sock" "$out"
	wait_for "the listener's socket" 5000 test -S "$sock"
	port=$(free_port)	# nothing listens there
	http=$(free_port)
	log=$(node_log "$CLUSTER" node1)
	NOTIFY_SOCKET=$sock NODE_CONNINFO="host=127.0.0.1 port=$port user=cn_node dbname=postgres" \
		start_node "$CLUSTER" node1 --http "127.0.0.1:$http"
	wait_for "STATUS= naming the refused connection" 10000 has_message "$out" \
		"STATUS=no database session: connection attempt failed: .*Connection refused"
	wait_for "five failed attempts" 10000 reconnects_at_least "$http" 5
	# The cause stays in STATUS=, not "connecting" and "disconnected" in turn.
	! sed -n '/STATUS=no database session/,$p' "$out" | grep -q 'STATUS=connecting\|STATUS=disconnected' ||
		fail "$(grep STATUS= "$out")"
	# ... and the log names it once at warn, and its retries once at info (at debug,
	# each): not three info lines per attempt for as long as the outage lasts.
	assert_eq "$(grep -c 'warn.*Connection refused.*; retrying' "$log")" 1 "warnings"
	assert_eq "$(grep -c 'info.*reconnecting in' "$log")" 1 "info lines announcing a retry"
	assert_eq "$(grep -c 'info.*state connecting → disconnected' "$log")" 1 "info lines of the same failure"
	kill "$LISTENER" 2>/dev/null || true
}

test_without_notify_socket_nothing_is_sent_and_bad_socket_is_ignored() {
	local out=$WORK/$CLUSTER.node1.log
	# A relative path is not one systemd gives: the node says so and runs on.
	NOTIFY_SOCKET=relative/socket start_node "$CLUSTER" node1
	wait_for "leading" 5000 leader_ready "$CLUSTER"
	grep -q 'NOTIFY_SOCKET=relative/socket is not a socket path systemd would give: ignored' "$out" ||
		fail "the bad NOTIFY_SOCKET was not named"
	# A socket nobody listens on: sends fail quietly, the node leads on.
	NOTIFY_SOCKET=$WORK/nobody.sock WATCHDOG_USEC=200000 start_node "$CLUSTER" node2
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	alive "${NODE_PID[node2]}" || fail "node2 died"
	# A partitioned node reports its share.
	local sock=$WORK/$CLUSTER.p.notify status=$WORK/$CLUSTER.p.log
	: >"$status"
	notify_listener "$sock" "$status"
	wait_for "the listener's socket" 5000 test -S "$sock"
	NOTIFY_SOCKET=$sock start_node "p_${CLUSTER:0:40}" node3 --partitions 3
	wait_for "a partitioned STATUS" 5000 has_message "$status" "STATUS=leading 3 of 3 partitions of cluster p_${CLUSTER:0:40}"
	kill "$LISTENER" 2>/dev/null || true
}
