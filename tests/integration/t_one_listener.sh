# SPDX-License-Identifier: PostgreSQL
# Integration tests: a partitioned cluster has one listener (sql/015).  PostgreSQL
# signals every listening session of a database on each NOTIFY commit, and none of them
# may fall behind the queue: only the leader of partition 0 listens, relays the other
# partitions' plain notifications as their durable events, and rings the leaders of
# durable events; the other nodes listen on nothing.  Checked from the outside: the
# nodes' /status, the server's notification queue, counters and terms.

# The nodes whose /status says they listen, as "node=yes" words, from PORTS ("node:port").
listeners() {
	local np
	for np in "$@"; do
		[[ "$(http_body "http://127.0.0.1:${np#*:}/status")" == *'"listener":true'* ]] &&
			printf '%s ' "${np%%:*}"
	done
	echo
}

# Exactly one node listens, and it is partition 0's leader (with a term above $2).
one_listener_is_p0_leader() {
	local cluster=$1 min_term=$2 p0
	shift 2
	p0=$(q "SELECT s.leader FROM clustered_nodes.cluster_state s
		JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$cluster' AND s.partition = 0 AND s.term > $min_term")
	[ -n "$p0" ] && [ "$(listeners "$@")" = "$p0 " ]
}

p0_term() { q "SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$1' AND partition = 0"; }
p0_leader() { q "SELECT leader FROM clustered_nodes.cluster_state WHERE cluster = '$1' AND partition = 0"; }

test_one_listener_per_partitioned_cluster_and_it_moves_with_partition_0() {
	local ports=() n port listener term
	for n in node1 node2 node3 node4; do
		port=$(free_port)
		ports+=("$n:$port")
		start_node "$CLUSTER" "$n" --partitions 8 --http "127.0.0.1:$port"
	done
	wait_for "every partition led" 10000 partitions_ready "$CLUSTER" 8
	wait_for "one listener, partition 0's leader" 5000 one_listener_is_p0_leader "$CLUSTER" 0 "${ports[@]}"
	burst test_channel 400 a
	wait_for "400 processed" 10000 counter_sum_is "$CLUSTER" 400
	assert_eq "$(counters "$CLUSTER")" "$(expected_per_partition a 400 8)" "per-partition counters"
	# The listener dies: the next leader of partition 0 listens, and only it.
	listener=$(p0_leader "$CLUSTER")
	term=$(p0_term "$CLUSTER")
	{ kill -9 "${NODE_PID[$listener]}"; wait "${NODE_PID[$listener]}"; } 2>/dev/null || true
	unset "NODE_PID[$listener]"
	for n in "${!ports[@]}"; do [[ "${ports[$n]}" == "$listener:"* ]] && unset "ports[$n]"; done
	wait_for "every partition led again" 5000 partitions_ready "$CLUSTER" 8
	wait_for "one listener again" 5000 one_listener_is_p0_leader "$CLUSTER" "$term" "${ports[@]}"
	burst test_channel 400 b
	wait_for "800 processed" 10000 counter_sum_is "$CLUSTER" 800
}

# The server's notification queue holds only what its slowest listener has not read: a
# listening session whose backend is stopped holds it.  The backends of the three nodes
# that do not lead partition 0 are stopped (SIGSTOP) while 30,000 notifications of 1 kB
# are sent to the cluster: the queue is read to its end all the same (by the listener,
# which relays them), and once the backends go on, every one is processed.
test_only_the_listener_holds_the_notification_queue() {
	local n i listener ch=one_listener_q
	for n in node1 node2 node3 node4; do
		start_node "$CLUSTER" "$n" --partitions 8 --listen "$ch" --lease-timeout 60s
	done
	wait_for "every partition led" 10000 partitions_ready "$CLUSTER" 8
	wait_for "4 nodes leading" 10000 shape_is "$CLUSTER" 8 "2 2 2 2"
	listener=$(p0_leader "$CLUSTER")
	STOPPED=$(q "SELECT string_agg(backend_pid::text, ' ') FROM clustered_nodes.members
		WHERE cluster = '$CLUSTER' AND node <> '$listener'")
	assert_eq "$(wc -w <<<"$STOPPED")" 3 "backends to stop"
	trap 'kill -CONT $STOPPED 2>/dev/null; kill_nodes' EXIT
	kill -STOP $STOPPED
	for i in 1 2 3; do
		q_vars "SELECT count(pg_notify(:'ch', g || '-' || repeat('x', 1000))) FROM generate_series($(( (i - 1) * 10000 + 1 )), $((i * 10000))) g" \
			-v ch="$ch" >/dev/null
	done
	# (The queue's tail moves when a sender crosses a few of its pages: a small burst on
	# another channel each time before the usage is read.)
	wait_for "the notification queue read to its end" 20000 queue_drained
	kill -CONT $STOPPED
	wait_for "30000 processed" 30000 counter_sum_is "$CLUSTER" 30000
}

queue_drained() {
	local usage
	q "SELECT count(pg_notify('one_listener_unrelated', repeat('y', 1000))) FROM generate_series(1, 50)" >/dev/null
	usage=$(q "SELECT pg_notification_queue_usage() < 0.0005")
	[ "$usage" = t ]
}

# Durable events are fetched when their partition's leader is rung through the listener,
# not at the catch-up read: here every look interval is 15 s (a quarter of lease_timeout
# 60 s), and 400 events in one transaction, spread over 8 partitions led by three nodes,
# are all processed within 3 s.  Three times: the second after the listener moved, the
# third sent as the listener is killed.
test_durable_events_wake_their_leaders_through_the_listener() {
	local n listener term
	for n in node1 node2 node3; do
		start_node "$CLUSTER" "$n" --partitions 8 --lease-timeout 60s --heartbeat-interval 30s
	done
	wait_for "every partition led" 10000 partitions_ready "$CLUSTER" 8
	wait_for "3 nodes leading" 10000 shape_is "$CLUSTER" 8 "3 3 2"
	q "SELECT count(clustered_nodes.notify('test_channel', 'd-' || g)) FROM generate_series(1, 400) g" >/dev/null
	wait_for "400 durable events processed" 3000 counter_sum_is "$CLUSTER" 400
	listener=$(p0_leader "$CLUSTER")
	term=$(p0_term "$CLUSTER")
	kill -TERM "${NODE_PID[$listener]}"
	wait "${NODE_PID[$listener]}" || fail "$listener's exit after SIGTERM"
	unset "NODE_PID[$listener]"
	wait_for "partition 0 led again" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT term > $term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND partition = 0\")\" = t ]"
	wait_for "every partition led again" 10000 partitions_ready "$CLUSTER" 8
	q "SELECT count(clustered_nodes.notify('test_channel', 'e-' || g)) FROM generate_series(1, 400) g" >/dev/null
	wait_for "800 durable events processed" 3000 counter_sum_is "$CLUSTER" 800
	# The listener is killed and events are sent at once, while no one may listen: the
	# next listener makes every leader fetch when it takes over.
	start_node "$CLUSTER" "$listener" --partitions 8 --lease-timeout 60s --heartbeat-interval 30s
	wait_for "3 nodes leading again" 10000 shape_is "$CLUSTER" 8 "3 3 2"
	listener=$(p0_leader "$CLUSTER")
	kill -9 "${NODE_PID[$listener]}"
	q "SELECT count(clustered_nodes.notify('test_channel', 'f-' || g)) FROM generate_series(1, 400) g" >/dev/null
	wait "${NODE_PID[$listener]}" 2>/dev/null || true
	unset "NODE_PID[$listener]"
	wait_for "1200 durable events processed" 3000 counter_sum_is "$CLUSTER" 1200 ||
		{ bells_and_watches "$CLUSTER" >&2; return 1; }
}

# A psql session of the nodes' login, fed statement by statement through a FIFO: open_psql
# NAME opens it (its pid in PSQL_PID[NAME], its backend's in BACKEND[NAME]); in_psql NAME
# SQL runs SQL in it and waits for its answer.
declare -A PSQL_PID BACKEND
open_psql() {
	local name=$1 fifo=$WORK/$CLUSTER.$1.in out=$WORK/$CLUSTER.$1.out
	mkfifo "$fifo"
	: >"$out"
	psql -X -q -At -v ON_ERROR_STOP=1 "$NODE_CONNINFO application_name=cn_$name" <"$fifo" >"$out" 2>&1 &
	PSQL_PID[$name]=$!
	eval "exec {PSQL_FD_$name}>\"\$fifo\""
	in_psql "$name" "SELECT 'pid ' || pg_backend_pid()"
	BACKEND[$name]=$(sed -n 's/^pid //p' "$out")
}
in_psql() {
	local name=$1 sql=$2 out=$WORK/$CLUSTER.$1.out fd n
	fd=PSQL_FD_$name
	n=$(grep -c '^done ' "$out" || true)
	printf '%s;\nSELECT %s;\n' "$sql" "'done ' || $((n + 1))" >&"${!fd}"
	wait_for "$name: $sql" 5000 grep -q "^done $((n + 1))\$" "$out"
	! grep -q ERROR "$out" || fail "$name: $(grep ERROR "$out")"
}
close_psql() {
	local fd=PSQL_FD_$1
	eval "exec ${!fd}>&-"
	wait "${PSQL_PID[$1]}" 2>/dev/null || true
}
bell_of() { q "SELECT bell_pid FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = '$1'"; }

# A member's bell is its newest watch session (sql/017).  A node whose watch moves to
# another partition opens a new session while the old one may still be in its first
# watch() call, the one that makes a session the bell; that call could commit after the
# new session's (it even waits for the new session's row lock), and the bell was then a
# backend about to end: wake() cancelled nothing, and the node's leaders were never rung
# (1 run in about 50 of the test above).  Here the old session A calls watch() after the
# new session B became the bell: B stays the bell while it lives; once B is gone, A may
# take it.  (K = 1 has no bells: a single leader listens itself.)
test_an_older_watch_session_never_takes_the_bell_from_a_newer_one() {
	local c=$CLUSTER
	q "SELECT * FROM clustered_nodes.cluster_partitions('$c', 4, 'payload')" >/dev/null
	open_psql member
	in_psql member "SELECT clustered_nodes.register('$c', 'm', 'h', 1, '0', NULL)"
	open_psql old
	open_psql new
	in_psql new "SELECT woke FROM clustered_nodes.watch('$c', 'm', NULL, 0, -1, -1)"
	assert_eq "$(bell_of m)" "${BACKEND[new]}" "the bell after the newer session's first call"
	in_psql old "SELECT woke FROM clustered_nodes.watch('$c', 'm', NULL, 0, -1, -1)"
	assert_eq "$(bell_of m)" "${BACKEND[new]}" "the bell after the older session's first call"
	# The newer session's next call finds itself the bell still, and waits (0 ms here).
	in_psql new "SELECT woke FROM clustered_nodes.watch('$c', 'm', NULL, 0, 0, 0)"
	assert_eq "$(tail -n 2 "$WORK/$c.new.out" | head -n 1)" timeout "the newer session's second call"
	close_psql new
	wait_for "the newer session gone" 5000 bash -c "[ -z \"\$(psql -X -At -c \"SELECT 1 FROM pg_stat_activity WHERE pid = ${BACKEND[new]}\")\" ]"
	in_psql old "SELECT woke FROM clustered_nodes.watch('$c', 'm', NULL, 0, -1, -1)"
	assert_eq "$(bell_of m)" "${BACKEND[old]}" "the bell once the newer session is gone"
	close_psql old
	close_psql member
}

# Schema 14 runs a partitioned cluster the old way (every leader listens); 015 refuses
# while its nodes run, naming the cluster, and once they are stopped and it is applied,
# the same nodes started again have one listener.
test_015_waits_for_a_partitioned_clusters_nodes_to_stop() {
	local db=one_listener_up out rc port f
	local conninfo="host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=$db"
	q "DROP DATABASE IF EXISTS $db" >/dev/null
	q "CREATE DATABASE $db" >/dev/null
	for f in "$ROOT"/sql/0[0-9][0-9]_*.sql; do
		v=${f##*/}
		[ "$((10#${v%%_*}))" -ge 15 ] && continue	# up to 014
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$f" >/dev/null || fail "$f"
	done
	port=$(free_port)
	start_node "$CLUSTER" node1 --partitions 4 --dbname "$conninfo" --http "127.0.0.1:$port"
	wait_for "4 partitions led on schema 14" 10000 bash -c "[ \"\$(psql -X -At -d $db -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = 4 ]"
	[[ "$(http_body "http://127.0.0.1:$port/status")" == *'"listener":true'* ]] ||
		fail "a leader on schema 14 does not say it listens"
	rc=0
	out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$ROOT/sql/015_one_listener.sql" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && [[ "$out" == *"stop the nodes of partitioned cluster(s) $CLUSTER first"* ]] ||
		fail "015 applied under a running partitioned cluster: $out"
	assert_eq "$(psql -X -At -d "$db" -c "SELECT max(version) FROM clustered_nodes.schema_migrations")" 14 "schema version"
	kill -TERM "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" || fail "node1's exit after SIGTERM"
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$ROOT/sql/015_one_listener.sql" >/dev/null || fail "015 after the stop"
	start_node "$CLUSTER" node1 --partitions 4 --dbname "$conninfo" --http "127.0.0.1:$port"
	start_node "$CLUSTER" node2 --partitions 4 --dbname "$conninfo"
	wait_for "node1's bell set" 10000 bash -c "[ \"\$(psql -X -At -d $db -c \"SELECT count(bell_pid) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'\")\" = 2 ]"
	psql -X -q -d "$db" -c "SELECT count(pg_notify('test_channel', 'u-' || g)) FROM generate_series(1, 100) g" >/dev/null
	wait_for "100 processed on schema 15" 10000 bash -c "[ \"\$(psql -X -At -d $db -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 100 ]"
	kill_nodes
	q "DROP DATABASE $db WITH (FORCE)" >/dev/null
}
