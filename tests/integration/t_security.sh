# SPDX-License-Identifier: PostgreSQL
# Integration tests: the database enforces the protocol.  Each attack runs as a node's
# login, a producer's or any login, and must be refused or harmless; secrets never show;
# hostile text reaches nobody's terminal raw.

# as_node SQL: one statement as the node role; prints its output and error.
as_node() { psql -X -At -U cn_node -c "$1" 2>&1 || true; }
refused() { [[ "$1" == *"permission denied"* || "$1" == *"ERROR"* ]]; }

# What an attack must not change.  Never lease_until or a heartbeat: the protocol renews
# those on its own, so comparing them flakes (a renewal lands between two snapshots).
snapshot() {
	q "SELECT counter || ':' || term || ':' || leader || ':' || leader_pid || ':' || lock_key
	   FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'"
}

test_node_login_cannot_rewrite_cluster_state_or_members() {
	local before term out sql key
	start_node "$CLUSTER" node1
	start_node "$CLUSTER" node2
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	wait_for "two members" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'\")\" = 2 ]"
	send_notifications test_channel 3 before
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	term=$(term_of "$CLUSTER")
	key=$(state_of "$CLUSTER" lock_key)
	for sql in \
		"UPDATE clustered_nodes.cluster_state SET counter = 9223372036854775807 WHERE cluster = '$CLUSTER'" \
		"UPDATE clustered_nodes.cluster_state SET term = 9223372036854775807 WHERE cluster = '$CLUSTER'" \
		"UPDATE clustered_nodes.cluster_state SET lease_until = '-infinity' WHERE cluster = '$CLUSTER'" \
		"INSERT INTO clustered_nodes.cluster_state (cluster, lock_key) VALUES ('${CLUSTER}_evil', $key)" \
		"DELETE FROM clustered_nodes.members WHERE cluster = '$CLUSTER'" \
		"UPDATE clustered_nodes.members SET heartbeat_at = now() WHERE cluster = '$CLUSTER'" \
		"DELETE FROM clustered_nodes.events" \
		"INSERT INTO clustered_nodes.dead_letters (cluster, channel, payload, counter, term, node, attempts, error) VALUES ('$CLUSTER', 'c', 'p', 0, 0, 'n', 1, 'e')"; do
		before=$(snapshot)
		out=$(as_node "$sql")
		[[ "$out" == *"permission denied"* ]] || fail "the node role may: $sql ($out)"
		assert_eq "$(snapshot)" "$before" "cluster_state after: $sql"
	done
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'")" 2 "members"
	send_notifications test_channel 2 after
	wait_for "counter 5" 5000 counter_is "$CLUSTER" 5
	assert_eq "$(term_of "$CLUSTER")" "$term" "term"
}

test_protocol_functions_refuse_a_session_without_the_lock() {
	local term counter out leader_pid
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	term=$(term_of "$CLUSTER")
	counter=$(counter_of "$CLUSTER")
	leader_pid=$(state_of "$CLUSTER" leader_pid)
	out=$(as_node "SELECT clustered_nodes.advance('$CLUSTER', $term, $counter, 1000, 60000, '{}')")
	refused "$out" || fail "advance() without the lock: $out"
	out=$(as_node "SELECT * FROM clustered_nodes.take_lead('$CLUSTER', 'intruder', 60000, '{}')")
	refused "$out" || fail "take_lead() without the lock: $out"
	out=$(as_node "SELECT clustered_nodes.release_lead('$CLUSTER', $term)")
	refused "$out" || fail "release_lead() without the lock: $out"
	out=$(as_node "SELECT clustered_nodes.evict('$CLUSTER', $leader_pid, $term)")
	[[ "$out" == f || "$out" == *ERROR* ]] || fail "evict() of a healthy leader: $out"
	out=$(as_node "SELECT clustered_nodes.register('$CLUSTER', 'node1', 'evil', 1, '0', NULL)")
	[[ "$out" == f || "$out" == *ERROR* ]] || fail "register() over a live member: $out"
	assert_eq "$(counter_of "$CLUSTER")" "$counter" "counter"
	assert_eq "$(term_of "$CLUSTER")" "$term" "term"
	assert_eq "$(state_of "$CLUSTER" leader_pid)" "$leader_pid" "leader pid"
	assert_eq "$(q "SELECT host FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = 'node1'")" "$(hostname)" "node1's row"
	alive "${NODE_PID[node1]}" || fail "the leader was ended"
	send_notifications test_channel 1 after
	wait_for "counter $((counter + 1))" 5000 counter_is "$CLUSTER" $((counter + 1))
}

# warm_up() rehearses a lead on a cluster of its own (sql/016): a session of the node
# role that holds the lock and is a member still takes no lead through it.
test_warm_up_by_a_session_holding_the_lock_takes_no_lead() {
	local before out
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	send_notifications test_channel 2 before
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
	kill -TERM "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" || true
	before=$(snapshot)
	# One session: a member that holds the lock, then the warm-up.
	out=$(psql -X -At -U cn_node \
		-c "SELECT clustered_nodes.register('$CLUSTER', 'intruder', 'h', 1, '0', NULL),
		           pg_try_advisory_lock(clustered_nodes.lock_key('$CLUSTER', 0))" \
		-c "SELECT clustered_nodes.warm_up('$CLUSTER', 'intruder')" 2>&1 || true)
	assert_eq "$(echo $out)" "t|t t" "a member holding the lock, then warm_up()"
	assert_eq "$(snapshot)" "$before" "cluster_state after warm_up()"
}

test_every_function_has_a_fixed_search_path() {
	assert_eq "$(q "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
		JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'clustered_nodes'
		  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)")" "" \
		"functions without search_path = pg_catalog, pg_temp"
}

test_cluster_bound_to_a_role_refuses_other_logins() {
	local a=${CLUSTER:0:40}_a b=${CLUSTER:0:40}_b rc out
	q "DO \$\$ BEGIN
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_role_a') THEN CREATE ROLE cn_role_a NOLOGIN; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_role_b') THEN CREATE ROLE cn_role_b NOLOGIN; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_login_a') THEN
	         CREATE ROLE cn_login_a LOGIN IN ROLE clustered_nodes_node, cn_role_a; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_login_b') THEN
	         CREATE ROLE cn_login_b LOGIN IN ROLE clustered_nodes_node, cn_role_b; END IF;
	   END \$\$" >/dev/null
	q "SELECT clustered_nodes.bind_cluster('$a', 'cn_role_a'), clustered_nodes.bind_cluster('$b', 'cn_role_b')" >/dev/null
	start_node "$a" a1 --dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_login_a dbname=postgres" --listen ch_of_a
	wait_for "a leader of $a" 5000 leader_ready "$a"
	start_node "$b" b1 --dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_login_b dbname=postgres" --listen ch_of_b
	wait_for "a leader of $b" 5000 leader_ready "$b"
	# B's login cannot act for A, even through the functions.
	out=$(psql -X -At -U cn_login_b -c "SELECT clustered_nodes.register('$a', 'spy', 'h', 1, '0', NULL)" 2>&1 || true)
	[[ "$out" == *"may not act for cluster"* ]] || fail "B's login registered in A: $out"
	out=$(psql -X -At -U cn_login_b -c "SELECT clustered_nodes.dead_letter('$a', 0, 'c', 'p', NULL, 0, 'n', 1, 'e')" 2>&1 || true)
	refused "$out" || fail "B's login wrote A's dead letters: $out"
	# A node of A logging in as B's login says so and stops.
	rc=0
	out=$(timeout 10 "$ROOT/clustered_nodes" --node a2 --cluster "$a" \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_login_b dbname=postgres" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status of a node whose login may not act for its cluster"
	[[ "$out" == *"may not act for cluster"* ]] || fail "$out"
	# A's leader claimed its channel for A's role: a node of B that listens on it is
	# refused the lead, says why and stops (a channel is never shared across tenants).
	rc=0
	out=$(timeout 10 "$ROOT/clustered_nodes" --node b2 --cluster "${b}_2" --listen ch_of_a \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_login_b dbname=postgres" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status of a node of B on A's channel"
	[[ "$out" == *"may not use channel(s) ch_of_a"* ]] || fail "$out"
	durable ch_of_a one
	durable ch_of_b two
	wait_for "each cluster counts its own" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT string_agg(counter::text, ',' ORDER BY cluster) FROM clustered_nodes.cluster_state WHERE cluster IN ('$a', '$b')\")\" = 1,1 ]"
}

test_two_clusters_on_one_channel_each_process_every_durable_event_once() {
	local x=${CLUSTER:0:40}_x y=${CLUSTER:0:40}_y tx ty
	for n in 1 2; do
		start_node "$x" "x$n" --listen twin_ch
		start_node "$y" "y$n" --listen twin_ch
	done
	wait_for "a leader of $x" 5000 leader_ready "$x"
	wait_for "a leader of $y" 5000 leader_ready "$y"
	tx=$(term_of "$x")
	ty=$(term_of "$y")
	q "SELECT clustered_nodes.notify('twin_ch', 'e-' || g) FROM generate_series(1, 200) g" >/dev/null
	wait_for "200 in $x" 10000 counter_is "$x" 200
	wait_for "200 in $y" 10000 counter_is "$y" 200
	assert_eq "$(term_of "$x")" "$tx" "term of $x"
	assert_eq "$(term_of "$y")" "$ty" "term of $y"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'twin_ch'")" 0 "events left"
	! grep -q 'was superseded' "$WORK/$x".*.log "$WORK/$y".*.log || fail "a step failed because of the other cluster"
	assert_eq "$(cat "$WORK/$x".*.log | grep -o 'payload="e-[0-9]*"' | sort -u | wc -l)" 200 "distinct events in $x"
}

test_lock_squatter_on_a_fresh_cluster_is_named_and_evicted() {
	local key holder log out
	log=$(node_log "$CLUSTER" node1)
	key=$(q "SELECT clustered_nodes.lock_key('$CLUSTER')")
	q "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_squatter') THEN
	     CREATE ROLE cn_squatter LOGIN; END IF; END \$\$" >/dev/null
	PGAPPNAME=squat psql -X -q -U cn_squatter -c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	holder=$!
	wait_for "the squatter holding the key" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_locks l WHERE $LOCK_ON = $key\")\" = 1 ]"
	start_node "$CLUSTER" node1 --lease-timeout 1s
	wait_for "the squatter named" 5000 grep -q 'held by backend pid [0-9]* (user cn_squatter, application squat, client 127.0.0.1' "$log"
	out=$("$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>&1) || true
	[[ "$out" == *"which is not a member of the cluster"* && "$out" == *"user cn_squatter"* ]] ||
		fail "status does not name the squatter: $out"
	wait_for "the squatter evicted and node1 leading" 10000 leader_ready "$CLUSTER"
	wait "$holder" 2>/dev/null || true
	grep -q 'without leading: ending its session' "$log" || fail "no eviction logged"
}

test_secrets_never_appear_in_any_output() {
	local secret=hunter2Pw out conf=$WORK/$CLUSTER.conf log f
	# libpq's parse errors quote the conninfo: never shown.
	for bad in "postgresql://u:${secret}%zz@127.0.0.1/db" "postgresql://u:${secret}@[::1/db" \
		"password=${secret} bogus_option" "host=127.0.0.1 password='${secret}"; do
		out=$("$ROOT/clustered_nodes" --check --dbname "$bad" 2>&1) || true
		[[ "$out" != *"$secret"* ]] || fail "--check printed the password: $out"
		[[ "$out" == *"--dbname is not a valid connection string"* ]] || fail "no clear error: $out"
	done
	# A dbname line longer than the parser reads is an error naming the file and line.
	printf 'cluster = %s\ndbname = host=127.0.0.1 user=cn_node password=%s%s\n' "$CLUSTER" "$secret" \
		"$(head -c 300 /dev/zero | tr '\0' x)" >"$conf"
	out=$("$ROOT/clustered_nodes" --config "$conf" --check 2>&1) || true
	[[ "$out" != *"$secret"* && "$out" != *xxxxx* ]] || fail "an over-long line was echoed: $out"
	[[ "$out" == *"$conf:2: the line is longer than"* ]] || fail "no file:line error for a long line: $out"
	printf 'cluster = a\x00b\n' >"$conf"
	out=$("$ROOT/clustered_nodes" --config "$conf" --check 2>&1) || true
	[[ "$out" == *"$conf:1: the line holds a NUL byte"* ]] || fail "NUL byte: $out"
	# Exec handlers get an explicit environment, not the node's credentials.
	f=$WORK/$CLUSTER.env
	log=$(node_log "$CLUSTER" node1)
	PGPASSWORD=$secret CLUSTERED_NODES_DBNAME="$NODE_CONNINFO password=$secret" SOME_TOKEN=$secret \
		"$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" --listen env_ch \
		--handler-exec "env >$f" >>"$log" 2>&1 &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	durable env_ch look
	wait_for "the handler ran" 5000 counter_is "$CLUSTER" 1
	! grep -q "$secret" "$f" || fail "the handler's environment holds a secret: $(grep "$secret" "$f")"
	grep -q '^CLUSTERED_NODES_EVENT_ID=' "$f" || fail "the handler lacks its event variables"
	grep -q '^PATH=' "$f" || fail "the handler has no PATH"
	! grep -q "$secret" "$log" || fail "the log holds the secret"
}

test_hostile_text_is_escaped_for_people() {
	local out log esc=$'\x1b' bidi=$'\xe2\x80\xae' c1=$'\xc2\x9b'
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	# A members row with terminal escapes (written by the owner: nodes cannot any more).
	q_vars "INSERT INTO clustered_nodes.members (cluster, node, host, pid, version)
		VALUES (:'c', :'n', :'h', 1, '0');" -o /dev/null -v c="$CLUSTER" \
		-v n="evil${esc}[2J${bidi}node" -v h="host${c1}31m${esc}]0;pwned"$'\a'
	out=$("$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>&1) || true
	[[ "$out" != *"$esc"* && "$out" != *"$bidi"* && "$out" != *"$c1"* && "$out" != *$'\a'* ]] ||
		fail "status printed raw control characters: $(printf '%q' "$out")"
	[[ "$out" == *'evil\x1b[2J\u{202e}node'* ]] || fail "status does not show the name escaped: $out"
	# A handler error carrying the payload's escapes reaches the log escaped.
	log=$(node_log "$CLUSTER" node2)
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER:0:50}_echo\"(p text) RETURNS void LANGUAGE plpgsql AS
	   \$\$ BEGIN RAISE EXCEPTION 'bad payload %', p; END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:50}_echo\"(text) TO clustered_nodes_node" >/dev/null
	kill_nodes
	start_node "$CLUSTER" node2 --handler-sql "SELECT app.\"${CLUSTER:0:50}_echo\"(\$2)" --max-attempts 1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	q_vars "SELECT pg_notify('test_channel', :'p');" -o /dev/null -v p="x${esc}[31m${bidi}y"$'\a'
	wait_for "the failure logged" 5000 grep -q 'dead-lettered' "$log"
	! grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$log" || fail "the log holds raw control characters"
	! grep -qF "$bidi" "$log" || fail "the log holds a raw bidi override"
}

test_invalid_utf8_names_and_irregular_config_files_are_refused() {
	local rc out fifo=$WORK/$CLUSTER.fifo conf=$WORK/$CLUSTER.conf
	for opt in --listen --node --cluster; do
		rc=0
		out=$("$ROOT/clustered_nodes" "$opt" $'bad\xff' --check 2>&1) || rc=$?
		assert_eq "$rc" 64 "exit status for $opt with invalid UTF-8"
		[[ "$out" == *"is not valid UTF-8"* ]] || fail "$out"
	done
	printf 'node = bad\xc3\n' >"$conf"
	rc=0
	out=$("$ROOT/clustered_nodes" --config "$conf" --check 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a bad name in the file"
	mkfifo "$fifo"
	rc=0
	out=$(timeout 5 "$ROOT/clustered_nodes" --config "$fifo" --check 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a FIFO as config file"
	[[ "$out" == *"is not a regular file"* ]] || fail "$out"
}

test_sighup_with_the_config_turned_into_a_fifo_keeps_the_loop_turning() {
	local conf=$WORK/$CLUSTER.conf p log rc
	p=$(free_port)
	log=$(node_log "$CLUSTER" node1)
	printf 'dbname = %s\ncluster = %s\nhttp = %s\n' "$NODE_CONNINFO" "$CLUSTER" "$p" >"$conf"
	"$ROOT/clustered_nodes" --config "$conf" --node node1 >>"$log" 2>&1 &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	rm "$conf"
	mkfifo "$conf"
	kill -HUP "${NODE_PID[node1]}"
	wait_for "the refusal logged" 5000 grep -q 'not a regular file' "$log"
	assert_eq "$(http_code "http://127.0.0.1:$p/healthz")" 200 "healthz after the SIGHUP"
	kill -TERM "${NODE_PID[node1]}"
	rc=0
	wait "${NODE_PID[node1]}" || rc=$?
	unset "NODE_PID[node1]"
	assert_eq "$rc" 0 "exit status after SIGTERM"
}

test_http_refuses_unexpected_hosts_and_keeps_connections_alive() {
	local p out
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "$p"
	wait_for "the endpoint" 5000 bash -c "curl -s -o /dev/null http://127.0.0.1:$p/healthz"
	assert_eq "$(http_code -H 'Host: attacker.example' "http://127.0.0.1:$p/status")" 421 "a rebinding page's Host"
	assert_eq "$(http_code -H "Host: 127.0.0.1:$p" "http://127.0.0.1:$p/status")" 200 "an IP literal"
	assert_eq "$(http_code -H "Host: localhost:$p" "http://127.0.0.1:$p/status")" 200 "localhost"
	out=$(curl -sv -o /dev/null -o /dev/null "http://127.0.0.1:$p/healthz" "http://127.0.0.1:$p/readyz" 2>&1)
	[[ "$out" == *"Re-using existing connection"* ]] || fail "the connection was not kept alive: $out"
}
