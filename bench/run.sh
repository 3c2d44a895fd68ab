#!/usr/bin/env bash
# SPDX-License-Identifier: PostgreSQL
# `make bench`: throughput, latency, takeover and footprint of clustered_nodes,
# each throughput figure next to a raw LISTEN client under the same load in
# the same run.  Starts its own PostgreSQL (fsync on: the server's defaults),
# prints a table and writes every figure to bench/results/.
# BENCH_QUICK=1 shortens every scenario (about a minute and a half in all);
# BENCH_ONLY="partitions_scaling" (a scenario function and its arguments) runs one;
# BENCH_KEEP_WORK=1 keeps the nodes' logs (in the directory it prints at the end).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CLUSTERED_NODES_CONFIG=	# not an installed /etc/clustered_nodes/clustered_nodes.conf
source "$ROOT/scripts/pgtmp.sh"
source "$ROOT/tests/integration/lib.sh"
ANALYZE="python3 $ROOT/bench/analyze.py"
RAW="$ROOT/build/raw_listener"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DURATION=3 KILLS=5 IDLE_SECONDS=2 STARTUPS=5 SLOW_BURST=5000 PART_EVENTS=1500 MOVES=3
	IDLE_NODES="1 11" IDLE_COST_SECONDS=3 IDLE_SETTLE_SECONDS=3
else
	DURATION=10 KILLS=20 IDLE_SECONDS=5 STARTUPS=10 SLOW_BURST=20000 PART_EVENTS=6000 MOVES=10
	IDLE_NODES="1 11 51 200" IDLE_COST_SECONDS=10 IDLE_SETTLE_SECONDS=10
fi
LATENCY_RATE=1000
TAKEOVER_RATE=500

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clustered_nodes.bench.XXXXXX")
RESULTS=$WORK/results.txt
cleanup() {
	kill_nodes
	pkill -f "^$RAW " 2>/dev/null || true
	pkill -f "pgbench -h 127.0.0.1 -p $PGTMP_PORT " 2>/dev/null || true
	pgtmp_stop
	if [ -n "${BENCH_KEEP_WORK:-}" ]; then echo "bench: logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now_us() { date +%s%6N; }
record() { echo "$1 $2" >>"$RESULTS"; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk "/^$2:/ { print \$2 }" "/proc/$1/status"; }
log_ts_us() { date -d "$1" +%s%6N; }
# After a kill (or a start) the harness keeps still for a moment before it polls: each
# poll forks a psql and a server backend (or a grep), which on a small machine competes
# for the CPU with the takeover (or start-up) being measured.  The figure comes from the
# nodes' own log lines either way.
quiet_while_measuring() { sleep 0.25; }
pgb() { pgbench -h 127.0.0.1 -p "$PGTMP_PORT" -U postgres -n "$@" postgres; }

# 200 idle nodes take a session each, and a partitioned node a second (its watch).
pgtmp_start max_connections=460 >/dev/null
apply_schema >/dev/null
pgtmp_psql -c "CREATE SEQUENCE IF NOT EXISTS bench_seq"
echo "SELECT pg_notify('bench', 'x');" >"$WORK/notify.sql"
echo "SELECT pg_notify('bench_lat', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);" >"$WORK/latency.sql"
echo "SELECT pg_notify('bench_to', nextval('bench_seq')::text);" >"$WORK/sequence.sql"
echo "SELECT clustered_nodes.notify('bench_durable', 'x');" >"$WORK/durable.sql"

record machine "\"$(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)\""
record postgres "$(pgtmp_psql -c 'SHOW server_version' | cut -d' ' -f1)"
record fsync "$(pgtmp_psql -c 'SHOW fsync')"
record quick "$QUICK"

# ---- throughput: one leader and the raw listener on the same channel ----
throughput() {
	local c=$1 cl=bench_tp_c$1 pid raw t0 sent tps raw_out count last leader_last cpu0 cpu1 t1
	start_node "$cl" leader --listen bench
	pid=${NODE_PID[leader]}
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	"$RAW" "$PGTMP_CONNINFO" bench >"$WORK/raw.$c" 2>&1 &
	raw=$!
	wait_for "raw listener" 10000 grep -q ready "$WORK/raw.$c"
	cpu0=$(cpu_ticks "$pid")
	t0=$(now_us)
	pgb -f "$WORK/notify.sql" -c "$c" -j "$c" -T "$DURATION" >"$WORK/pgbench.$c" 2>&1
	sent=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.$c")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.$c")
	wait_for "the leader to process all $sent" 120000 counter_is "$cl" "$sent"
	t1=$(now_us)
	cpu1=$(cpu_ticks "$pid")
	kill -TERM "$raw"
	wait "$raw" || true
	read -r count _ last < <(tail -n 1 "$WORK/raw.$c")
	leader_last=$($ANALYZE last-ts "$(node_log "$cl" leader)")
	record "throughput.c$c.sent" "$sent"
	record "throughput.c$c.sent_per_s" "$tps"
	record "throughput.c$c.raw_received" "$count"
	record "throughput.c$c.raw_per_s" "$(calc "$count * 1000000 / ($last - $t0)")"
	record "throughput.c$c.leader_per_s" "$(calc "$sent * 1000000 / ($leader_last - $t0)")"
	record "throughput.c$c.ratio" "$(calc "($last - $t0) / ($leader_last - $t0)")"
	record "throughput.c$c.counter_ok" "$([ "$(counter_of "$cl")" = "$sent" ] && [ "$count" = "$sent" ] && echo 1 || echo 0)"
	if [ "$c" = 8 ]; then
		record footprint.leader_load_clients "$c"
		record footprint.leader_rss_kib "$(rss_kib "$pid" VmHWM)"
		record footprint.leader_cpu_pct "$(calc "($cpu1 - $cpu0) / $(getconf CLK_TCK) * 100 / (($t1 - $t0) / 1000000)")"
	fi
	kill_nodes
	echo "  throughput with $c client(s): $sent sent" >&2
}

# ---- durable events: the same load shape through clustered_nodes.notify() ----
durable() {
	local c=$1 cl=bench_durable sent tps t0 leader_last
	start_node "$cl" leader --listen bench_durable
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	t0=$(now_us)
	pgb -f "$WORK/durable.sql" -c "$c" -j "$c" -T "$DURATION" >"$WORK/pgbench.durable" 2>&1
	sent=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.durable")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.durable")
	wait_for "the leader to process all $sent events" 120000 counter_is "$cl" "$sent"
	leader_last=$($ANALYZE last-ts "$(node_log "$cl" leader)")
	record durable.clients "$c"
	record durable.sent "$sent"
	record durable.sent_per_s "$tps"
	record durable.leader_per_s "$(calc "$sent * 1000000 / ($leader_last - $t0)")"
	record durable.counter_ok "$([ "$(counter_of "$cl")" = "$sent" ] && [ "$(q "SELECT count(*) FROM clustered_nodes.events WHERE channel = 'bench_durable'")" = 0 ] && echo 1 || echo 0)"
	kill_nodes
	echo "  durable events with $c clients: $sent sent" >&2
}

# ---- overload: a 1 ms SQL handler and a burst far beyond what it can do at once ----
slow_handler() {
	local cl=bench_slow burst=$1 pid t0 t1 term0 term1 demotions
	pgtmp_psql -c "CREATE OR REPLACE FUNCTION public.bench_slow(p text) RETURNS void
		LANGUAGE sql AS 'SELECT pg_sleep(0.001)'" >/dev/null
	# What the handler really costs here: pg_sleep(0.001) sleeps longer than 1 ms.
	t0=$(now_us)
	q "SELECT count(public.bench_slow(g::text)) FROM generate_series(1, 1000) g" >/dev/null
	record slow.handler_measured_ms "$(calc "($(now_us) - $t0) / 1000 / 1000")"
	start_node "$cl" leader --listen bench_slow --handler-sql 'SELECT public.bench_slow($2)'
	start_node "$cl" standby --listen bench_slow --handler-sql 'SELECT public.bench_slow($2)'
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	pid=${NODE_PID[$(leader_of "$cl")]}
	term0=$(term_of "$cl")
	t0=$(now_us)
	q "SELECT pg_notify('bench_slow', 's' || g) FROM generate_series(1, $burst) g" >/dev/null
	wait_for "the burst processed" 600000 counter_is "$cl" "$burst"
	t1=$(now_us)
	term1=$(term_of "$cl")
	demotions=$(cat "$WORK/$cl".*.log | grep -c 'self-demotion' || true)
	record slow.burst "$burst"
	record slow.handler_ms 1
	record slow.events_per_s "$(calc "$burst * 1000000 / ($t1 - $t0)")"
	record slow.term_changes "$((term1 - term0))"
	record slow.demotions "$demotions"
	record slow.peak_rss_kib "$(rss_kib "$pid" VmHWM)"
	kill_nodes
	echo "  slow handler: $burst in one transaction" >&2
}

# ---- partitions: a 2 ms SQL handler, K = 8, over 1, 2 and 4 nodes; rebalancing ----
# How many partitions each member's session holds, largest first ("2 2 2 2"); "" while
# any partition is free or held by a session that is not a member.
part_shape() {
	q "SELECT CASE WHEN count(*) FILTER (WHERE m.node IS NULL) > 0 THEN '' ELSE
		(SELECT string_agg(n::text, ' ' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM generate_series(0, 7) g(p)
			JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$1', g.p)
			JOIN clustered_nodes.members m ON m.backend_pid = l.pid AND m.cluster = '$1' GROUP BY m.node) x) END
		FROM generate_series(0, 7) g(p)
		LEFT JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$1', g.p)
		LEFT JOIN clustered_nodes.members m ON m.backend_pid = l.pid AND m.cluster = '$1'"
}
part_shape_is() { [ "$(part_shape "$1")" = "$2" ]; }
events_left() { q "SELECT count(*) FROM clustered_nodes.events WHERE cluster = '$1'"; }
no_events_left() { [ "$(events_left "$1")" = 0 ]; }

partitions_scaling() {
	local n i cl t0 t1 shapes=([1]="8" [2]="4 4" [4]="2 2 2 2") samples_join=() samples_kill=() victim
	pgtmp_psql -c "CREATE OR REPLACE FUNCTION public.bench_part(p text) RETURNS void
		LANGUAGE sql AS 'SELECT pg_sleep(0.002)'" >/dev/null
	t0=$(now_us)
	q "SELECT count(public.bench_part(g::text)) FROM generate_series(1, 500) g" >/dev/null
	record partitions.handler_measured_ms "$(calc "($(now_us) - $t0) / 1000 / 500")"
	for n in 1 2 4; do
		cl=bench_part_n$n
		for ((i = 1; i <= n; i++)); do
			start_node "$cl" "p${n}_$i" --listen bench_part --partitions 8 \
				--handler-sql 'SELECT public.bench_part($2)'
		done
		wait_for "$n node(s) sharing 8 partitions" 20000 part_shape_is "$cl" "${shapes[$n]}"
		# Durable events with keys, committed in one transaction; the clock starts at
		# the commit (the wake-ups go out then) and stops when the table is empty.
		q "SELECT count(clustered_nodes.notify('bench_part', 'e' || g, 'k' || g))
			FROM generate_series(1, $PART_EVENTS) g" >/dev/null
		t0=$(now_us)
		wait_for "$PART_EVENTS events handled by $n node(s)" 600000 no_events_left "$cl"
		t1=$(now_us)
		record "partitions.n$n.events_per_s" "$(calc "$PART_EVENTS * 1000000 / ($t1 - $t0)")"
		[ "$(q "SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$cl'")" = "$PART_EVENTS" ] &&
			record "partitions.n$n.counter_ok" 1 || record "partitions.n$n.counter_ok" 0
		kill_nodes
	done
	# Rebalancing, 3 nodes and K = 8 (3 3 2): a fourth joins (2 2 2 2), then one is killed.
	cl=bench_part_moves
	for i in 1 2 3; do start_node "$cl" "m_$i" --listen bench_part --partitions 8; done
	wait_for "3 nodes sharing 8 partitions" 20000 part_shape_is "$cl" "3 3 2"
	for ((i = 1; i <= MOVES; i++)); do
		t0=$(now_us)
		start_node "$cl" m_4 --listen bench_part --partitions 8
		wait_for "a fourth node's share" 10000 part_shape_is "$cl" "2 2 2 2"
		samples_join+=("$(calc "($(now_us) - $t0) / 1000")")
		victim=m_$(( (i % 3) + 1 ))
		t0=$(now_us)
		{ kill -9 "${NODE_PID[$victim]}"; wait "${NODE_PID[$victim]}"; } 2>/dev/null || true
		wait_for "the dead node's partitions taken" 10000 part_shape_is "$cl" "3 3 2"
		samples_kill+=("$(calc "($(now_us) - $t0) / 1000")")
		# Back to 3 nodes named m_1..m_3, and m_4 gone, for the next round.
		{ kill -TERM "${NODE_PID[m_4]}"; wait "${NODE_PID[m_4]}"; } 2>/dev/null || true
		start_node "$cl" "$victim" --listen bench_part --partitions 8
		wait_for "3 nodes again" 20000 part_shape_is "$cl" "3 3 2"
	done
	for i in "${samples_join[@]}"; do record partitions.join.ms "$i"; done
	for i in "${samples_kill[@]}"; do record partitions.sigkill.ms "$i"; done
	kill_nodes
	echo "  partitions: scaling over 1, 2, 4 nodes; $MOVES joins and kills" >&2
}

# ---- quiet standbys: what standbys cost every other NOTIFY of the database ----
notify_rate() {
	pgb -f "$WORK/unrelated.sql" -c 4 -j 4 -T "$DURATION" >"$WORK/pgbench.quiet" 2>&1
	sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.quiet"
}
quiet_standbys() {
	local cl=bench_quiet a1 b a2 i
	echo "SELECT pg_notify('some_unrelated_channel', 'x');" >"$WORK/unrelated.sql"
	start_node "$cl" q_leader --listen bench_quiet
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	a1=$(notify_rate)
	for i in 1 2 3 4; do start_node "$cl" "q_standby$i" --listen bench_quiet; done
	wait_for "four standbys" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.members m JOIN pg_stat_activity a ON a.pid = m.backend_pid WHERE m.cluster = '$cl' AND m.role = 'standby'\")\" = 4 ]"
	b=$(notify_rate)
	for i in 1 2 3 4; do kill -TERM "${NODE_PID[q_standby$i]}"; wait "${NODE_PID[q_standby$i]}" 2>/dev/null; unset "NODE_PID[q_standby$i]"; done
	a2=$(notify_rate)
	record quiet.leader_alone_per_s "$(calc "($a1 + $a2) / 2")"
	record quiet.leader_and_4_standbys_per_s "$b"
	record quiet.ratio "$(calc "$b / (($a1 + $a2) / 2)")"
	kill_nodes
	echo "  quiet standbys: NOTIFY rate alone $a1 / $a2, with 4 standbys $b" >&2
}

# ---- what idle nodes cost the server ----
# "pid ticks" (user + system) of every PostgreSQL process: the postmaster and its children.
server_ticks() {
	local pm pid
	pm=$(head -n 1 "$PGTMP_DIR/data/postmaster.pid")
	for pid in "$pm" $(pgrep -P "$pm"); do
		awk -v p="$pid" '{ print p, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
	done
}
# The ticks spent between two server_ticks snapshots: per process, a process that started
# in between counted from 0 (one that ended in between is not counted).
ticks_between() { awk 'NR == FNR { t0[$1] = $2; next } { s += $2 - ($1 in t0 ? t0[$1] : 0) } END { print s + 0 }' "$1" "$2"; }
nodes_ticks() {
	local pid total=0
	for pid in "${NODE_PID[@]}"; do total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0))); done
	echo "$total"
}
xacts() { q "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'"; }
all_registered() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.members m JOIN pg_stat_activity a
		ON a.pid = m.backend_pid WHERE m.cluster = '$1'")" = "$2" ]
}
all_partitions_led() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a
		ON a.pid = s.leader_pid WHERE s.cluster = '$1'")" = "$2" ]
}
# idle_cost K N: N idle nodes of a K-partition cluster, no notifications, for
# IDLE_COST_SECONDS: the server's CPU (% of one core, every backend from /proc), its
# transactions per second, and the nodes' own CPU.
idle_cost() {
	local k=$1 n=$2 cl=bench_idle_k$1_n$2 i s1 x0 x1 n0 n1 hz secs
	hz=$(getconf CLK_TCK)
	for ((i = 1; i <= n; i++)); do
		start_node "$cl" "idle$i" --listen bench_idle --partitions "$k" >/dev/null 2>&1
	done
	wait_for "$n nodes registered" 60000 all_registered "$cl" "$n"
	wait_for "$k partitions spread over $n nodes" 60000 balanced "$cl" "$k" "$n"
	# Idle is the steady state: the looks of nodes that just started (a single-leader
	# cluster's standbys look less often once they know their rank) are over by then.
	sleep "$IDLE_SETTLE_SECONDS"	# not a synchronisation: the end of the start-up's looks
	server_ticks >"$WORK/ticks0"; n0=$(nodes_ticks); x0=$(xacts)
	secs=$IDLE_COST_SECONDS
	sleep "$secs"	# the measurement window, not a wait for anything
	server_ticks >"$WORK/ticks1"; n1=$(nodes_ticks); x1=$(xacts)
	s1=$(ticks_between "$WORK/ticks0" "$WORK/ticks1")
	record "idle.k${k}_n${n}.server_cpu_pct" "$(calc "$s1 * 100 / ($hz * $secs)")"
	record "idle.k${k}_n${n}.xact_per_s" "$(calc "($x1 - $x0 - 2) / $secs")"
	record "idle.k${k}_n${n}.nodes_cpu_pct" "$(calc "($n1 - $n0) * 100 / ($hz * $secs)")"
	kill_nodes
	echo "  idle cost K=$k, $n nodes: server $(calc "$s1 * 100 / ($hz * $secs)") % of a core, $(calc "($x1 - $x0 - 2) / $secs") transactions/s, nodes $(calc "($n1 - $n0) * 100 / ($hz * $secs)") %" >&2
}

# ---- the NOTIFY path: what a cluster's listeners cost everyone's NOTIFYs ----
# notify_capacity: pgbench sends NOTIFYs on a channel no node listens on, for DURATION
# seconds, while a single-leader cluster of 4 nodes, a K = 8 cluster of 4 and one of 16
# run idle beside it (PostgreSQL 15 signals every listening backend of the database on
# each NOTIFY's commit, whatever its channel).  Alternated twice, each shape started
# afresh; the ratio of each shape's NOTIFY rate to the single leader's.
notify_capacity() {
	local round shape k n cl i tps
	echo "SELECT pg_notify('bench_unrelated', 'x');" >"$WORK/unrelated.sql"
	for round in 1 2; do
		for shape in k1_n4 k8_n4 k8_n16; do
			k=${shape%_n*}; k=${k#k}; n=${shape#*_n}
			cl=bench_cap_${shape}_$round
			for ((i = 1; i <= n; i++)); do
				start_node "$cl" "cap$i" --listen bench_cap --partitions "$k" >/dev/null 2>&1
			done
			wait_for "$n nodes registered" 60000 all_registered "$cl" "$n"
			wait_for "$k partitions spread over $n nodes" 60000 balanced "$cl" "$k" "$n"
			tps=$(pgb -f "$WORK/unrelated.sql" -c 4 -j 2 -T "$DURATION" |
				awk '/^tps/ { print $3; exit }')
			record "notify_capacity.$shape.tps" "$tps"
			kill_nodes
		done
	done
	echo "  NOTIFY capacity measured" >&2
}

# ---- partition takeover: one of N nodes SIGKILLed, KILLS times ----
# Every partition led by a live node other than $3 (the victim).
led_without() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.cluster_state s JOIN pg_stat_activity a
		ON a.pid = s.leader_pid WHERE s.cluster = '$1' AND s.leader <> '$3'")" = "$2" ]
}
# Each node leads K/N partitions (rounded either way).
balanced() {
	local shape lo=$(($2 / $3)) hi=$((($2 + $3 - 1) / $3))
	shape=$(q "SELECT string_agg(c::text, ' ') FROM (SELECT count(*) c FROM clustered_nodes.cluster_state s
		JOIN pg_stat_activity a ON a.pid = s.leader_pid WHERE s.cluster = '$1' GROUP BY s.leader) x")
	[ "$(wc -w <<<"$shape")" = "$(($2 < $3 ? $2 : $3))" ] || return 1
	for c in $shape; do [ "$c" -ge "$lo" ] && [ "$c" -le "$hi" ] || return 1; done
	all_partitions_led "$1" "$2"
}
# partition_takeover K N: from the kill to the last of the victim's partitions led again,
# read from the takers' own log lines, not from psql's polling of the map.
partition_takeover() {
	local k=$1 n=$2 cl=bench_ptk_k$1_n$2 i victim t_kill last
	for ((i = 1; i <= n; i++)); do
		start_node "$cl" "pt$i" --listen bench_pt --partitions "$k" >/dev/null 2>&1
	done
	wait_for "$k partitions spread over $n nodes" 60000 balanced "$cl" "$k" "$n"
	for ((i = 1; i <= KILLS; i++)); do
		victim=pt$(( (i % n) + 1 ))
		t_kill=$(now_us)
		{ kill -9 "${NODE_PID[$victim]}"; wait "${NODE_PID[$victim]}"; } 2>/dev/null || true
		quiet_while_measuring
		wait_for "$victim's partitions led again" 10000 led_without "$cl" "$k" "$victim"
		last=$($ANALYZE last-leading-after "$t_kill" "$WORK/$cl".*.log)
		record "part_takeover.k${k}_n${n}.ms" "$(calc "($last - $t_kill) / 1000")"
		start_node "$cl" "$victim" --listen bench_pt --partitions "$k" >/dev/null 2>&1
		wait_for "$k partitions spread over $n nodes again" 60000 balanced "$cl" "$k" "$n"
	done
	kill_nodes
	echo "  partition takeover K=$k, $n nodes: $KILLS kills" >&2
}

# ---- latency at a fixed rate ----
latency() {
	local cl=bench_latency sent
	start_node "$cl" leader --listen bench_lat
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	pgb -f "$WORK/latency.sql" -R "$LATENCY_RATE" -c 2 -j 2 -T "$DURATION" >"$WORK/pgbench.lat" 2>&1
	sent=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.lat")
	wait_for "the leader to process all $sent" 60000 counter_is "$cl" "$sent"
	read -r count p50 p99 max < <($ANALYZE latency "$(node_log "$cl" leader)")
	record latency.rate "$LATENCY_RATE"
	record latency.count "$count"
	record latency.p50_us "$p50"
	record latency.p99_us "$p99"
	record latency.max_us "$max"
	kill_nodes
	echo "  latency: $count notifications" >&2
}

# The node of $1 whose session is in the lock queue or idle: all three present.
three_sessions() {
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'clustered_nodes:$1_%'")" = 3 ]
}

# ---- takeover: a sequence-numbered stream, the leader killed KILLS times ----
takeover() {
	local case=$1 how=$2 mode=$3 cl=bench_to_$1 i n leader term t_kill new first producer
	: >"$WORK/kills.$case"
	for i in 1 2 3; do start_node "$cl" "${case}_$i" --listen bench_to --acquire "$mode"; done
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	wait_for "three sessions" 10000 three_sessions "$case"
	# exec: $! is pgbench itself, which the kill below must end (a backgrounded function
	# is a subshell, whose end leaves pgbench running).
	(exec pgbench -h 127.0.0.1 -p "$PGTMP_PORT" -U postgres -n -f "$WORK/sequence.sql" \
		-R "$TAKEOVER_RATE" -c 1 -T 3600 postgres >/dev/null 2>&1) &
	producer=$!
	for ((i = 1; i <= KILLS; i++)); do
		leader=$(leader_ready "$cl")
		term=$(term_of "$cl")
		# Let the leader work a little before each kill.
		wait_for "traffic" 5000 bash -c "[ \$(grep -c 'Received message' '$(node_log "$cl" "$leader")') -gt 0 ]"
		t_kill=$(now_us)
		case $how in
		sigkill) { kill -9 "${NODE_PID[$leader]}"; wait "${NODE_PID[$leader]}"; } 2>/dev/null || true ;;
		sigterm) kill -TERM "${NODE_PID[$leader]}" ;;
		terminate)
			# The server's clock when it signals the backend (it exits within
			# about a millisecond): psql's own start-up and exit would blur it.
			t_kill=$(q "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
				FROM clustered_nodes.cluster_state
				WHERE cluster = '$cl' AND pg_terminate_backend(leader_pid)")
			;;
		esac
		echo "$t_kill" >>"$WORK/kills.$case"
		quiet_while_measuring
		wait_for "a new leader of $cl" 10000 leader_ready "$cl" "$term"
		new=$(leader_ready "$cl" "$term")
		first=-1
		local deadline=$(( $(now_ms) + 10000 ))
		while [ "$first" = -1 ] && [ "$(now_ms)" -lt "$deadline" ]; do
			first=$($ANALYZE first-after "$t_kill" "$(node_log "$cl" "$new")")
			[ "$first" = -1 ] && sleep 0.01
		done
		record "takeover.$case.ms" "$(calc "($first - $t_kill) / 1000")"
		if [ "$how" != terminate ]; then
			{ wait "${NODE_PID[$leader]}"; } 2>/dev/null || true
			start_node "$cl" "$leader" --listen bench_to --acquire "$mode"
		fi
		wait_for "three sessions again" 10000 three_sessions "$case"
	done
	kill "$producer" 2>/dev/null || true
	wait "$producer" 2>/dev/null || true
	$ANALYZE gaps "$WORK/kills.$case" "$WORK/$cl".*.log | while read -r lost; do
		record "takeover.$case.lost" "$lost"
	done
	kill_nodes
	echo "  takeover $case: $KILLS kills" >&2
}

# ---- footprint: an idle standby, start-up time, the binary ----
footprint() {
	local cl=bench_fp i pid c0 c1 t0 line samples=()
	for i in 1 2; do start_node "$cl" "fp_$i"; done
	wait_for "leader of $cl" 10000 leader_ready "$cl"
	wait_for "two sessions" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'clustered_nodes:fp_%'\")\" = 2 ]"
	pid=${NODE_PID[fp_1]}
	[ "$(leader_of "$cl")" = fp_1 ] && pid=${NODE_PID[fp_2]}
	c0=$(cpu_ticks "$pid")
	t0=$(now_us)
	sleep "$IDLE_SECONDS"	# measuring idle CPU over a fixed window, not synchronising
	c1=$(cpu_ticks "$pid")
	record footprint.standby_rss_kib "$(rss_kib "$pid" VmRSS)"
	record footprint.standby_pss_kib "$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")"
	record footprint.standby_anon_kib "$(awk '/^Anonymous:/ { print $2 }' "/proc/$pid/smaps_rollup")"
	record footprint.standby_cpu_pct "$(calc "($c1 - $c0) / $(getconf CLK_TCK) * 100 / (($(now_us) - $t0) / 1000000)")"
	record footprint.binary_bytes "$(stat -c %s "$ROOT/clustered_nodes")"
	for ((i = 1; i <= STARTUPS; i++)); do
		local log
		log=$(node_log "$cl" "start_$i")
		# From the exec, timed in the child just before it (bash's own forks and
		# redirections, several ms each here, are not the node's start-up).
		(echo "${EPOCHREALTIME/./}" >"$WORK/start_$i.t0"
		 exec "$ROOT/clustered_nodes" --node "start_$i" --cluster "$cl" \
			--dbname "$PGTMP_CONNINFO" >>"$log" 2>&1) &
		NODE_PID[start_$i]=$!
		quiet_while_measuring
		wait_for "standby" 10000 grep -q '→ standby: registered' "$log"
		line=$(grep -m1 '→ standby: registered' "$log")
		t0=$(cat "$WORK/start_$i.t0")
		samples+=("$(calc "($(log_ts_us "${line%% *}") - $t0) / 1000")")
		{ kill -9 "${NODE_PID[start_$i]}"; wait "${NODE_PID[start_$i]}"; } 2>/dev/null || true
		unset "NODE_PID[start_$i]"
	done
	read -r p50 max < <(printf '%s\n' "${samples[@]}" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }')
	record footprint.startup_ms_p50 "$p50"
	record footprint.startup_ms_max "$max"
	kill_nodes
	echo "  footprint measured" >&2
}

echo "running benchmarks (quick=$QUICK); BENCH_QUICK=1 takes about a minute, the full run a few" >&2
if [ -n "${BENCH_ONLY:-}" ]; then
	# One scenario (a function above, with its arguments), reported but not saved.
	$BENCH_ONLY
	$ANALYZE report "$RESULTS" "$WORK/only.json"
	exit 0
fi
for c in 1 4 8; do throughput "$c"; done
durable 4
slow_handler "$SLOW_BURST"
partitions_scaling
quiet_standbys
latency
takeover poll_sigkill sigkill poll
takeover wait_sigkill sigkill wait
takeover poll_sigterm sigterm poll
takeover poll_terminate terminate poll
partition_takeover 8 4
partition_takeover 64 10
footprint
for k in 1 16; do for n in $IDLE_NODES; do idle_cost "$k" "$n"; done; done
notify_capacity

suffix=
[ "$QUICK" = 1 ] && suffix=-quick
mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)$suffix.json"
$ANALYZE report "$RESULTS" "$out"
cp "$out" "$ROOT/bench/results/latest$suffix.json"
