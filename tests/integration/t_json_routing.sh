# SPDX-License-Identifier: PostgreSQL
# Integration tests: the node routes json:FIELD payloads exactly as SQL does (issue 20,
# item 5).  A plain NOTIFY is routed in C (partition_of_payload(), json_field.c); durable
# events by clustered_nodes.partition_of(key_of(...)) in the server: for the same payload
# the two must name the same partition, or a key's plain notifications and durable events
# are handled by different leaders.  Payloads come from a seeded generator
# (tests/integration/json_payloads.py); JSON_ROUTING_SEED=N tries another seed.

JSON_ROUTING_SEED=${JSON_ROUTING_SEED:-20}
JSON_ROUTING_ORDINARY=${JSON_ROUTING_ORDINARY:-20000}
JSON_ROUTING_EXTREME=${JSON_ROUTING_EXTREME:-2500}
# K = 64 (the most a cluster has) and K = 64 * 33554431, which keeps 31 bits of the hash:
# a wrong key agrees by chance 1 time in 64 at K = 64, about never at the second.
JSON_ROUTING_KS="64 2147483584"

# The generated lines ("CLASS RULE_HEX PAYLOAD_HEX") into table json_routing, in order.
json_routing_load() {
	local lines=$1
	q "SET client_min_messages = warning; DROP TABLE IF EXISTS json_routing; CREATE UNLOGGED TABLE json_routing (n bigserial PRIMARY KEY,
		class text, rule text, payload text)" >/dev/null
	awk '{ print $1 "\t" $2 "\t" $3 }' "$lines" |
		pgtmp_psql -c "COPY json_routing (class, rule, payload) FROM STDIN" >/dev/null
	q "UPDATE json_routing SET rule = convert_from(decode(rule, 'hex'), 'UTF8'),
		payload = convert_from(decode(payload, 'hex'), 'UTF8')" >/dev/null
}

# What the server says for each payload, one line per payload in order: "P64 PBIG".
json_routing_sql() {
	q "WITH k AS MATERIALIZED (SELECT n, clustered_nodes.key_of(payload, rule) AS key FROM json_routing)
		SELECT clustered_nodes.partition_of(key, 64) || ' ' || clustered_nodes.partition_of(key, 2147483584)
		FROM k ORDER BY n"
}

# Line LINE of the generated file, shown for a person: class, rule, payload (cut, escaped).
json_routing_show() {
	python3 -c 'import sys
cls, rule, payload = sys.argv[1].split(" ") + [""] * (3 - len(sys.argv[1].split(" ")))
text = bytes.fromhex(payload).decode()
print("%s %s %d bytes: %r" % (cls, bytes.fromhex(rule).decode(), len(text.encode()), text[:160] + ("..." if len(text) > 160 else "")))' "$1"
}

test_json_routing_agrees_with_partition_of_on_generated_payloads() {
	local lines="$WORK/json_routing.lines" t0 total node_n sql_n bad n
	[ -x "$ROOT/build/route_payloads" ] || fail "$ROOT/build/route_payloads is missing (make build/route_payloads)"
	t0=$(now_ms)
	python3 "$ROOT/tests/integration/json_payloads.py" "$JSON_ROUTING_SEED" \
		"$JSON_ROUTING_ORDINARY" "$JSON_ROUTING_EXTREME" >"$lines"
	total=$(wc -l <"$lines")
	echo "generated $total payloads (seed $JSON_ROUTING_SEED) in $(( $(now_ms) - t0 )) ms:" \
		"$(cut -d' ' -f1 "$lines" | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')"
	# shellcheck disable=SC2086 # the Ks are words
	cut -d' ' -f2- "$lines" | "$ROOT/build/route_payloads" $JSON_ROUTING_KS >"$WORK/json_routing.node"
	json_routing_load "$lines"
	json_routing_sql >"$WORK/json_routing.sql"
	node_n=$(wc -l <"$WORK/json_routing.node")
	sql_n=$(wc -l <"$WORK/json_routing.sql")
	{ [ "$node_n" = "$total" ] && [ "$sql_n" = "$total" ]; } ||
		fail "answers for $total payloads: $node_n from the node's routing, $sql_n from SQL"
	paste -d'|' "$WORK/json_routing.node" "$WORK/json_routing.sql" |
		awk -F'|' '$1 != $2 { print NR " " $1 " " $2 }' >"$WORK/json_routing.bad"
	bad=$(wc -l <"$WORK/json_routing.bad")
	echo "compared $total payloads: $bad disagreements, $(( $(now_ms) - t0 )) ms in all"
	[ "$bad" = 0 ] && return 0
	echo "first disagreements (line: node's partitions K=64 and K=2147483584, then SQL's):"
	head -n 10 "$WORK/json_routing.bad" | while read -r n node64 nodebig sql64 sqlbig; do
		echo "  $n: node $node64 $nodebig, SQL $sql64 $sqlbig: $(json_routing_show "$(sed -n "${n}p" "$lines")")"
	done
	echo "per class: $(awk 'NR == FNR { bad[$1]; next } FNR in bad { print $1 }' "$WORK/json_routing.bad" "$lines" |
		sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')"
	fail "$bad of $total payloads routed by the node to another partition than partition_of(key_of(...))"
}

# End to end, through real nodes: plain notifications of the extreme classes reach the
# partitions SQL names (the same call as route_payloads, inside leads.c).
test_json_routing_extreme_notifications_reach_partition_of() {
	local lines="$WORK/json_routing_e2e.lines" sent expected
	python3 "$ROOT/tests/integration/json_payloads.py" "$JSON_ROUTING_SEED" 0 400 |
		awk '$2 == "6a736f6e3a6964"' >"$lines"	# json:id only: one rule per cluster
	json_routing_load "$lines"
	start_node "$CLUSTER" node1 --partitions 5 --partition-key json:id
	start_node "$CLUSTER" node2 --partitions 5 --partition-key json:id
	wait_for "balanced" 5000 shape_is "$CLUSTER" 5 "3 2"
	wait_for "every partition fenced" 5000 partitions_ready "$CLUSTER" 5
	# Distinct payloads, in one transaction (one statement): a transaction's equal
	# notifications are delivered once.
	sent=$(q "SELECT count(pg_notify('test_channel', payload)) FROM (SELECT DISTINCT payload FROM json_routing) d")
	echo "sent $sent distinct payloads of the extreme classes as plain notifications"
	wait_for "every payload processed" 20000 counter_sum_is "$CLUSTER" "$sent"
	expected=$(q "SELECT string_agg(coalesce(n, 0)::text, ' ' ORDER BY g.p) FROM generate_series(0, 4) g(p)
		LEFT JOIN (SELECT clustered_nodes.partition_of(clustered_nodes.key_of(payload, 'json:id'), 5) AS p,
			count(*) AS n FROM (SELECT DISTINCT payload FROM json_routing) d GROUP BY 1) x ON x.p = g.p")
	assert_eq "$(counters "$CLUSTER")" "$expected" "per-partition counters against partition_of()"
}
