# SPDX-License-Identifier: PostgreSQL
# Integration tests: hung leaders, busy leaders, network partitions, database failover.

test_stopped_leader_is_evicted_and_commits_nothing_after() {
	local old new term t0 log
	start_node "$CLUSTER" node1 --lease-timeout 1s
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --lease-timeout 1s
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	old=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 3 before
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	# A stopped process keeps its socket, its session and the lock.
	kill -STOP "${NODE_PID[$old]}"
	t0=$(now_ms)
	wait_for "a new leader after eviction" 6000 leader_ready "$CLUSTER" "$term"
	echo "evicted and replaced after $(( $(now_ms) - t0 )) ms"
	new=$(leader_ready "$CLUSTER")
	assert_eq "$new" node2 "the new leader"
	grep -q 'has not renewed its lease' "$(node_log "$CLUSTER" node2)" || fail "node2 did not log the eviction"
	send_notifications test_channel 2 during
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	# The old leader resumes: its session is gone, so it can commit nothing.
	log=$(node_log "$CLUSTER" "$old")
	local lines_before
	lines_before=$(received_in "$log")
	kill -CONT "${NODE_PID[$old]}"
	wait_for "the old leader noticing" 5000 grep -q 'session lost' "$log"
	wait_for "the old leader back as a standby" 5000 bash -c "[ \"\$(grep -c '→ standby: registered' '$log')\" -ge 2 ]"
	send_notifications test_channel 2 after
	wait_for "counter 7" 5000 counter_is "$CLUSTER" 7
	assert_eq "$(received_in "$log")" "$lines_before" "steps by the evicted leader after it resumed"
	assert_eq "$(received_total "$CLUSTER")" 7 "log lines over all nodes"
	assert_eq "$(leader_ready "$CLUSTER")" node2 "leader after the old one resumed"
}

test_busy_leader_is_not_evicted() {
	local term
	start_node "$CLUSTER" node1 --lease-timeout 1s
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --lease-timeout 1s
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term=$(term_of "$CLUSTER")
	# Three lease timeouts of steady work, and as long again idle.
	send_notifications test_channel 3000 load
	wait_for "counter 3000" 20000 counter_is "$CLUSTER" 3000
	! wait_for "a term change (must not come)" 3000 bash -c "[ \"\$(psql -X -At -c \"SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" != $term ]" 2>/dev/null ||
		fail "a healthy leader was replaced"
	grep -q 'has not renewed its lease' "$(node_log "$CLUSTER" node2)" && fail "node2 tried to evict a healthy leader"
	assert_eq "$(leader_ready "$CLUSTER")" node1 "leader"
}

test_eviction_off_leaves_a_stopped_leader_alone() {
	local term
	start_node "$CLUSTER" node1 --lease-timeout off
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --lease-timeout off
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term=$(term_of "$CLUSTER")
	kill -STOP "${NODE_PID[node1]}"
	! wait_for "a term change (must not come)" 3000 bash -c "[ \"\$(psql -X -At -c \"SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" != $term ]" 2>/dev/null ||
		fail "a leader was evicted with eviction off"
	kill -CONT "${NODE_PID[node1]}"
	assert_eq "$(leader_ready "$CLUSTER")" node1 "leader"
}

test_session_timeouts_are_logged_and_accepted_by_the_server() {
	local log
	log=$(node_log "$CLUSTER" node1)
	start_node "$CLUSTER" node1 --session-timeout 4s
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	grep -q 'session_timeout=4000ms: the server frees a vanished node.s lock 4000 ms after its last packet (keepalives 2 s + 2 x 1 s, tcp_user_timeout 4000 ms); a leader cut off stops within 3000 ms' "$log" ||
		fail "timings not logged: $(grep session_timeout "$log")"
	grep -q 'schema check failed\|set_config' "$log" && fail "the server refused the settings"
	true
}

# ---- network partition: the node in its own network namespace ----

test_partitioned_leader_demotes_first() {
	local ns=cnpart$$ host_if=cnp$$h ns_if=cnp$$n db=10.213.77.1 node_ip=10.213.77.2
	local t_cut t_demote t_free t_first last_step term log_a log_b i
	if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
		echo "skipped: network namespaces need root and iproute2"
		return 0
	fi
	PART_NS=$ns PART_HOST_IF=$host_if
	trap 'kill_nodes; netns_down "$PART_NS" "$PART_HOST_IF"' EXIT
	netns_up "$ns" "$host_if" "$ns_if" "$db" "$node_ip"
	# PostgreSQL must listen on the veth address and let the node in.
	printf 'host all all %s/32 trust\n' "$node_ip" >>"$PGTMP_DIR/data/pg_hba.conf"
	PGTMP_OPTS=${PGTMP_OPTS/listen_addresses=127.0.0.1/listen_addresses=127.0.0.1,$db}
	pgtmp_restart
	wait_for "PostgreSQL on $db" 10000 ip netns exec "$ns" psql -X -At -h "$db" -p "$PGTMP_PORT" -U cn_node -d postgres -c 'SELECT 1'
	log_a=$(node_log "$CLUSTER" node_a)
	log_b=$(node_log "$CLUSTER" node_b)
	ip netns exec "$ns" "$ROOT/clustered_nodes" --node node_a --cluster "$CLUSTER" --session-timeout 4s \
		--dbname "host=$db port=$PGTMP_PORT user=cn_node dbname=postgres" >>"$log_a" 2>&1 &
	NODE_PID[node_a]=$!
	wait_for "node_a leading" 10000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node_b --session-timeout 4s
	wait_for "node_b standing by" 5000 grep -q '→ standby: registered' "$log_b"
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 3 before
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	# The server itself notes when node_a's backend lets go of the lock: the last moment
	# it was seen held (before the real release) and the first it was seen free (after).
	local a_pid
	a_pid=$(q "SELECT leader_pid FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	psql -X -q -At -c "DO \$\$ DECLARE held bigint; looked bigint; BEGIN
		LOOP
			looked := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
			EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $a_pid AND locktype = 'advisory' AND granted);
			held := looked;	-- still held at some moment after this
			PERFORM pg_sleep(0.002);
		END LOOP;
		RAISE NOTICE 'held % freed %', held, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
		END \$\$" >"$WORK/$CLUSTER.freed" 2>&1 &
	local watcher=$!
	# Cut the link: nobody is told; both sides only stop hearing each other.
	t_cut=$(date +%s%6N)
	ip netns exec "$ns" ip link set "$ns_if" down
	# Notifications keep coming; they reach whoever leads.
	for i in $(seq 1 40); do
		send_notifications test_channel 1 "cut$i"
		[ "$(term_of "$CLUSTER")" != "$term" ] && break
		sleep 0.2	# the producer's pace, not synchronisation
	done
	wait_for "node_b leading" 10000 leader_ready "$CLUSTER" "$term"
	wait "$watcher"
	t_free=$(grep -o 'freed [0-9]*' "$WORK/$CLUSTER.freed" | cut -d' ' -f2)
	[ -n "$t_free" ] || fail "the server never reported the lock freed: $(cat "$WORK/$CLUSTER.freed")"
	# The release happened between the last look that saw the lock held and t_free.
	local t_held
	t_held=$(grep -o 'held [0-9]*' "$WORK/$CLUSTER.freed" | cut -d' ' -f2)
	wait_for "node_a's self-demotion" 10000 grep -q 'self-demotion' "$log_a"
	send_notifications test_channel 1 after_takeover
	wait_for "node_b's first step" 10000 grep -q 'Received message' "$log_b"
	ts_of() { date -d "$(grep -m1 "$1" "$2" | cut -d' ' -f1)" +%s%6N; }
	t_demote=$(ts_of 'self-demotion' "$log_a")
	local t_won
	t_won=$(ts_of 'won the leader lock' "$log_b")
	t_first=$(ts_of 'Received message' "$log_b")
	last_step=$(date -d "$(grep 'Received message' "$log_a" | tail -n1 | cut -d' ' -f1)" +%s%6N)
	echo "from the cut (ms): node_a's last step $(((last_step - t_cut) / 1000)), its self-demotion $(((t_demote - t_cut) / 1000)), the server frees the lock between $(((t_held - t_cut) / 1000)) and $(((t_free - t_cut) / 1000)), node_b wins it $(((t_won - t_cut) / 1000)), node_b's first step $(((t_first - t_cut) / 1000))"
	[ "$last_step" -lt "$t_demote" ] || fail "node_a stepped after demoting"
	[ "$t_demote" -lt "$t_held" ] || fail "node_a demoted only after the server freed its lock"
	[ "$t_held" -le "$t_won" ] || fail "node_b won the lock while the server still held it for node_a"
	[ "$t_won" -le "$t_first" ] || fail "node_b processed before it led"
	[ $((t_free - t_cut)) -lt 5000000 ] || fail "the lock was freed $((t_free - t_cut)) µs after the cut (bound 4 s from the last packet)"
	# No notification processed twice, none by node_a after its demotion.
	assert_eq "$(cat "$log_a" "$log_b" | grep -o 'payload="[^"]*"' | sort | uniq -d | wc -l)" 0 "payloads processed twice"
	assert_eq "$(counter_of "$CLUSTER")" "$(received_total "$CLUSTER")" "counter vs log lines"
	# Heal: node_a comes back as a standby.
	ip netns exec "$ns" ip link set "$ns_if" up
	wait_for "node_a back as a standby" 20000 bash -c "[ \"\$(grep -c '→ standby: registered' '$log_a')\" -ge 2 ]"
	assert_eq "$(leader_ready "$CLUSTER")" node_b "leader after healing"
}

# ---- database failover: a streaming replica promoted ----

test_nodes_follow_a_promoted_replica_without_losing_the_counter() {
	local p1 p2 term n conninfo
	FAILOVER_DIR=$WORK/failover
	local dir=$FAILOVER_DIR
	p1=$(free_port)
	p2=$(free_port)
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	trap 'kill_nodes; for d in primary replica; do pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -D "$FAILOVER_DIR/$d" -m immediate stop >/dev/null 2>&1 || true; done' EXIT
	pgtmp_as_owner "$PGTMP_BIN/initdb" --no-sync -A trust -U postgres -D "$dir/primary" >/dev/null
	pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -w -D "$dir/primary" -l "$dir/primary.log" \
		-o "-p $p1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
	pgtmp_as_owner "$PGTMP_BIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/replica" -R -X stream
	pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -w -D "$dir/replica" -l "$dir/replica.log" \
		-o "-p $p2 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
	# Synchronous replication: a commit returns only once the replica has it.
	psql -X -q -h 127.0.0.1 -p "$p1" -U postgres -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
	wait_for "the replica streaming synchronously" 10000 bash -c "[ \"\$(psql -X -At -h 127.0.0.1 -p $p1 -U postgres -c \"SELECT sync_state FROM pg_stat_replication\")\" = sync ]"
	( PGTMP_PORT=$p1; apply_schema >/dev/null )
	conninfo="host=127.0.0.1,127.0.0.1 port=$p1,$p2 user=cn_node dbname=postgres target_session_attrs=read-write"
	for n in node1 node2; do
		"$ROOT/clustered_nodes" --node "$n" --cluster "$CLUSTER" --dbname "$conninfo" \
			>>"$(node_log "$CLUSTER" "$n")" 2>&1 &
		NODE_PID[$n]=$!
	done
	fq() { psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }
	wait_for "a leader on the primary" 10000 bash -c "[ -n \"\$(psql -X -At -h 127.0.0.1 -p $p1 -U postgres -c \"SELECT leader FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" ]"
	for i in $(seq 1 20); do fq "$p1" "SELECT pg_notify('test_channel', 'p$i')" >/dev/null; done
	wait_for "counter 20 on the primary" 10000 bash -c "[ \"\$(psql -X -At -h 127.0.0.1 -p $p1 -U postgres -c \"SELECT counter FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 20 ]"
	term=$(fq "$p1" "SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	# The primary dies; the replica is promoted.
	pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -D "$dir/primary" -m immediate stop >/dev/null
	pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -w -D "$dir/replica" promote >/dev/null
	wait_for "a leader of a new term on the promoted replica" 20000 bash -c "[ \"\$(psql -X -At -h 127.0.0.1 -p $p2 -U postgres -c \"SELECT term > $term FROM clustered_nodes.cluster_state s JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key WHERE cluster = '$CLUSTER'\")\" = t ]"
	assert_eq "$(fq "$p2" "SELECT counter FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")" 20 "counter after the failover"
	for i in $(seq 1 5); do fq "$p2" "SELECT pg_notify('test_channel', 'q$i')" >/dev/null; done
	wait_for "counter 25 on the new primary" 10000 bash -c "[ \"\$(psql -X -At -h 127.0.0.1 -p $p2 -U postgres -c \"SELECT counter FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 25 ]"
	for n in node1 node2; do alive "${NODE_PID[$n]}" || fail "$n exited"; done
}

# ---- the short soak: random faults for 30 s, invariants checked from an audit trigger ----

test_fault_soak_30_seconds() {
	SOAK_SECONDS=30 bash "$ROOT/tests/soak/run.sh"
}

# The same with 6 partitions over the three nodes: the audit's invariants per partition.
test_fault_soak_partitioned_20_seconds() {
	SOAK_SECONDS=20 SOAK_PARTITIONS=6 bash "$ROOT/tests/soak/run.sh"
}
