# SPDX-License-Identifier: PostgreSQL
# Integration tests: a SQL handler cannot break the leader's session.  A handler that runs
# UNLISTEN *, RESET ALL, SET ROLE or changes a keepalive setting (from inside a function,
# where no start-up check sees it) leaves the leader listening, with its settings and its
# role, and the term unchanged; one that lets the lock go commits nothing; an UNLISTEN at
# the step's commit is seen and undone; a handler statement that ends the transaction is
# refused at start.  At K = 1 and K = 4.

hs_table() { echo "app.\"${CLUSTER:0:50}_fx\""; }
hs_func() { echo "app.\"${CLUSTER:0:50}_h\""; }
hs_terms() {
	q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition)
	   FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'"
}
hs_counted_is() {
	[ "$(q "SELECT coalesce(sum(counter), 0) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")" = "$1" ]
}

# A handler function that misbehaves on cue, then records what its session looks like.
hs_setup() {
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   DO \$\$ BEGIN
	       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_other_role') THEN
	           CREATE ROLE cn_other_role NOLOGIN; END IF; END \$\$;
	   GRANT cn_other_role TO cn_node; GRANT USAGE ON SCHEMA app TO cn_other_role;
	   CREATE TABLE $(hs_table) (payload text, keepalive text, usr text);
	   GRANT INSERT ON $(hs_table) TO clustered_nodes_node, cn_other_role;
	   CREATE FUNCTION $(hs_func)(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF p = 'unlisten' THEN EXECUTE 'UNLISTEN *';
	       ELSIF p = 'reset' THEN EXECUTE 'RESET ALL';
	       ELSIF p = 'role' THEN EXECUTE 'SET ROLE cn_other_role';
	       ELSIF p = 'keepalive' THEN PERFORM set_config('tcp_keepalives_idle', '7200', false);
	       ELSIF p = 'unlock' THEN PERFORM pg_advisory_unlock_all();
	       END IF;
	       INSERT INTO $(hs_table) VALUES (p, current_setting('tcp_keepalives_idle'), current_user);
	   END \$\$;
	   GRANT EXECUTE ON FUNCTION $(hs_func)(text) TO clustered_nodes_node" >/dev/null
}

hs_start() {
	local k=$1 n
	for n in node1 node2; do
		start_node "$CLUSTER" "$n" --partitions "$k" --handler-sql "SELECT $(hs_func)(\$2)"
		wait_for "$n up" 10000 grep -q '→ \(standby\|leader\)\|leading partition' "$(node_log "$CLUSTER" "$n")"
	done
	wait_for "every partition led" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
}

handler_session_case() {
	local k=$1 terms p i
	hs_setup
	hs_start "$k"
	terms=$(hs_terms)
	for p in unlisten reset role keepalive; do
		q "NOTIFY test_channel, '$p'" >/dev/null
	done
	for ((i = 1; i <= 20; i++)); do q "NOTIFY test_channel, 'after-$i'" >/dev/null; done
	wait_for "24 counted" 10000 hs_counted_is 24
	# Later, on its own: the leader still listens.
	q "NOTIFY test_channel, 'late'" >/dev/null
	wait_for "25 counted" 5000 hs_counted_is 25
	assert_eq "$(hs_terms)" "$terms" "terms"
	assert_eq "$(q "SELECT count(*) FROM $(hs_table) WHERE payload LIKE 'after-%' OR payload = 'late'")" 21 "effects after the misbehaviour"
	assert_eq "$(q "SELECT string_agg(DISTINCT keepalive || '/' || usr, ',') FROM $(hs_table)
	                WHERE payload LIKE 'after-%' OR payload = 'late'")" "5/cn_node" "the session's settings and role in later steps"
	! grep -q 'session lost\|reconnecting\|superseded' "$(node_log "$CLUSTER" node1)" ||
		fail "the session was reset: $(grep -m2 'session lost\|reconnecting\|superseded' "$(node_log "$CLUSTER" node1)")"
}

test_handler_cannot_break_the_session_k1() { handler_session_case 1; }
test_handler_cannot_break_the_session_k4() { handler_session_case 4; }

# pg_advisory_unlock_all() in a handler: the step that let the lock go commits nothing, so
# no effect is ever committed by a session that no longer holds the lock.
handler_unlock_case() {
	local k=$1 i
	hs_setup
	hs_start "$k"
	q "NOTIFY test_channel, 'unlock'" >/dev/null
	for ((i = 1; i <= 5; i++)); do q "NOTIFY test_channel, 'after-$i'" >/dev/null; done
	wait_for "every partition led again" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_locks l ON l.pid = s.leader_pid AND l.locktype = 'advisory' AND ((l.classid::int8 << 32) | l.objid::int8) = s.lock_key WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	q "NOTIFY test_channel, 'late'" >/dev/null
	wait_for "the late one processed" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM $(hs_table) WHERE payload = 'late'\")\" = 1 ]"
	assert_eq "$(q "SELECT count(*) FROM $(hs_table) WHERE payload = 'unlock'")" 0 "effects of the step that let the lock go"
	grep -q 'let the leader lock go' "$(node_log "$CLUSTER" node1)" "$(node_log "$CLUSTER" node2)" ||
		fail "no node said the handler let the lock go"
}

test_handler_that_unlocks_commits_nothing_k1() { handler_unlock_case 1; }
test_handler_that_unlocks_commits_nothing_k4() { handler_unlock_case 4; }

# An UNLISTEN that runs after the node's own restore, at the step's commit (a deferred
# constraint trigger): the leader's check of pg_listening_channels() sees it, /readyz and
# /healthz say so, and the session listens again; a notification sent afterwards is
# processed, the term unchanged.
deaf_case() {
	local k=$1 port url terms t=app."\"${CLUSTER: -45}_d\"" f=app."\"${CLUSTER: -45}_deafen\""
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE $t (payload text); GRANT INSERT ON $t TO clustered_nodes_node;
	   CREATE FUNCTION $f() RETURNS trigger LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF NEW.payload = 'deafen' THEN EXECUTE 'UNLISTEN *'; END IF;
	       RETURN NULL;
	   END \$\$;
	   CREATE CONSTRAINT TRIGGER deafen AFTER INSERT ON $t DEFERRABLE INITIALLY DEFERRED
	       FOR EACH ROW EXECUTE FUNCTION $f()" >/dev/null
	port=$(free_port)
	url=http://127.0.0.1:$port
	start_node "$CLUSTER" node1 --partitions "$k" --http "$port" --handler-sql "INSERT INTO $t VALUES (\$2)"
	wait_for "every partition led" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$CLUSTER'\")\" = $k ]"
	wait_for "ready" 5000 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/readyz)\" = 200 ]"
	terms=$(hs_terms)
	q "NOTIFY test_channel, 'deafen'" >/dev/null
	wait_for "/readyz: not listening" 10000 bash -c "curl -s $url/readyz | grep -q 'does not listen on all of their channels'"
	assert_eq "$(http_code "$url/healthz")" 503 "/healthz while not listening"
	wait_for "/readyz: ready again" 10000 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/readyz)\" = 200 ]"
	q "NOTIFY test_channel, 'after'" >/dev/null
	wait_for "2 counted" 5000 hs_counted_is 2
	assert_eq "$(hs_terms)" "$terms" "terms"
}

test_handler_unlisten_at_commit_is_seen_and_undone_k1() { deaf_case 1; }
test_handler_unlisten_at_commit_is_seen_and_undone_k4() { deaf_case 4; }

test_handler_statement_that_ends_the_transaction_is_refused_at_start() {
	local rc=0 out
	out=$("$ROOT/clustered_nodes" --node n --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--handler-sql "  /* no */ ROLLBACK" 2>&1) || rc=$?
	assert_eq "$rc" 64 "exit status"
	[[ "$out" == *"ends the step's transaction (ROLLBACK)"* ]] || fail "$out"
	rc=0
	out=$("$ROOT/clustered_nodes" --node n --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" \
		--handler-sql "SET ROLE nobody" 2>&1) || rc=$?
	assert_eq "$rc" 64 "exit status of SET ROLE"
}
