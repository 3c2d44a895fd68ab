#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Keeps the option table, --help, the sample config and the man pages in step
# (pgbouncer's optscan idea): every setting --help lists must appear in each of
# them (clustered_nodes(1) by option, clustered_nodes.conf(5) by key), every
# key in the sample config must be a setting, and no --help line is wider than
# 80 columns.  Prints what is missing; exits 1 if anything is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/clustered_nodes}
problems=0
missing() { echo "optscan: $*" >&2; problems=$((problems + 1)); }

# Settings are the options --help lists between "Settings" and "Other options"
# (their text wraps; each has a default).  (--help is read once: grep -q on a
# pipe would cut the writer short under pipefail.)
help=$("$BIN" --help)
settings=$(printf '%s\n' "$help" | sed -n '/^Settings/,/^Other options:/p')
mapfile -t options < <(printf '%s\n' "$settings" | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\) [A-Z:]*\( .*\)\{0,1\}$/\2/p')
[ "$(grep -c '(default:' <<<"$settings")" -eq ${#options[@]} ] || missing "not every setting in --help names its default"
awk 'length > 80 { bad = 1; print "optscan: --help line longer than 80 columns: " $0 > "/dev/stderr" } END { exit bad }' <<<"$help" || problems=$((problems + 1))
[ ${#options[@]} -gt 0 ] || missing "no settings found in --help"
for option in "${options[@]}"; do
	key=${option//-/_}
	grep -Eq "^;?$key = " "$ROOT/etc/clustered_nodes.conf" || missing "$key is not in etc/clustered_nodes.conf"
	grep -qF -- "\\-\\-${option//-/\\-}" "$ROOT/etc/clustered_nodes.1" || missing "--$option is not in etc/clustered_nodes.1"
	grep -qw -- "$key" "$ROOT/etc/clustered_nodes.conf.5" || missing "$key is not in etc/clustered_nodes.conf.5"
done
for key in $(sed -n 's/^;\{0,1\}\([a-z_]*\) = .*/\1/p' "$ROOT/etc/clustered_nodes.conf"); do
	printf '%s\n' "${options[@]}" | grep -qx "${key//_/-}" || missing "etc/clustered_nodes.conf has '$key', which is not a setting"
done
for other in --config --check --json --help --version; do
	grep -q -- "$other" <<<"$help" || missing "--help does not mention $other"
	grep -qF -- "\\-\\-${other#--}" "$ROOT/etc/clustered_nodes.1" || missing "$other is not in etc/clustered_nodes.1"
done
[ $problems -eq 0 ] && echo "optscan: ${#options[@]} settings consistent across --help (80 columns), sample config and man pages"
[ $problems -eq 0 ]
