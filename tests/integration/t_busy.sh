# SPDX-License-Identifier: PostgreSQL
# Integration tests: a leader that is merely busy keeps its lease.  Steps far longer than
# lease_timeout (fast events first, so that the step size grows, then slow ones in one
# transaction; durable events that each take most of a lease), with a second node
# watching (K = 1: a standby; K = 4: the other half of the partitions, on a session as
# busy): no term or leader changes, nothing is evicted, lost or processed twice.

# Each partition's term and leader, in partition order.
busy_terms() {
	q "SELECT string_agg(partition || ':' || term || ':' || leader, ',' ORDER BY partition)
	   FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'"
}
# Every partition led by a live session, shared as evenly as two nodes can.
busy_settled() {
	local k=$1
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a
	        ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'")" = "$k" ] &&
		{ [ "$k" = 1 ] || busy_led_by node2 $((k / 2)); }
}
busy_led_by() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a
	        ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER' AND s.leader = '$1'")" = "$2" ]
}

# busy_leader_case K HANDLER: HANDLER is sql or exec; slow plain notifications take 0.15 s
# each (20 of them: 3 s in one step, three lease timeouts), slow durable events 0.4 s
# each (6 of them; one SQL call may take half a lease, 0.5 s here).
busy_leader_case() {
	local k=$1 how=$2 terms table=app."\"${CLUSTER:0:50}_seen\"" handler=() fast=1000
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE $table (payload text PRIMARY KEY);
	   GRANT INSERT ON $table TO clustered_nodes_node" >/dev/null
	if [ "$how" = sql ]; then
		handler=(--handler-sql "INSERT INTO $table SELECT \$2 FROM (SELECT CASE
			WHEN \$2 LIKE 'slow-%' THEN pg_sleep(0.15)
			WHEN \$2 LIKE 'dslow-%' THEN pg_sleep(0.4) END) s")
	else
		fast=40	# a program per event: a shell and a psql each (about 0.1 s here)
		handler=(--handler-exec "p=\$(cat); case \$p in slow-*) sleep 0.15;; dslow-*) sleep 0.4;; esac
			psql -X -q -h 127.0.0.1 -p $PGTMP_PORT -U postgres -c \"INSERT INTO $table VALUES ('\$p')\"")
	fi
	start_node "$CLUSTER" node1 --lease-timeout 1s --partitions "$k" "${handler[@]}"
	wait_for "node1 leading every partition" 10000 busy_led_by node1 "$k"
	start_node "$CLUSTER" node2 --lease-timeout 1s --partitions "$k" "${handler[@]}"
	wait_for "node2 standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	wait_for "the partitions shared" 10000 busy_settled "$k"
	terms=$(busy_terms)
	# One transaction each: the fast ones, then 20 slow; then 6 slow durable events.
	q "BEGIN; SELECT pg_notify('test_channel', 'fast-' || g) FROM generate_series(1, $fast) g; COMMIT" >/dev/null
	q "BEGIN; SELECT pg_notify('test_channel', 'slow-' || g) FROM generate_series(1, 20) g; COMMIT" >/dev/null
	q "BEGIN; SELECT clustered_nodes.notify('test_channel', 'dslow-' || g) FROM generate_series(1, 6) g;
	   COMMIT" >/dev/null
	wait_for "$((fast + 26)) counted" 30000 bash -c "[ \"\$(psql -X -At -c \"SELECT coalesce(sum(counter), 0) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = $((fast + 26)) ]"
	assert_eq "$(busy_terms)" "$terms" "terms"
	assert_eq "$(q "SELECT count(*) FROM $table")" $((fast + 26)) "handler effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
	! grep -q 'has not renewed its lease\|eviction' "$(node_log "$CLUSTER" node1)" "$(node_log "$CLUSTER" node2)" ||
		fail "a node went for a busy leader: $(grep -h -m2 'has not renewed\|eviction' "$(node_log "$CLUSTER" node1)" "$(node_log "$CLUSTER" node2)")"
}

test_busy_sql_handler_keeps_the_lease_k1() { busy_leader_case 1 sql; }
test_busy_sql_handler_keeps_the_lease_k4() { busy_leader_case 4 sql; }
test_busy_exec_handler_keeps_the_lease_k1() { busy_leader_case 1 exec; }
test_busy_exec_handler_keeps_the_lease_k4() { busy_leader_case 4 exec; }
