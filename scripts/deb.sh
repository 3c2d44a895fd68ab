#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Builds the Debian package (debian/) with dpkg-buildpackage -us -uc -b in a
# clean copy of the tree, so that no build artifact lands in the source tree,
# and leaves the .deb, .changes and .buildinfo in build/deb/.  The copy holds
# what git would commit: tracked and untracked-but-not-ignored files, edits
# included.  Like install-deps.sh, installs missing build dependencies as
# root and only names them otherwise.  Used by `make deb`; DEB_BUILD_OPTIONS
# (nocheck, parallel=N) is passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/deb

need_root() {
	echo "missing: $1" >&2
	echo "install with: sudo $2" >&2
	exit 1
}

# dpkg-dev reads debian/ (dpkg-parsechangelog, dpkg-checkbuilddeps) and builds.
if ! dpkg-query -W -f='${Status}' dpkg-dev 2>/dev/null | grep -q 'install ok installed'; then
	[ "$(id -u)" -eq 0 ] || need_root dpkg-dev "apt-get install -y dpkg-dev"
	echo "installing: dpkg-dev"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi

# The upstream version is src/core/version.h's; debian/changelog must agree.
version=$(sed -n 's/^#define CN_VERSION "\(.*\)"$/\1/p' src/core/version.h)
debversion=$(dpkg-parsechangelog -S Version)
upstream=${debversion#*:}
upstream=${upstream%-*}
if [ -z "$version" ] || [ "$upstream" != "$version" ]; then
	echo "deb: debian/changelog is at $debversion but src/core/version.h says ${version:-nothing};" >&2
	echo "deb: add an entry for $version-1 first (by hand, or dch -v $version-1 from devscripts)" >&2
	exit 1
fi

# Build-Depends (debhelper, the -dev packages, check) and build-essential.
if ! unmet=$(dpkg-checkbuilddeps 2>&1); then
	[ "$(id -u)" -eq 0 ] || need_root "${unmet##*: }" "apt-get build-dep ./"
	echo "installing build dependencies (${unmet##*: })"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null
fi

rm -rf "$OUT"
tree=$OUT/clustered-nodes-$version
mkdir -p "$tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Files deleted but not yet committed are still listed: skip them.
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done |
		tar --null -T - -cf - | tar -xf - -C "$tree"
else
	tar --exclude=./.git --exclude=./build --exclude=./clustered_nodes -cf - . |
		tar -xf - -C "$tree"
fi

# Not this make's MAKEFLAGS: a `make deb CFLAGS=...` would override the
# Debian build flags, and a -j's jobserver is not ours to share.
(cd "$tree" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b)
rm -rf "$tree"

# lintian: errors fail the build; its warnings are printed (docs/OPERATIONS.md: Install).
if ! command -v lintian >/dev/null && [ "$(id -u)" -eq 0 ]; then
	echo "installing: lintian"
	apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
if command -v lintian >/dev/null; then
	lintian --info --fail-on error "$OUT"/*.changes
else
	echo "deb: lintian is not installed (apt-get install lintian): not checked" >&2
fi
echo "deb: $(cd "$ROOT" && ls build/deb/*.deb | tr '\n' ' ')"
