# SPDX-License-Identifier: PostgreSQL
# Integration test: upgrading a database from the first released schema (0.1.0, schema
# version 4) to the current one while nodes of 0.1.0 run, then replacing them with nodes
# of this version, as README's "Upgrading" section says: apply 005..008 with the old
# nodes running, restart the nodes on the new version (standbys first, then the leader),
# then apply 009 and sql/roles.sql.  The counter carries on throughout, nothing is
# processed twice, and a new node refuses a schema that is too old.

OLD_COMMIT=a6f4ba8	# the 0.1.0 release

# Builds 0.1.0 from the repository's history into $WORK/old (once per run).
old_build() {
	local dir=$WORK/old-0.1.0
	[ -x "$dir/clustered_nodes" ] && return 0
	git -C "$ROOT" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null ||
		fail "the 0.1.0 release ($OLD_COMMIT) is not in this clone's history: clone without --depth"
	mkdir -p "$dir"
	git -C "$ROOT" archive "$OLD_COMMIT" | tar -x -C "$dir"
	env -u MAKEFLAGS make -C "$dir" clustered_nodes >"$dir/build.log" 2>&1 ||
		fail "building 0.1.0 failed: $(tail -5 "$dir/build.log")"
}

UPGRADE_DB=upgrade_test
udb() { pgtmp_psql -d "$UPGRADE_DB" "$@"; }
uq() { udb -c "$1"; }
ucounter() { uq "SELECT counter FROM clustered_nodes.cluster_state WHERE cluster = '$1' AND term > 0 LIMIT 1"; }
ucounter_is() { [ "$(ucounter "$1")" = "$2" ]; }
# The node holding the lock that cluster_state names, with a term above $2.
uleader() {
	uq "SELECT s.leader FROM clustered_nodes.cluster_state s
		JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$1' AND s.term > ${2:-0}"
}
uleader_ready() { [ -n "$(uleader "$@")" ]; }
usend() {
	local i
	for ((i = 1; i <= $2; i++)); do echo "SELECT pg_notify('test_channel', '$1-$i');"; done | udb -o /dev/null
}

# start_with BINARY CLUSTER NAME [options...]
start_with() {
	local bin=$1 cluster=$2 name=$3
	shift 3
	"$bin" --node "$name" --cluster "$cluster" \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_node dbname=$UPGRADE_DB" "$@" \
		>>"$(node_log "$cluster" "$name")" 2>&1 &
	NODE_PID[$name]=$!
}

# The global group role's grants as this version wants them, whatever happened.
restore_roles() { pgtmp_psql -f "$ROOT/sql/roles.sql" >/dev/null 2>&1 || true; }

test_upgrade_from_0_1_0_while_its_nodes_run() {
	local old=$WORK/old-0.1.0/clustered_nodes new=$ROOT/clustered_nodes leader term rc f n
	trap 'kill_nodes; restore_roles' EXIT
	old_build
	pgtmp_psql -c "DROP DATABASE IF EXISTS $UPGRADE_DB" >/dev/null
	pgtmp_psql -c "CREATE DATABASE $UPGRADE_DB" >/dev/null
	# The database as 0.1.0 left it: its migrations and its role file.
	for f in "$WORK"/old-0.1.0/sql/0*.sql "$WORK/old-0.1.0/sql/roles.sql"; do udb -f "$f" >/dev/null; done
	assert_eq "$(uq "SELECT max(version) FROM clustered_nodes.schema_migrations")" 4 "0.1.0's schema version"
	for n in old1 old2 old3; do start_with "$old" "$CLUSTER" "$n"; done
	wait_for "a 0.1.0 leader" 10000 uleader_ready "$CLUSTER"
	usend a 5
	wait_for "counter 5" 5000 ucounter_is "$CLUSTER" 5
	# This version refuses the old schema, naming what to apply.
	rc=0
	timeout 10 "$new" --node early --cluster "$CLUSTER" \
		--dbname "host=127.0.0.1 port=$PGTMP_PORT user=cn_node dbname=$UPGRADE_DB" >"$WORK/early.log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "exit status of a new node on the 0.1.0 schema"
	grep -q 'schema is at version 4, this node needs 8: apply 005_attempts.sql then .*008_partitions.sql from ' "$WORK/early.log" ||
		fail "the refusal does not name the files: $(grep error "$WORK/early.log")"
	# Apply 005..008 while the old nodes run: the old leader goes on ...
	for f in "$ROOT"/sql/00[5-8]_*.sql; do udb -f "$f" >/dev/null; done
	usend b 5
	wait_for "counter 10 after the migrations" 5000 ucounter_is "$CLUSTER" 10
	# ... and an old standby can still take over on the migrated schema.
	leader=$(uleader "$CLUSTER")
	term=$(uq "SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	{ kill -9 "${NODE_PID[$leader]}"; wait "${NODE_PID[$leader]}"; } 2>/dev/null || true
	unset "NODE_PID[$leader]"
	wait_for "an old standby leading on the new schema" 10000 uleader_ready "$CLUSTER" "$term"
	usend c 5
	wait_for "counter 15" 5000 ucounter_is "$CLUSTER" 15
	# Roll the nodes onto this version: standbys first, the leader last (it hands over).
	leader=$(uleader "$CLUSTER")
	for n in old1 old2 old3; do
		[ "$n" = "$leader" ] || [ -z "${NODE_PID[$n]:-}" ] && continue
		kill -TERM "${NODE_PID[$n]}"
		wait "${NODE_PID[$n]}" || fail "0.1.0 standby $n did not stop with 0"
		start_with "$new" "$CLUSTER" "new_$n"
		wait_for "new_$n standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" "new_$n")"
	done
	start_with "$new" "$CLUSTER" new_spare
	wait_for "new_spare standing by" 5000 grep -q '→ standby: registered' "$(node_log "$CLUSTER" new_spare)"
	term=$(uq "SELECT term FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	kill -TERM "${NODE_PID[$leader]}"
	wait "${NODE_PID[$leader]}" || fail "the 0.1.0 leader did not stop with 0"
	unset "NODE_PID[$leader]"
	wait_for "a new node leading" 10000 uleader_ready "$CLUSTER" "$term"
	[[ "$(uleader "$CLUSTER")" == new_* ]] || fail "the leader is not a new node: $(uleader "$CLUSTER")"
	grep -q "starting psql listener: cluster=$CLUSTER term=[0-9]* counter=15 " "$WORK/$CLUSTER".new_*.log ||
		fail "the new leader did not carry on from counter 15"
	usend d 5
	wait_for "counter 20 on the new version" 5000 ucounter_is "$CLUSTER" 20
	# No old node left: 009 to 017 (while this version's nodes run: 015 refuses only while
	# a partitioned cluster's nodes run) and the role file.
	udb -f "$ROOT/sql/009_partition_rows.sql" >/dev/null
	udb -f "$ROOT/sql/010_tenants.sql" >/dev/null
	udb -f "$ROOT/sql/011_warm_sessions.sql" >/dev/null
	udb -f "$ROOT/sql/012_whole_errors.sql" >/dev/null
	udb -f "$ROOT/sql/013_lossless_moves.sql" >/dev/null
	udb -f "$ROOT/sql/014_history.sql" >/dev/null
	udb -f "$ROOT/sql/015_one_listener.sql" >/dev/null
	udb -f "$ROOT/sql/016_rehearsed_leads.sql" >/dev/null
	udb -f "$ROOT/sql/017_newest_bell.sql" >/dev/null
	udb -f "$ROOT/sql/roles.sql" >/dev/null
	usend e 5
	wait_for "counter 25 after 009 to 017 and roles.sql" 5000 ucounter_is "$CLUSTER" 25
	assert_eq "$(cat "$WORK/$CLUSTER".*.log | grep -o 'payload="[a-e]-[0-9]*"' | sort | uniq -d | wc -l)" 0 \
		"payloads processed twice"
	# Partitions work on the fully upgraded schema.
	start_with "$new" "p${CLUSTER:0:40}" part1 --partitions 4
	wait_for "4 partitions led" 10000 bash -c "[ \"\$(psql -X -At -d $UPGRADE_DB -c \"SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = 'p${CLUSTER:0:40}' AND leader = 'part1'\")\" = 4 ]"
}
