#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# The package on this machine (CI runs it after `make deb`, as root): installs
# build/deb/clustered-nodes_*.deb with dpkg -i, runs the installed binary's
# --version and --check against a throwaway PostgreSQL with the installed
# migrations, checks the files and the system user, then removes the package.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source "$ROOT/scripts/pgtmp.sh"

[ "$(id -u)" -eq 0 ] || { echo "deb-smoke: run as root (it installs a package)" >&2; exit 1; }
deb=$(ls build/deb/clustered-nodes_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "deb-smoke: no package in build/deb/: make deb first" >&2; exit 1; }
fail() { echo "deb-smoke: FAIL: $*" >&2; exit 1; }

cleanup() {
	pgtmp_stop 2>/dev/null || true
	dpkg -r clustered-nodes >/dev/null 2>&1 || true
}
trap cleanup EXIT

dpkg -i "$deb"
version=$(/usr/bin/clustered_nodes --version)
echo "deb-smoke: installed: $version"
[[ "$version" == "clustered_nodes $(sed -n 's/^#define CN_VERSION "\(.*\)"$/\1/p' src/core/version.h)"* ]] ||
	fail "--version says '$version'"
for f in /usr/share/man/man8/clustered_nodes.8.gz /lib/systemd/system/clustered_nodes@.service \
	/etc/clustered_nodes/clustered_nodes.conf /usr/share/clustered_nodes/sql/001_cluster_state.sql; do
	[ -e "$f" ] || fail "$f is not installed"
done
grep -q '^Type=notify' /lib/systemd/system/clustered_nodes@.service || fail "the unit is not Type=notify"
getent passwd clustered_nodes >/dev/null || fail "no clustered_nodes system user"
[ "$(stat -c '%U:%G %a' /etc/clustered_nodes/clustered_nodes.conf)" = "root:clustered_nodes 640" ] ||
	fail "the config's owner and mode: $(stat -c '%U:%G %a' /etc/clustered_nodes/clustered_nodes.conf)"

pgtmp_start >/dev/null
rc=0
/usr/bin/clustered_nodes --check --dbname "$PGTMP_CONNINFO" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 78 ] || fail "--check on an empty database exited $rc, not 78"
for f in /usr/share/clustered_nodes/sql/0*.sql /usr/share/clustered_nodes/sql/roles.sql; do
	pgtmp_psql -f "$f" >/dev/null
done
out=$(/usr/bin/clustered_nodes --check --dbname "$PGTMP_CONNINFO" --partitions 4)
echo "deb-smoke: ${out##*$'\n'}"
[[ "$out" == *"configuration OK"* ]] || fail "--check: $out"

dpkg -r clustered-nodes
[ ! -e /usr/bin/clustered_nodes ] || fail "the binary is still there after dpkg -r"
getent passwd clustered_nodes >/dev/null || fail "removing the package removed the system user (policy: keep it)"
dpkg -P clustered-nodes >/dev/null
echo "deb-smoke: installed, checked against PostgreSQL, removed and purged"
