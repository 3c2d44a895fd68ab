# SPDX-License-Identifier: PostgreSQL
# Integration tests: SQL handlers, dead letters, durable events (exactly-once effects, no skips).

# Creates app."<cluster>" for the handler's effects, writable by the node role.
make_effects_table() {
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE app.\"$CLUSTER\" (counter bigint PRIMARY KEY, channel text NOT NULL,
	       payload text NOT NULL, term bigint NOT NULL, node text NOT NULL);
	   GRANT INSERT ON app.\"$CLUSTER\" TO clustered_nodes_node" >/dev/null
	HANDLER="INSERT INTO app.\"$CLUSTER\" VALUES (\$3, \$1, \$2, \$4, \$5)"
}
effects() { q "SELECT count(*) FROM app.\"$CLUSTER\""; }
effects_consistent() {
	# One row per counter value 0..counter-1, and no more.
	[ "$(q "SELECT count(*) = max(counter) + 1 AND count(DISTINCT counter) = count(*)
		FROM app.\"$CLUSTER\"")" = t ] && [ "$(effects)" = "$(counter_of "$CLUSTER")" ]
}
durable() { q_vars "SELECT clustered_nodes.notify(:'ch', :'p');" -o /dev/null -v ch="$1" -v p="$2"; }

test_sql_handler_effects_equal_the_counter_across_leader_kills() {
	local i old term
	make_effects_table
	for i in 1 2 3; do start_node "$CLUSTER" "node$i" --handler-sql "$HANDLER"; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	for i in 1 2 3 4; do
		old=$(leader_ready "$CLUSTER")
		term=$(term_of "$CLUSTER")
		send_notifications test_channel 25 "round$i"
		wait_for "round $i processed" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM app.\\\"$CLUSTER\\\" WHERE payload LIKE 'round$i-%'\")\" = 25 ]"
		{ kill -9 "${NODE_PID[$old]}"; wait "${NODE_PID[$old]}"; } 2>/dev/null || true
		start_node "$CLUSTER" "$old" --handler-sql "$HANDLER"
		wait_for "a new leader" 5000 leader_ready "$CLUSTER" "$term"
	done
	assert_eq "$(counter_of "$CLUSTER")" 100 "counter"
	effects_consistent || fail "effects $(effects) vs counter $(counter_of "$CLUSTER")"
	assert_eq "$(q "SELECT count(DISTINCT term) FROM app.\"$CLUSTER\"")" 4 "terms that ran the handler"
}

test_durable_events_survive_leader_failures_exactly_once() {
	local kind old term produced
	make_effects_table
	q "CREATE TABLE app.\"${CLUSTER}_produced\" (payload text PRIMARY KEY);
	   CREATE SEQUENCE app.\"${CLUSTER}_seq\"" >/dev/null
	for i in 1 2 3; do start_node "$CLUSTER" "node$i" --handler-sql "$HANDLER" --listen durable_ch; done
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	# The producer: event and ledger row in one transaction; restarted when the server restarts.
	printf '%s\n' "BEGIN;" \
		"SELECT nextval('app.\"${CLUSTER}_seq\"') AS v \\gset" \
		"SELECT clustered_nodes.notify('durable_ch', :v::text);" \
		"INSERT INTO app.\"${CLUSTER}_produced\" VALUES (:v::text);" "COMMIT;" >"$WORK/$CLUSTER.producer.sql"
	# It ends with the test, even one that fails before killing it (the test's subshell
	# is gone): a producer left behind would retry against a stopped server forever.
	local test_pid=$BASHPID
	(
		trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
		while kill -0 "$test_pid" 2>/dev/null; do
			pgbench -h 127.0.0.1 -p "$PGTMP_PORT" -U postgres -n -f "$WORK/$CLUSTER.producer.sql" \
				-R 150 -c 2 -T 60 postgres >>"$WORK/$CLUSTER.pgbench" 2>&1 &
			wait $! || true
			sleep 0.2	# the server is restarting: retry pace
		done
	) &
	local producer=$!
	for kind in sigkill sigterm terminate pg_restart sigkill terminate; do
		wait_for "a leader" 15000 leader_ready "$CLUSTER"
		old=$(leader_ready "$CLUSTER")
		term=$(term_of "$CLUSTER")
		wait_for "progress under $old" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM app.\\\"$CLUSTER\\\" WHERE term = $term\")\" -gt 60 ]"
		case $kind in
		sigkill) { kill -9 "${NODE_PID[$old]}"; wait "${NODE_PID[$old]}"; } 2>/dev/null || true
			start_node "$CLUSTER" "$old" --handler-sql "$HANDLER" --listen durable_ch ;;
		sigterm) kill -TERM "${NODE_PID[$old]}"; wait "${NODE_PID[$old]}" || fail "SIGTERM exit status"
			start_node "$CLUSTER" "$old" --handler-sql "$HANDLER" --listen durable_ch ;;
		terminate) q "SELECT pg_terminate_backend(leader_pid) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'" >/dev/null ;;
		pg_restart) pgtmp_restart ;;
		esac
		wait_for "a leader after $kind" 15000 leader_ready "$CLUSTER" "$term"
	done
	kill "$producer"
	wait "$producer" 2>/dev/null || true
	produced=$(q "SELECT count(*) FROM app.\"${CLUSTER}_produced\"")
	echo "produced $produced durable events through 6 leader failures"
	[ "$produced" -ge 360 ] || fail "only $produced events produced"
	wait_for "every event processed" 30000 counter_is "$CLUSTER" "$produced"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'durable_ch'")" 0 "events left"
	effects_consistent || fail "effects $(effects) vs counter $(counter_of "$CLUSTER")"
	assert_eq "$(q "SELECT count(*) FROM app.\"${CLUSTER}_produced\" p FULL JOIN app.\"$CLUSTER\" e USING (payload)
		WHERE p.payload IS NULL OR e.payload IS NULL")" 0 "events produced but not handled, or handled but not produced"
}

test_out_of_order_commits_are_not_skipped() {
	local fifo=$WORK/$CLUSTER.fifo first_id
	make_effects_table
	start_node "$CLUSTER" node1 --handler-sql "$HANDLER" --listen ooo_ch
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	# Producer A takes the lower id and holds its transaction open...
	mkfifo "$fifo"
	psql -X -q -v ON_ERROR_STOP=1 <"$fifo" >/dev/null 2>&1 &
	local holder=$!
	exec {w}>"$fifo"
	echo "BEGIN; SELECT clustered_nodes.notify('ooo_ch', 'first');" >&$w
	wait_for "producer A's uncommitted event" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%ooo_ch%first%'\")\" = 1 ]"
	# ...while producer B, with the higher id, commits first and is processed.
	durable ooo_ch second
	wait_for "the second event processed" 5000 counter_is "$CLUSTER" 1
	assert_eq "$(q "SELECT payload FROM app.\"$CLUSTER\"")" second "processed first"
	first_id=$(q "SELECT id FROM clustered_nodes.events WHERE channel = 'ooo_ch'")
	[ -z "$first_id" ] || fail "A's uncommitted event is visible"
	# A commits last: its lower id must still be processed (an id > last cursor would skip it).
	echo "COMMIT;" >&$w
	exec {w}>&-
	wait "$holder"
	wait_for "the first event processed too" 5000 counter_is "$CLUSTER" 2
	assert_eq "$(q "SELECT string_agg(payload, ',' ORDER BY counter) FROM app.\"$CLUSTER\"")" second,first "order processed"
	grep -q 'Received event: id=[0-9]* channel="ooo_ch" payload="first"' "$(node_log "$CLUSTER" node1)" || fail "no log line for the first event"
}

test_events_sent_while_no_leader_runs_are_caught_up() {
	make_effects_table
	durable late_ch one
	durable late_ch two
	start_node "$CLUSTER" node1 --handler-sql "$HANDLER" --listen late_ch
	wait_for "both processed once a leader exists" 5000 counter_is "$CLUSTER" 2
	effects_consistent || fail "effects"
}

test_handler_that_fails_then_succeeds_is_retried() {
	local log
	make_effects_table
	q "CREATE SEQUENCE app.\"${CLUSTER}_tries\";
	   GRANT USAGE ON SEQUENCE app.\"${CLUSTER}_tries\" TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER}_flaky\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF nextval('app.\"${CLUSTER}_tries\"') < 3 THEN RAISE EXCEPTION 'flaky: not yet (%)', p; END IF;
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER}_flaky\"(text) TO clustered_nodes_node" >/dev/null
	log=$(node_log "$CLUSTER" node1)
	start_node "$CLUSTER" node1 --listen flaky_ch --handler-sql "WITH f AS (SELECT app.\"${CLUSTER}_flaky\"(\$2))
		INSERT INTO app.\"$CLUSTER\" SELECT \$3, \$1, \$2, \$4, \$5 FROM f"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable flaky_ch once
	wait_for "processed after retries" 10000 counter_is "$CLUSTER" 1
	assert_eq "$(grep -c 'handler failed for payload="once"' "$log")" 2 "failed attempts logged"
	assert_eq "$(effects)" 1 "effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
}

test_handler_that_always_fails_dead_letters_and_moves_on() {
	make_effects_table
	q "CREATE FUNCTION app.\"${CLUSTER}_broken\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN IF p LIKE 'bad%' THEN RAISE EXCEPTION 'cannot handle %', p; END IF; END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER}_broken\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --listen dl_ch --max-attempts 3 \
		--handler-sql "SELECT app.\"${CLUSTER}_broken\"(\$2)"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable dl_ch good-1
	durable dl_ch bad-1
	q_vars "SELECT pg_notify('dl_ch', 'bad-plain');" -o /dev/null
	durable dl_ch good-2
	wait_for "all four counted" 20000 counter_is "$CLUSTER" 4
	assert_eq "$(q "SELECT string_agg(payload || ':' || attempts || ':' || (event_id IS NOT NULL), ',' ORDER BY id)
		FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" \
		"$(q "SELECT CASE WHEN (SELECT min(id) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER' AND payload = 'bad-plain') <
		      (SELECT min(id) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER' AND payload = 'bad-1')
		      THEN 'bad-plain:3:false,bad-1:3:true' ELSE 'bad-1:3:true,bad-plain:3:false' END")" "dead letters"
	assert_eq "$(q "SELECT bool_and(error LIKE '%cannot handle bad%') FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" t "errors recorded"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'dl_ch'")" 0 "events left"
	grep -q 'dead-lettered payload="bad-1"' "$(node_log "$CLUSTER" node1)" || fail "no dead-letter log line"
}

test_bad_handler_sql_stops_the_node_at_start_with_the_server_message() {
	local rc out
	rc=0
	out=$(timeout 10 "$ROOT/clustered_nodes" --node n1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--handler-sql "SELEC nonsense" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a statement that does not parse"
	[[ "$out" == *'handler_sql does not work: ERROR:  syntax error at or near "SELEC"'* ]] || fail "$out"
	rc=0
	out=$(timeout 10 "$ROOT/clustered_nodes" --node n1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--handler-sql 'SELECT app.no_such_function($2)' 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a missing function"
	[[ "$out" == *"handler_sql does not work: ERROR:  "*"does not exist"* ]] || fail "$out"
	rc=0
	out=$("$ROOT/clustered_nodes" --check --dbname "$NODE_CONNINFO" --handler-sql 'SELECT nope FROM nowhere' 2>&1) || rc=$?
	assert_eq "$rc" 78 "--check exit status"
	[[ "$out" == *'relation "nowhere" does not exist'* ]] || fail "$out"
}

test_payloads_reach_the_handler_unchanged() {
	local big
	make_effects_table
	start_node "$CLUSTER" node1 --handler-sql "$HANDLER" --listen raw_ch
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	big=$(head -c 7999 /dev/zero | tr '\0' 'y')
	durable raw_ch "$big"
	durable raw_ch $'odd \x01\x1f\x7f bytes, quotes \' " \\ and z\xc3\xbcrich'
	q_vars "SELECT pg_notify('raw_ch', :'p');" -o /dev/null -v p=$'plain \t tab\nnewline'
	wait_for "three processed" 5000 counter_is "$CLUSTER" 3
	assert_eq "$(q "SELECT octet_length(payload) FROM app.\"$CLUSTER\" WHERE payload LIKE 'yyy%'")" 7999 "big payload length"
	assert_eq "$(q_vars "SELECT count(*) FROM app.\"$CLUSTER\" WHERE payload = :'p';" -v p=$'odd \x01\x1f\x7f bytes, quotes \' " \\ and z\xc3\xbcrich')" 1 "odd payload unchanged"
	assert_eq "$(q_vars "SELECT count(*) FROM app.\"$CLUSTER\" WHERE payload = :'p';" -v p=$'plain \t tab\nnewline')" 1 "plain payload unchanged"
}

# ---- exec handler ----

test_exec_handler_runs_once_per_event_before_the_step_commits() {
	local out=$WORK/$CLUSTER.handled
	start_node "$CLUSTER" node1 --listen exec_ch \
		--handler-exec "printf '%s %s %s %s\n' \"\$CLUSTERED_NODES_COUNTER\" \"\$CLUSTERED_NODES_CHANNEL\" \"\${CLUSTERED_NODES_EVENT_ID:-plain}\" \"\$(cat)\" >>$out"
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --listen exec_ch --handler-exec "echo standby-ran >>$out"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	for i in 1 2 3 4 5; do durable exec_ch "durable $i"; done
	q_vars "SELECT pg_notify('exec_ch', 'plain ' || g) FROM generate_series(1, 5) g;" -o /dev/null
	wait_for "ten processed" 10000 counter_is "$CLUSTER" 10
	assert_eq "$(wc -l <"$out")" 10 "programs run"
	assert_eq "$(cut -d' ' -f1 "$out" | sort -n | tr '\n' ' ')" "0 1 2 3 4 5 6 7 8 9 " "counters given to the programs"
	assert_eq "$(grep -c ' exec_ch [0-9]* durable [0-9]$' "$out")" 5 "durable events with their ids"
	assert_eq "$(grep -c ' exec_ch plain plain [0-9]$' "$out")" 5 "plain notifications"
	grep -q standby-ran "$out" && fail "a standby ran the handler"
	true
}

test_exec_handler_that_hangs_is_killed_and_dead_lettered() {
	local marker="sleep 59.$RANDOM"
	start_node "$CLUSTER" node1 --listen hang_ch --max-attempts 2 --handler-timeout 300ms \
		--handler-exec "$marker"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable hang_ch stuck
	wait_for "the event dead-lettered" 10000 counter_is "$CLUSTER" 1
	assert_eq "$(q "SELECT attempts || ':' || error FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" \
		"2:handler_exec timed out after 300 ms" "dead letter"
	wait_for "the hung programs gone" 3000 bash -c "! pgrep -f '^$marker\$' >/dev/null"
	alive "${NODE_PID[node1]}" || fail "the node died"
}

test_exec_handler_that_fails_then_succeeds_is_retried() {
	local flag=$WORK/$CLUSTER.flag out=$WORK/$CLUSTER.done
	start_node "$CLUSTER" node1 --listen retry_ch \
		--handler-exec "if [ -e $flag ]; then cat >>$out; else touch $flag; exit 3; fi"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable retry_ch second-time-lucky
	wait_for "processed" 10000 counter_is "$CLUSTER" 1
	assert_eq "$(cat "$out")" second-time-lucky "what the program saw"
	grep -q 'handler failed for payload="second-time-lucky" (attempt 1 of 5): handler_exec exited with status 3' \
		"$(node_log "$CLUSTER" node1)" || fail "failure not logged"
}

test_lease_keeps_running_while_an_exec_handler_works() {
	local term
	start_node "$CLUSTER" node1 --listen slow_ch --lease-timeout 1s --handler-exec "sleep 3"
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --listen slow_ch --lease-timeout 1s --handler-exec "sleep 3"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term=$(term_of "$CLUSTER")
	durable slow_ch slow
	# Three lease timeouts pass while the program runs; the leader is busy, not hung.
	wait_for "the slow event processed" 10000 counter_is "$CLUSTER" 1
	assert_eq "$(term_of "$CLUSTER")" "$term" "term"
	grep -q 'has not renewed its lease' "$(node_log "$CLUSTER" node2)" && fail "node2 tried to evict a working leader"
	true
}

test_leader_retrying_a_failing_handler_keeps_its_lease() {
	local term
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER:0:40}_never\"(p text) RETURNS void LANGUAGE plpgsql AS
	   \$\$ BEGIN RAISE EXCEPTION 'never works'; END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:40}_never\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --listen never_ch --lease-timeout 1s --max-attempts 5 \
		--handler-sql "SELECT app.\"${CLUSTER:0:40}_never\"(\$2)"
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --listen never_ch --lease-timeout 1s --max-attempts 5 \
		--handler-sql "SELECT app.\"${CLUSTER:0:40}_never\"(\$2)"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term=$(term_of "$CLUSTER")
	# Backoffs of 100 + 200 + 400 + 800 ms outlast the 1 s lease: renewals must go on.
	durable never_ch poison
	wait_for "the poison event dead-lettered" 10000 counter_is "$CLUSTER" 1
	assert_eq "$(term_of "$CLUSTER")" "$term" "term: the retrying leader was not evicted"
	assert_eq "$(q "SELECT node || ':' || term || ':' || attempts FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" "node1:$term:5" "dead letter"
	grep -q 'has not renewed its lease' "$(node_log "$CLUSTER" node2)" && fail "node2 tried to evict the retrying leader"
	true
}
