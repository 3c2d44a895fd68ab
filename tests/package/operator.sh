#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# An operator's first hour, as README.md writes it: this script runs README's shell
# blocks marked `<!-- operator-test: NAME -->`, in README's order and as written, as
# root on this machine: build and install the package, set up a database from the
# installed files (the machine's own PostgreSQL cluster, 15/main on port 5432), the
# service user's .pgpass, the minimal config, --check, three nodes through the systemd
# unit, a NOTIFY, status, history; then it kills the leader and checks that another
# node takes over and the counter goes on; then README's uninstall and drop blocks,
# and that nothing is left behind.  Between blocks it only waits for what the README
# says happens (a leader, a counter).  Where systemd is not PID 1, tests/package/
# systemctl stands in for it (the installed unit's User=, EnvironmentFile=, ExecStart=).
#
# Run: sudo bash tests/package/operator.sh (CI does, after make check).  It refuses to
# run if the database app, the roles of README or the package are there already.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
README=$ROOT/README.md
PGVER=15

say() { echo "operator-test: $*"; }
fail() { echo "operator-test: FAIL: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() {
	local what=$1 timeout_ms=$2 deadline
	shift 2
	deadline=$(( $(now_ms) + timeout_ms ))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "timed out after $timeout_ms ms waiting for: $what"
		sleep 0.1
	done
}
as_postgres() { runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 "$@"; }

[ "$(id -u)" -eq 0 ] || fail "run as root: README's steps install a package and set up PostgreSQL"
! dpkg -s clustered-nodes >/dev/null 2>&1 || fail "clustered-nodes is installed already"

# README's blocks, by name, in order.
mapfile -t BLOCKS < <(sed -n 's/^<!-- operator-test: \([a-z0-9-]*\) -->$/\1/p' "$README")
block() {
	awk -v name="$1" '
		$0 == "<!-- operator-test: " name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		want && inside { print }' "$README"
}
run_block() {
	say "README block '$1':"
	block "$1" | sed 's/^/    | /'
	bash -euo pipefail -c "$(block "$1")" || fail "README block '$1' failed"
}
expected="install database role pgpass config check three-nodes notify status history uninstall drop"
[ "${BLOCKS[*]}" = "$expected" ] || fail "README's operator-test blocks are '${BLOCKS[*]}', this script follows '$expected'"

# A database server, as `apt-get install postgresql` leaves one: cluster 15/main, 5432.
started_cluster=
if ! pg_lsclusters -h 2>/dev/null | awk -v v=$PGVER '$1 == v && $2 == "main"' | grep -q .; then
	pg_createcluster $PGVER main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v=$PGVER '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
	pg_ctlcluster $PGVER main start
	started_cluster=1
fi
[ "$(pg_lsclusters -h | awk -v v=$PGVER '$1 == v && $2 == "main" {print $3}')" = 5432 ] ||
	fail "cluster $PGVER/main does not listen on 5432, as README assumes"
[ -z "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'app'")" ] || fail "database app exists already"
[ -z "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname IN ('cn_node', 'clustered_nodes_node')")" ] ||
	fail "README's roles exist already"

if [ ! -d /run/systemd/system ]; then
	say "systemd is not PID 1 here: tests/package/systemctl stands in for it"
	export PATH="$ROOT/tests/package:$PATH"
	export CN_SYSTEMCTL_STATE=$(mktemp -d /tmp/clustered_nodes.operator.XXXXXX)
fi

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -n "${CN_SYSTEMCTL_STATE:-}" ]; then
		for log in "$CN_SYSTEMCTL_STATE"/*.log; do
			[ -f "$log" ] || continue
			echo "--- $(basename "$log") (last 20 lines)"
			tail -n 20 "$log"
		done
	fi
	systemctl disable --now clustered_nodes@node1 clustered_nodes@node2 clustered_nodes@node3 >/dev/null 2>&1 || true
	dpkg -s clustered-nodes >/dev/null 2>&1 && apt-get purge -y clustered-nodes >/dev/null 2>&1
	rm -f /etc/clustered_nodes/node[123].env
	as_postgres -c "DROP DATABASE IF EXISTS app" >/dev/null 2>&1 || true
	for role in cn_node clustered_nodes_node clustered_nodes_producer; do
		as_postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	done
	[ -z "$started_cluster" ] || pg_ctlcluster $PGVER main stop || true
	[ -z "${CN_SYSTEMCTL_STATE:-}" ] || rm -rf "$CN_SYSTEMCTL_STATE"
	exit $rc
}
trap cleanup EXIT

# As README runs them: as the service user, whose .pgpass has the password.
cn() { runuser -u clustered_nodes -- clustered_nodes "$@"; }
status_json() { cn status --json; }
leader_is_led() { cn status >/dev/null; }
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
counter_is() { [ "$(status_json | json 'd["counter"]')" = "$1" ]; }
leader_other_than() {
	local who
	who=$(status_json | json 'd["leader"]')
	[ -n "$who" ] && [ "$who" != "$1" ] && [ "$who" != None ] && cn status >/dev/null
}

run_block install
[ -x /usr/bin/clustered_nodes ] || fail "the package did not install /usr/bin/clustered_nodes"
run_block database
run_block role
run_block pgpass
run_block config
run_block check
run_block three-nodes
wait_for "three nodes, one leading (clustered_nodes status exits 0)" 30000 leader_is_led
wait_for "three members" 30000 eval '[ "$(status_json | json "len(d[\"members\"])")" = 3 ]'
run_block notify
wait_for "counter 1" 10000 counter_is 1
run_block status
run_block history
# The failover README promises: SIGKILL the leader; another node takes over, counter on.
leader=$(status_json | json 'd["leader"]')
term=$(status_json | json 'd["term"]')
say "killing the leader, $leader (term $term), with SIGKILL"
systemctl kill --signal=SIGKILL "clustered_nodes@$leader"
wait_for "another node leading" 15000 leader_other_than "$leader"
as_postgres -d app -c "NOTIFY orders, 'after the failover'" >/dev/null
wait_for "counter 2 (the counter continued)" 10000 counter_is 2
[ "$(status_json | json 'd["term"]')" -gt "$term" ] || fail "the term did not rise"
cn history --limit 1 | grep -q "session ended" || fail "history does not say why: $(cn history --limit 3)"
# The healthz of every live node, through its per-instance http port.
for i in 1 2 3; do
	[ "node$i" = "$leader" ] && continue
	curl -sf "http://127.0.0.1:808$i/healthz" | grep -q '^ok' || fail "node$i's /healthz on 808$i"
done
run_block uninstall
! dpkg -s clustered-nodes >/dev/null 2>&1 || fail "the package is still installed"
dangling=$(find /etc/systemd/system -name 'clustered_nodes@*.service' -xtype l 2>/dev/null || true)
[ -z "$dangling" ] || fail "purge left dangling links: $dangling"
run_block drop
[ -z "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname IN ('cn_node', 'clustered_nodes_node', 'clustered_nodes_producer')")" ] ||
	fail "README's drop left roles"
say "README followed from make deb to purge: three nodes, a failover, the counter went on"
