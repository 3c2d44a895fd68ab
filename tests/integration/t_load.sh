# SPDX-License-Identifier: PostgreSQL
# Integration tests: keeping the lead under load — slow handlers, bursts, failing events,
# memory, eviction that cannot succeed, graceful stop, exec handlers outliving a node.

# A function app."<cluster>_slow"(payload) that sleeps `ms` and counts its executions in
# the sequence app."<cluster>_runs" (sequences are not transactional: rolled-back
# executions count too).  With a `fail_on` payload it raises for that payload.
make_slow_handler() {
	local ms=$1 fail_on=${2:-}
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE SEQUENCE app.\"${CLUSTER:0:50}_runs\";
	   GRANT USAGE ON SEQUENCE app.\"${CLUSTER:0:50}_runs\" TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER:0:50}_slow\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       PERFORM nextval('app.\"${CLUSTER:0:50}_runs\"');
	       PERFORM pg_sleep($ms / 1000.0);
	       IF p = '$fail_on' THEN RAISE EXCEPTION 'cannot handle %', p; END IF;
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:50}_slow\"(text) TO clustered_nodes_node" >/dev/null
	SLOW_HANDLER="SELECT app.\"${CLUSTER:0:50}_slow\"(\$2)"
}
handler_runs() { q "SELECT last_value FROM app.\"${CLUSTER:0:50}_runs\""; }

# node1 leading with a 3 ms handler, node2 standing by; prints the term.
start_slow_pair() {
	make_slow_handler 3
	start_node "$CLUSTER" node1 --handler-sql "$SLOW_HANDLER"
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER" >/dev/null
	start_node "$CLUSTER" node2 --handler-sql "$SLOW_HANDLER"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term_of "$CLUSTER"
}

test_slow_handler_burst_in_one_transaction_is_fully_counted_without_a_term_change() {
	local term
	start_slow_pair >"$WORK/$CLUSTER.term"
	term=$(cat "$WORK/$CLUSTER.term")
	# 3000 × 3 ms = 9 s of handler time, past the default 5 s answer deadline.
	q "SELECT pg_notify('test_channel', 'burst-' || g) FROM generate_series(1, 3000) g" >/dev/null
	wait_for "counter 3000" 60000 counter_is "$CLUSTER" 3000
	assert_eq "$(term_of "$CLUSTER")" "$term" "term after the burst"
	assert_eq "$(received_total "$CLUSTER")" 3000 "log lines"
	grep -q 'self-demotion' "$(node_log "$CLUSTER" node1)" && fail "the leader demoted itself"
	true
}

test_durable_backlog_with_a_slow_handler_drains_without_a_term_change() {
	local term
	make_slow_handler 5
	q "INSERT INTO clustered_nodes.events (channel, payload)
	   SELECT 'backlog_ch', 'e-' || g FROM generate_series(1, 600) g" >/dev/null
	start_node "$CLUSTER" node1 --handler-sql "$SLOW_HANDLER" --listen backlog_ch --session-timeout 3s
	start_node "$CLUSTER" node2 --handler-sql "$SLOW_HANDLER" --listen backlog_ch --session-timeout 3s
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	term=$(term_of "$CLUSTER")
	# 600 × 5 ms = 3 s of handler time, twice the 1.5 s answer deadline of session_timeout 3s.
	wait_for "counter 600" 60000 counter_is "$CLUSTER" 600
	assert_eq "$(term_of "$CLUSTER")" "$term" "term after the backlog"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'backlog_ch'")" 0 "events left"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
}

test_failing_last_of_2000_is_dead_lettered_with_linear_work() {
	local runs
	make_slow_handler 0 'x-2000'
	start_node "$CLUSTER" node1 --handler-sql "$SLOW_HANDLER" --max-attempts 3
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	q "SELECT pg_notify('test_channel', 'x-' || g) FROM generate_series(1, 2000) g" >/dev/null
	wait_for "all 2000 counted" 60000 counter_is "$CLUSTER" 2000
	assert_eq "$(q "SELECT payload || ':' || attempts FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" \
		"x-2000:3" "dead letter"
	runs=$(handler_runs)
	echo "handler executions for 2000 events, the last failing: $runs"
	# Each good event runs at most twice (its step, then again after a failure
	# behind it); the bad one max_attempts times.
	[ "$runs" -le $((2 * 2000 + 3)) ] || fail "$runs handler executions for 2000 events"
}

test_handler_raising_cn001_is_a_handler_failure_not_a_superseded_term() {
	local term
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER:0:50}_fake\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN IF p = 'fake' THEN RAISE EXCEPTION 'pretending' USING ERRCODE = 'CN001'; END IF; END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:50}_fake\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --handler-sql "SELECT app.\"${CLUSTER:0:50}_fake\"(\$2)" --max-attempts 2
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 1 before
	q_vars "SELECT pg_notify('test_channel', 'fake');" -o /dev/null
	send_notifications test_channel 1 after
	wait_for "three counted" 10000 counter_is "$CLUSTER" 3
	assert_eq "$(term_of "$CLUSTER")" "$term" "term"
	assert_eq "$(q "SELECT payload FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" fake "dead letter"
	grep -q 'was superseded' "$(node_log "$CLUSTER" node1)" && fail "taken for a superseded term"
	true
}

test_handler_that_ends_its_own_session_is_dead_lettered() {
	make_effects_table
	q "CREATE FUNCTION app.\"${CLUSTER:0:50}_suicide\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN IF p = 'poison' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:50}_suicide\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --listen fatal_ch --max-attempts 2 \
		--handler-sql "WITH f AS (SELECT app.\"${CLUSTER:0:50}_suicide\"(\$2))
			INSERT INTO app.\"$CLUSTER\" SELECT \$3, \$1, \$2, \$4, \$5 FROM f"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable fatal_ch good-1
	durable fatal_ch poison
	durable fatal_ch good-2
	wait_for "all three counted" 30000 counter_is "$CLUSTER" 3
	assert_eq "$(q "SELECT payload FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" poison "dead letter"
	assert_eq "$(q "SELECT string_agg(payload, ',' ORDER BY counter) FROM app.\"$CLUSTER\"")" good-1,good-2 "effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'fatal_ch'")" 0 "events left"
	alive "${NODE_PID[node1]}" || fail "the node died"
}

# The node's resident memory (KiB), peak so far.
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

test_memory_stays_bounded_in_a_burst_and_durable_events_are_not_starved() {
	local pid peak dropped
	start_node "$CLUSTER" node1 --handler-exec 'sleep 0.05' --backlog-limit 16MB --listen burst_ch \
		--http "$(free_port)"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	pid=${NODE_PID[node1]}
	# 50,000 notifications of 2 KB: 100 MB, far beyond the limit.
	q "SELECT pg_notify('burst_ch', g || repeat('x', 2000)) FROM generate_series(1, 50000) g" >/dev/null
	wait_for "the overflow logged" 30000 grep -q 'backlog is at its limit' "$(node_log "$CLUSTER" node1)"
	# A durable event overtakes the plain backlog.
	durable burst_ch urgent
	wait_for "the durable event processed despite the backlog" 10000 \
		grep -q 'Received event: id=[0-9]* channel="burst_ch" payload="urgent"' "$(node_log "$CLUSTER" node1)"
	peak=$(peak_rss_kib "$pid")
	echo "peak RSS with a 16 MB backlog limit and 100 MB sent: $((peak / 1024)) MiB"
	[ "$peak" -lt $((48 * 1024)) ] || fail "peak RSS $peak KiB"
	dropped=$(curl -s "$(q "SELECT status_url FROM clustered_nodes.members WHERE cluster = '$CLUSTER'")metrics" |
		sed -n 's/^clustered_nodes_notifications_dropped_total{channel="burst_ch"} //p')
	[ "${dropped:-0}" -gt 0 ] || fail "no drop counted in /metrics"
	# Every drop is logged too, the last ones within a second of the last drop.
	wait_for "the drops logged adding up to the metric ($dropped)" 10000 bash -c \
		"[ \"\$(grep -o 'dropped [0-9]* plain' '$(node_log "$CLUSTER" node1)' | awk '{ n += \$2 } END { print n + 0 }')\" = $dropped ]"
	alive "$pid" || fail "the node died"
}

test_failed_eviction_is_attempted_at_most_once_per_poll_interval() {
	local log attempts t0 elapsed key squatter
	log=$(node_log "$CLUSTER" node2)
	# A superuser's session that is no node of the cluster squats on the lock: a node's
	# login may not end it (sql/010), so every attempt fails.
	key=$(q "SELECT clustered_nodes.lock_key('$CLUSTER')")
	PGAPPNAME=su_squatter psql -X -q -c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
	squatter=$!
	wait_for "the squatter holding the key" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks l WHERE $LOCK_ON = $key\")\" = 1 ]"
	start_node "$CLUSTER" node2 --lease-timeout 1s --poll-interval 200ms --log-level debug
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$log"
	wait_for "a first eviction attempt" 5000 grep -q 'eviction attempt' "$log"
	t0=$(now_ms)
	wait_for "three seconds of failed attempts" 4000 bash -c "[ \$(( \$(date +%s%3N) - $t0 )) -ge 3000 ]"
	elapsed=$(( $(now_ms) - t0 ))
	attempts=$(grep -c 'eviction attempt' "$log")
	echo "$attempts eviction attempts in $elapsed ms at a 200 ms poll interval"
	[ "$attempts" -le $(( elapsed / 200 + 2 )) ] || fail "$attempts attempts in $elapsed ms"
	assert_eq "$(grep -c 'eviction failed' "$log")" 1 "eviction failures logged (once)"
	assert_eq "$(q "SELECT count(*) FROM pg_locks l WHERE $LOCK_ON = $key")" 1 "the squatter still holds the lock"
	# Only a superuser may end it (the test's own session is one).
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'su_squatter'" >/dev/null
	wait "$squatter" 2>/dev/null || true
	wait_for "node2 leading once the squatter is gone" 5000 leader_ready "$CLUSTER"
}

test_cold_starts_after_a_lapsed_lease_never_evict_the_fresh_winner() {
	local round term n
	start_node "$CLUSTER" node1 --lease-timeout 1s
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	for round in 1 2 3 4 5 6; do
		kill_nodes
		# Longer than lease_timeout: the recorded leader's lease has lapsed.
		q "UPDATE clustered_nodes.cluster_state SET lease_until = now() - interval '1 minute'
		   WHERE cluster = '$CLUSTER'" >/dev/null
		term=$(term_of "$CLUSTER")
		for n in node1 node2 node3; do start_node "$CLUSTER" "$n" --lease-timeout 1s; done
		wait_for "a leader in round $round" 5000 leader_ready "$CLUSTER" "$term"
		wait_for "three sessions in round $round" 5000 bash -c \
			"[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members m JOIN pg_stat_activity a ON a.pid = m.backend_pid WHERE m.cluster = '$CLUSTER'\")\" = 3 ]"
		assert_eq "$(term_of "$CLUSTER")" $((term + 1)) "term after cold start $round"
	done
	! grep -q 'ending its session' "$WORK/$CLUSTER".*.log || fail "a fresh winner was evicted"
}

test_wait_mode_without_eviction_is_refused() {
	local rc=0 out
	out=$("$ROOT/clustered_nodes" --node n1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--acquire wait --lease-timeout off 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status"
	[[ "$out" == *"acquire = wait needs lease_timeout"* ]] || fail "$out"
}

test_stopped_waiter_granted_the_lock_does_not_block_failover_forever() {
	local leader waiter other term
	for n in node1 node2 node3; do start_node "$CLUSTER" "$n" --acquire wait --lease-timeout 1s; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	leader=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	wait_for "two waiters" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted\")\" -ge 2 ]"
	# The first waiter in the queue (the oldest wait) is stopped; the leader dies.
	waiter=$(q "SELECT substr(a.application_name, 17) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE 'clustered_nodes:%'
		ORDER BY a.query_start LIMIT 1")
	kill -STOP "${NODE_PID[$waiter]}"
	{ kill -9 "${NODE_PID[$leader]}"; wait "${NODE_PID[$leader]}"; } 2>/dev/null || true
	for other in node1 node2 node3; do [ "$other" != "$leader" ] && [ "$other" != "$waiter" ] && break; done
	wait_for "$other leading despite the stopped waiter" 15000 leader_ready "$CLUSTER" "$term"
	kill -CONT "${NODE_PID[$waiter]}"
	assert_eq "$(leader_ready "$CLUSTER")" "$other" "the new leader"
}

test_graceful_stop_during_a_slow_burst_is_bounded() {
	local t0 rc term elapsed
	start_slow_pair >"$WORK/$CLUSTER.term"
	term=$(cat "$WORK/$CLUSTER.term")
	q "SELECT pg_notify('test_channel', 'stop-' || g) FROM generate_series(1, 3000) g" >/dev/null
	wait_for "processing under way" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT counter FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" -gt 100 ]"
	t0=$(now_ms)
	kill -TERM "${NODE_PID[node1]}"
	wait_for "node2 leading" 10000 leader_ready "$CLUSTER" "$term"
	elapsed=$(( $(now_ms) - t0 ))
	rc=0
	wait "${NODE_PID[node1]}" || rc=$?
	unset "NODE_PID[node1]"
	echo "handover $elapsed ms after SIGTERM during a 9-second burst"
	assert_eq "$rc" 0 "exit status"
	[ "$elapsed" -lt 3500 ] || fail "the lock was held $elapsed ms after SIGTERM"
	# What node1 had received and not processed, it forwarded (sql/013): node2 processes
	# all of the burst, none of it twice.
	wait_for "the whole burst processed" 30000 counter_is "$CLUSTER" 3000
	assert_eq "$(cat "$WORK/$CLUSTER".*.log | grep -c 'Received \(message\|event\): .*payload="stop-')" \
		3000 "log lines of the burst (plain, and forwarded as durable events)"
	assert_eq "$(cat "$WORK/$CLUSTER".*.log | grep -o 'payload="stop-[0-9]*"' | sort | uniq -d | wc -l)" 0 "processed twice"
}

test_exec_handlers_die_with_their_node() {
	local marker="sleep 61.$RANDOM"
	start_node "$CLUSTER" node1 --listen die_ch --handler-exec "$marker & wait"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable die_ch work
	wait_for "the program running" 5000 pgrep -f "^$marker\$"
	{ kill -9 "${NODE_PID[node1]}"; wait "${NODE_PID[node1]}"; } 2>/dev/null || true
	unset "NODE_PID[node1]"
	wait_for "the program and its child gone with the node" 2000 bash -c \
		"! pgrep -f '^$marker\$' >/dev/null && ! pgrep -f '^sh -c $marker' >/dev/null"
}
