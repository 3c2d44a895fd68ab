#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Installs the Debian packages clustered_nodes needs to build, test and demo.
# Installs nothing when everything is present; as non-root it only says what
# is missing.  Used by `make check`, `make demo` and .ci/run.
set -euo pipefail

packages=(
	gcc make pkg-config    # build
	libpq-dev libev-dev libinih-dev libmicrohttpd-dev  # the daemon's libraries
	check                  # unit tests
	postgresql postgresql-client  # throwaway server, psql, pgbench
	pg-auto-failover-cli postgresql-15-auto-failover  # the HA test (Debian 12's PostgreSQL is 15)
	procps iproute2        # ps, ss: tests watch processes and ports
	python3                # the layering check in every build, benchmark statistics, JSON checks in tests
	curl                   # status endpoint tests
	git                    # the upgrade test builds 0.1.0 from the history
	chromium               # the status page's browser test
)

# promtool, which checks /metrics in the tests, comes out of Debian's prometheus package
# without installing it (the package would install and start a Prometheus server).
PROMTOOL_DIR=${PROMTOOL_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/tools}
fetch_promtool() {
	local tmp deb
	[ -x "$PROMTOOL_DIR/promtool" ] && return 0
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) ||
		{ [ "$(id -u)" -eq 0 ] && apt-get update -qq &&
		  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); } || true
	deb=$(ls "$tmp"/prometheus_*.deb 2>/dev/null | head -n 1)
	if [ -n "$deb" ] && dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/bin/promtool; then
		mkdir -p "$PROMTOOL_DIR"
		mv "$tmp/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
	fi
	rm -rf "$tmp"
	[ -x "$PROMTOOL_DIR/promtool" ]
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	fetch_promtool || echo "could not fetch promtool (apt-get download prometheus)" >&2
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]}" >&2
	echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_promtool
