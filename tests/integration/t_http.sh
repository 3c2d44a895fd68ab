# SPDX-License-Identifier: PostgreSQL
# Integration tests: the status endpoint (health, readiness, JSON, metrics, page) and bad clients.

jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

test_http_endpoints_as_leader_and_standby() {
	local pa pb leader standby lp sp body
	pa=$(free_port)
	pb=$(free_port)
	start_node "$CLUSTER" node1 --http "$pa"
	start_node "$CLUSTER" node2 --http "127.0.0.1:$pb"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	leader=$(leader_ready "$CLUSTER")
	lp=$pa sp=$pb standby=node2
	[ "$leader" = node2 ] && lp=$pb sp=$pa standby=node1
	assert_eq "$(q "SELECT status_url FROM clustered_nodes.members WHERE cluster = '$CLUSTER' AND node = '$leader'")" "http://127.0.0.1:$lp/" "status_url"
	send_notifications test_channel 4 h
	wait_for "counter 4" 5000 counter_is "$CLUSTER" 4
	for p in "$lp" "$sp"; do
		assert_eq "$(http_code "http://127.0.0.1:$p/healthz")" 200 "healthz on $p"
		assert_eq "$(http_code "http://127.0.0.1:$p/readyz")" 200 "readyz on $p"
	done
	assert_eq "$(http_body "http://127.0.0.1:$lp/readyz")" "ready: leader" "leader's readyz"
	assert_eq "$(http_body "http://127.0.0.1:$sp/readyz")" "ready: standby, able to take over" "standby's readyz"
	[[ "$(curl -s -D - -o /dev/null "http://127.0.0.1:$lp/status")" == *"Content-Type: application/json"* ]] || fail "status content type"
	body=$(http_body "http://127.0.0.1:$lp/status")
	assert_eq "$(jq_py "d['role'], d['counter'], d['leader'], d['connected'], d['cluster']" <<<"$body")" "leader 4 $leader True $CLUSTER" "leader's /status"
	assert_eq "$(jq_py "d['last_notification_at'] is not None and d['uptime_s'] > 0" <<<"$body")" True "leader's times"
	# A standby's view follows the database within about a second.
	wait_for "the standby's view of counter 4" 5000 bash -c "curl -s http://127.0.0.1:$sp/status | python3 -c \"import json,sys; d=json.load(sys.stdin); sys.exit(0 if (d['role'], d['counter'], d['leader']) == ('standby', 4, '$leader') and len(d['members']) == 2 else 1)\""
	body=$(http_body "http://127.0.0.1:$sp/status")
	assert_eq "$(jq_py "sorted((m['node'], m['role'], m['session']) for m in d['members'])" <<<"$body")" \
		"$(python3 -c "print(sorted([('$leader', 'leader', 'live'), ('$standby', 'standby', 'live')]))")" "members in /status"
	assert_eq "$(jq_py "all(0 <= m['heartbeat_age_s'] < 30 for m in d['members'])" <<<"$body")" True "heartbeat ages"
	body=$(http_body "http://127.0.0.1:$lp/metrics")
	for line in 'clustered_nodes_up 1' 'clustered_nodes_is_leader 1' 'clustered_nodes_db_connected 1' \
		'clustered_nodes_notifications_processed_total{channel="test_channel"} 4' \
		'clustered_nodes_failovers_total 0' 'clustered_nodes_takeovers_total{reason="first_lead"} 1' \
		'clustered_nodes_cluster_processed 4' 'clustered_nodes_build_info{version=' \
		'clustered_nodes_durable_events_waiting 0' 'clustered_nodes_dead_letters 0' \
		'# TYPE clustered_nodes_lease_age_seconds gauge' \
		'# TYPE clustered_nodes_step_duration_seconds histogram' \
		'clustered_nodes_step_duration_seconds_bucket{le="+Inf"}' \
		'# TYPE clustered_nodes_notification_queue_usage gauge'; do
		grep -qF "$line" <<<"$body" || fail "leader's /metrics lacks: $line"
	done
	[ "$(sed -n 's/^clustered_nodes_step_duration_seconds_count //p' <<<"$body")" -ge 1 ] || fail "no step observed"
	# Names and types as Prometheus' own linter wants them (scripts/install-deps.sh fetches it).
	[ -x "$ROOT/build/tools/promtool" ] || fail "no build/tools/promtool: run scripts/install-deps.sh"
	"$ROOT/build/tools/promtool" check metrics <<<"$body" || fail "promtool check metrics: the leader's /metrics"
	body=$(http_body "http://127.0.0.1:$sp/metrics")
	grep -qx 'clustered_nodes_is_leader 0' <<<"$body" || fail "standby's is_leader"
	grep -qF 'clustered_nodes_notifications_processed_total{channel="test_channel"} 0' <<<"$body" || fail "standby processed something"
}

test_http_when_the_database_is_unreachable() {
	local p body
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "$p" --dbname "host=127.0.0.1 port=1 connect_timeout=2"
	wait_for "the endpoint" 5000 bash -c "curl -s -o /dev/null http://127.0.0.1:$p/healthz"
	wait_for "a failed attempt" 5000 grep -q 'connection attempt failed' "$(node_log "$CLUSTER" node1)"
	assert_eq "$(http_code "http://127.0.0.1:$p/healthz")" 503 "healthz while disconnected"
	assert_eq "$(http_code "http://127.0.0.1:$p/readyz")" 503 "readyz while disconnected"
	[[ "$(http_body "http://127.0.0.1:$p/healthz")" == "unhealthy: no database session"* ]] || fail "healthz reason"
	body=$(http_body "http://127.0.0.1:$p/status")
	assert_eq "$(jq_py "d['role'], d['connected'], d['members']" <<<"$body")" "disconnected False []" "/status while disconnected"
	body=$(http_body "http://127.0.0.1:$p/metrics")
	grep -qx 'clustered_nodes_db_connected 0' <<<"$body" || fail "db_connected"
	[ "$(sed -n 's/^clustered_nodes_reconnects_total //p' <<<"$body")" -ge 1 ] || fail "reconnects_total"
}

test_http_bad_requests_do_not_harm_the_node() {
	local p fds=() i fd code
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "$p"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	assert_eq "$(http_code "http://127.0.0.1:$p/nope")" 404 "unknown path"
	assert_eq "$(http_code -X POST -d 'x=1' "http://127.0.0.1:$p/status")" 405 "POST"
	[[ "$(curl -s -D - -o /dev/null -X DELETE "http://127.0.0.1:$p/")" == *"Allow: GET, HEAD"* ]] || fail "405 without Allow"
	assert_eq "$(http_code -X POST --data-binary @<(head -c 5000000 /dev/zero) "http://127.0.0.1:$p/")" 405 "POST with a 5 MB body"
	code=$(http_code -H "X-Huge: $(head -c 60000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$p/status")
	[[ "$code" == 431 || "$code" == 413 || "$code" == 400 || "$code" == 000 ]] || fail "huge header answered $code"
	code=$(printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p; cat >&3; head -c 12 <&3" || true)
	[[ -z "$code" || "$code" == "HTTP/1.1 400" ]] || fail "malformed request line answered: $code"
	# Many idle connections and a client that sends requests but never reads:
	# the node's database work goes on.
	for i in $(seq 1 80); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$p" 2>/dev/null || break
		fds+=("$fd")
	done
	python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', $p))
s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' * 2000)
time.sleep(3)
" &
	local reader=$!
	send_notifications test_channel 5 busy
	wait_for "counter 5 while HTTP is flooded" 2000 counter_is "$CLUSTER" 5
	kill "$reader" 2>/dev/null || true
	wait "$reader" 2>/dev/null || true
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	wait_for "HTTP answering again" 15000 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/healthz)\" = 200 ]"
	alive "${NODE_PID[node1]}" || fail "the node died"
}

test_http_port_in_use_exits_78() {
	local p rc=0 out
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "$p"
	wait_for "the endpoint" 5000 bash -c "curl -s -o /dev/null http://127.0.0.1:$p/healthz"
	out=$("$ROOT/clustered_nodes" --node node2 --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" --http "$p" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status with the port in use"
	assert_eq "$out" "clustered_nodes: cannot listen on $p: Address already in use" "error"
	rc=0
	"$ROOT/clustered_nodes" --http "localhost:80" --check >/dev/null 2>&1 || rc=$?
	out=$("$ROOT/clustered_nodes" --node n --cluster "$CLUSTER" --dbname "$NODE_CONNINFO" --http "localhost:$p" 2>&1) || rc=$?
	assert_eq "$rc" 78 "exit status for a host name"
	[[ "$out" == *"not a numeric address"* ]] || fail "$out"
	rc=0
	"$ROOT/clustered_nodes" --http 70000 >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 64 "exit status for a bad port"
}

# chromium_dom URL: the page as the browser renders it.
chromium_run() {
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-quic \
		--user-data-dir="$WORK/chromium.$CLUSTER" "$@" 2>/dev/null
}
page_shows() {
	local dom
	dom=$(chromium_run --dump-dom "$1")
	[[ "$dom" == *"id=\"leader\">$2<"* && "$dom" == *"id=\"term\">$3<"* && "$dom" == *"id=\"counter\">$4<"* ]]
}

# The page's timeline shows at least N terms.
page_draws_terms() {
	local dom
	dom=$(chromium_run --dump-dom "$1")
	[ "$(grep -o '<g class="term">' <<<"$dom" | wc -l)" -ge "$2" ]
}

test_browser_page_follows_notifications_and_failover() {
	local i old new term dom
	declare -A port=()
	command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
	for i in 1 2 3; do
		port[node$i]=$(free_port)
		start_node "$CLUSTER" "node$i" --http "${port[node$i]}"
	done
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	old=$(leader_ready "$CLUSTER")
	term=$(term_of "$CLUSTER")
	send_notifications test_channel 2 '<b>bold</b>'
	wait_for "counter 2" 5000 counter_is "$CLUSTER" 2
	wait_for "the page showing counter 2" 10000 page_shows "http://127.0.0.1:${port[$old]}/" "$old" "$term" 2
	dom=$(chromium_run --dump-dom "http://127.0.0.1:${port[$old]}/")
	[[ "$dom" == *"&lt;b&gt;bold&lt;/b&gt;"* && "$dom" != *"<b>bold</b>"* ]] || fail "payload not escaped on the page"
	send_notifications test_channel 1 third
	wait_for "the page showing counter 3" 10000 page_shows "http://127.0.0.1:${port[$old]}/" "$old" "$term" 3
	{ kill -9 "${NODE_PID[$old]}"; wait "${NODE_PID[$old]}"; } 2>/dev/null || true
	unset "NODE_PID[$old]"
	wait_for "a new leader" 5000 leader_ready "$CLUSTER" "$term"
	new=$(leader_ready "$CLUSTER")
	send_notifications test_channel 1 fourth
	wait_for "counter 4" 5000 counter_is "$CLUSTER" 4
	for i in 1 2 3; do
		[ "node$i" = "$old" ] && continue
		wait_for "node$i's page showing $new, term $((term + 1)), counter 4" 10000 \
			page_shows "http://127.0.0.1:${port[node$i]}/" "$new" $((term + 1)) 4
	done
	# The drawings (sql/014's history, the node's own rates): in the DOM, and on screen.
	wait_for "$new's page drawing two terms" 10000 page_draws_terms "http://127.0.0.1:${port[$new]}/" 2
	dom=$(chromium_run --dump-dom "http://127.0.0.1:${port[$new]}/")
	[[ "$dom" == *'<rect class="gap"'* ]] || fail "no gap drawn between the terms"
	[[ "$dom" == *'id="steps-line"'* && "$dom" == *'id="notifications-line"'* ]] || fail "no rate lines"
	for i in 1 2 3; do
		[ "node$i" = "$old" ] && continue
		[[ "$dom" == *"class=\"member-page\" href=\"http://127.0.0.1:${port[node$i]}/\""* ]] ||
			fail "no link to node$i's page"
	done
	chromium_run --window-size=1100,1400 --screenshot="$WORK/status-page.png" "http://127.0.0.1:${port[$new]}/" >/dev/null
	[ "$(stat -c %s "$WORK/status-page.png")" -gt 10000 ] || fail "no screenshot"
	# On screen: the red of the gap, and the blue of the notifications line (no other
	# element of the page has either colour).
	read -r red blue < <(python3 "$ROOT/tests/integration/png_colors.py" "$WORK/status-page.png" \
		dd2222 1f6fd1 | paste -sd' ')
	[ "$red" -gt 0 ] || fail "the screenshot shows no gap"
	[ "$blue" -gt 100 ] || fail "the screenshot shows no notifications line"
	mkdir -p "$ROOT/build"
	cp "$WORK/status-page.png" "$ROOT/build/status-page.png"
}
