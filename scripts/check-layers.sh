#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# Checks the layering of src/, from the compiled objects' symbol tables (nm), never from
# the source text: what an object calls is what its undefined symbols say.  Every `make`
# runs it after linking; `make unit` also runs scripts/check-layers-selftest.sh, which
# injects each kind of violation and expects this check to fail on it.
#
#  - Layers are the folders of src/, bottom up (docs/ARCHITECTURE.md draws them):
#      core   pure logic: no libev, no connection
#      db     the coordination session (pgconn, session, setup)
#      node   membership, standby, leaders, partitions, exec, the node's wiring
#      serve  the status endpoint: reads the node through node.h's accessors
#      cmd    main and the one-shot commands
#    A file calls only files of its own folder or those below; news goes up through hooks.
#    A .c file outside these folders is an error: a new file must be placed.
#  - No source files call each other in a loop.
#  - Only db (and the one-shot commands, which run no loop) calls libpq functions that
#    use a connection; the others only read results (PQgetvalue, ...).
#  - core calls no libev function (ev_*).
# Usage: check-layers.sh BUILD_DIR   (SRC_DIR=src by default; objects are BUILD_DIR/NAME.o)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "check-layers: python3 is needed (apt-get install python3)" >&2; exit 1; }
command -v nm >/dev/null || { echo "check-layers: nm is needed (apt-get install binutils)" >&2; exit 1; }
build=$1
python3 - "${SRC_DIR:-src}" "$build" <<'PY'
import glob, os, subprocess, sys

src_dir, build = sys.argv[1], sys.argv[2]
names = ['core', 'db', 'node', 'serve', 'cmd']
CONNECTION_ALLOWED = {'oneshot.c', 'cmd_check.c', 'cmd_status.c', 'cmd_history.c'}   # and all of db
# libpq functions that need no connection: reading a result, freeing, parsing a conninfo.
RESULT_ONLY = {'PQgetvalue', 'PQntuples', 'PQnfields', 'PQgetisnull', 'PQgetlength',
               'PQresultStatus', 'PQresStatus', 'PQresultErrorMessage', 'PQresultErrorField',
               'PQclear', 'PQfname', 'PQfnumber', 'PQftype', 'PQcmdTuples', 'PQfreemem',
               'PQconninfoParse', 'PQconninfoFree', 'PQlibVersion'}

layer = {}
for rank, folder in enumerate(names):
    for src in glob.glob(os.path.join(src_dir, folder, '*.c')):
        layer[os.path.basename(src)] = rank
CONNECTION_ALLOWED |= {f for f, r in layer.items() if names[r] == 'db'}

sources = sorted(glob.glob(os.path.join(src_dir, '*.c')) + glob.glob(os.path.join(src_dir, '*', '*.c')))
defined, used = {}, {}
for src in sources:
    name = os.path.basename(src)
    obj = os.path.join(build, name[:-2] + '.o')
    if not os.path.exists(obj):
        sys.exit(f'check-layers: {obj} is missing: build first')
    out = subprocess.run(['nm', obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            defined[parts[2]] = name
        elif len(parts) == 2 and parts[0] == 'U':
            used.setdefault(name, set()).add(parts[1])

problems = []
edges = {os.path.basename(s): set() for s in sources}
for name in edges:
    if name not in layer:
        problems.append(f'{name} is in no layer: move it into one of src/{{{",".join(names)}}}/')
for name, symbols in sorted(used.items()):
    for sym in sorted(symbols):
        if sym in defined and defined[sym] != name:
            callee = defined[sym]
            edges[name].add(callee)
            if name in layer and callee in layer and layer[callee] > layer[name]:
                problems.append(f'{name} ({names[layer[name]]}) calls {sym} of {callee} '
                                f'({names[layer[callee]]}): a layer may only call its own '
                                'or those below')
        elif sym.startswith('PQ') and sym not in RESULT_ONLY and name not in CONNECTION_ALLOWED:
            problems.append(f'{name} calls {sym}, which uses the libpq connection: only the '
                            'db layer may')
        elif sym.startswith('ev_') and layer.get(name) == 0:
            problems.append(f'{name} is in core (pure) but calls {sym} (libev)')

# Tarjan's strongly connected components: any with two or more files is a loop.
index, low, stack, on, loops, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: loops.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in edges:
    if v not in index: visit(v)
problems += [f'these files call each other in a loop: {" ".join(c)}' for c in loops]

for p in problems:
    print(f'check-layers: {p}', file=sys.stderr)
if problems:
    sys.exit(1)
print(f'check-layers: {len(sources)} source files in {len(names)} layers ({" < ".join(names)}), '
      f'{sum(map(len, edges.values()))} file-to-file calls, none upward, no loops; '
      'libpq connection only in the db layer')
PY
