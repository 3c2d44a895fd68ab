# SPDX-License-Identifier: PostgreSQL
# Integration tests: limits set by others do not multiply the node's cost.  A
# statement_timeout of 50 ms on the nodes' role would cut every standby's wait (and every
# watch session's) short; the node's sessions set it off for themselves: waits last
# longer, and idle nodes stay quiet.  At K = 1 and K = 4.

# Transactions of the database over 3 s (a measurement window, not a synchronisation) at
# most $1.
quiet_window() {
	local x0 x1
	x0=$(q "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
	sleep 3
	x1=$(q "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
	echo "$((x1 - x0)) transactions in 3 s" >&2
	[ $((x1 - x0)) -le "$1" ]
}

# A node of this test (application clustered_nodes:nodeN or clustered_nodes-watch:nodeN)
# has been in a wait_lock() or watch() call for over 500 ms.
long_wait_seen() {
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'cn_node'
	        AND state = 'active' AND (query LIKE '%wait_lock%' OR query LIKE '%clustered_nodes.watch(%')
	        AND now() - query_start > interval '500 ms'")" -ge 1 ]
}

role_limits_case() {
	local k=$1
	q "ALTER ROLE cn_node SET statement_timeout = '50ms'" >/dev/null
	# Undone whatever happens, before the next test: it is the shared node role.
	trap 'q "ALTER ROLE cn_node RESET statement_timeout" >/dev/null; kill_nodes' EXIT
	start_node "$CLUSTER" node1 --partitions "$k"
	wait_for "node1 leading" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	start_node "$CLUSTER" node2 --partitions "$k"
	wait_for "node2 up" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	wait_for "every partition led" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	# Idle, the two nodes end a few transactions in 3 s (a look interval is 2.5 s; the
	# watch waits as long); waits cut at 50 ms would end well over a hundred in every
	# window.  (The first seconds after a join move partitions: windows until one is quiet.)
	wait_for "a quiet 3 s window" 20000 quiet_window 40
	assert_eq "$(q "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")" 0 \
		"the test's own session (unaffected)"
	# A wait of theirs (a standby's on its own session, K = 1; the watch session's, K > 1)
	# runs longer than the role's 50 ms.
	wait_for "a wait of over 500 ms" 10000 long_wait_seen
	send_notifications test_channel 3 after
	wait_for "3 counted" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 3 ]"
}

test_a_roles_statement_timeout_does_not_shorten_the_waits_k1() { role_limits_case 1; }
test_a_roles_statement_timeout_does_not_shorten_the_waits_k4() { role_limits_case 4; }
