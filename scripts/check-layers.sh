#!/usr/bin/env bash
# Checks the layering of src/ (make check runs it):
#  - no source files call each other in a loop, read from the compiled objects' symbol
#    tables (which file defines a function or variable, which file uses it);
#  - only the session layer (pgconn.c, session.c) and the one-shot subcommands touch
#    libpq's connection; the rest only read results;
#  - the pure modules (PURE_SRCS in the Makefile, unit-tested without a database) use
#    neither libev nor a connection.
# Usage: check-layers.sh BUILD_DIR PURE_SOURCE...
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
shift
python3 - "$build" "$@" <<'PY'
import glob, os, re, subprocess, sys

build, pure = sys.argv[1], {os.path.basename(p) for p in sys.argv[2:]}
sources = sorted(glob.glob('src/*.c'))
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
edges = {s: set() for s in map(os.path.basename, sources)}
for name, symbols in used.items():
    for sym in symbols:
        if sym in defined and defined[sym] != name:
            edges[name].add(defined[sym])

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

problems = [f'these files call each other in a loop: {" ".join(c)}' for c in loops]
connection = re.compile(r'\b(PGconn|PQconnect\w*|PQexec\w*|PQsend\w*|PQpipeline\w*|PQconsumeInput|'
                        r'PQgetResult|PQsocket|PQfinish|PQflush|PQnotifies|PQescape\w*)\b')
allowed = {'pgconn.c', 'session.c', 'oneshot.c', 'cmd_check.c', 'cmd_status.c'}
for src in sources:
    name = os.path.basename(src)
    text = re.sub(r'/\*.*?\*/', '', open(src).read(), flags=re.S)
    if name not in allowed and connection.search(text):
        problems.append(f'{name} touches the libpq connection ({connection.search(text).group(0)}): '
                        'only the session layer may')
    if name in pure and re.search(r'#include <ev\.h>|\bev_\w+\(', text):
        problems.append(f'{name} is a pure module but uses libev')
for p in problems:
    print(f'check-layers: {p}', file=sys.stderr)
if problems:
    sys.exit(1)
print(f'check-layers: {len(sources)} source files, {sum(map(len, edges.values()))} file-to-file '
      'calls, no loops; libpq connection only in the session layer')
PY
