# SPDX-License-Identifier: PostgreSQL
# pg_auto_failover formation for the HA test (source this file): a monitor, a primary
# and a synchronous standby from Debian's packages on loopback ports, everything
# (PGDATA, pg_autoctl's config/state/pid files, sockets, logs) in one temporary directory,
# and a teardown that leaves nothing behind even after SIGKILLed postmasters (their
# SysV shared memory, pg_autoctl's log semaphores, socket lock files).
#
#   fa_up fast|default     sets B, MON_PORT, PORT_node1/2, FORMATION_URI, MONITOR_URI
#   fa_primary, fa_secondary, fa_healthy, fa_node_in NODE 'state',...
#   kill_node NODE         keeper and postmaster SIGKILLed (a lost machine)
#   keeper_start NODE      brings a node back
#   fa_down                teardown (idempotent, safe in a trap)
#
# "fast" shortens the monitor's health checks and timeouts (pgautofailover.* settings);
# the synchronous standby's loss stalls commits for node_considered_unhealthy_timeout.

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
HA_TMPROOT=${HA_TMPROOT:-${TMPDIR:-/tmp}}
NODES=(node1 node2)
# How long commits stall when the synchronous standby is lost (ms): long enough to
# outlast the nodes' answer deadline and lease in the test.
HA_STALL_MS=${HA_STALL_MS:-6000}

# --- identity: as root, every postgres/pg_autoctl process runs as OS user postgres.
if [ "$(id -u)" = 0 ]; then
    PGOSUSER=postgres
    DBUSER=postgres           # initdb superuser name == OS user running pg_autoctl
else
    PGOSUSER=$(id -un)
    DBUSER=$PGOSUSER
fi

now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }   # no fork
fa_log() { printf '%s %s\n' "$(date +%T.%3N)" "$*" >&2; }

# Environment for pg_autoctl: keep config/state/pid/socket files inside $B.
fa_env() {
    env HOME="$B/home" XDG_CONFIG_HOME="$B/xdg/config" XDG_DATA_HOME="$B/xdg/data" \
        XDG_RUNTIME_DIR="$B/xdg/run" PGHOST="$B/sock" PG_REGRESS_SOCK_DIR="$B/sock" \
        PATH="$PGBIN:/usr/bin:/bin" "$@"
}
# Run a command as the postgres OS user (root) or as ourselves (non-root), cwd=$B.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        ( cd "$B" && runuser -u "$PGOSUSER" -- env \
            HOME="$B/home" XDG_CONFIG_HOME="$B/xdg/config" XDG_DATA_HOME="$B/xdg/data" \
            XDG_RUNTIME_DIR="$B/xdg/run" PGHOST="$B/sock" PG_REGRESS_SOCK_DIR="$B/sock" \
            PATH="$PGBIN:/usr/bin:/bin" "$@" )
    else
        ( cd "$B" && fa_env "$@" )
    fi
}

# ---------------------------------------------------------------- ports
port_free() {   # no TCP socket of any state on it and no socket/lock file for it
    [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ] && [ ! -e "$B/sock/.s.PGSQL.$1" ]
}
# Ports are taken below the kernel's ephemeral range: a port inside it can be handed
# to any client connection (a psql, a node's session) between our check and the
# postmaster's bind, and a connected socket on it makes the bind fail (seen in CI: the
# monitor's postmaster failed to bind for 20 s and the formation did not come up).
pick_ports() {  # sets MON_PORT and PORT_node1/PORT_node2 (4 consecutive free ports, 4th spare)
    local base i ok low
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ "${low:-0}" -gt 21000 ] 2>/dev/null || low=32768
    for _ in $(seq 1 100); do
        base=$(( 20000 + (RANDOM % ((low - 20000) / 10 - 1)) * 10 ))
        ok=1
        for i in 0 1 2 3; do port_free $((base + i)) || { ok=0; break; }; done
        if [ $ok = 1 ]; then
            MON_PORT=$base; PORT_node1=$((base + 1)); PORT_node2=$((base + 2)); return 0
        fi
    done
    fa_log "no free ports found"; return 1
}
port_of() { local v="PORT_$1"; [ "$1" = monitor ] && echo "$MON_PORT" || echo "${!v}"; }

# ---------------------------------------------------------------- monitor SQL helpers
mon_sql() { PGCONNECT_TIMEOUT=2 psql -X -qAt -h 127.0.0.1 -p "$MON_PORT" -U autoctl_node -d pg_auto_failover -c "$1" 2>/dev/null; }
mon_su_sql() { PGCONNECT_TIMEOUT=2 psql -X -qAt -h 127.0.0.1 -p "$MON_PORT" -U "$DBUSER" -d pg_auto_failover -c "$1"; }
fa_states() { mon_sql "select string_agg(nodename||':'||reportedstate||'/'||goalstate, ' ' order by nodeid) from pgautofailover.node where formationid='default'"; }
fa_healthy() {  # exactly one primary and one secondary, reported == assigned
    [ "$(mon_sql "select count(*) filter (where reportedstate='primary' and goalstate='primary')=1
                     and count(*) filter (where reportedstate='secondary' and goalstate='secondary')=1
                   from pgautofailover.node where formationid='default'")" = t ]
}
fa_node_in() {  # fa_node_in NODE 'state1','state2' -> true when reported state matches
    [ "$(mon_sql "select count(*) from pgautofailover.node where nodename='$1' and reportedstate in ($2)")" = 1 ]
}
fa_primary() { mon_sql "select nodename from pgautofailover.node where formationid='default' and reportedstate in ('primary','wait_primary','single') order by nodeid limit 1"; }
fa_secondary() { mon_sql "select nodename from pgautofailover.node where formationid='default' and reportedstate='secondary' order by nodeid limit 1"; }
# wait_until TIMEOUT_S CMD... -> prints elapsed ms, returns 1 on timeout (polls every 0.2s)
wait_until() {
    local t0 deadline; t0=$(now_ms); deadline=$(( t0 + $1 * 1000 )); shift
    until "$@"; do
        if [ "$(now_ms)" -ge "$deadline" ]; then echo $(( $(now_ms) - t0 )); return 1; fi
        sleep 0.2
    done
    echo $(( $(now_ms) - t0 ))
}

# ---------------------------------------------------------------- keepers
# Each `pg_autoctl run` gets its own session/process group (setsid); its pid == pgid is
# written by the wrapper itself, so this works with or without job control.
keeper_start() {
    local n=$1
    ( cd "$B" && if [ "$(id -u)" = 0 ]; then
          exec setsid bash -c 'echo $$ > "$0"; exec "$@"' "$B/run/$n.pgid" \
              runuser -u "$PGOSUSER" -- env HOME="$B/home" XDG_CONFIG_HOME="$B/xdg/config" \
              XDG_DATA_HOME="$B/xdg/data" XDG_RUNTIME_DIR="$B/xdg/run" PGHOST="$B/sock" \
              PG_REGRESS_SOCK_DIR="$B/sock" PATH="$PGBIN:/usr/bin:/bin" \
              pg_autoctl run --pgdata "$B/$n"
      else
          exec setsid bash -c 'echo $$ > "$0"; exec "$@"' "$B/run/$n.pgid" \
              env HOME="$B/home" XDG_CONFIG_HOME="$B/xdg/config" XDG_DATA_HOME="$B/xdg/data" \
              XDG_RUNTIME_DIR="$B/xdg/run" PGHOST="$B/sock" PG_REGRESS_SOCK_DIR="$B/sock" \
              PATH="$PGBIN:/usr/bin:/bin" pg_autoctl run --pgdata "$B/$n"
      fi ) >> "$B/log/$n.log" 2>&1 < /dev/null &
    disown $! 2>/dev/null   # no "Killed" job notices when we SIGKILL it later
    local i; for i in $(seq 1 50); do [ -s "$B/run/$n.pgid" ] && break; sleep 0.05; done
}
group_alive() { local g; g=$(cat "$B/run/$1.pgid" 2>/dev/null) && [ -n "$g" ] && kill -0 -- "-$g" 2>/dev/null; }
postmaster_pid() { local p; p=$(head -1 "$B/$1/postmaster.pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; }
remember_shm() {  # keep shmids of a data dir for cleanup (line 7 of postmaster.pid = "key shmid")
    sed -n 7p "$B/$1/postmaster.pid" 2>/dev/null | awk 'NF==2{print $1, $2}' >> "$B/run/shmids"
}
# pg_autoctl's SysV log semaphore (IPC_PRIVATE, 1 sem): its id is line 5 of the keeper
# pidfile. A SIGKILLed keeper leaks it, and pg_autoctl 2.0 does NOT reclaim it on restart
# (pidfile.c removes the stale pidfile before semaphore_cleanup() reads it).
remember_sem() {
    sed -n 5p "$B/xdg/run/pg_autoctl$B/$1/pg_autoctl.pid" 2>/dev/null | grep -E '^[0-9]+$' >> "$B/run/semids"
}
# Hard node loss: freeze postmaster, SIGKILL keeper group (pg_autoctl + postmaster) and
# every postmaster child (backends/walsender/walreceiver call setsid, so not in the group).
kill_node() {
    local n=$1 pm kids g
    remember_shm "$n"; remember_sem "$n"
    pm=$(postmaster_pid "$n")
    [ -n "$pm" ] && kill -STOP "$pm" 2>/dev/null
    kids=$([ -n "$pm" ] && ps -o pid= --ppid "$pm")
    g=$(cat "$B/run/$n.pgid" 2>/dev/null)
    [ -n "$g" ] && kill -KILL -- "-$g" 2>/dev/null
    [ -n "$pm" ] && kill -KILL "$pm" 2>/dev/null
    [ -n "$kids" ] && kill -KILL $kids 2>/dev/null
    return 0
}

# ---------------------------------------------------------------- setup
fa_create_node() {  # fa_create_node NAME  (create without --run, then tune, then run)
    local n=$1 p; p=$(port_of "$n")
    as_pg pg_autoctl create postgres --pgdata "$B/$n" --pgport "$p" --pgctl "$PGBIN/pg_ctl" \
        --hostname 127.0.0.1 --listen 127.0.0.1 --name "$n" --monitor "$MONITOR_URI" \
        --auth trust --no-ssl >> "$B/log/$n.create.log" 2>&1 || { fa_log "create $n failed, see $B/log/$n.create.log"; return 1; }
    # standby gets a copy of the primary's postgresql.conf via pg_basebackup: append only once
    grep -q '^# clustered_nodes HA test overrides' "$B/$n/postgresql.conf" || fa_tune_conf "$B/$n/postgresql.conf"
    keeper_start "$n"
}
# pg_autoctl writes "basic tuning" from total RAM (shared_buffers = 25% RAM = ~6GB here);
# lines after the include in postgresql.conf win. fsync=off is safe for process kills.
fa_tune_conf() {
    printf "\n# clustered_nodes HA test overrides\nshared_buffers = '128MB'\nmax_connections = 50\nfsync = off\n" >> "$1"
    # standby reconnect delay after its upstream restarts (PG default 5s): in fast mode 1s
    [ "${MODE:-fast}" = fast ] && printf "wal_retrieve_retry_interval = '1s'\n" >> "$1"
    return 0
}
# Monitor-side timeouts (all PGC_SIGHUP, so ALTER SYSTEM + reload is enough).
fa_fast_gucs() {
    local g args=()
    for g in health_check_period=1000 health_check_timeout=1000 health_check_max_retries=1 \
             health_check_retry_delay=500 node_considered_unhealthy_timeout=$HA_STALL_MS \
             primary_demote_timeout=3000 startup_grace_period=2000; do
        args+=(-c "alter system set pgautofailover.${g%%=*} = ${g#*=}")
    done
    PGCONNECT_TIMEOUT=2 psql -X -qAt -h 127.0.0.1 -p "$MON_PORT" -U "$DBUSER" -d pg_auto_failover \
        "${args[@]}" -c "select pg_reload_conf()" >/dev/null
}

fa_up() {  # fa_up fast|default
    MODE=${1:-fast}
    B=$(mktemp -d "$HA_TMPROOT/clustered_nodes.ha.XXXXXX") || return 1
    export B
    mkdir -p "$B"/{home,xdg/config,xdg/data,xdg/run,sock,log,run}
    chmod 755 "$B"; chmod 700 "$B/xdg/run"
    [ "$(id -u)" = 0 ] && chown -R "$PGOSUSER:" "$B"
    pick_ports || return 1
    printf 'MON_PORT=%s\nPORT_node1=%s\nPORT_node2=%s\nMODE=%s\n' "$MON_PORT" "$PORT_node1" "$PORT_node2" "$MODE" > "$B/ports.env"
    fa_log "BASE=$B ports monitor=$MON_PORT node1=$PORT_node1 node2=$PORT_node2 mode=$MODE"
    local t0; t0=$(now_ms)

    as_pg pg_autoctl create monitor --pgdata "$B/monitor" --pgport "$MON_PORT" --pgctl "$PGBIN/pg_ctl" \
        --hostname 127.0.0.1 --auth trust --no-ssl >> "$B/log/monitor.create.log" 2>&1 \
        || { fa_log "create monitor failed"; return 1; }
    # monitor create has no --listen: default listen_addresses='*' -> restrict to loopback
    as_pg pg_autoctl config set --pgdata "$B/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null 2>&1
    fa_tune_conf "$B/monitor/postgresql.conf"
    keeper_start monitor
    wait_until 30 mon_sql "select 1" >/dev/null || {
        # The logs go with the teardown: show their ends, so that a failure in CI says why.
        fa_log "monitor did not come up; the ends of its logs:"
        tail -n 15 "$B/log/monitor.create.log" "$B/log/monitor.log" \
            "$B"/monitor/log/*.log 2>/dev/null | sed 's/^/    | /' >&2
        return 1
    }
    MONITOR_URI=$(as_pg pg_autoctl show uri --pgdata "$B/monitor" --monitor 2>/dev/null)
    [ -n "$MONITOR_URI" ] || MONITOR_URI="postgres://autoctl_node@127.0.0.1:$MON_PORT/pg_auto_failover?sslmode=prefer"
    [ "$MODE" = fast ] && fa_fast_gucs

    fa_create_node node1 || return 1
    wait_until 30 fa_node_in node1 "'single'" >/dev/null || { fa_log "node1 not single"; return 1; }
    fa_create_node node2 || return 1
    wait_until 60 fa_healthy >/dev/null || { fa_log "formation not healthy: $(fa_states)"; return 1; }

    FORMATION_URI=$(as_pg pg_autoctl show uri --pgdata "$B/monitor" --formation default 2>/dev/null)
    echo "MONITOR_URI='$MONITOR_URI'" >> "$B/ports.env"
    echo "FORMATION_URI='$FORMATION_URI'" >> "$B/ports.env"
    SETUP_MS=$(( $(now_ms) - t0 ))
    fa_log "formation healthy after ${SETUP_MS} ms: $(fa_states)"
    fa_log "FORMATION_URI=$FORMATION_URI"
    fa_log "MONITOR_URI=$MONITOR_URI"
}

# ---------------------------------------------------------------- teardown
fa_down() {
    [ -n "${B:-}" ] && [ -d "$B" ] || return 0
    # safety: only dirs under $HA_TMPROOT that look like ours
    case "$B" in "$HA_TMPROOT"/clustered_nodes.ha.?*) ;; *) fa_log "refusing to clean unexpected dir '$B'"; return 1;; esac
    [ -d "$B/xdg" ] || { fa_log "refusing to clean '$B' (no xdg/ marker)"; return 1; }
    local saved_e=$-; set +e
    local n g d p pids shm t0; t0=$(now_ms)
    # 1. graceful: `pg_autoctl stop --fast` (SIGINT to the supervisor only; it stops its
    #    Postgres with pg_ctl --mode fast). Do NOT signal the whole group: the supervisor
    #    would see its children die and restart them.
    for n in "${NODES[@]}" monitor; do
        group_alive "$n" && as_pg pg_autoctl stop --pgdata "$B/$n" --fast >/dev/null 2>&1 &
    done
    wait
    for _ in $(seq 1 75); do
        pids=0; for n in "${NODES[@]}" monitor; do group_alive "$n" && pids=1; done
        [ $pids = 0 ] && break; sleep 0.2
    done
    # 2. keepers that did not stop: SIGKILL their groups; then any postmaster still alive
    #    (e.g. its keeper was SIGKILLed earlier): pg_ctl -m immediate stop
    for n in "${NODES[@]}" monitor; do
        group_alive "$n" && { fa_log "keeper $n did not stop, SIGKILL"; kill -KILL -- "-$(cat "$B/run/$n.pgid")"; }
    done
    for d in "$B"/*/; do
        d=${d%/}; [ -f "$d/PG_VERSION" ] || continue
        if postmaster_pid "$(basename "$d")" >/dev/null; then
            as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 10 stop >/dev/null 2>&1
        fi
    done
    # 3. SIGKILL leftovers: any process whose cwd is inside $B (postgres processes chdir to
    #    PGDATA, our keepers run with cwd=$B; orphaned backends of a SIGKILLed postmaster).
    #    Never ourselves or our parent.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=""
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || [ "$p" = "$PPID" ] && continue
            case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$B"|"$B"/*) pids="$pids $p";; esac
        done
        [ -z "$pids" ] && break
        kill -KILL $pids 2>/dev/null; sleep 0.2
    done
    # keep pg_autoctl's logs (small) for a post-mortem when asked to
    [ -n "${HA_KEEP_LOGS:-}" ] && cp -r "$B/log" "$HA_KEEP_LOGS/pg_autoctl" 2>/dev/null
    # all processes are gone now: postmaster.pid files left behind name the segments
    for d in "$B"/*/; do remember_shm "$(basename "$d")"; remember_sem "$(basename "$d")"; done
    # 4. System V IPC left by SIGKILLed processes: only ids recorded from OUR pid files.
    #    Postgres: the small SysV shm segment ("key shmid" on line 7 of postmaster.pid),
    #    removed only if nattch == 0. (Debian PG15 uses unnamed POSIX semaphores inside
    #    shared memory: postgres leaves no SysV semaphore sets.)
    source "$B/ports.env" 2>/dev/null
    # match by shmid or by key (key is derived from the PGDATA inode), owner = our PG user,
    # and nattch == 0 only
    sort -u "$B/run/shmids" 2>/dev/null | while read -r key shm; do
        ipcs -m | awk -v id="$shm" -v key="$key" -v u="$PGOSUSER" \
            'NR>3 && $3==u && $6==0 && ($2==id || $1+0==key+0 || sprintf("0x%08x", key)==$1) {print $2}'
    done | sort -u | while read -r shm; do
        ipcrm -m "$shm" 2>/dev/null && fa_log "removed stale shm segment $shm"
    done
    # pg_autoctl log semaphores of keepers that did not exit cleanly (recorded ids only,
    # IPC_PRIVATE key, owned by our PG user)
    sort -u "$B/run/semids" 2>/dev/null | while read -r sem; do
        ipcs -s | awk -v id="$sem" -v u="$PGOSUSER" '$2==id && $1=="0x00000000" && $3==u {f=1} END{exit !f}' &&
            ipcrm -s "$sem" 2>/dev/null && fa_log "removed stale pg_autoctl semaphore $sem"
    done
    # 5. socket/lock files and everything else live in $B
    rm -rf "$B"
    fa_log "teardown of $B done in $(( $(now_ms) - t0 )) ms"
    B=""
    case $saved_e in *e*) set -e;; esac
    return 0
}
