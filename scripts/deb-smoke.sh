#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# The package on this machine (CI runs it after `make deb`, as root): installs
# build/deb/clustered-nodes_*.deb with dpkg -i, runs the installed binary's
# --version and --check against a throwaway PostgreSQL with the installed
# migrations, checks the files, the man pages, the unit and the system user,
# then enables an instance, removes and purges the package, and checks that
# purging left no dangling clustered_nodes@*.service link and kept the admin's
# /etc/clustered_nodes/NODE.env.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source "$ROOT/scripts/pgtmp.sh"

[ "$(id -u)" -eq 0 ] || { echo "deb-smoke: run as root (it installs a package)" >&2; exit 1; }
deb=$(ls build/deb/clustered-nodes_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "deb-smoke: no package in build/deb/: make deb first" >&2; exit 1; }
fail() { echo "deb-smoke: FAIL: $*" >&2; exit 1; }

# What `systemctl enable clustered_nodes@debsmoke` makes, a link of the same kind to
# /usr/lib (systemd may name either), one that is not the package's (a link to
# another unit file, which purge must leave) and the admin's per-instance file.
unit=/lib/systemd/system/clustered_nodes@.service
wants=/etc/systemd/system/multi-user.target.wants
link=$wants/clustered_nodes@debsmoke.service
link_usr=$wants/clustered_nodes@debsmoke2.service
decoy=$wants/clustered_nodes@debsmoke3.service
envfile=/etc/clustered_nodes/debsmoke.env
for f in "$link" "$link_usr" "$decoy" "$envfile"; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		echo "deb-smoke: $f exists already: not this script's to replace" >&2
		exit 1
	fi
done

cleanup() {
	pgtmp_stop 2>/dev/null || true
	dpkg -r clustered-nodes >/dev/null 2>&1 || true
	# Only what this script made.
	rm -f "$link" "$link_usr" "$decoy" "$envfile"
	rmdir /etc/clustered_nodes 2>/dev/null || true
}
trap cleanup EXIT

dpkg -i "$deb"
version=$(/usr/bin/clustered_nodes --version)
echo "deb-smoke: installed: $version"
[[ "$version" == "clustered_nodes $(sed -n 's/^#define CN_VERSION "\(.*\)"$/\1/p' src/core/version.h)"* ]] ||
	fail "--version says '$version'"
for f in /usr/share/man/man1/clustered_nodes.1.gz /usr/share/man/man5/clustered_nodes.conf.5.gz \
	"$unit" /etc/clustered_nodes/clustered_nodes.conf /usr/share/clustered_nodes/sql/001_cluster_state.sql; do
	[ -e "$f" ] || fail "$f is not installed"
done

# man finds the command in section 1 and its file in section 5, both the package's,
# with the package's paths (debian/rules rewrites upstream's /usr/local/share).
if ! command -v man >/dev/null; then
	echo "deb-smoke: installing man-db (man -w)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends man-db >/dev/null
fi
files=$(dpkg -L clustered-nodes)
page1=$(man -w clustered_nodes) || fail "man -w clustered_nodes finds no page"
[[ "$page1" == */man1/clustered_nodes.1* ]] || fail "man -w clustered_nodes: $page1, not section 1"
page5=$(man -w 5 clustered_nodes.conf) || fail "man -w 5 clustered_nodes.conf finds no page"
[[ "$page5" == */man5/clustered_nodes.conf.5* ]] || fail "man -w 5 clustered_nodes.conf: $page5"
for page in "$page1" "$page5"; do
	grep -qxF "$page" <<<"$files" ||
		fail "$page is not in dpkg -L clustered-nodes (a copy from make install first in MANPATH?)"
	if zgrep -q /usr/local/share "$page"; then
		fail "$page names /usr/local/share (debian/rules should rewrite it)"
	fi
done
# The installed README's links (docs/, the page's picture, LICENSE) reach files it ships.
python3 scripts/check-doc-links.py /usr/share/doc/clustered-nodes ||
	fail "the installed README links files the package does not ship"
if grep -q '/man8/' <<<"$files"; then
	fail "the package still ships a section 8 page: $(grep '/man8/' <<<"$files")"
fi

grep -q '^Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -qxF 'EnvironmentFile=-/etc/clustered_nodes/%i.env' "$unit" ||
	fail "the unit does not read /etc/clustered_nodes/%i.env"
grep -qx 'RestartPreventExitStatus=64 77 78' "$unit" ||
	fail "the unit restarts after exit 64, 77 or 78"
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

# Enable an instance: with systemctl when systemd runs, else by hand as
# systemctl would (this may be a container without systemd as PID 1).
if [ -d /run/systemd/system ]; then
	systemctl enable clustered_nodes@debsmoke.service
else
	mkdir -p "$wants"
	ln -s "$unit" "$link"
fi
[ -L "$link" ] || fail "enabling clustered_nodes@debsmoke made no $link"
ln -s /usr/lib/systemd/system/clustered_nodes@.service "$link_usr"
ln -s /etc/clustered_nodes/not-the-package@.service "$decoy"
printf 'CLUSTERED_NODES_HTTP=127.0.0.1:8081\n' >"$envfile"

dpkg -r clustered-nodes
[ ! -e /usr/bin/clustered_nodes ] || fail "the binary is still there after dpkg -r"
getent passwd clustered_nodes >/dev/null || fail "removing the package removed the system user (policy: keep it)"
[ -L "$link" ] || fail "dpkg -r removed $link (only purge should)"
dpkg -P clustered-nodes >/dev/null
for f in "$link" "$link_usr"; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		fail "$f is still there after purge"
	fi
done
[ -L "$decoy" ] || fail "purge removed $decoy, which is not a link to the package's unit"
rm -f "$decoy"
[ -f "$envfile" ] || fail "purge removed the admin's $envfile"
rm -f "$envfile"
rmdir /etc/clustered_nodes 2>/dev/null || true
for f in /etc/systemd/system/*.wants/clustered_nodes@*.service; do
	if [ -L "$f" ] && [ ! -e "$f" ]; then
		fail "$f dangles after purge"
	fi
done
echo "deb-smoke: installed, checked against PostgreSQL, enabled, removed and purged"
