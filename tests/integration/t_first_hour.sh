# SPDX-License-Identifier: PostgreSQL
# Integration tests: what an operator meets first.  A refused login, a login without
# grants and an unknown cluster are named, with their fix and their own exit status, by
# the node (at K = 1 and K > 1), --check, status and history; a node that has run keeps
# retrying a refused login and says so once, then recovers.

# A login that needs a password (scram) over TCP, in the node role's group.
PW_ROLE=cn_pw_node

password_login_ready() {
	! PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p "$PGTMP_PORT" -U "$PW_ROLE" -d postgres \
		-c "SELECT 1" >/dev/null 2>&1
}

setup_password_login() {
	local hba
	q "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PW_ROLE') THEN
			CREATE ROLE $PW_ROLE LOGIN IN ROLE clustered_nodes_node;
		END IF; END \$\$" >/dev/null
	q "ALTER ROLE $PW_ROLE PASSWORD 'right-password'" >/dev/null
	hba=$(q "SHOW hba_file")
	if ! grep -q "^host all $PW_ROLE " "$hba"; then
		{ echo "host all $PW_ROLE 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new"
		cat "$hba.new" >"$hba" && rm -f "$hba.new"
		q "SELECT pg_reload_conf()" >/dev/null
	fi
	wait_for "pg_hba.conf asks $PW_ROLE for a password" 5000 password_login_ready
}

pw_conninfo() { echo "host=127.0.0.1 port=$PGTMP_PORT user=$PW_ROLE dbname=postgres password=$1"; }

# run_until_exit SECONDS CMD...: the command's exit status, or 124 if it still runs.
run_until_exit() {
	local secs=$1
	shift
	timeout "$secs" "$@"
}

# expect_exit RC PATTERN WHAT CMD...: CMD (bounded to 20 s) exits RC and its output
# matches the glob PATTERN (quotes in it are literal).
expect_exit() {
	local want=$1 pattern=$2 what=$3 rc=0 out
	shift 3
	out=$(run_until_exit 20 "$@" 2>&1) || rc=$?
	assert_eq "$rc" "$want" "$what: exit status"
	[[ "$out" == $pattern ]] || fail "$what: output lacks $pattern: $out"
}

test_a_wrong_password_ends_a_starting_node_with_77_and_says_why_at_every_k() {
	local k rc out
	setup_password_login
	for k in 1 4; do
		rc=0
		out=$(PGPASSFILE=/dev/null run_until_exit 20 "$ROOT/clustered_nodes" --node n1 \
			--cluster "$CLUSTER" --partitions $k --log-level warn \
			--dbname "$(pw_conninfo wrong)" 2>&1) || rc=$?
		assert_eq "$rc" 77 "K = $k: exit status of a node whose password is wrong"
		[[ "$out" == *"error"*"password authentication failed for user \"$PW_ROLE\""*".pgpass"* ]] ||
			fail "K = $k: no error line naming the cause and the fix at --log-level warn: $out"
		[[ "$out" != *"right-password"* && "$out" != *"password=wrong"* ]] || fail "a password printed: $out"
	done
	# No password at all (none in the string, an empty password file): the same.
	rc=0
	out=$(PGPASSFILE=/dev/null run_until_exit 20 "$ROOT/clustered_nodes" --node n1 \
		--cluster "$CLUSTER" --dbname "host=127.0.0.1 port=$PGTMP_PORT user=$PW_ROLE dbname=postgres" 2>&1) || rc=$?
	assert_eq "$rc" 77 "exit status of a node without a password"
	[[ "$out" == *"no password supplied"* ]] || fail "$out"
	# The one-shot commands: 77, one line, the fix.
	for cmd in --check status history; do
		rc=0
		out=$(PGPASSFILE=/dev/null "$ROOT/clustered_nodes" $cmd --cluster "$CLUSTER" \
			--dbname "$(pw_conninfo wrong)" 2>&1) || rc=$?
		assert_eq "$rc" 77 "$cmd: exit status with a wrong password"
		assert_eq "$(wc -l <<<"$out")" 1 "$cmd: one line: $out"
		[[ "$out" == *"password authentication failed"*"runuser -u clustered_nodes"* ]] || fail "$cmd: $out"
	done
	# The right password works, through a password file as the README says.
	printf '127.0.0.1:%s:postgres:%s:right-password\n' "$PGTMP_PORT" "$PW_ROLE" >"$WORK/$CLUSTER.pgpass"
	chmod 600 "$WORK/$CLUSTER.pgpass"
	out=$(PGPASSFILE="$WORK/$CLUSTER.pgpass" "$ROOT/clustered_nodes" --check --cluster "$CLUSTER" \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=$PW_ROLE dbname=postgres" 2>&1) || fail "$out"
	[[ "$out" == *"configuration OK"* ]] || fail "$out"
}

test_a_login_without_grants_is_named_with_its_fix_and_exits_77() {
	local k rc out conninfo
	q "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_no_grants') THEN
			CREATE ROLE cn_no_grants LOGIN;
		END IF; END \$\$" >/dev/null
	conninfo="host=127.0.0.1 port=$PGTMP_PORT user=cn_no_grants dbname=postgres"
	rc=0
	out=$("$ROOT/clustered_nodes" --check --cluster "$CLUSTER" --dbname "$conninfo" 2>&1) || rc=$?
	assert_eq "$rc" 77 "--check: exit status of a login without grants"
	[[ "$out" == *"as cn_no_grants"*"permission denied for schema clustered_nodes"*"roles.sql"* ]] ||
		fail "--check does not name the missing grant and its fix: $out"
	[[ "$out" != *"missing"* ]] || fail "--check calls a permission problem a missing schema: $out"
	for k in 1 4; do
		rc=0
		out=$(run_until_exit 20 "$ROOT/clustered_nodes" --node n1 --cluster "$CLUSTER" \
			--partitions $k --log-level warn --dbname "$conninfo" 2>&1) || rc=$?
		assert_eq "$rc" 77 "K = $k: exit status of a node whose login has no grants"
		[[ "$out" == *"error"*"as cn_no_grants"*"permission denied"*"roles.sql"* ]] || fail "K = $k: $out"
	done
	for cmd in status history; do
		expect_exit 77 '*permission denied for schema clustered_nodes*roles.sql*' "$cmd as a login without grants" \
			"$ROOT/clustered_nodes" $cmd --cluster "$CLUSTER" --dbname "$conninfo"
	done
}

test_a_missing_database_is_a_configuration_problem() {
	local conninfo="host=127.0.0.1 port=$PGTMP_PORT user=cn_node dbname=no_such_db"
	expect_exit 78 '*database "no_such_db" does not exist*dbname*' \
		"a node whose database does not exist" \
		"$ROOT/clustered_nodes" --node n1 --cluster "$CLUSTER" --dbname "$conninfo"
	expect_exit 78 '*does not exist*' "--check of a database that does not exist" \
		"$ROOT/clustered_nodes" --check --dbname "$conninfo"
}

test_status_and_history_name_an_unknown_cluster() {
	local cmd
	start_node "$CLUSTER" node1
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	"$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" >/dev/null ||
		fail "status of the real cluster"
	for cmd in status history; do
		expect_exit 78 "*unknown cluster ${CLUSTER}_typo:*" "$cmd of an unknown cluster" \
			"$ROOT/clustered_nodes" $cmd --cluster "${CLUSTER}_typo" --dbname "$NODE_CONNINFO"
	done
}

healthz_says() { http_body "http://127.0.0.1:$1/healthz" | grep -q "$2"; }
log_has() { grep -q "$2" "$1"; }

test_a_running_node_retries_a_refused_login_says_so_once_and_recovers() {
	local port log pid
	setup_password_login
	printf '127.0.0.1:%s:postgres:%s:right-password\n' "$PGTMP_PORT" "$PW_ROLE" >"$WORK/$CLUSTER.pgpass"
	chmod 600 "$WORK/$CLUSTER.pgpass"
	port=$(free_port)
	log=$(node_log "$CLUSTER" node1)
	PGPASSFILE="$WORK/$CLUSTER.pgpass" "$ROOT/clustered_nodes" --node node1 --cluster "$CLUSTER" \
		--partitions 2 --http "127.0.0.1:$port" --log-level debug \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=$PW_ROLE dbname=postgres" >>"$log" 2>&1 &
	pid=$!
	NODE_PID[node1]=$pid
	wait_for "both partitions led" 10000 eval '[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '"'$CLUSTER'"' AND leader = '"'node1'"'")" = 2 ]'
	# The password changes under the running node, and its sessions end.
	q "ALTER ROLE $PW_ROLE PASSWORD 'another-password'" >/dev/null
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$PW_ROLE'" >/dev/null
	wait_for "the refused login on /healthz" 10000 healthz_says "$port" "password authentication failed"
	# Its fast retries (every 50-100 ms for 2 s) are logged as one error, not one each.
	wait_for "3 s of retries" 10000 eval '[ $(grep -c "reconnecting in" "'"$log"'") -ge 20 ]'
	alive "$pid" || fail "a node that had run exited on a refused login"
	assert_eq "$(grep -c 'error.*password authentication failed.*retrying' "$log")" 1 "error lines for one cause"
	q "ALTER ROLE $PW_ROLE PASSWORD 'right-password'" >/dev/null
	wait_for "led again" 15000 healthz_says "$port" "^ok"
	wait_for "both partitions led again" 15000 eval '[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '"'$CLUSTER'"' AND leader = '"'node1'"' AND leader_pid IN (SELECT pid FROM pg_stat_activity)")" = 2 ]'
}

partitions_led_live() {	# CLUSTER NODE K: NODE leads all K partitions from a live session
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$1'
		AND leader = '$2' AND leader_pid IN (SELECT pid FROM pg_stat_activity)")" = "$3" ]
}

# A grant taken away under a running node, and given back: it retries (it does not exit
# with 77, which would leave it down under systemd), says so once, and recovers.
revoked_grant_is_retried() {
	local k=$1 port log pid
	q "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_revoked') THEN
			CREATE ROLE cn_revoked LOGIN;
		END IF; END \$\$" >/dev/null
	q "GRANT clustered_nodes_node TO cn_revoked" >/dev/null
	port=$(free_port)
	log=$(node_log "$CLUSTER" "node$k")
	"$ROOT/clustered_nodes" --node "node$k" --cluster "${CLUSTER: -50}_$k" --partitions "$k" \
		--http "127.0.0.1:$port" --log-level debug \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_revoked dbname=postgres" >>"$log" 2>&1 &
	pid=$!
	NODE_PID[node$k]=$pid
	wait_for "K = $k: every partition led" 10000 partitions_led_live "${CLUSTER: -50}_$k" "node$k" "$k"
	q "REVOKE clustered_nodes_node FROM cn_revoked" >/dev/null
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'cn_revoked'" >/dev/null
	wait_for "K = $k: the missing grant on /healthz" 10000 healthz_says "$port" "permission denied"
	wait_for "K = $k: 3 s of retries" 10000 eval '[ $(grep -c "reconnecting in" "'"$log"'") -ge 20 ]'
	alive "$pid" || fail "K = $k: a node that had run exited on a missing grant"
	assert_eq "$(grep -c 'error.*permission denied for schema clustered_nodes.*roles.sql.*retrying' "$log")" 1 \
		"K = $k: error lines for one cause"
	q "GRANT clustered_nodes_node TO cn_revoked" >/dev/null
	wait_for "K = $k: healthy again" 15000 healthz_says "$port" "^ok"
	wait_for "K = $k: every partition led again" 15000 partitions_led_live "${CLUSTER: -50}_$k" "node$k" "$k"
}

test_a_running_node_retries_a_revoked_grant_and_recovers_at_k1_and_k4() {
	revoked_grant_is_retried 1
	revoked_grant_is_retried 4
}

