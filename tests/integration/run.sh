#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Integration tests: a throwaway PostgreSQL, real node processes, real psql.
# Runs every test_* function of tests/integration/t_*.sh, each in its own
# subshell with its own cluster name; TESTS=regex picks a subset.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The nodes read only what a test gives them, not an installed
# /etc/clustered_nodes/clustered_nodes.conf (tests/package/ follows the package).
export CLUSTERED_NODES_CONFIG=
source "$ROOT/scripts/pgtmp.sh"
source "$ROOT/tests/integration/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.test.XXXXXX")
[ "$(id -u)" -eq 0 ] && chmod 755 "$WORK"
cleanup() {
	local i
	pkill -9 -f "^$ROOT/clustered_nodes " 2>/dev/null || true
	pgtmp_stop
	if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $WORK"; return; fi
	# A killed node's last write may land while the folder goes: try again for a while.
	for ((i = 0; i < 50; i++)); do
		rm -rf "$WORK" 2>/dev/null && return
		sleep 0.1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

pgtmp_start fsync=off || exit 1
apply_schema || exit 1

for f in "$ROOT"/tests/integration/t_*.sh; do source "$f"; done

passed=0
failed=0
failures=()
for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
	[[ "$t" =~ ${TESTS:-.} ]] || continue
	start=$(now_ms)
	(
		CLUSTER=${t:0:63}
		trap kill_nodes EXIT
		set -e
		"$t"
	) >"$WORK/$t.out" 2>&1
	rc=$?
	elapsed=$(( $(now_ms) - start ))
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		printf 'ok   %-45s %6d ms\n' "$t" "$elapsed"
	else
		failed=$((failed + 1))
		failures+=("$t")
		printf 'FAIL %-45s %6d ms\n' "$t" "$elapsed"
		sed 's/^/     | /' "$WORK/$t.out"
		for log in "$WORK/$t".*.log; do
			[ -f "$log" ] || continue
			echo "     | --- $(basename "$log") (last 15 lines)"
			tail -n 15 "$log" | sed 's/^/     | /'
		done
	fi
done

echo
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
