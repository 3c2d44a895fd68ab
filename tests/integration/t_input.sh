# SPDX-License-Identifier: PostgreSQL
# Integration tests: bad options, missing schema, unreachable database, odd payloads and channels.

# run_bad EXPECTED_SUBSTRING ARGS...: must exit 64 with exactly one line on stderr.
run_bad() {
	local expect=$1 rc=0 err
	shift
	err=$("$ROOT/clustered_nodes" "$@" 2>&1 >/dev/null) || rc=$?
	assert_eq "$rc" 64 "exit status for: $*"
	assert_eq "$(printf '%s\n' "$err" | wc -l)" 1 "lines of error output for: $*"
	[[ "$err" == *"$expect"* ]] || fail "error for '$*' lacks '$expect': $err"
}

test_bad_options_exit_64_with_one_line() {
	run_bad "--poll-interval '0' is out of range" --poll-interval 0
	run_bad "--poll-interval '-1'" --poll-interval -1
	run_bad "--poll-interval 'soon'" --poll-interval soon
	run_bad "--listen '' is empty" --listen ''
	run_bad "longer than 63 bytes" --listen "$(printf 'c%.0s' {1..64})"
	run_bad "control character" --node $'two\nlines'
	run_bad "control character" --cluster $'tab\there'
	run_bad "unknown option '--frobnicate'" --frobnicate
	run_bad "--node needs a value" --node
	run_bad "--dbname is not a valid connection string" --dbname "host=localhost nonsense_option=1"
	run_bad "--acquire 'sometimes' is not a mode" --acquire sometimes
	run_bad "--log-level 'loud' is not a level" --log-level loud
}

test_help_and_version_tell_the_truth() {
	local help opt
	help=$("$ROOT/clustered_nodes" --help)
	for opt in --node --dbname --cluster --listen --poll-interval --acquire \
		--heartbeat-interval --log-level --log-format --config --check --json --help --version; do
		[[ "$help" == *"$opt"* ]] || fail "--help does not mention $opt"
	done
	[[ "$("$ROOT/clustered_nodes" --version)" =~ ^clustered_nodes\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
		fail "--version output"
}

test_missing_schema_exits_78_naming_the_file() {
	local rc=0 out
	q "DROP DATABASE IF EXISTS noschema" >/dev/null
	q "CREATE DATABASE noschema" >/dev/null
	out=$(timeout 10 "$ROOT/clustered_nodes" --node n1 \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=noschema" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status without the schema"
	# The files by name, and where they are (sql/ here: no package is installed).
	[[ "$out" == *"apply 001_cluster_state.sql then"*"from "*"sql/"* ]] || fail "the error does not name the file: $out"
}

test_unreachable_database_is_retried_with_backoff() {
	local log rc attempts
	# A closed port: every attempt fails at once; the node must stay up.
	# (At debug: at info a retry for the same cause is announced once.)
	start_node "$CLUSTER" node1 --dbname "host=127.0.0.1 port=1 connect_timeout=2" --log-level debug
	log=$(node_log "$CLUSTER" node1)
	# (Counted by their retry delays: the first failure's cause is also a warning line.)
	wait_for "three failed attempts" 5000 bash -c "[ \$(grep -c 'reconnecting in [0-9]* ms' '$log') -ge 3 ]"
	alive "${NODE_PID[node1]}" || fail "the node exited"
	# Backoff: the delays announced grow.
	grep -o 'reconnecting in [0-9]* ms\|retrying in [0-9]* ms' "$log" | grep -o '[0-9]*' >"$WORK/$CLUSTER.delays"
	attempts=$(wc -l <"$WORK/$CLUSTER.delays")
	[ "$attempts" -ge 3 ] || fail "only $attempts delays logged"
	[ "$(sed -n 3p "$WORK/$CLUSTER.delays")" -gt "$(sed -n 1p "$WORK/$CLUSTER.delays")" ] ||
		fail "delays do not grow: $(tr '\n' ' ' <"$WORK/$CLUSTER.delays")"
	kill -TERM "${NODE_PID[node1]}"
	rc=0
	wait "${NODE_PID[node1]}" || rc=$?
	unset "NODE_PID[node1]"
	assert_eq "$rc" 0 "exit status after SIGTERM while disconnected"
}

# A login the server refuses (here: no such role) cannot get better by retrying: a
# starting node ends with 77 and says what fixes it (it retried forever before).
test_unknown_role_ends_a_starting_node_with_77() {
	local rc=0 out
	out=$(timeout 20 "$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=no_such_role dbname=postgres" 2>&1) || rc=$?
	assert_eq "$rc" 77 "exit status of a node whose role does not exist"
	[[ "$out" == *'error'*'role "no_such_role" does not exist'*'pg_hba.conf'* ]] || fail "$out"
}

test_odd_payloads_and_channel_names() {
	local channel='My "Odd" Channel' big log
	start_node "$CLUSTER" node1 --listen "$channel" --listen test_channel
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	log=$(node_log "$CLUSTER" node1)
	big=$(head -c 7999 /dev/zero | tr '\0' 'x')
	q_vars "SELECT pg_notify(:'ch', :'p');" -o /dev/null -v ch="$channel" \
		-v p=$'it\'s "quoted", back\\slash\nnew line, z\xc3\xbcrich \xe2\x82\xac'
	q_vars "SELECT pg_notify(:'ch', :'p');" -o /dev/null -v ch=test_channel -v p="$big"
	q_vars "SELECT pg_notify(:'ch', '');" -o /dev/null -v ch=test_channel
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	grep -qF 'channel="My \"Odd\" Channel" payload="it'"'"'s \"quoted\", back\\slash\nnew line, z'$'\xc3\xbc''rich '$'\xe2\x82\xac''"' "$log" ||
		fail "odd payload not logged escaped on one line"
	grep -qF "payload=\"$big\"" "$log" || fail "7999-byte payload not logged whole"
	grep -qF 'payload="" sender_pid' "$log" || fail "empty payload not logged"
	assert_eq "$(received_in "$log")" 3 "log lines"
}
