# SPDX-License-Identifier: PostgreSQL
# Integration tests: tenants on one database stay apart (sql/010_tenants.sql).  Two
# clusters bound to two roles, one of them partitioned, each with its own node login;
# each tenant's login attacks the other through every protocol function, with made-up
# names, control characters, out-of-range partitions, huge leases and counters, while
# both clusters keep processing.  The truth is what the database holds: counters, terms,
# rows, and which sessions are still alive.

# tenant_setup: roles cn_ten_a / cn_ten_b, logins cn_ten_login_a / cn_ten_login_b.
tenant_setup() {
	q "DO \$\$ BEGIN
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_ten_a') THEN CREATE ROLE cn_ten_a NOLOGIN; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_ten_b') THEN CREATE ROLE cn_ten_b NOLOGIN; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_ten_login_a') THEN
	         CREATE ROLE cn_ten_login_a LOGIN IN ROLE clustered_nodes_node, clustered_nodes_producer, cn_ten_a; END IF;
	     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_ten_login_b') THEN
	         CREATE ROLE cn_ten_login_b LOGIN IN ROLE clustered_nodes_node, clustered_nodes_producer, cn_ten_b; END IF;
	   END \$\$" >/dev/null
}

# as_login LOGIN SQL...: each SQL in turn on one session of LOGIN (so a lock taken by one
# statement is held by the next); prints every result and error, never fails.
as_login() {
	local login=$1 args=() s
	shift
	for s in "$@"; do args+=(-c "$s"); done
	psql -X -At -U "$login" "${args[@]}" 2>&1 || true
}

# Every line of the output is an error: the attack was refused.
all_refused() {
	local out=$1 what=$2 line
	[ -n "$out" ] || fail "$what: no answer at all"
	while IFS= read -r line; do
		[[ "$line" == *ERROR* || "$line" == *DETAIL* || "$line" == *HINT* || "$line" == *CONTEXT* ||
		   "$line" == *"PL/pgSQL"* || "$line" == *"SQL function"* || "$line" == *"SQL statement"* ]] ||
			fail "$what was not refused: $line"
	done <<<"$out"
}

# partitions_led CLUSTER K: every one of the K partitions is held by the session recorded
# as its leader.
partitions_led() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s
		JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$1'")" = "$2" ]
}

test_tenants_attack_each_other_through_every_function_and_both_keep_counting() {
	local a=${CLUSTER:0:20}_ta b=${CLUSTER:0:20}_tb ca=ten_ch_a cb=ten_ch_b
	local la=cn_ten_login_a lb=cn_ten_login_b terms_a terms_b pids_b pids_a out k p key
	local sent_a=0 sent_b=0 round alias evil=${CLUSTER:0:20}_evil
	tenant_setup
	# The operator's setup: each cluster and its channel bound to its tenant's role.
	q "SELECT clustered_nodes.bind_cluster('$a', 'cn_ten_a', ARRAY['$ca']),
	          clustered_nodes.bind_cluster('$b', 'cn_ten_b', ARRAY['$cb'])" >/dev/null
	for n in 1 2; do
		start_node "$a" "a$n" --listen "$ca" --dbname "host=127.0.0.1 port=$PGTMP_PORT user=$la dbname=postgres"
		start_node "$b" "b$n" --listen "$cb" --partitions 4 --dbname "host=127.0.0.1 port=$PGTMP_PORT user=$lb dbname=postgres"
	done
	wait_for "a leader of $a" 10000 leader_ready "$a"
	wait_for "4 partitions of $b led" 10000 partitions_led "$b" 4
	terms_a=$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$a'")
	terms_b=$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$b'")
	pids_a=$(q "SELECT string_agg(backend_pid::text, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$a'")
	pids_b=$(q "SELECT string_agg(backend_pid::text, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$b'")

	for round in 1 2 3; do
		# Both keep processing while they are attacked: plain and durable, both tenants.
		send_notifications "$ca" 20 "a$round"; sent_a=$((sent_a + 20))
		send_notifications "$cb" 20 "b$round"; sent_b=$((sent_b + 20))
		out=$(as_login $la "SELECT clustered_nodes.notify('$ca', 'da$round-' || g) FROM generate_series(1, 10) g")
		sent_a=$((sent_a + 10))
		out=$(as_login $lb "SELECT clustered_nodes.notify('$cb', 'db$round-' || g) FROM generate_series(1, 10) g")
		sent_b=$((sent_b + 10))

		for k in 1 2 3; do
			# A made-up name that once hashed to B's partition k: the cluster's name and a
			# unit separator, refused as a name wherever it is given.
			alias="'$b' || chr(31) || '$k'"
			key=$(q "SELECT clustered_nodes.lock_key('$b', $k)")
			p=$(q "SELECT s.leader_pid FROM clustered_nodes.cluster_state s WHERE s.cluster = '$b' AND s.partition = $k")
			out=$(as_login $la "SELECT clustered_nodes.evict($alias, 0, $p, 0)" \
				"SELECT clustered_nodes.evict($alias, $p, 0)" \
				"SELECT * FROM clustered_nodes.lock_holder($alias)" \
				"SELECT * FROM clustered_nodes.cluster_partitions($alias, 1, 'payload')" \
				"SELECT clustered_nodes.register($alias, 'x', 'h', 1, '0', NULL)" \
				"SELECT clustered_nodes.forward($alias, 0, ARRAY['$ca'], ARRAY['x'])" \
				"SELECT * FROM clustered_nodes.watch($alias, 'x', NULL, 1, -1, -1)" \
				"SELECT clustered_nodes.ring($alias, NULL)" \
				"SELECT clustered_nodes.wake($alias, ARRAY[$k])")
			all_refused "$out" "A through the alias of B's partition $k"
			[[ "$out" == *"contains a control character"* ]] || fail "the alias was not refused as a name: $out"
			# A squatter of A's login on B's partition key cannot record a row with it.
			out=$(as_login $la "SELECT pg_try_advisory_lock($key)" \
				"SELECT clustered_nodes.register($alias, 'x', 'h', 1, '0', NULL)" \
				"SELECT * FROM clustered_nodes.take_lead($alias, 0, 'x', 60000, ARRAY['$ca'])")
			[[ "$out" == *ERROR* ]] || fail "take_lead through an alias: $out"
		done
		# B's own name, and A's, as the other tenant: every function refuses.
		for target in "$b:$la" "$a:$lb"; do
			local c=${target%%:*} login=${target##*:}
			p=$(q "SELECT leader_pid FROM clustered_nodes.cluster_state WHERE cluster = '$c' AND partition = 0")
			out=$(as_login "$login" \
				"SELECT clustered_nodes.evict('$c', 0, $p, 1)" \
				"SELECT clustered_nodes.evict('$c', $p, 1)" \
				"SELECT * FROM clustered_nodes.lock_holder('$c', 0)" \
				"SELECT * FROM clustered_nodes.lock_holder('$c')" \
				"SELECT * FROM clustered_nodes.fetch_events('$c', 0, ARRAY['$ca', '$cb'], 100)" \
				"SELECT * FROM clustered_nodes.take_lead('$c', 0, 'x', 9000000000000, ARRAY['$cb'])" \
				"SELECT clustered_nodes.advance('$c', 0, 1, 0, 9223372036854775807, 60000, '{}')" \
				"SELECT clustered_nodes.record_attempt('$c', 1)" \
				"SELECT clustered_nodes.dead_letter('$c', 0, 1, 'c', 'p', NULL, 0, 'n', 1, 'e')" \
				"SELECT clustered_nodes.record_attempt('$c', 1, 1)" \
				"SELECT clustered_nodes.dead_letter('$c', 0, 1, 'c', 'p', NULL, 0, 'n', 1, 'e', '22012')" \
				"SELECT clustered_nodes.release_lead('$c', 0, 1)" \
				"SELECT * FROM clustered_nodes.cluster_partitions('$c', 8, 'payload')" \
				"SELECT clustered_nodes.register('$c', 'spy', 'h', 1, '0', NULL)" \
				"SELECT clustered_nodes.warm_up('$c', 'spy')" \
				"SELECT clustered_nodes.forward('$c', 0, ARRAY['$ca'], ARRAY['forged'])" \
				"SELECT clustered_nodes.forward('$c', 0, ARRAY['$cb'], ARRAY['forged'])" \
				"SELECT clustered_nodes.set_history_keep('$c', 1)" \
				"SELECT * FROM clustered_nodes.watch('$c', 'spy', NULL, 1, -1, -1)" \
				"SELECT * FROM clustered_nodes.watch('$c', 'b1', NULL, 1, -1, -1)" \
				"SELECT clustered_nodes.ring('$c', NULL)" \
				"SELECT clustered_nodes.ring('$c', ARRAY[0, 1, 2, 3])" \
				"SELECT clustered_nodes.wake('$c', NULL)" \
				"SELECT clustered_nodes.wake('$c', ARRAY[0])" \
				"DELETE FROM clustered_nodes.history WHERE cluster = '$c'" \
				"UPDATE clustered_nodes.history SET reason = 'forged' WHERE cluster = '$c'" \
				"SELECT clustered_nodes.check_may_act('$c')")
			all_refused "$out" "$login against $c"
			# Reading: no row of the other tenant's cluster is visible.
			out=$(as_login "$login" "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$c'" \
				"SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$c'" \
				"SELECT count(*) FROM clustered_nodes.clusters WHERE cluster = '$c'" \
				"SELECT count(*) FROM clustered_nodes.history WHERE cluster = '$c'")
			assert_eq "$(echo $out)" "0 0 0 0" "rows of $c that $login can read"
		done
		# Out-of-range partitions and hostile names, on the attacker's own cluster.
		for p in -1 4 64 2147483647; do
			out=$(as_login $lb "SELECT * FROM clustered_nodes.lock_holder('$b', $p)" \
				"SELECT clustered_nodes.evict('$b', $p, 1, 1)" \
				"SELECT * FROM clustered_nodes.fetch_events('$b', $p, ARRAY['$cb'], 10)" \
				"SELECT clustered_nodes.forward('$b', $p, ARRAY['$cb'], ARRAY['x'])")
			all_refused "$out" "partition $p"
		done
		out=$(as_login $la "SELECT clustered_nodes.check_may_act(E'x\\x1b[31m')" \
			"SELECT clustered_nodes.check_may_act(E'x\\u202ey')" \
			"SELECT clustered_nodes.check_may_act(repeat('x', 64))" \
			"SELECT clustered_nodes.check_may_act('')" \
			"SELECT clustered_nodes.warm_up(E'x\\x1b[31m', 'n')" \
			"SELECT clustered_nodes.notify(E'ch\\x07', 'p')" \
			"SELECT clustered_nodes.record_attempt('$a', 1, -1)" \
			"SELECT clustered_nodes.dead_letter('$a', 0, 1, 'c', 'p', NULL, 0, 'n', 1, 'e', E'x\\x1b[31m')" \
			"SELECT clustered_nodes.forward('$a', 0, ARRAY['$cb'], ARRAY['onto the other tenant''s channel'])" \
			"SELECT clustered_nodes.forward('$a', 0, ARRAY[E'ch\\x07'], ARRAY['p'])" \
			"SELECT clustered_nodes.forward('$a', 0, ARRAY['$ca', '$ca'], ARRAY['one'])" \
			"SELECT clustered_nodes.forward('$a', 0, ARRAY['$ca'], ARRAY[NULL])" \
			"SELECT clustered_nodes.forward('$a', 0, NULL, NULL)" \
			"SELECT clustered_nodes.forward('$a', 0, array_fill('$ca'::text, ARRAY[10001]), array_fill('p'::text, ARRAY[10001]))" \
			"SELECT clustered_nodes.ring('$a', array_fill(0, ARRAY[65]))" \
			"SELECT clustered_nodes.wake('$a', array_fill(0, ARRAY[65]))" \
			"SELECT clustered_nodes.wake(E'x\\x1b[31m', NULL)" \
			"SELECT * FROM clustered_nodes.watch('$a', E'n\\x07', NULL, -1, 0, 0)" \
			"SELECT * FROM clustered_nodes.watch('$a', 'n', NULL, 3600001, 0, 0)")
		all_refused "$out" "hostile names"
		# A's login leads a cluster it made up (unbound) with B's channel: refused, and it
		# reads none of B's events.
		out=$(as_login $la "SELECT pg_advisory_lock(clustered_nodes.lock_key('$evil', 0))" \
			"SELECT clustered_nodes.register('$evil', 'x', 'h', 1, '0', NULL)" \
			"SELECT * FROM clustered_nodes.cluster_partitions('$evil', 1, 'payload')" \
			"SELECT * FROM clustered_nodes.take_lead('$evil', 0, 'x', 1000, ARRAY['$cb'])" \
			"SELECT count(*) FROM clustered_nodes.fetch_events('$evil', 0, ARRAY['$cb'], 1000)")
		[[ "$out" == *"may not use channel"* ]] || fail "a made-up cluster subscribed to B's channel: $out"
		[[ "$(tail -n 1 <<<"$out")" == *ERROR* || "$(tail -n 1 <<<"$out")" == 0 ]] ||
			fail "a made-up cluster read B's events: $out"
	done
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.subscriptions WHERE channel = '$cb' AND cluster <> '$b'")" 0 \
		"subscriptions of B's channel by other clusters"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster LIKE '$b%' AND cluster <> '$b'")" 0 \
		"state rows that alias B"

	# Both clusters counted exactly what was sent to them, with the terms they had and
	# every node's session intact.
	wait_for "$a counted $sent_a" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$a'\")\" = $sent_a ]"
	wait_for "$b counted $sent_b" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$b'\")\" = $sent_b ]"
	assert_eq "$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$a'")" "$terms_a" "terms of $a"
	assert_eq "$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$b'")" "$terms_b" "terms of $b"
	assert_eq "$(q "SELECT string_agg(backend_pid::text, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$a'")" "$pids_a" "sessions of $a"
	assert_eq "$(q "SELECT string_agg(backend_pid::text, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$b'")" "$pids_b" "sessions of $b"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel IN ('$ca', '$cb')")" 0 "durable events left"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster IN ('$a', '$b')")" 0 "dead letters"
}

test_lock_holder_writes_are_bounded_by_the_cluster() {
	local c=${CLUSTER:0:40}_bound out lease_s
	tenant_setup
	# A fresh cluster of tenant A's own login; one session registers as member "real".
	as_login cn_ten_login_a "SELECT * FROM clustered_nodes.cluster_partitions('$c', 1, 'payload')" >/dev/null
	# A squatter that names a member as leader is still a squatter.
	psql -X -q -U cn_ten_login_a -c "SELECT clustered_nodes.register('$c', 'real', 'h', 1, '0', NULL)" \
		-c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
	local member=$!
	wait_for "member real registered" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$c' AND node = 'real'\")\" = 1 ]"
	out=$(as_login cn_ten_login_a "SELECT pg_advisory_lock(clustered_nodes.lock_key('$c', 0))" \
		"SELECT * FROM clustered_nodes.take_lead('$c', 0, 'real', 60000, ARRAY['bound_ch'])")
	[[ "$out" == *"only member real's own session may lead"* ]] || fail "a squatter led as a member: $out"
	kill "$member" 2>/dev/null || true
	wait "$member" 2>/dev/null || true
	# The member itself, holding the lock: a huge lease is capped by the cluster's ceiling,
	# a huge step is refused.
	out=$(as_login cn_ten_login_a "SELECT clustered_nodes.register('$c', 'own', 'h', 1, '0', NULL)" \
		"SELECT pg_advisory_lock(clustered_nodes.lock_key('$c', 0))" \
		"SELECT term FROM clustered_nodes.take_lead('$c', 0, 'own', 9000000000000, ARRAY['bound_ch'])" \
		"SELECT clustered_nodes.advance('$c', 0, 1, 0, 9223372036854775807, 9000000000000, '{}')" \
		"SELECT clustered_nodes.advance('$c', 0, 1, 0, 10000001, 60000, '{}')" \
		"SELECT clustered_nodes.advance('$c', 0, 1, 0, -1, 60000, '{}')" \
		"SELECT clustered_nodes.advance('$c', 0, 1, 0, 5, 9000000000000, '{}')")
	[[ "$(grep -c 'out of range' <<<"$out")" == 3 ]] || fail "huge or negative steps were not refused: $out"
	assert_eq "$(state_of "$c" counter)" 5 "counter after the bounded steps"
	lease_s=$(q "SELECT extract(epoch FROM lease_until - updated_at)::int FROM clustered_nodes.cluster_state WHERE cluster = '$c'")
	[ "$lease_s" -le 600 ] || fail "a lease of $lease_s s was accepted (ceiling 600 s)"
	# The schema's owner lowers the ceiling: the next claim is capped by it.
	q "SELECT clustered_nodes.set_lease_ceiling('$c', 2000)" >/dev/null
	as_login cn_ten_login_a "SELECT clustered_nodes.register('$c', 'own2', 'h', 2, '0', NULL)" \
		"SELECT pg_advisory_lock(clustered_nodes.lock_key('$c', 0))" \
		"SELECT term FROM clustered_nodes.take_lead('$c', 0, 'own2', 9000000000000, ARRAY['bound_ch'])" >/dev/null
	lease_s=$(q "SELECT extract(epoch FROM lease_until - updated_at) <= 2 FROM clustered_nodes.cluster_state WHERE cluster = '$c'")
	assert_eq "$lease_s" t "the lease is at most the lowered ceiling"
	# The owner's own functions are not the node's.
	out=$(as_login cn_ten_login_a "SELECT clustered_nodes.set_lease_ceiling('$c', 3600000)" \
		"SELECT clustered_nodes.bind_channel('bound_ch', 'cn_ten_a')" \
		"SELECT clustered_nodes.bind_cluster('$c', 'cn_ten_a')")
	all_refused "$out" "owner functions called by a node login"
}

test_superuser_nodes_evict_a_stopped_leader() {
	local old term t0 elapsed su="host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=postgres"
	start_node "$CLUSTER" node1 --lease-timeout 2s --dbname "$su"
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	start_node "$CLUSTER" node2 --lease-timeout 2s --dbname "$su"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	term=$(term_of "$CLUSTER")
	kill -STOP "${NODE_PID[node1]}"
	t0=$(now_ms)
	# Durable: a plain NOTIFY sent now would reach only the stopped leader's socket.
	q "SELECT clustered_nodes.notify('test_channel', 'during')" >/dev/null
	# lease_timeout (2 s) + one poll (100 ms), and room for the renewal that came just
	# before the stop and a loaded machine.
	wait_for "node2 leading after evicting the stopped superuser leader" 4000 leader_ready "$CLUSTER" "$term"
	elapsed=$(( $(now_ms) - t0 ))
	echo "a stopped superuser leader was evicted and replaced after $elapsed ms"
	assert_eq "$(leader_ready "$CLUSTER")" node2 "the new leader"
	kill -CONT "${NODE_PID[node1]}"
	send_notifications test_channel 1 after
	wait_for "counter 2 (the durable event, then the plain one)" 5000 counter_is "$CLUSTER" 2
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE cluster = '$CLUSTER'")" 0 "events left"
}

test_status_reports_a_lapsed_lease() {
	local rc out
	# One node, nobody to evict it: its lease lapses while it holds the lock.
	start_node "$CLUSTER" node1 --lease-timeout 1s
	wait_for "node1 leading" 5000 leader_ready "$CLUSTER"
	rc=0
	"$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 0 "status of a healthy leader"
	kill -STOP "${NODE_PID[node1]}"
	wait_for "the lease lapsed" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT lease_until < now() FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = t ]"
	rc=0
	out=$("$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>&1) || rc=$?
	kill -CONT "${NODE_PID[node1]}"
	assert_eq "$rc" 2 "status of a leader whose lease lapsed"
	[[ "$out" == *"lease of leader node1 lapsed"* ]] || fail "status does not name the lapsed lease: $out"
}

# The wake-up of a partitioned cluster's nodes (sql/015) cancels their watch sessions'
# waits.  Tenant A's login, with a cluster of its own and a member whose bell is its own
# session, wakes its own cluster, tries B's by name and by alias, and writes the members
# table directly: B's nodes are never rung (their watch sessions report every wait that
# ends rung, at debug), and B's look epoch and rings stay as they were.  The owner's wake
# of B, last, is heard: the check can fail.
test_a_tenant_rings_no_other_tenants_node() {
	local b=${CLUSTER:0:20}_rb own=${CLUSTER:0:20}_ra lb=cn_ten_login_b la=cn_ten_login_a
	local before counts out bell n
	tenant_setup
	q "SELECT clustered_nodes.bind_cluster('$b', 'cn_ten_b', ARRAY['ring_ch_b'])" >/dev/null
	for n in 1 2; do
		start_node "$b" "b$n" --listen ring_ch_b --partitions 4 --lease-timeout 120s \
			--heartbeat-interval 60s --log-level debug \
			--dbname "host=127.0.0.1 port=$PGTMP_PORT user=$lb dbname=postgres"
	done
	wait_for "4 partitions of $b led" 10000 partitions_led "$b" 4
	wait_for "both of B's bells set" 10000 bells_of_are "$b" 2
	wait_for "B quiet: no ring for a second" 10000 rings_settled "$b"
	before=$(rung_lines "$b")
	counts=$(ring_counts "$b")
	# A's own cluster and member, whose bell is a session of A's login that waits.
	as_login $la "SELECT * FROM clustered_nodes.cluster_partitions('$own', 4, 'payload')" >/dev/null
	psql -X -q -U $la -c "SELECT clustered_nodes.register('$own', 'm', 'h', 1, '0', NULL)" \
		-c "SELECT * FROM clustered_nodes.watch('$own', 'm', NULL, 0, -1, -1)" \
		-c "SELECT * FROM clustered_nodes.watch('$own', 'm', NULL, 3000, 0, 0)" >/dev/null 2>&1 &
	bell=$!
	wait_for "A's member has a bell" 5000 bells_of_are "$own" 1
	out=$(as_login $la "SELECT clustered_nodes.ring('$own', NULL)" "SELECT clustered_nodes.wake('$own', NULL)" \
		"SELECT clustered_nodes.ring('$own', ARRAY[0, 1, 2, 3])" "SELECT clustered_nodes.wake('$own', ARRAY[0, 1, 2, 3])")
	[[ "$out" != *ERROR* ]] || fail "A could not ring its own cluster: $out"
	out=$(as_login $la "SELECT clustered_nodes.ring('$b', NULL)" "SELECT clustered_nodes.wake('$b', NULL)" \
		"SELECT clustered_nodes.wake('$b', ARRAY[0, 1, 2, 3])" \
		"SELECT clustered_nodes.wake('$b' || chr(31) || '1', NULL)" \
		"UPDATE clustered_nodes.members SET bell_pid = 1 WHERE cluster = '$own'" \
		"UPDATE clustered_nodes.members SET rings = rings + 1 WHERE cluster = '$b'" \
		"UPDATE clustered_nodes.clusters SET look_epoch = look_epoch + 1 WHERE cluster = '$b'")
	all_refused "$out" "A ringing B"
	wait "$bell" 2>/dev/null || true
	assert_eq "$(rung_lines "$b")" "$before" "B's waits that ended rung"
	assert_eq "$(ring_counts "$b")" "$counts" "B's look epoch and rings"
	# The owner may: B's nodes hear it.
	q "SELECT clustered_nodes.wake('$b', NULL)" >/dev/null
	wait_for "the owner's wake heard by B" 5000 rung_more "$b" "$before"
}

bells_of_are() {
	[ "$(q "SELECT count(bell_pid) FROM clustered_nodes.members WHERE cluster = '$1'")" = "$2" ]
}
ring_counts() {
	q "SELECT (SELECT look_epoch FROM clustered_nodes.clusters WHERE cluster = '$1') || ':' ||
		string_agg(rings::text, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$1'"
}
rung_lines() { cat "$WORK/$1".*.log | grep -c 'ended: rung' || true; }
rung_more() { [ "$(rung_lines "$1")" -gt "$2" ]; }
rings_settled() {
	local n
	n=$(rung_lines "$1")
	sleep 1
	[ "$(rung_lines "$1")" = "$n" ]
}

# warm_up() rehearses a whole lead (sql/016) on a cluster of its own, in a subtransaction
# it rolls back.  For an unbound single-leader cluster, a tenant's and a tenant's
# partitioned one (with the layout the node's session records): the rehearsal runs to its
# end (true), and leaves no row, no lock, no setting and no notification behind.
test_a_rehearsal_runs_in_full_and_leaves_nothing_behind() {
	local plain=${CLUSTER:0:20}_wp a=${CLUSTER:0:20}_wa b=${CLUSTER:0:20}_wb
	local la=cn_ten_login_a lb=cn_ten_login_b before out login c k
	tenant_setup
	q "SELECT clustered_nodes.bind_cluster('$a', 'cn_ten_a', ARRAY['wa_ch']),
	          clustered_nodes.bind_cluster('$b', 'cn_ten_b', ARRAY['wb_ch'])" >/dev/null
	rows_everywhere() {
		q "SELECT (SELECT count(*) FROM clustered_nodes.cluster_state) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.members) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.history) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.clusters) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.cluster_roles) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.channel_roles) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.subscriptions) || ' ' ||
			(SELECT count(*) FROM clustered_nodes.events)"
	}
	for c in "$plain:cn_node:1" "$a:$la:1" "$b:$lb:4"; do
		IFS=: read -r c login k <<<"$c"
		as_login "$login" "SELECT * FROM clustered_nodes.cluster_partitions('$c', $k, 'payload')" >/dev/null
		before=$(rows_everywhere)
		out=$(as_login "$login" \
			"SELECT * FROM clustered_nodes.cluster_partitions('$c', $k, 'payload')" \
			"LISTEN clustered_nodes_fence; LISTEN clustered_nodes_events" \
			"SELECT clustered_nodes.warm_up('$c', 'w1')" \
			"SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'" \
			"SELECT current_setting('clustered_nodes.layout_epoch') = '$c:' || (SELECT layout_epoch FROM clustered_nodes.clusters WHERE cluster = '$c')")
		assert_eq "$(echo $out)" "$k|payload LISTEN LISTEN t 0 t" "K = $k as $login: the rehearsal, then the session's locks and layout"
		[[ "$out" != *notification* ]] || fail "the rehearsal's fence or wake-up reached a listener: $out"
		assert_eq "$(rows_everywhere)" "$before" "rows after the rehearsal of $c"
		assert_eq "$(q "SELECT count(*) FROM clustered_nodes.history WHERE cluster LIKE 'clustered_nodes rehearsal%'")" 0 \
			"history rows of a rehearsal"
	done
	# Another tenant's cluster is refused before anything is rehearsed.
	out=$(as_login $la "SELECT clustered_nodes.warm_up('$b', 'w1')")
	all_refused "$out" "A's warm-up of B's cluster"
}
