# SPDX-License-Identifier: PostgreSQL
# Integration tests: config file, --check, status, membership, reload, roles, logs.

# cn ARGS...: the binary against the test server as the node role.
cn() { "$ROOT/clustered_nodes" "$@"; }

conf() { echo "$WORK/$CLUSTER.conf"; }

test_option_table_matches_help_config_and_man_pages() {
	"$ROOT/etc/optscan.sh" "$ROOT/clustered_nodes"
}

test_check_reports_ok_unreachable_and_missing_schema() {
	local out rc
	out=$(cn --check --dbname "$NODE_CONNINFO" 2>&1)
	[[ "$out" == *"configuration OK"* ]] || fail "--check: $out"
	rc=0
	cn --check --dbname "host=127.0.0.1 port=1 connect_timeout=2" >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 69 "--check exit status with the database unreachable"
	q "DROP DATABASE IF EXISTS check_empty" >/dev/null
	q "CREATE DATABASE check_empty" >/dev/null
	rc=0
	out=$(cn --check --dbname "host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=check_empty" 2>&1) || rc=$?
	assert_eq "$rc" 78 "--check exit status without the schema"
	[[ "$out" == *"from 001 on"* ]] || fail "--check does not say what to apply: $out"
}

test_config_file_settings_and_precedence_reach_the_node() {
	local rc
	cat >"$(conf)" <<-CONF
	[clustered_nodes]
	dbname = $NODE_CONNINFO
	cluster = wrong_cluster
	listen = from_file
	poll_interval = 50ms
	CONF
	# The environment beats the file, the command line beats both.
	CLUSTERED_NODES_CLUSTER=$CLUSTER CLUSTERED_NODES_LISTEN=from_env \
		"$ROOT/clustered_nodes" --config "$(conf)" --node node1 --listen from_cli \
		>>"$(node_log "$CLUSTER" node1)" 2>&1 &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	grep -q 'poll_interval=50ms' "$(node_log "$CLUSTER" node1)" || fail "file's poll_interval not used"
	send_notifications from_env 1 env
	send_notifications from_cli 1 cli
	wait_for "counter 1" 5000 counter_is "$CLUSTER" 1
	assert_eq "$(received_total "$CLUSTER")" 1 "only the command line's channel is listened"
	grep -q 'channel="from_cli"' "$(node_log "$CLUSTER" node1)" || fail "from_cli not processed"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = 'wrong_cluster'")" 0 "file's cluster overridden"
}

test_bad_config_files_exit_78_with_file_and_line() {
	local rc err
	printf 'cluster = a\n\npoll_interval = 0\n' >"$(conf)"
	rc=0
	err=$(cn --config "$(conf)" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a bad value"
	assert_eq "$err" "clustered_nodes: $(conf):3: poll_interval '0' is out of range (1ms to 1h)" "error line"
	printf 'colour = blue\n' >"$(conf)"
	rc=0
	err=$(cn --config "$(conf)" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for an unknown key"
	[[ "$err" == *"$(conf):1: unknown key 'colour'"* ]] || fail "$err"
	rc=0
	err=$(cn --config "$WORK" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a directory"
	[[ "$err" == *"is a directory"* ]] || fail "$err"
	rc=0
	err=$(cn --config "$WORK/absent.conf" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a missing file"
	rc=0
	err=$(CLUSTERED_NODES_ACQUIRE=sometimes cn 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a bad environment value"
	[[ "$err" == *"CLUSTERED_NODES_ACQUIRE 'sometimes'"* ]] || fail "$err"
}

json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

test_status_with_leader_text_and_json() {
	local leader out rc json
	start_node "$CLUSTER" node1
	start_node "$CLUSTER" node2
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	leader=$(leader_ready "$CLUSTER")
	wait_for "two members" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'\")\" = 2 ]"
	send_notifications test_channel 3 s
	wait_for "counter 3" 5000 counter_is "$CLUSTER" 3
	rc=0
	out=$(cn status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO") || rc=$?
	assert_eq "$rc" 0 "status exit status with a leader"
	[[ "$out" == *"counter   3"* ]] || fail "status text lacks the counter: $out"
	[[ "$out" == *"lock      held by backend pid"*"clustered_nodes:$leader"* ]] || fail "status text lacks the holder: $out"
	[[ "$out" != *"problems:"* ]] || fail "status reports problems: $out"
	json=$(cn status --json --cluster "$CLUSTER" --dbname "$NODE_CONNINFO")
	assert_eq "$(json_field "d['counter']" <<<"$json")" 3 "JSON counter"
	assert_eq "$(json_field "d['leader']" <<<"$json")" "$leader" "JSON leader"
	assert_eq "$(json_field "d['lock_holder']['pid'] == d['leader_pid']" <<<"$json")" True "JSON holder is the leader"
	assert_eq "$(json_field "sorted((m['node'], m['role'], m['session']) for m in d['members'])" <<<"$json")" \
		"$(python3 -c "print(sorted([('node1', 'leader' if '$leader' == 'node1' else 'standby', 'live'), ('node2', 'leader' if '$leader' == 'node2' else 'standby', 'live')]))")" "JSON members"
	assert_eq "$(json_field "d['problems']" <<<"$json")" "[]" "JSON problems"
}

test_status_without_leader_and_with_a_stale_row() {
	local rc out
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	# SIGKILL of every node leaves cluster_state naming a leader nobody is.
	kill_nodes
	wait_for "the lock freed" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'clustered_nodes:node1'\")\" = 0 ]"
	rc=0
	out=$(cn status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO") || rc=$?
	assert_eq "$rc" 2 "status exit status without a leader"
	[[ "$out" == *"stale leader row: cluster_state names node1"* ]] || fail "no stale-row problem: $out"
	[[ "$out" == *"member node1: its session is gone"* ]] || fail "no gone member: $out"
	rc=0
	out=$(cn status --json --cluster "$CLUSTER" --dbname "$NODE_CONNINFO") || rc=$?
	assert_eq "$rc" 2 "status --json exit status without a leader"
	assert_eq "$(json_field "d['lock_holder']" <<<"$out")" None "JSON holder"
	# A cluster no node ever ran in is a typo more often than not: named, with 78
	# (it was "no leader has ever been elected" and 2; t_first_hour.sh has the rest).
	rc=0
	cn status --cluster never_used_cluster --dbname "$NODE_CONNINFO" >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 78 "status of a cluster that never ran"
}

test_duplicate_live_node_name_is_refused_but_a_restart_is_not() {
	local rc out
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	rc=0
	out=$(timeout 10 "$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status of a second live node1"
	[[ "$out" == *'another node named "node1" is running'* ]] || fail "$out"
	alive "${NODE_PID[node1]}" || fail "the first node1 died"
	assert_eq "$(leader_ready "$CLUSTER")" node1 "leader after the refused duplicate"
	# A crashed node restarted at once under the same name (as systemd does) is accepted.
	{ kill -9 "${NODE_PID[node1]}"; wait "${NODE_PID[node1]}"; } 2>/dev/null || true
	start_node "$CLUSTER" node1
	wait_for "node1 leading again" 5000 leader_ready "$CLUSTER" 1
	alive "${NODE_PID[node1]}" || fail "the restarted node1 exited"
}

test_members_roles_heartbeats_and_clean_leave() {
	local leader standby hb1 rc
	start_node "$CLUSTER" node1 --heartbeat-interval 200ms
	start_node "$CLUSTER" node2 --heartbeat-interval 200ms
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	leader=$(leader_ready "$CLUSTER")
	standby=node1
	[ "$leader" = node1 ] && standby=node2
	wait_for "roles recorded" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT string_agg(node || ':' || role, ',' ORDER BY node) FROM clustered_nodes.members WHERE cluster = '$CLUSTER'\")\" = '$(for n in node1 node2; do [ $n = "$leader" ] && printf '%s:leader' $n || printf '%s:standby' $n; [ $n = node1 ] && printf ,; done)' ]"
	assert_eq "$(q "SELECT m.term = s.term FROM clustered_nodes.members m JOIN clustered_nodes.cluster_state s USING (cluster) WHERE m.cluster = '$CLUSTER' AND m.node = '$leader'")" t "leader's member term"
	assert_eq "$(q "SELECT application_name FROM pg_stat_activity a JOIN clustered_nodes.members m ON a.pid = m.backend_pid WHERE m.cluster = '$CLUSTER' AND m.node = '$standby'")" "clustered_nodes:$standby" "application_name"
	for n in "$leader" "$standby"; do
		hb1=$(q "SELECT heartbeat_at FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = '$n'")
		wait_for "$n's heartbeat to advance" 3000 bash -c "[ \"\$(psql -X -At -c \"SELECT heartbeat_at > '$hb1' FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = '$n'\")\" = t ]"
	done
	kill -TERM "${NODE_PID[$standby]}"
	rc=0
	wait "${NODE_PID[$standby]}" || rc=$?
	unset "NODE_PID[$standby]"
	assert_eq "$rc" 0 "exit status of the stopped standby"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = '$standby'")" 0 "the stopped standby's row"
}

test_sighup_reloads_what_it_can_and_names_the_rest() {
	local log
	log=$(node_log "$CLUSTER" node1)
	printf 'dbname = %s\ncluster = %s\npoll_interval = 100ms\nlog_level = info\n' "$NODE_CONNINFO" "$CLUSTER" >"$(conf)"
	"$ROOT/clustered_nodes" --config "$(conf)" --node node1 >>"$log" 2>&1 &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	printf 'dbname = %s\ncluster = %s\npoll_interval = 250ms\nlog_level = debug\nacquire = wait\n' "$NODE_CONNINFO" "$CLUSTER" >"$(conf)"
	kill -HUP "${NODE_PID[node1]}"
	wait_for "the reload logged" 5000 grep -q 'SIGHUP: poll_interval changed: 100ms → 250ms' "$log"
	grep -q 'SIGHUP: log_level changed: info → debug' "$log" || fail "log_level not reloaded"
	grep -q 'SIGHUP: acquire changed (poll → wait) but needs a restart' "$log" || fail "acquire not named as needing a restart"
	send_notifications test_channel 1 after_reload
	wait_for "a debug line" 5000 grep -q ' debug \[node1\] state leader → processing' "$log"
	# A broken file on reload keeps the running configuration.
	printf 'poll_interval = never\n' >"$(conf)"
	kill -HUP "${NODE_PID[node1]}"
	wait_for "the refusal logged" 5000 grep -q 'configuration not reloaded, keeping the current one' "$log"
	alive "${NODE_PID[node1]}" || fail "a bad reload killed the node"
	send_notifications test_channel 1 after_bad_reload
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
}

# A standby's wait on the handoff key lasts a look interval (lease_timeout / 4, at most
# heartbeat_interval), which a SIGHUP that changes heartbeat_interval shortens from the next
# wait on: here from 5 s to 400 ms.
test_sighup_of_heartbeat_interval_shortens_a_standbys_waits() {
	local log ends
	log=$(node_log "$CLUSTER" node2)
	start_node "$CLUSTER" node1 --lease-timeout 60s
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	printf 'dbname = %s\ncluster = %s\nlease_timeout = 60s\nheartbeat_interval = 5s\nlog_level = debug\n' \
		"$NODE_CONNINFO" "$CLUSTER" >"$(conf)"
	"$ROOT/clustered_nodes" --config "$(conf)" --node node2 >>"$log" 2>&1 &
	NODE_PID[node2]=$!
	wait_for "node2 waiting on the handoff key" 5000 grep -q 'waiting for the leader to hand over' "$log"
	printf 'dbname = %s\ncluster = %s\nlease_timeout = 60s\nheartbeat_interval = 400ms\nlog_level = debug\n' \
		"$NODE_CONNINFO" "$CLUSTER" >"$(conf)"
	kill -HUP "${NODE_PID[node2]}"
	wait_for "the reload logged" 5000 grep -q 'SIGHUP: heartbeat_interval changed: 5000ms → 400ms' "$log"
	# The wait in flight runs out (5 s at most); then a wait ends every 400 ms.
	ends=$(grep -c 'the handoff key was let go, or the wait ended' "$log" || true)
	wait_for "five waits over" 9000 bash -c "[ \$(grep -c 'the handoff key was let go, or the wait ended' '$log') -ge $((ends + 5)) ]"
	assert_eq "$(leader_ready "$CLUSTER")" node1 "the leader"
}

test_nodes_run_under_the_least_privilege_role() {
	local out
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	assert_eq "$(q "SELECT usename FROM pg_stat_activity WHERE application_name = 'clustered_nodes:node1'")" cn_node "the node's role"
	assert_eq "$(q "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'cn_node'")" f "cn_node's attributes"
	for sql in "DELETE FROM clustered_nodes.cluster_state" "TRUNCATE clustered_nodes.members" \
		"CREATE TABLE clustered_nodes.x (i int)" "DROP TABLE clustered_nodes.cluster_state" \
		"INSERT INTO clustered_nodes.schema_migrations VALUES (99, 'x')"; do
		out=$(psql -X -At -U cn_node -c "$sql" 2>&1) && fail "cn_node may: $sql"
		[[ "$out" == *"permission denied"* || "$out" == *"must be owner"* ]] || fail "$sql: $out"
	done
}

test_password_in_conninfo_is_never_printed() {
	local secret=s3cret_never_printed out log
	log=$(node_log "$CLUSTER" node1)
	# trust authentication ignores the password; it must still never appear.
	start_node "$CLUSTER" node1 --dbname "$NODE_CONNINFO password=$secret" --log-level debug
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	kill -HUP "${NODE_PID[node1]}"
	send_notifications test_channel 1 x
	wait_for "counter 1" 5000 counter_is "$CLUSTER" 1
	out=$(cn --check --dbname "$NODE_CONNINFO password=$secret" 2>&1; cn status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO password=$secret" 2>&1;
		cn --dbname "password=$secret bogus" 2>&1; cn --dbname "host=127.0.0.1 port=1 password=$secret" --check 2>&1) || true
	kill -TERM "${NODE_PID[node1]}"
	wait "${NODE_PID[node1]}" || true
	unset "NODE_PID[node1]"
	grep -q "$secret" "$log" && fail "the password is in the node's log"
	[[ "$out" != *"$secret"* ]] || fail "the password is in --check/status/error output: $out"
	[ -s "$log" ] || fail "empty log"
}

test_json_log_format_is_one_object_per_line() {
	local log
	log=$(node_log "$CLUSTER" node1)
	start_node "$CLUSTER" node1 --log-format json
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	q_vars "SELECT pg_notify('test_channel', :'p');" -o /dev/null -v p=$'quote" back\\ nl\n end'
	wait_for "counter 1" 5000 counter_is "$CLUSTER" 1
	python3 - "$log" <<-'PY'
	import json, sys
	lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
	records = [json.loads(l) for l in lines]
	assert all(set(r) == {'ts', 'level', 'node', 'msg'} for r in records), records
	assert all(r['ts'].endswith('Z') and r['node'] == 'node1' for r in records)
	assert any('Received message' in r['msg'] and 'counter=0' in r['msg'] for r in records)
	assert any('→ leader' in r['msg'] for r in records)
	PY
}

test_migrations_apply_again_and_in_steps_with_live_nodes() {
	local leader rc out
	start_node "$CLUSTER" node1
	start_node "$CLUSTER" node2
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	leader=$(leader_ready "$CLUSTER")
	# Every migration and the role file again, while the nodes run.
	apply_schema >/dev/null
	send_notifications test_channel 2 after
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
	assert_eq "$(leader_ready "$CLUSTER")" "$leader" "leader after re-applying the migrations"
	# A fresh database upgraded step by step: each version short of 11 is
	# refused to a partitioned node, naming the files still to apply; the
	# single-leader mode runs from version 8 on; --check warns one short of
	# the newest version, naming its file.
	q "DROP DATABASE IF EXISTS stepwise" >/dev/null
	q "CREATE DATABASE stepwise" >/dev/null
	local files=("$ROOT"/sql/[0-9][0-9][0-9]_*.sql) v
	local stepwise="host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=stepwise"
	for ((v = 1; v <= ${#files[@]}; v++)); do
		psql -X -q -v ON_ERROR_STOP=1 -d stepwise -f "${files[v - 1]}"
		[ "$v" -eq "${#files[@]}" ] && break
		if [ "$v" -lt 11 ]; then
			rc=0
			out=$(timeout 10 "$ROOT/clustered_nodes" --node s1 --partitions 2 --dbname "$stepwise" 2>&1) || rc=$?
			assert_eq "$rc" 78 "exit status of a partitioned node at schema version $v"
			[[ "$out" == *"at version $v"*"$(basename "${files[v]}")"* ]] || fail "$out"
		fi
		rc=0
		out=$(cn --check --dbname "$stepwise" 2>&1) || rc=$?
		assert_eq "$rc" "$([ "$v" -ge 8 ] && echo 0 || echo 78)" "--check of the single-leader mode at schema version $v"
		# One short of the newest: the warning names the newest file.
		[ "$v" -lt $((${#files[@]} - 1)) ] || [[ "$out" == *warning*"$(basename "${files[v]}")"* ]] ||
			fail "--check at version $v: $out"
	done
	out=$(cn --check --dbname "host=127.0.0.1 port=$PGTMP_PORT user=postgres dbname=stepwise" 2>&1)
	[[ "$out" == *"schema version ${#files[@]}"*"configuration OK"* ]] || fail "$out"
}

test_a_stalled_log_reader_does_not_stall_the_node() {
	local fifo=$WORK/$CLUSTER.fifo reader
	mkfifo "$fifo"
	# A reader that opens the pipe and never reads: the pipe fills after 64 KiB.
	sleep 600 <"$fifo" &
	reader=$!
	"$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>"$fifo" &
	NODE_PID[node1]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	# About 200 KiB of log lines: far more than the pipe holds.
	send_notifications test_channel 1500 "a-longer-payload-so-that-each-log-line-is-about-one-hundred-and-sixty-bytes"
	wait_for "counter 1500 with nobody reading the log" 15000 counter_is "$CLUSTER" 1500
	kill "$reader" 2>/dev/null || true
	wait "$reader" 2>/dev/null || true
}
