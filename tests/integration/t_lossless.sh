# SPDX-License-Identifier: PostgreSQL
# Integration tests: a planned move loses no plain notification and processes none twice
# (sql/013).  A steady stream of numbered plain NOTIFYs at about 500/s while the leader is
# SIGTERMed 10 times (K = 1), and while nodes join and leave 10 times (K = 8, 3 to 5
# nodes): every number sent is processed exactly once.  What was sent and what was
# processed are read from tables, never from the nodes' logs.

# app."<cluster>_sent": every number the stream committed, in the NOTIFY's transaction;
# app."<cluster>_seen": one row per processing of a number, written by the SQL handler in
# the step's transaction.
make_stream_tables() {
	local t="${CLUSTER: -45}"

	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE app.\"${t}_sent\" (n integer PRIMARY KEY);
	   CREATE TABLE app.\"${t}_seen\" (n integer NOT NULL);
	   CREATE TABLE app.\"${t}_stop\" (stop boolean);
	   GRANT INSERT ON app.\"${t}_seen\" TO clustered_nodes_node" >/dev/null
	SEEN_HANDLER="INSERT INTO app.\"${t}_seen\" (n) VALUES (\$2::integer)"
}

# Sends 1, 2, ... on CHANNEL, one transaction each, about one every 2 ms, until
# stop_stream; runs in the background (its pid in STREAM_PID).
start_stream() {
	local t="${CLUSTER: -45}"

	pgtmp_psql -v ch="$1" >/dev/null 2>&1 <<-EOF &
	DO \$\$
	DECLARE
	    t0 timestamptz := clock_timestamp();
	    i integer := 0;
	BEGIN
	    LOOP
	        i := i + 1;
	        INSERT INTO app."${t}_sent" VALUES (i);
	        PERFORM pg_notify('$1', i::text);
	        COMMIT;
	        EXIT WHEN EXISTS (SELECT 1 FROM app."${t}_stop");
	        PERFORM pg_sleep(greatest(0, extract(epoch FROM t0 + i * interval '2 ms' - clock_timestamp())));
	    END LOOP;
	END \$\$;
	EOF
	STREAM_PID=$!
}

stop_stream() {
	q "INSERT INTO app.\"${CLUSTER: -45}_stop\" VALUES (true)" >/dev/null
	wait "$STREAM_PID"
}

sent_count() { q "SELECT count(*) FROM app.\"${CLUSTER: -45}_sent\""; }
sent_over() { [ "$(sent_count)" -gt "$1" ]; }

# Every sent number processed (processed twice is checked after).
all_seen() {
	local t="${CLUSTER: -45}"

	[ "$(q "SELECT count(*) FROM app.\"${t}_sent\" s
		WHERE NOT EXISTS (SELECT 1 FROM app.\"${t}_seen\" x WHERE x.n = s.n)")" == 0 ]
}

# Exactly once: nothing missing, nothing twice, nothing that was not sent.
assert_exactly_once() {
	local t="${CLUSTER: -45}" sent missing twice
	sent=$(sent_count)
	[ "$sent" -ge 2000 ] || fail "the stream sent only $sent numbers" || return 1
	wait_for "every number processed" 30000 all_seen || true
	missing=$(q "SELECT count(*) FROM app.\"${t}_sent\" s
		WHERE NOT EXISTS (SELECT 1 FROM app.\"${t}_seen\" x WHERE x.n = s.n)")
	twice=$(q "SELECT count(*) - count(DISTINCT n) FROM app.\"${t}_seen\"")
	assert_eq "$missing" 0 "numbers of $sent never processed" || return 1
	assert_eq "$twice" 0 "numbers of $sent processed twice" || return 1
	assert_eq "$(q "SELECT count(*) FROM app.\"${t}_seen\" x
		WHERE NOT EXISTS (SELECT 1 FROM app.\"${t}_sent\" s WHERE s.n = x.n)")" 0 \
		"numbers processed that were never sent"
}

registrations_of() { grep -c '→ standby: registered' "$(node_log "$CLUSTER" "$1")" || true; }
registered_again() { [ "$(registrations_of "$1")" -gt "$2" ]; }

# Node NAME holds at least one of the cluster's 8 partitions.
node_leads_some() {
	case " $(led_counts "$1" 8) " in *" $2="*) return 0 ;; esac
	return 1
}

test_sigterm_handoffs_lose_no_plain_notification_k1() {
	local ch=ll_k1 i leader term rc registered

	apply_schema || return 1
	make_stream_tables
	for n in node1 node2 node3; do
		start_node "$CLUSTER" "$n" --listen "$ch" --handler-sql "$SEEN_HANDLER"
	done
	wait_for "a leader" 5000 leader_ready "$CLUSTER" >/dev/null || return 1
	start_stream "$ch"
	wait_for "the stream flowing" 5000 sent_over 200 || return 1
	for ((i = 1; i <= 10; i++)); do
		wait_for "250 more numbers sent before move $i" 5000 sent_over $((i * 250)) || return 1
		term=$(term_of "$CLUSTER")
		leader=$(leader_ready "$CLUSTER") || return 1
		kill -TERM "${NODE_PID[$leader]}"
		rc=0
		wait "${NODE_PID[$leader]}" || rc=$?
		assert_eq "$rc" 0 "exit status of $leader after SIGTERM ($i)" || return 1
		wait_for "a new leader after hand-over $i" 5000 leader_ready "$CLUSTER" "$term" \
			>/dev/null || return 1
		registered=$(registrations_of "$leader")
		start_node "$CLUSTER" "$leader" --listen "$ch" --handler-sql "$SEEN_HANDLER"
		wait_for "$leader standing by again" 5000 registered_again "$leader" "$registered" \
			|| return 1
	done
	stop_stream
	assert_exactly_once || return 1
	# The moves did forward: a test whose hand-overs never overlapped the stream proves
	# nothing.
	assert_eq "$(q "SELECT count(*) > 0 FROM app.\"${CLUSTER: -45}_seen\"")" t "anything seen"
}

# Joins and leaves of a K = 8 cluster: every join moves partitions to the new node by
# hand-over, every leave (SIGTERM) hands all of the node's partitions over.
test_joins_and_leaves_lose_no_plain_notification_k8() {
	local ch=ll_k8 i n next=4 victim rc
	local -a live=(node1 node2 node3)

	apply_schema || return 1
	make_stream_tables
	for n in "${live[@]}"; do
		start_node "$CLUSTER" "$n" --partitions 8 --listen "$ch" --handler-sql "$SEEN_HANDLER"
	done
	wait_for "every partition led" 10000 partitions_ready "$CLUSTER" 8 || return 1
	start_stream "$ch"
	wait_for "the stream flowing" 5000 sent_over 200 || return 1
	for ((i = 1; i <= 10; i++)); do
		wait_for "250 more numbers sent before move $i" 5000 sent_over $((i * 250)) || return 1
		if (( ${#live[@]} < 5 && (i % 2 == 1 || ${#live[@]} <= 3) )); then
			n=node$next
			next=$((next + 1))
			start_node "$CLUSTER" "$n" --partitions 8 --listen "$ch" \
				--handler-sql "$SEEN_HANDLER"
			live+=("$n")
			wait_for "$n leading its share (move $i)" 10000 node_leads_some "$CLUSTER" "$n" \
				|| return 1
		else
			victim=${live[$((i % ${#live[@]}))]}
			kill -TERM "${NODE_PID[$victim]}"
			rc=0
			wait "${NODE_PID[$victim]}" || rc=$?
			assert_eq "$rc" 0 "exit status of $victim after SIGTERM (move $i)" || return 1
			live=("${live[@]/$victim}")
			live=(${live[@]})
		fi
		wait_for "every partition led (move $i)" 10000 partitions_ready "$CLUSTER" 8 \
			|| return 1
	done
	stop_stream
	assert_exactly_once
}

# One listener (sql/015): the listener, partition 0's leader, is SIGTERMed 6 times while
# the stream flows (K = 8, 4 nodes).  Its hand-over of partition 0 moves the listening
# and the relaying of every other partition to the next leader of partition 0: nothing
# is lost or processed twice, whatever partition each number belongs to.
test_listener_handoffs_lose_no_plain_notification_k8() {
	local ch=ll_lis i n listener term rc registered

	apply_schema || return 1
	make_stream_tables
	for n in node1 node2 node3 node4; do
		start_node "$CLUSTER" "$n" --partitions 8 --listen "$ch" --handler-sql "$SEEN_HANDLER"
	done
	wait_for "every partition led" 10000 partitions_ready "$CLUSTER" 8 || return 1
	start_stream "$ch"
	wait_for "the stream flowing" 5000 sent_over 200 || return 1
	for ((i = 1; i <= 6; i++)); do
		wait_for "250 more numbers sent before move $i" 5000 sent_over $((i * 250 + 200)) || return 1
		listener=$(q "SELECT leader FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND partition = 0")
		term=$(q "SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND partition = 0")
		kill -TERM "${NODE_PID[$listener]}"
		rc=0
		wait "${NODE_PID[$listener]}" || rc=$?
		assert_eq "$rc" 0 "exit status of $listener after SIGTERM ($i)" || return 1
		wait_for "partition 0 led again (move $i)" 10000 p0_led_after "$term" || return 1
		registered=$(registrations_of "$listener")
		start_node "$CLUSTER" "$listener" --partitions 8 --listen "$ch" --handler-sql "$SEEN_HANDLER"
		wait_for "$listener standing by again" 5000 registered_again "$listener" "$registered" \
			|| return 1
		wait_for "every partition led (move $i)" 10000 partitions_ready "$CLUSTER" 8 || return 1
	done
	# The moves wait for 1,700 numbers; on a fast machine they are over before the
	# stream reaches the 2,000 that assert_exactly_once asks for, so the stream runs on
	# past the last move until it does.
	wait_for "2,000 numbers sent" 10000 sent_over 1999 || return 1
	stop_stream
	assert_exactly_once
}

p0_led_after() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s
		JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$CLUSTER' AND s.partition = 0 AND s.term > $1")" = 1 ]
}
