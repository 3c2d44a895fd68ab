# SPDX-License-Identifier: PostgreSQL
# Throwaway PostgreSQL for tests, the demo and benchmarks (source this file).
# A temp data dir, a free loopback port, stopped with -m immediate.  Works as
# root (the server runs as the postgres user via runuser) and as non-root.
#
#   pgtmp_start [extra postgres -c settings...]   sets PGTMP_DIR, PGTMP_PORT,
#                                                 PGTMP_CONNINFO, exports PG*
#   pgtmp_psql [psql args...]                     psql as the superuser
#   pgtmp_restart                                 pg_ctl restart -m fast
#   pgtmp_stop                                    stop and remove everything

pgtmp_bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/pg_ctl" ] || { echo "pgtmp: no PostgreSQL server found (apt-get install postgresql)" >&2; return 1; }
	echo "$d"
}

pgtmp_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgtmp_start() {
	local bindir port attempt setting opts
	bindir=$(pgtmp_bindir) || return 1
	PGTMP_BIN=$bindir
	PGTMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.pg.XXXXXX")
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PGTMP_DIR"
	pgtmp_as_owner "$bindir/initdb" --no-sync -A trust -U postgres -E UTF8 \
		--locale=C -D "$PGTMP_DIR/data" >"$PGTMP_DIR/initdb.log" 2>&1 ||
		{ cat "$PGTMP_DIR/initdb.log" >&2; return 1; }
	opts="-k $PGTMP_DIR -c listen_addresses=127.0.0.1"
	for setting in "$@"; do opts="$opts -c $setting"; done
	for attempt in $(seq 1 20); do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		ss -Htln "sport = :$port" 2>/dev/null | grep -q . && continue
		if pgtmp_as_owner "$bindir/pg_ctl" -w -t 30 -D "$PGTMP_DIR/data" \
			-l "$PGTMP_DIR/postgres.log" -o "-p $port $opts" start >/dev/null 2>&1; then
			PGTMP_PORT=$port
			PGTMP_OPTS="-p $port $opts"
			export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
			PGTMP_CONNINFO="host=127.0.0.1 port=$port user=postgres dbname=postgres"
			return 0
		fi
	done
	echo "pgtmp: could not start PostgreSQL; its log:" >&2
	tail -n 20 "$PGTMP_DIR/postgres.log" >&2
	return 1
}

pgtmp_psql() {
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGTMP_PORT" -U postgres -d postgres "$@"
}

pgtmp_restart() {
	pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -w -t 30 -D "$PGTMP_DIR/data" -m fast \
		-l "$PGTMP_DIR/postgres.log" -o "$PGTMP_OPTS" restart >/dev/null
}

pgtmp_stop() {
	[ -n "${PGTMP_DIR:-}" ] || return 0
	if [ -f "$PGTMP_DIR/data/postmaster.pid" ]; then
		pgtmp_as_owner "$PGTMP_BIN/pg_ctl" -D "$PGTMP_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$PGTMP_DIR"
	PGTMP_DIR=
}
