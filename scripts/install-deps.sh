#!/usr/bin/env bash
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

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]}" >&2
	echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
