#!/usr/bin/env bash
# Checks the layering of src/, from the compiled objects' symbol tables (nm), never from
# the source text: what an object calls is what its undefined symbols say.  Every `make`
# runs it after linking; `make unit` also runs scripts/check-layers-selftest.sh, which
# injects each kind of violation and expects this check to fail on it.
#
#  - Layers, bottom up (docs/ARCHITECTURE.md draws them):
#      0 pure    the PURE_SRCS of the Makefile (given as arguments): no libev, no connection
#      1 db      pgconn.c, session.c: the coordination session
#      2 setup   setup.c, membership.c: what each connection sets up and keeps
#      3 parts   standby, leader*, exec_runner, partitions, partitioner, sdnotify, node_status
#      4 node    node.c: the wiring
#      5 serve   http.c, http_pages.c: read the node through node.h's accessors
#      6 cmd     main.c and the one-shot commands (oneshot.c, cmd_check.c, cmd_status.c)
#    A file calls only files of its own layer or below; news goes up through hooks.
#  - No source files call each other in a loop.
#  - Only the db layer (and the one-shot commands, which run no loop) calls libpq
#    functions that use a connection; the others only read results (PQgetvalue, ...).
#  - Pure modules call no libev function (ev_*).
# A source file that no layer names is an error: a new file must be placed.
# Usage: check-layers.sh BUILD_DIR PURE_SOURCE...   (SRC_DIR=src by default)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "check-layers: python3 is needed (apt-get install python3)" >&2; exit 1; }
command -v nm >/dev/null || { echo "check-layers: nm is needed (apt-get install binutils)" >&2; exit 1; }
build=$1
shift
python3 - "${SRC_DIR:-src}" "$build" "$@" <<'PY'
import glob, os, subprocess, sys

src_dir, build, pure = sys.argv[1], sys.argv[2], {os.path.basename(p) for p in sys.argv[3:]}
LAYERS = [
    ('db', {'pgconn.c', 'session.c'}),
    ('setup', {'setup.c', 'membership.c'}),
    ('parts', {'standby.c', 'leader.c', 'leader_step.c', 'leader_intake.c', 'exec_runner.c',
               'partitions.c', 'partitioner.c', 'sdnotify.c', 'node_status.c'}),
    ('node', {'node.c'}),
    ('serve', {'http.c', 'http_pages.c'}),
    ('cmd', {'main.c', 'oneshot.c', 'cmd_check.c', 'cmd_status.c'}),
]
CONNECTION_ALLOWED = {'pgconn.c', 'session.c', 'oneshot.c', 'cmd_check.c', 'cmd_status.c'}
# libpq functions that need no connection: reading a result, freeing, parsing a conninfo.
RESULT_ONLY = {'PQgetvalue', 'PQntuples', 'PQnfields', 'PQgetisnull', 'PQgetlength',
               'PQresultStatus', 'PQresStatus', 'PQresultErrorMessage', 'PQresultErrorField',
               'PQclear', 'PQfname', 'PQfnumber', 'PQftype', 'PQcmdTuples', 'PQfreemem',
               'PQconninfoParse', 'PQconninfoFree', 'PQlibVersion'}

layer = {}
for rank, (_, files) in enumerate(LAYERS, start=1):
    for f in files:
        layer[f] = rank
for f in pure:
    layer[f] = 0
names = ['pure'] + [n for n, _ in LAYERS]

sources = sorted(glob.glob(os.path.join(src_dir, '*.c')))
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
        problems.append(f'{name} is in no layer: place it (scripts/check-layers.sh, '
                        'docs/ARCHITECTURE.md)')
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
            problems.append(f'{name} is a pure module but calls {sym} (libev)')

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
print(f'check-layers: {len(sources)} source files in {len(names)} layers, '
      f'{sum(map(len, edges.values()))} file-to-file calls, none upward, no loops; '
      'libpq connection only in the db layer')
PY
