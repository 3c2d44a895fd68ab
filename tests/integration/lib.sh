# SPDX-License-Identifier: PostgreSQL
# Helpers for integration tests: start nodes, query state, poll with deadlines.
# Sourced by run.sh after pgtmp.sh; every test gets its own cluster name, so
# tests share one server without sharing state.

declare -A NODE_PID=()

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for DESCRIPTION TIMEOUT_MS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local what=$1 timeout=$2 deadline
	shift 2
	deadline=$(( $(now_ms) + timeout ))
	until "$@" >/dev/null 2>&1; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			echo "timed out after ${timeout} ms waiting for: $what" >&2
			return 1
		fi
		sleep 0.01
	done
}

fail() { echo "FAIL: $*" >&2; return 1; }

assert_eq() {
	[ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}

q() { pgtmp_psql -c "$1"; }

# SQL with psql variables (:'name'), values passed as -v name=value.
q_vars() {
	local sql=$1
	shift
	printf '%s\n' "$sql" | pgtmp_psql "$@"
}

state_of() { q "SELECT $2 FROM clustered_nodes.cluster_state WHERE cluster = '$1'"; }
counter_of() { state_of "$1" counter; }
term_of() { local t; t=$(state_of "$1" term); echo "${t:-0}"; }
leader_of() { state_of "$1" leader; }

# SQL: pg_locks row l is a granted advisory lock on the bigint key that follows "= ".
# (Written independently of the product's own queries, so that tests check it.)
LOCK_ON="l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND ((l.classid::int8 << 32) | l.objid::int8)"

# The node that holds the cluster's lock and has recorded itself as leader
# with a term above MIN_TERM (the term bump and LISTEN commit together, so
# from then on it is listening).
leader_ready() {
	local cluster=$1 min_term=${2:-0} leader
	leader=$(q "SELECT s.leader FROM clustered_nodes.cluster_state s
		JOIN pg_locks l ON l.pid = s.leader_pid AND $LOCK_ON = s.lock_key
		WHERE s.cluster = '$cluster' AND s.term > $min_term")
	[ -n "$leader" ] && echo "$leader"
}

# How many sessions hold the cluster's advisory lock (0 or 1).
lock_holders() {
	q "SELECT count(*) FROM pg_locks l JOIN clustered_nodes.cluster_state s
		ON $LOCK_ON = s.lock_key WHERE s.cluster = '$1'"
}

counter_is() { [ "$(counter_of "$1")" == "$2" ]; }

node_log() { echo "$WORK/$1.$2.log"; }

# Applies every migration in order, then the least-privilege role, and
# creates the login role NODE_USER that nodes connect as.
apply_schema() {
	local f
	for f in "$ROOT"/sql/[0-9][0-9][0-9]_*.sql "$ROOT/sql/roles.sql"; do
		pgtmp_psql -f "$f" || return 1
	done
	pgtmp_psql -c "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cn_node') THEN
			CREATE ROLE cn_node LOGIN IN ROLE clustered_nodes_node;
		END IF; END \$\$"
	NODE_CONNINFO="host=127.0.0.1 port=$PGTMP_PORT user=cn_node dbname=postgres"
}

# start_node CLUSTER NAME [extra options...]: as the least-privilege role.
start_node() {
	local cluster=$1 name=$2
	shift 2
	"$ROOT/clustered_nodes" --node "$name" --cluster "$cluster" \
		--dbname "${NODE_CONNINFO:-$PGTMP_CONNINFO}" ${NODE_EXTRA_ARGS:-} "$@" >>"$(node_log "$cluster" "$name")" 2>&1 &
	NODE_PID[$name]=$!
}

alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

# Sends COUNT notifications "PREFIX-1".."PREFIX-COUNT" on CHANNEL, each its
# own transaction, from one psql session.
send_notifications() {
	local channel=$1 count=$2 prefix=$3 i
	for ((i = 1; i <= count; i++)); do
		printf "SELECT pg_notify(:'ch', :'prefix' || '-%d');\n" "$i"
	done | pgtmp_psql -o /dev/null -v ch="$channel" -v prefix="$prefix"
}

received_in() { grep -c 'Received message:' "$1" || true; }

# Total "Received message" lines over every node log of a cluster.
received_total() {
	cat "$WORK/$1".*.log | grep -c 'Received message:' || true
}

kill_nodes() {
	local pid
	for pid in "${NODE_PID[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	for pid in "${NODE_PID[@]}"; do wait "$pid" 2>/dev/null || true; done
	NODE_PID=()
}

# A loopback port nothing listens on now.
free_port() {
	local port
	while :; do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
	done
}

# http_code URL [curl args...]: the status code only.
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
http_body() { curl -s --max-time 5 "$@"; }

# netns_up NS HOST_IF NS_IF HOST_IP NS_IP: a network namespace joined to this
# one by a veth pair (/30), for a node the tests can cut off.  Traffic stays
# on this machine, between addresses the test assigned.  netns_down undoes it.
netns_up() {
	local ns=$1 host_if=$2 ns_if=$3 host_ip=$4 ns_ip=$5
	ip netns add "$ns" &&
		ip link add "$host_if" type veth peer name "$ns_if" &&
		ip link set "$ns_if" netns "$ns" &&
		ip addr add "$host_ip/30" dev "$host_if" &&
		ip link set "$host_if" up &&
		ip netns exec "$ns" ip addr add "$ns_ip/30" dev "$ns_if" &&
		ip netns exec "$ns" ip link set "$ns_if" up &&
		ip netns exec "$ns" ip link set lo up
}

netns_down() {
	ip netns del "$1" 2>/dev/null || true
	ip link del "$2" 2>/dev/null || true
}

# What a partitioned cluster's failure to move or ring needs to be understood, printed
# when a wait for it times out: each member's session and recorded bell, and the nodes'
# sessions (watches included) as the server sees them.
bells_and_watches() {
	q "SELECT node, backend_pid, bell_pid, bell_started, rings FROM clustered_nodes.members
		WHERE cluster = '$1' ORDER BY node"
	q "SELECT pid, backend_start, application_name, state, wait_event FROM pg_stat_activity
		WHERE application_name LIKE 'clustered_nodes%' ORDER BY pid"
}
