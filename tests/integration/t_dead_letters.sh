# SPDX-License-Identifier: PostgreSQL
# Integration tests: what a dead letter keeps, and attempts counted across failovers.
# A dead letter keeps the error's SQLSTATE and the whole message (a SQL handler's error of
# over 2,000 characters; an exec program's failure has no SQLSTATE).  A failing durable
# event's attempts survive its leader's SIGKILL: the event is dead-lettered after
# max_attempts runs in all, counted by a sequence (which its step's rollback does not
# undo) or a file, never after more.  At K = 1 and K = 4.

# The leaders of all K partitions of the cluster are up (sessions alive).
all_led() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a
	        ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'")" = "$1" ]
}
dead_letters_are() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" = "$1" ]
}

whole_error_case() {
	local k=$1 f=app."\"${CLUSTER: -45}_h\""
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE FUNCTION $f(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       RAISE EXCEPTION USING ERRCODE = '22012',
	           MESSAGE = 'cannot handle ' || p || ': ' || repeat('why ', 600) || 'end-of-message';
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION $f(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --partitions "$k" --max-attempts 2 --handler-sql "SELECT $f(\$2)"
	wait_for "node1 leading" 10000 all_led "$k"
	q "SELECT clustered_nodes.notify('test_channel', 'durable-1')" >/dev/null
	q "NOTIFY test_channel, 'plain-1'" >/dev/null
	wait_for "2 dead letters" 15000 dead_letters_are 2
	assert_eq "$(q "SELECT string_agg(payload || ' ' || coalesce(sqlstate, 'NULL') || ' ' ||
	        (error LIKE '%cannot handle ' || payload || ': why why %why end-of-message%')::text || ' ' ||
	        (length(error) > 2400)::text, ', ' ORDER BY payload)
	      FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" \
		"durable-1 22012 true true, plain-1 22012 true true" "the dead letters' SQLSTATE and whole error"
}

test_dead_letters_keep_the_sqlstate_and_the_whole_error_k1() { whole_error_case 1; }
test_dead_letters_keep_the_sqlstate_and_the_whole_error_k4() { whole_error_case 4; }

exec_error_case() {
	local k=$1
	start_node "$CLUSTER" node1 --partitions "$k" --max-attempts 1 --handler-exec "exit 3"
	wait_for "node1 leading" 10000 all_led "$k"
	q "SELECT clustered_nodes.notify('test_channel', 'durable-1')" >/dev/null
	wait_for "a dead letter" 15000 dead_letters_are 1
	assert_eq "$(q "SELECT coalesce(sqlstate, 'NULL') || ' ' || (error LIKE '%3%')::text
	      FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" "NULL true" \
		"an exec program's dead letter: no SQLSTATE, the exit status"
}

test_exec_dead_letters_have_no_sqlstate_k1() { exec_error_case 1; }
test_exec_dead_letters_have_no_sqlstate_k4() { exec_error_case 4; }

# The node leading the partition of durable event $1.
event_leader() {
	q "SELECT s.leader FROM clustered_nodes.cluster_state s JOIN clustered_nodes.events e
	    ON e.cluster = s.cluster AND coalesce(e.partition, 0) = s.partition WHERE e.id = $1"
}
event_attempts_at_least() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.events WHERE id = $1 AND attempts >= $2")" = 1 ]
}

# Two nodes; the leader of a failing durable event's partition is SIGKILLed once the
# table has counted 2 of its attempts; the other node counts on.  $2 reads how many
# times the handler ran.
attempts_failover_case() {
	local k=$1 runs=$2 id leader other n
	shift 2
	start_node "$CLUSTER" node1 --partitions "$k" --max-attempts 6 "$@"
	wait_for "node1 leading" 10000 all_led "$k"
	start_node "$CLUSTER" node2 --partitions "$k" --max-attempts 6 "$@"
	wait_for "node2 up" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" node2)"
	q "SELECT clustered_nodes.notify('test_channel', 'bad-1')" >/dev/null
	# (Earlier tests' clusters subscribe to the channel too: each has its own copy.)
	id=$(q "SELECT id FROM clustered_nodes.events WHERE cluster = '$CLUSTER'")
	wait_for "2 attempts counted" 10000 event_attempts_at_least "$id" 2
	leader=$(event_leader "$id")
	case $leader in node1) other=node2 ;; node2) other=node1 ;; *) fail "event $id led by '$leader'"; return ;; esac
	kill -9 "${NODE_PID[$leader]}"
	wait "${NODE_PID[$leader]}" 2>/dev/null || true
	wait_for "$other leading" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT leader FROM clustered_nodes.cluster_state s JOIN clustered_nodes.events e ON e.cluster = s.cluster AND coalesce(e.partition, 0) = s.partition WHERE e.id = $id\")\" = $other ]" ||
		return
	wait_for "the dead letter" 20000 dead_letters_are 1 || return
	assert_eq "$(q "SELECT attempts FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 6 \
		"attempts the dead letter records"
	n=$($runs)
	# SIGKILL may land after an attempt was committed and before it ran: that one counts
	# although it never ran (never the other way round).
	[ "$n" -ge 5 ] && [ "$n" -le 6 ] || fail "the handler ran $n times for max_attempts 6"
}

test_attempts_are_counted_across_a_failover_sql_k1() { attempts_sql_case 1; }
test_attempts_are_counted_across_a_failover_sql_k4() { attempts_sql_case 4; }

attempts_sql_case() {
	local seq=app."\"${CLUSTER: -45}_runs\"" f=app."\"${CLUSTER: -45}_h\""
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE SEQUENCE $seq; GRANT USAGE ON SEQUENCE $seq TO clustered_nodes_node;
	   CREATE FUNCTION $f(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       PERFORM nextval('$seq');
	       RAISE EXCEPTION 'cannot handle %', p;
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION $f(text) TO clustered_nodes_node" >/dev/null
	SQL_RUNS_SEQ=$seq
	attempts_failover_case "$1" sql_runs --handler-sql "SELECT $f(\$2)"
}
sql_runs() { q "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM $SQL_RUNS_SEQ"; }

test_attempts_are_counted_across_a_failover_exec_k1() { attempts_exec_case 1; }
test_attempts_are_counted_across_a_failover_exec_k4() { attempts_exec_case 4; }

attempts_exec_case() {
	EXEC_RUNS_FILE=$WORK/${CLUSTER: -45}.runs
	: >"$EXEC_RUNS_FILE"
	attempts_failover_case "$1" exec_runs --handler-exec "echo ran >>'$EXEC_RUNS_FILE'; exit 3"
}
exec_runs() { wc -l <"$EXEC_RUNS_FILE"; }
