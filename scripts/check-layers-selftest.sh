#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Shows that scripts/check-layers.sh fails on each kind of violation it claims to catch:
# an object is merged (ld -r) with a tiny one that makes the forbidden call, in a copy of
# the build directory, and the check must fail naming it.  `make unit` runs this.
# Usage: check-layers-selftest.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

# inject NAME OBJECT CALL EXPECTED: OBJECT (a file of src/) also calls CALL; the check must
# fail and its output contain EXPECTED.
inject() {
	local name=$1 object=$2 call=$3 expected=$4 out
	rm -rf "$tmp/build" && cp -r "$build" "$tmp/build"
	printf 'void %s(void);\nvoid check_layers_injected(void);\nvoid check_layers_injected(void) { %s(); }\n' \
		"$call" "$call" >"$tmp/inject.c"
	cc -c -o "$tmp/inject.o" "$tmp/inject.c"
	ld -r -o "$tmp/build/$object.o" "$build/$object.o" "$tmp/inject.o"
	if out=$(bash scripts/check-layers.sh "$tmp/build" 2>&1); then
		echo "check-layers-selftest: FAIL $name: the check passed ($out)" >&2
		failures=$((failures + 1))
	elif [[ "$out" != *"$expected"* ]]; then
		echo "check-layers-selftest: FAIL $name: expected '$expected' in: $out" >&2
		failures=$((failures + 1))
	fi
}

inject "a connection call in a leader" leader PQstatus "leader.c calls PQstatus"
inject "libev in core" json ev_now "json.c is in core (pure) but calls ev_now"
inject "a call up the layers" session leader_take_lead "session.c (db) calls leader_take_lead"
inject "a loop" leader_step leader_take_lead "these files call each other in a loop"
# And the untouched build passes.
bash scripts/check-layers.sh "$build" >/dev/null ||
	{ echo "check-layers-selftest: FAIL the real build does not pass" >&2; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] || exit 1
echo "check-layers-selftest: 4 injected violations caught, the real build passes"
