#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Keeps the option table, --help, the sample config, the README and the man
# page in step (pgbouncer's optscan idea): every setting --help lists must
# appear in each of them, and every key in the sample config must be a
# setting.  Prints what is missing; exits 1 if anything is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/clustered_nodes}
problems=0
missing() { echo "optscan: $*" >&2; problems=$((problems + 1)); }

# Settings are the --help lines that name a value and a default.  (--help is
# read once: grep -q on a pipe would cut the writer short under pipefail.)
help=$("$BIN" --help)
mapfile -t options < <(printf '%s\n' "$help" | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\) [A-Z:]*  *.*(default: .*/\2/p')
[ ${#options[@]} -gt 0 ] || missing "no settings found in --help"
for option in "${options[@]}"; do
	key=${option//-/_}
	grep -Eq "^;?$key = " "$ROOT/etc/clustered_nodes.conf" || missing "$key is not in etc/clustered_nodes.conf"
	grep -q -- "--$option" "$ROOT/README.md" || missing "--$option is not in README.md"
	grep -qF -- "\\-\\-${option//-/\\-}" "$ROOT/etc/clustered_nodes.8" || missing "--$option is not in etc/clustered_nodes.8"
done
for key in $(sed -n 's/^;\{0,1\}\([a-z_]*\) = .*/\1/p' "$ROOT/etc/clustered_nodes.conf"); do
	printf '%s\n' "${options[@]}" | grep -qx "${key//_/-}" || missing "etc/clustered_nodes.conf has '$key', which is not a setting"
done
for other in --config --check --json --help --version; do
	grep -q -- "$other" <<<"$help" || missing "--help does not mention $other"
	grep -qF -- "\\-\\-${other#--}" "$ROOT/etc/clustered_nodes.8" || missing "$other is not in etc/clustered_nodes.8"
done
[ $problems -eq 0 ] && echo "optscan: ${#options[@]} settings consistent across --help, sample config, README and man page"
[ $problems -eq 0 ]
