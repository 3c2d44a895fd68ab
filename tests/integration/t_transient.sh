# SPDX-License-Identifier: PostgreSQL
# Integration tests: transient handler failures are transient.  A handler that fails with
# a serialization failure three times (a sequence counts the tries: it is not rolled
# back with the step) succeeds on the fourth with --max-attempts 2, where a permanent
# failure would have been dead-lettered; with --transient-retries 0 it is.  At K = 1 and
# K = 4.

transient_case() {
	local k=$1 retries=$2 seq=app."\"${CLUSTER: -45}_tries\"" table=app."\"${CLUSTER: -45}_fx\""
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE SEQUENCE $seq; GRANT USAGE ON SEQUENCE $seq TO clustered_nodes_node;
	   CREATE TABLE $table (payload text); GRANT INSERT ON $table TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER: -45}_h\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF nextval('$seq') <= 3 THEN
	           RAISE EXCEPTION 'could not serialize access (test)' USING ERRCODE = '40001';
	       END IF;
	       INSERT INTO $table VALUES (p);
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER: -45}_h\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --partitions "$k" --max-attempts 2 --transient-retries "$retries" \
		--handler-sql "SELECT app.\"${CLUSTER: -45}_h\"(\$2)"
	wait_for "node1 leading" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	q "NOTIFY test_channel, 'busy-row'" >/dev/null
	wait_for "the event settled" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 1 ]"
}

transient_is_retried() {
	transient_case "$1" 10
	assert_eq "$(q "SELECT count(*) FROM app.\"${CLUSTER: -45}_fx\"")" 1 "effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
	grep -q '(transient, retry 3 of 10)' "$(node_log "$CLUSTER" node1)" ||
		fail "no third transient retry logged"
}

transient_off_dead_letters() {
	transient_case "$1" 0
	assert_eq "$(q "SELECT count(*) FROM app.\"${CLUSTER: -45}_fx\"")" 0 "effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 1 "dead letters"
}

test_serialization_failures_are_retried_not_dead_lettered_k1() { transient_is_retried 1; }
test_serialization_failures_are_retried_not_dead_lettered_k4() { transient_is_retried 4; }
test_transient_retries_0_dead_letters_them_k1() { transient_off_dead_letters 1; }
test_transient_retries_0_dead_letters_them_k4() { transient_off_dead_letters 4; }

# Dead letters driven again: back as durable events of their own cluster, under their
# original event ids, processed once the handler works; the node role may not do it.
redrive_case() {
	local k=$1 ok=app."\"${CLUSTER: -45}_ok\"" table=app."\"${CLUSTER: -45}_fx\"" ids id out
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE $ok (x int); GRANT SELECT ON $ok TO clustered_nodes_node;
	   CREATE TABLE $table (payload text); GRANT INSERT ON $table TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER: -45}_h\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF p LIKE 'bad-%' AND NOT EXISTS (SELECT FROM $ok) THEN
	           RAISE EXCEPTION 'cannot handle % yet', p;
	       END IF;
	       INSERT INTO $table VALUES (p);
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER: -45}_h\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --partitions "$k" --max-attempts 2 \
		--handler-sql "SELECT app.\"${CLUSTER: -45}_h\"(\$2)"
	wait_for "node1 leading" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	q "SELECT clustered_nodes.notify('test_channel', p) FROM unnest(ARRAY['bad-1', 'good-1', 'bad-2']) p" >/dev/null
	wait_for "2 dead letters" 15000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'\")\" = 2 ]"
	ids=$(q "SELECT string_agg(event_id::text, ' ' ORDER BY event_id) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")
	out=$(psql -X -At -U cn_node -c "SELECT clustered_nodes.redrive('$CLUSTER')" 2>&1 || true)
	[[ "$out" == *"permission denied"* ]] || fail "the node role redrove: $out"
	q "INSERT INTO $ok VALUES (1)" >/dev/null
	assert_eq "$(q "SELECT clustered_nodes.redrive('$CLUSTER')")" 2 "redriven"
	wait_for "every effect" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM $table\")\" = 3 ]"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER'")" 0 "dead letters"
	assert_eq "$(q "SELECT string_agg(payload, ' ' ORDER BY payload) FROM $table")" "bad-1 bad-2 good-1" "effects"
	for id in $ids; do
		grep -q "Received event: id=$id channel=\"test_channel\" payload=\"bad-" "$(node_log "$CLUSTER" node1)" ||
			fail "event $id was not processed under its own id"
	done
}

test_dead_letters_are_redriven_under_their_event_ids_k1() { redrive_case 1; }
test_dead_letters_are_redriven_under_their_event_ids_k4() { redrive_case 4; }
