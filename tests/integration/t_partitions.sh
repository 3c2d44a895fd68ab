# SPDX-License-Identifier: PostgreSQL
# Integration tests: partitions.  K partitions, one leader each, spread over the live
# nodes; per-partition counters, terms and fencing; keys hashed as partition_of() does;
# per-key order of durable events across a SIGKILL; balance after deaths, joins and
# restarts.  The truth is read from pg_locks and a test-only audit trigger, never from
# the nodes' own logs alone.

# A test-only trigger: every committed step of a partitioned cluster, in commit order.
partition_audit_on() {
	q "DO \$\$ BEGIN
		IF to_regclass('public.partition_audit') IS NULL THEN
			CREATE TABLE public.partition_audit (id bigserial PRIMARY KEY, cluster text,
				partition integer, term bigint, leader text, counter_before bigint,
				counter_after bigint, backend_pid integer DEFAULT pg_backend_pid());
			CREATE FUNCTION public.partition_audit() RETURNS trigger LANGUAGE plpgsql
				SECURITY DEFINER AS \$f\$
			BEGIN
				IF NEW.counter <> OLD.counter THEN
					INSERT INTO public.partition_audit (cluster, partition, term, leader,
						counter_before, counter_after)
					VALUES (NEW.cluster, NEW.partition, NEW.term, NEW.leader, OLD.counter,
						NEW.counter);
				END IF;
				RETURN NEW;
			END \$f\$;
			CREATE TRIGGER partition_audit AFTER UPDATE ON clustered_nodes.cluster_state
				FOR EACH ROW EXECUTE FUNCTION public.partition_audit();
		END IF; END \$\$" >/dev/null
}

# Per partition: the member whose session holds its lock ("-" when free), from pg_locks.
partition_holders() {
	local cluster=$1 k=$2
	q "SELECT string_agg(g.p || '=' || coalesce(m.node, CASE WHEN l.pid IS NULL THEN '-' ELSE '?' END), ' ' ORDER BY g.p)
		FROM generate_series(0, $k - 1) g(p)
		LEFT JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$cluster', g.p)
		LEFT JOIN clustered_nodes.members m ON m.backend_pid = l.pid AND m.cluster = '$cluster'"
}

# How many partitions each node's session holds, as "node1=2 node2=2 ..." (free: "-=n").
led_counts() {
	local cluster=$1 k=$2
	q "SELECT string_agg(who || '=' || n, ' ' ORDER BY who) FROM (
		SELECT coalesce(m.node, CASE WHEN l.pid IS NULL THEN '-' ELSE '?' END) AS who, count(*) AS n
		FROM generate_series(0, $k - 1) g(p)
		LEFT JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$cluster', g.p)
		LEFT JOIN clustered_nodes.members m ON m.backend_pid = l.pid AND m.cluster = '$cluster'
		GROUP BY 1) x"
}
counts_are() { [ "$(led_counts "$1" "$2")" = "$3" ]; }
# The counts alone, largest first ("2 1 1"), with no partition free or held by a stranger.
shape_is() {
	local counts
	counts=$(led_counts "$1" "$2")
	case " $counts" in *" -="* | *" ?="*) return 1 ;; esac
	[ "$(tr ' ' '\n' <<<"$counts" | cut -d= -f2 | sort -rn | paste -sd' ')" = "$3" ]
}

# Every partition's row names the member that holds its lock, and that member has seen its
# fence (its take-over committed): a plain notification sent now reaches its leader.
partitions_ready() {
	local cluster=$1 k=$2
	[ "$(q "SELECT count(*) FROM generate_series(0, $k - 1) g(p)
		JOIN clustered_nodes.cluster_state s ON s.cluster = '$cluster' AND s.partition = g.p
		JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$cluster', g.p) AND l.pid = s.leader_pid")" = "$k" ]
}

counter_sum() { q "SELECT coalesce(sum(counter), 0) FROM clustered_nodes.cluster_state WHERE cluster = '$1'"; }
counter_sum_is() { [ "$(counter_sum "$1")" = "$2" ]; }
terms() { q "SELECT string_agg(term::text, ' ' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$1'"; }

# The audit's invariants, per partition: terms never go back in commit order, each term
# is committed by one leader and one backend, steps follow each other without gap or
# overlap, and the partition's counter is the sum of its steps.
check_partition_audit() {
	local cluster=$1 bad
	bad=$(q "WITH a AS (SELECT *, lag(term) OVER w AS prev_term, lag(counter_after) OVER w AS prev_after
			FROM partition_audit WHERE cluster = '$cluster' WINDOW w AS (PARTITION BY partition ORDER BY id))
		SELECT string_agg(problem, '; ') FROM (
			SELECT 'partition ' || partition || ': term ' || term || ' after ' || prev_term AS problem
				FROM a WHERE term < prev_term
			UNION ALL SELECT 'partition ' || partition || ': step from ' || counter_before || ' after ' || prev_after
				FROM a WHERE counter_before <> prev_after
			UNION ALL SELECT 'partition ' || partition || ' term ' || term || ' committed by '
				|| count(DISTINCT leader) || ' leaders / ' || count(DISTINCT backend_pid) || ' backends'
				FROM a GROUP BY partition, term HAVING count(DISTINCT leader) > 1 OR count(DISTINCT backend_pid) > 1
			UNION ALL SELECT 'partition ' || s.partition || ': counter ' || s.counter || ' but steps add up to '
				|| coalesce(sum(a.counter_after - a.counter_before), 0)
				FROM clustered_nodes.cluster_state s LEFT JOIN a ON a.partition = s.partition
				WHERE s.cluster = '$cluster' GROUP BY s.partition, s.counter
				HAVING s.counter <> coalesce(sum(a.counter_after - a.counter_before), 0)) x")
	[ -z "$bad" ] || fail "audit: $bad"
}

# COUNT notifications "PREFIX-i" on CHANNEL in one transaction (a burst).
burst() {
	local channel=$1 count=$2 prefix=$3
	q_vars "BEGIN; SELECT count(pg_notify(:'ch', :'prefix' || '-' || g)) FROM generate_series(1, $count) g; COMMIT;" \
		-v ch="$channel" -v prefix="$prefix" >/dev/null
}

# Per partition, how many of PREFIX-1..PREFIX-COUNT hash to it, as "count count ...".
expected_per_partition() {
	local prefix=$1 count=$2 k=$3
	q "SELECT string_agg(coalesce(n, 0)::text, ' ' ORDER BY g.p) FROM generate_series(0, $k - 1) g(p)
		LEFT JOIN (SELECT clustered_nodes.partition_of('$prefix-' || i, $k) AS p, count(*) AS n
			FROM generate_series(1, $count) i GROUP BY 1) x ON x.p = g.p"
}
counters() { q "SELECT string_agg(counter::text, ' ' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$1'"; }

test_partitions_spread_evenly_and_rebalance_after_death_and_join() {
	local t0 before
	partition_audit_on
	for n in node1 node2 node3; do start_node "$CLUSTER" "$n" --partitions 6; done
	wait_for "2 partitions each" 5000 counts_are "$CLUSTER" 6 "node1=2 node2=2 node3=2"
	wait_for "every partition fenced" 5000 partitions_ready "$CLUSTER" 6
	# A burst in one transaction: each partition's leader processes exactly its share.
	burst test_channel 600 a
	wait_for "600 processed" 10000 counter_sum_is "$CLUSTER" 600
	assert_eq "$(counters "$CLUSTER")" "$(expected_per_partition a 600 6)" "per-partition counters"
	# SIGKILL: the dead node's partitions are led again within the takeover bound.
	before=$(terms "$CLUSTER")
	t0=$(now_ms)
	{ kill -9 "${NODE_PID[node2]}"; wait "${NODE_PID[node2]}"; } 2>/dev/null || true
	unset "NODE_PID[node2]"
	wait_for "3 partitions each after the SIGKILL" 1000 counts_are "$CLUSTER" 6 "node1=3 node3=3"
	echo "every partition led again $(( $(now_ms) - t0 )) ms after the SIGKILL (terms $before → $(terms "$CLUSTER"))"
	# A fourth node joins: it takes its share within the convergence bound (2 s).
	start_node "$CLUSTER" node4 --partitions 6
	t0=$(now_ms)
	wait_for "node4 taking its share" 2000 counts_are "$CLUSTER" 6 "node1=2 node3=2 node4=2"
	echo "balanced $(( $(now_ms) - t0 )) ms after node4 started"
	wait_for "every partition fenced again" 5000 partitions_ready "$CLUSTER" 6
	burst test_channel 600 b
	wait_for "1200 processed" 10000 counter_sum_is "$CLUSTER" 1200
	check_partition_audit "$CLUSTER"
	# No payload was processed twice (each is logged once, after its step committed).
	assert_eq "$(cat "$WORK/$CLUSTER".*.log | grep -o 'payload="[ab]-[0-9]*"' | sort | uniq -d | head -3)" "" \
		"payloads processed twice"
	# status: the map, and exit 0 only while every partition is led.
	"$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" >"$WORK/status.out"
	grep -q '^partitions 6' "$WORK/status.out" || fail "status shows no partition count"
	assert_eq "$(grep -c ' held$' "$WORK/status.out")" 6 "partitions status shows held"
}

# The map is read without news only every look interval, here 15 s (a quarter of
# lease_timeout 60 s, at most heartbeat_interval 30 s): a dead node's partitions are led
# again within a second only because the node watching it woke on its handoff key and told
# the others.  Twice: the second after every watch was aimed again at the leaders left.
test_dead_partition_leader_is_heard_by_its_watcher_not_found_by_a_poll() {
	local n
	for n in node1 node2 node3 node4; do
		start_node "$CLUSTER" "$n" --partitions 8 --lease-timeout 60s --heartbeat-interval 30s
	done
	wait_for "2 partitions each" 5000 counts_are "$CLUSTER" 8 "node1=2 node2=2 node3=2 node4=2"
	{ kill -9 "${NODE_PID[node3]}"; wait "${NODE_PID[node3]}"; } 2>/dev/null || true
	unset "NODE_PID[node3]"
	wait_for "node3's partitions led again" 1000 shape_is "$CLUSTER" 8 "3 3 2"
	{ kill -9 "${NODE_PID[node1]}"; wait "${NODE_PID[node1]}"; } 2>/dev/null || true
	unset "NODE_PID[node1]"
	wait_for "node1's partitions led again" 1000 shape_is "$CLUSTER" 8 "4 4"
	# The two left watch each other: each has a second session waiting on a handoff key (and
	# maybe one it abandoned for a new target, until that wait ends).
	wait_for "both watch sessions waiting" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(DISTINCT application_name)
		FROM pg_stat_activity WHERE application_name IN ('clustered_nodes-watch:node2', 'clustered_nodes-watch:node4')
		AND wait_event_type = 'Lock'\")\" = 2 ]"
}

test_partitioned_node_with_another_k_or_key_refuses_with_78() {
	local rc
	start_node "$CLUSTER" node1 --partitions 4
	wait_for "node1 leading 4" 5000 counts_are "$CLUSTER" 4 "node1=4"
	rc=0
	timeout 10 "$ROOT/clustered_nodes" --node node2 --cluster "$CLUSTER" --partitions 3 \
		--dbname "$NODE_CONNINFO" >"$WORK/other_k.log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "exit status with another K"
	grep -q 'has 4 partition(s) with partition_key payload.*partitions=3' "$WORK/other_k.log" ||
		fail "no clear message: $(tail -3 "$WORK/other_k.log")"
	rc=0
	timeout 10 "$ROOT/clustered_nodes" --node node2 --cluster "$CLUSTER" --partitions 4 \
		--partition-key json:id --dbname "$NODE_CONNINFO" >"$WORK/other_key.log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "exit status with another key rule"
	# The single-leader mode is K = 1: a node started without --partitions refuses too.
	rc=0
	timeout 10 "$ROOT/clustered_nodes" --node node3 --cluster "$CLUSTER" \
		--dbname "$NODE_CONNINFO" >"$WORK/k1.log" 2>&1 || rc=$?
	assert_eq "$rc" 78 "exit status of a single-leader node in a partitioned cluster"
	rc=0
	"$ROOT/clustered_nodes" --partitions 65 --check >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 64 "exit status of --partitions 65"
	alive "${NODE_PID[node1]}" || fail "node1 died"
}

# Keys from JSON payloads, hostile ones included, go where clustered_nodes.partition_of()
# and key_of() say: plain notifications and durable events alike.
test_json_partition_keys_route_like_partition_of_in_sql() {
	local payloads expected
	start_node "$CLUSTER" node1 --partitions 5 --partition-key json:id
	start_node "$CLUSTER" node2 --partitions 5 --partition-key json:id
	wait_for "balanced" 5000 shape_is "$CLUSTER" 5 "3 2"
	wait_for "every partition fenced" 5000 partitions_ready "$CLUSTER" 5
	q "CREATE TABLE IF NOT EXISTS json_payloads (cluster text, payload text)" >/dev/null
	q_vars "INSERT INTO json_payloads SELECT :'c', p FROM unnest(ARRAY[
		'{\"id\": \"k1\"}', '{\"id\": 17}', '{\"id\": 1e2}', '{\"id\": 100}', '{\"id\": -0}',
		'{\"id\": 1.50}', '{\"id\": true}', '{\"id\": null}', '{\"id\": [1]}', 'not json',
		'{\"id\": \"a\\u00e9\\n\"}', '{\"id\":\"x\",\"id\":\"y\"}', '{\"other\": 1}',
		'  {\"id\" : \"sp\" }  ', '{\"id\": \"\\ud83d\\ude00\"}', '{\"id\": 0.0001e-2}',
		'{\"id\": \"\\u0000\"}', '{\"id\": \"\\ud800\"}', '{\"id\": 1}x', '{\"id\": \"é\"}',
		'{\"i\\u0064\": \"esc\"}', '{\"id\": 12345678901234567890123}', '{\"id\": \"\u202e\"}'
		]) p" -v c="$CLUSTER" >/dev/null
	# Each payload twice: as a plain NOTIFY and as a durable event, in one transaction.
	q_vars "BEGIN; SELECT count(pg_notify('test_channel', payload)) FROM json_payloads
		WHERE cluster = :'c'; SELECT count(clustered_nodes.notify('test_channel', payload))
		FROM json_payloads WHERE cluster = :'c'; COMMIT;" -v c="$CLUSTER" >/dev/null
	payloads=$(q "SELECT count(*) * 2 FROM json_payloads WHERE cluster = '$CLUSTER'")
	wait_for "every payload processed" 10000 counter_sum_is "$CLUSTER" "$payloads"
	expected=$(q "SELECT string_agg(coalesce(n, 0)::text, ' ' ORDER BY g.p) FROM generate_series(0, 4) g(p)
		LEFT JOIN (SELECT clustered_nodes.partition_of(clustered_nodes.key_of(payload, 'json:id'), 5) AS p,
			count(*) * 2 AS n FROM json_payloads WHERE cluster = '$CLUSTER' GROUP BY 1) x ON x.p = g.p")
	assert_eq "$(counters "$CLUSTER")" "$expected" "per-partition counters against partition_of()"
}

# Durable events of one key are handled in order, exactly once, across a SIGKILL of the
# node leading their partition and a graceful stop of another.
test_durable_keyed_events_keep_per_key_order_across_sigkill() {
	local victim pending
	q "CREATE TABLE IF NOT EXISTS keyed_log (id bigserial PRIMARY KEY, cluster text, k text, seq int, part int)" >/dev/null
	q "GRANT INSERT ON keyed_log TO cn_node; GRANT USAGE ON SEQUENCE keyed_log_id_seq TO cn_node" >/dev/null
	local handler="INSERT INTO keyed_log (cluster, k, seq, part) SELECT '$CLUSTER', split_part(\$2, ':', 1), split_part(\$2, ':', 2)::int, \$6 FROM pg_sleep(0.002)"
	for n in node1 node2 node3; do
		start_node "$CLUSTER" "$n" --partitions 4 --partition-key prefix:: --handler-sql "$handler"
	done
	wait_for "balanced" 5000 shape_is "$CLUSTER" 4 "2 1 1"
	# 3000 events over 12 keys, sent in order; each key's events hash to one partition.
	q "SELECT count(clustered_nodes.notify('test_channel', 'key' || (i % 12) || ':' || i, 'key' || (i % 12)))
		FROM generate_series(1, 3000) i" >/dev/null
	wait_for "some progress" 10000 bash -c "[ \$(psql -X -At -c \"SELECT count(*) FROM keyed_log WHERE cluster = '$CLUSTER'\") -ge 300 ]"
	# SIGKILL the node whose partition has the most events still waiting: mid-stream.
	read -r victim pending <<<"$(pending_leader "$CLUSTER")"
	[ "${pending:-0}" -gt 0 ] || fail "nothing pending at the SIGKILL"
	echo "SIGKILL of $victim with $pending events of its partition waiting"
	{ kill -9 "${NODE_PID[$victim]}"; wait "${NODE_PID[$victim]}"; } 2>/dev/null || true
	unset "NODE_PID[$victim]"
	wait_for "more progress" 20000 bash -c "[ \$(psql -X -At -c \"SELECT count(*) FROM keyed_log WHERE cluster = '$CLUSTER'\") -ge 1500 ]"
	# A graceful stop of the node with the most waiting now: it hands over what it has.
	read -r victim pending <<<"$(pending_leader "$CLUSTER")"
	[ "${pending:-0}" -gt 0 ] || fail "nothing pending at the SIGTERM"
	echo "SIGTERM of $victim with $pending events of its partition waiting"
	kill -TERM "${NODE_PID[$victim]}"
	wait "${NODE_PID[$victim]}" || fail "$victim did not stop with 0 after SIGTERM"
	unset "NODE_PID[$victim]"
	wait_for "every event handled" 30000 bash -c "[ \$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.events WHERE cluster = '$CLUSTER'\") = 0 ]"
	assert_eq "$(q "SELECT count(*), count(DISTINCT seq) FROM keyed_log WHERE cluster = '$CLUSTER'")" "3000|3000" \
		"handled events (exactly once)"
	assert_eq "$(q "SELECT count(*) FROM (SELECT seq < lag(seq) OVER (PARTITION BY k ORDER BY id) AS back
		FROM keyed_log WHERE cluster = '$CLUSTER') x WHERE back")" 0 "events of a key handled out of order"
	assert_eq "$(q "SELECT count(DISTINCT part) FROM keyed_log WHERE cluster = '$CLUSTER' GROUP BY k ORDER BY 1 DESC LIMIT 1")" 1 \
		"partitions one key was handled in"
	assert_eq "$(counter_sum "$CLUSTER")" 3000 "sum of the partitions' counters"
}

# The leader (holding the partition's lock now) of the partition with the most durable
# events waiting, and how many.
pending_leader() {
	q "SELECT s.leader || ' ' || e.n FROM clustered_nodes.cluster_state s
		JOIN (SELECT partition, count(*) AS n FROM clustered_nodes.events WHERE cluster = '$1' GROUP BY 1) e
		USING (partition)
		JOIN pg_locks l ON $LOCK_ON = clustered_nodes.lock_key('$1', s.partition) AND l.pid = s.leader_pid
		WHERE s.cluster = '$1' ORDER BY e.n DESC LIMIT 1"
}

# A restart is one move per partition at most: the node's partitions go away while it is
# down, and it gets back partitions that did not just move.
test_restarted_node_moves_each_partition_at_most_once() {
	local before after
	partition_audit_on
	for n in node1 node2 node3; do start_node "$CLUSTER" "$n" --partitions 6; done
	wait_for "2 partitions each" 5000 counts_are "$CLUSTER" 6 "node1=2 node2=2 node3=2"
	wait_for "every row current" 5000 partitions_ready "$CLUSTER" 6
	before=$(terms "$CLUSTER")
	kill -TERM "${NODE_PID[node3]}"
	wait "${NODE_PID[node3]}" || fail "node3 did not stop with 0"
	wait_for "3 each while node3 is away" 2000 counts_are "$CLUSTER" 6 "node1=3 node2=3"
	start_node "$CLUSTER" node3 --partitions 6
	# (Failed once in CI, and in none of 260 runs alone: what it needs to be understood.)
	wait_for "2 each again" 3000 counts_are "$CLUSTER" 6 "node1=2 node2=2 node3=2" || {
		led_counts "$CLUSTER" 6 >&2
		q "SELECT partition, leader, leader_pid, term FROM clustered_nodes.cluster_state
			WHERE cluster = '$CLUSTER' ORDER BY partition" >&2
		bells_and_watches "$CLUSTER" >&2
		return 1; }
	wait_for "every row current" 5000 partitions_ready "$CLUSTER" 6
	after=$(terms "$CLUSTER")
	echo "terms $before → $after"
	python3 - "$before" "$after" <<'PY' || fail "a partition moved more than once: terms $before → $after"
import sys
b, a = (list(map(int, s.split())) for s in sys.argv[1:3])
sys.exit(0 if all(y - x <= 1 for x, y in zip(b, a)) else 1)
PY
	check_partition_audit "$CLUSTER"
}

# The adversarial load of the single-leader mode, per partition: a 3 ms handler and a
# 3000-notification burst in one transaction; no leader gives up its partitions, none is
# lost.
test_partitioned_leaders_keep_their_partitions_under_a_slow_handler_burst() {
	local before
	for n in node1 node2; do
		start_node "$CLUSTER" "$n" --partitions 4 --handler-sql 'SELECT pg_sleep(0.003)'
	done
	wait_for "balanced" 5000 counts_are "$CLUSTER" 4 "node1=2 node2=2"
	wait_for "every partition fenced" 5000 partitions_ready "$CLUSTER" 4
	before=$(terms "$CLUSTER")
	burst test_channel 3000 s
	wait_for "3000 processed" 60000 counter_sum_is "$CLUSTER" 3000
	assert_eq "$(terms "$CLUSTER")" "$before" "terms after the burst (a leader gave up)"
	assert_eq "$(counters "$CLUSTER")" "$(expected_per_partition s 3000 4)" "per-partition counters"
	! grep -q 'self-demotion\|superseded' "$WORK/$CLUSTER".*.log || fail "a leader demoted itself"
}

# A hostile login with the node role holds a partition's lock without leading it: the nodes
# name it and end its session after lease_timeout, then lead the partition.
test_partition_lock_squatter_is_evicted_after_lease_timeout() {
	local key
	key=$(q "SELECT clustered_nodes.lock_key('$CLUSTER', 2)")
	psql -X "$NODE_CONNINFO application_name=squatter" -c "SELECT pg_advisory_lock($key), pg_sleep(60)" \
		>/dev/null 2>&1 &
	local squatter=$!
	wait_for "the squatter holding partition 2" 5000 bash -c \
		"psql -X -At -c \"SELECT count(*) FROM pg_locks l WHERE $LOCK_ON = $key\" | grep -qx 1"
	start_node "$CLUSTER" node1 --partitions 4 --lease-timeout 1s
	wait_for "partitions 0, 1, 3 led" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND leader IS NOT NULL\")\" = 3 ]"
	wait_for "partition 2 led after the squatter's eviction" 8000 counts_are "$CLUSTER" 4 "node1=4"
	grep -q 'holds a partition.s lock without leading it: backend pid [0-9]*, user "cn_node", application "squatter"' \
		"$(node_log "$CLUSTER" node1)" || fail "the squatter was not named"
	wait "$squatter" 2>/dev/null || true
}

# A failing handler at K = 8: 2,000 durable events and 20 that raise, sent in one
# transaction to one node.  Each failure stays in its partition: retried, backed off and
# dead-lettered there, while the node's other partitions keep processing; no session
# reset, no term change, no batch run inside another's aborted transaction.
partition_failure_case() {
	local how=$1 terms log
	log=$(node_log "$CLUSTER" node1)
	q "CREATE SCHEMA IF NOT EXISTS app; GRANT USAGE ON SCHEMA app TO clustered_nodes_node;
	   CREATE TABLE app.\"${CLUSTER:0:50}_u\" (payload text PRIMARY KEY);
	   GRANT INSERT ON app.\"${CLUSTER:0:50}_u\" TO clustered_nodes_node;
	   CREATE FUNCTION app.\"${CLUSTER:0:50}_h\"(p text) RETURNS void LANGUAGE plpgsql AS \$\$
	   BEGIN
	       IF p LIKE 'bad-%' AND '$how' = 'raise' THEN RAISE EXCEPTION 'cannot handle %', p; END IF;
	       INSERT INTO app.\"${CLUSTER:0:50}_u\" VALUES (CASE WHEN p LIKE 'bad-%' THEN 'dup' ELSE p END);
	   END \$\$;
	   INSERT INTO app.\"${CLUSTER:0:50}_u\" VALUES ('dup');
	   GRANT EXECUTE ON FUNCTION app.\"${CLUSTER:0:50}_h\"(text) TO clustered_nodes_node" >/dev/null
	start_node "$CLUSTER" node1 --partitions 8 --listen fail_ch --max-attempts 3 \
		--handler-sql "SELECT app.\"${CLUSTER:0:50}_h\"(\$2)"
	wait_for "8 partitions led" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND leader = 'node1'\")\" = 8 ]"
	terms=$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	q "BEGIN;
	   SELECT clustered_nodes.notify('fail_ch', 'ok-' || g) FROM generate_series(1, 2000) g;
	   SELECT clustered_nodes.notify('fail_ch', 'bad-' || g) FROM generate_series(1, 20) g;
	   COMMIT" >/dev/null
	wait_for "2000 processed and 20 dead-lettered" 60000 bash -c "[ \"\$(psql -X -At -c \"SELECT (SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER') || '/' || (SELECT count(*) FROM clustered_nodes.dead_letters WHERE cluster = '$CLUSTER')\")\" = 2020/20 ]"
	assert_eq "$(q "SELECT count(*) FROM app.\"${CLUSTER:0:50}_u\" WHERE payload LIKE 'ok-%'")" 2000 "handler effects"
	assert_eq "$(q "SELECT count(*) FROM clustered_nodes.events WHERE cluster = '$CLUSTER'")" 0 "events left"
	assert_eq "$(q "SELECT string_agg(partition || ':' || term, ',' ORDER BY partition) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")" "$terms" "terms"
	! grep -q 'session lost\|current transaction is aborted\|reconnecting' "$log" || fail "the session was reset: $(grep -m3 'session lost\|aborted\|reconnecting' "$log")"
}

test_failing_handler_at_k8_stays_in_its_partition() { partition_failure_case raise; }
test_unique_violation_at_k8_stays_in_its_partition() { partition_failure_case unique; }

# A superuser's session squats on partition 2 of a K = 4 cluster: no node may end it (it is
# no node of the cluster), so it stays visible — /readyz, /metrics, /status, `status` —
# until it goes; then everything is ready again.
test_partition_squatter_that_cannot_be_ended_stays_visible() {
	local key port rc out
	key=$(q "SELECT clustered_nodes.lock_key('$CLUSTER', 2)")
	PGAPPNAME=su_squatter psql -X -q -c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	local squatter=$!
	wait_for "the squatter holding partition 2" 5000 bash -c \
		"psql -X -At -c \"SELECT count(*) FROM pg_locks l WHERE $LOCK_ON = $key\" | grep -qx 1"
	port=$(free_port)
	start_node "$CLUSTER" node1 --partitions 4 --lease-timeout 1s --http "127.0.0.1:$port"
	wait_for "partitions 0, 1, 3 led" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND leader IS NOT NULL\")\" = 3 ]"
	wait_for "/readyz naming the squatter" 8000 bash -c "curl -s --max-time 2 http://127.0.0.1:$port/readyz | grep -q 'partition 2: backend pid [0-9]*, user postgres, application su_squatter'"
	assert_eq "$(http_code "http://127.0.0.1:$port/readyz")" 503 "/readyz with a partition squatted"
	out=$(http_body "http://127.0.0.1:$port/metrics")
	grep -qx 'clustered_nodes_lock_held_without_leading 1' <<<"$out" ||
		fail "metric: $(grep -x 'clustered_nodes_lock_held_without_leading.*' <<<"$out") (${#out} bytes); readyz: $(http_body "http://127.0.0.1:$port/readyz")"
	http_body "http://127.0.0.1:$port/status" | grep -q '"partitions_held_without_leading":1' ||
		fail "/status: $(http_body "http://127.0.0.1:$port/status")"
	rc=0
	out=$("$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" 2>&1) || rc=$?
	assert_eq "$rc" 2 "status with a partition squatted"
	[[ "$out" == *"partition 2: its lock is held by backend pid"*"not a member"* ]] || fail "status: $out"
	alive "${NODE_PID[node1]}" || fail "node1 died"
	# The squatter goes (only a superuser may end it): partition 2 is taken, all clear.
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'su_squatter'" >/dev/null
	wait "$squatter" 2>/dev/null || true
	wait_for "partition 2 led" 8000 counts_are "$CLUSTER" 4 "node1=4"
	wait_for "/readyz ready again" 5000 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:$port/readyz)\" = 200 ]"
	out=$(http_body "http://127.0.0.1:$port/metrics")
	grep -qx 'clustered_nodes_lock_held_without_leading 0' <<<"$out" ||
		fail "metric after: $(grep -x 'clustered_nodes_lock_held_without_leading.*' <<<"$out") (${#out} bytes)"
	"$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" >/dev/null 2>&1 || fail "status after: $?"
}

# The cluster's K changes while its nodes run (set_partitions() refuses only while a lock
# is held at that instant; here the change is made as it would land between two polls):
# every running node notices before it processes anything under the old layout, and stops
# with 78 naming the new values.  Nothing is processed twice.
layout_change_case() {
	local k=$1 counter rc
	start_node "$CLUSTER" node1 --partitions "$k"
	start_node "$CLUSTER" node2 --partitions "$k"
	wait_for "$k partitions led" 10000 bash -c "[ \"\$(psql -X -At -c \"SELECT count(*) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER' AND leader IS NOT NULL\")\" = $k ]"
	send_notifications test_channel 20 before
	wait_for "20 counted" 5000 bash -c "[ \"\$(psql -X -At -c \"SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'\")\" = 20 ]"
	counter=$(q "SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")
	# What set_partitions() writes, without its check for held locks.
	q "UPDATE clustered_nodes.clusters SET partitions = $((k * 2)), layout_epoch = layout_epoch + 1
	   WHERE cluster = '$CLUSTER'" >/dev/null
	send_notifications test_channel 20 after
	wait_for "both nodes stopped" 10000 bash -c "! kill -0 ${NODE_PID[node1]} 2>/dev/null && ! kill -0 ${NODE_PID[node2]} 2>/dev/null"
	for n in node1 node2; do
		rc=0
		wait "${NODE_PID[$n]}" || rc=$?
		assert_eq "$rc" 78 "exit status of $n after the change"
		grep -q "now has $((k * 2)) partition(s) with partition_key payload (changed while this node ran)" \
			"$(node_log "$CLUSTER" "$n")" || fail "$n does not say why"
	done
	assert_eq "$(q "SELECT sum(counter) FROM clustered_nodes.cluster_state WHERE cluster = '$CLUSTER'")" "$counter" \
		"steps committed under the old layout after the change"
	NODE_PID=()
}

test_layout_change_while_nodes_run_stops_them_at_k1() { layout_change_case 1; }
test_layout_change_while_nodes_run_stops_them_at_k4() { layout_change_case 4; }
