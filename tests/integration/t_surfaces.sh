# SPDX-License-Identifier: PostgreSQL
# Integration tests: the node's surfaces (status endpoint, command line, status page)
# hold against one hostile local process: it may hold every connection it can, read
# every process's command line, and write hostile text into the database.

# slowloris PORT COUNT STATUS_FILE: holds COUNT connections to PORT, each sending a
# request that never ends one byte every 0.5 s, and opens a new one whenever the node
# drops one (it holds as many as it can).  Writes "made open" to STATUS_FILE; stops
# by itself after 60 s in case nobody kills it.
slowloris() {
	python3 - "$@" <<-'PY'
	import os, selectors, socket, sys, time
	port, count, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
	request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000000
	sel = selectors.DefaultSelector()
	sent = {}
	made = 0

	def connect():
	    global made
	    s = socket.socket()
	    s.setblocking(False)
	    s.connect_ex(("127.0.0.1", port))
	    sel.register(s, selectors.EVENT_READ)
	    sent[s] = 0
	    made += 1

	for _ in range(count):
	    connect()
	end = time.monotonic() + 60
	next_byte = next_status = time.monotonic()
	while time.monotonic() < end:
	    for key, _ in sel.select(timeout=0.05):
	        s = key.fileobj
	        try:
	            data = s.recv(65536)
	        except (BlockingIOError, InterruptedError):
	            continue
	        except OSError:
	            data = b""
	        if not data:
	            sel.unregister(s)
	            del sent[s]
	            s.close()
	            connect()
	    now = time.monotonic()
	    if now >= next_byte:
	        next_byte = now + 0.5
	        for s in list(sent):
	            try:
	                sent[s] += s.send(request[sent[s]:sent[s] + 1])
	            except OSError:
	                pass
	    if now >= next_status:
	        next_status = now + 0.2
	        with open(status + ".tmp", "w") as f:
	            f.write("%d %d\n" % (made, len(sent)))
	        os.replace(status + ".tmp", status)
	PY
}

attack_made() { local made _; read -r made _ <"$1" 2>/dev/null && [ "$made" -ge "$2" ]; }

# probe URL: "CODE SECONDS" of one request that may take at most 1 s.
probe_1s() { curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$1" || true; }

test_surfaces_health_probes_answer_while_one_process_holds_every_connection_it_can() {
	local p status=$WORK/$CLUSTER.attack atk deadline probes=0 worst=0 out code secs path
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "127.0.0.1:$p"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	wait_for "the endpoint" 5000 bash -c "curl -s -o /dev/null http://127.0.0.1:$p/healthz"
	slowloris "$p" 200 "$status" &
	atk=$!
	trap "kill $atk 2>/dev/null; kill_nodes" EXIT
	wait_for "200 slow connections opened" 10000 attack_made "$status" 200
	# Several seconds of back-to-back probes, each answered 200 within 1 s.
	deadline=$(( $(now_ms) + 5000 ))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		for path in healthz readyz; do
			out=$(probe_1s "http://127.0.0.1:$p/$path")
			code=${out%% *} secs=${out#* }
			probes=$((probes + 1))
			[ "$code" = 200 ] || fail "probe $probes: /$path answered '$code' after ${secs}s under the attack"
			worst=$(awk -v a="$secs" -v b="$worst" 'BEGIN { print (a > b) ? a : b }')
		done
	done
	echo "probes: $probes answered 200, slowest ${worst}s; attack (made open): $(cat "$status")"
	# The attack was still going, and the node still leads and processes.
	alive "$atk" || fail "the attacker stopped early"
	attack_made "$status" 201 || fail "the node never dropped an attacking connection: $(cat "$status")"
	send_notifications test_channel 5 flood
	wait_for "counter 5 under the attack" 5000 counter_is "$CLUSTER" 5
	assert_eq "$(leader_ready "$CLUSTER")" node1 "leader under the attack"
	out=$(probe_1s "http://127.0.0.1:$p/readyz")
	assert_eq "${out%% *}" 200 "readyz after the notifications"
	alive "${NODE_PID[node1]}" || fail "the node died"
}

test_surfaces_a_request_trickled_byte_by_byte_is_cut_off() {
	local p out
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "127.0.0.1:$p"
	wait_for "the endpoint" 5000 bash -c "curl -s -o /dev/null http://127.0.0.1:$p/healthz"
	# One byte every 0.5 s resets any inactivity timeout; the node must still end the
	# connection, whose request never completes, within a few seconds.
	out=$(python3 - "$p" <<-'PY'
	import select, socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
	start = time.monotonic()
	while time.monotonic() - start < 15:
	    if select.select([s], [], [], 0.5)[0]:
	        try:
	            if not s.recv(4096):
	                break
	        except OSError:
	            break
	    else:
	        try:
	            s.send(b"a")
	        except OSError:
	            break
	print("%.1f" % (time.monotonic() - start))
	PY
	)
	echo "the trickling connection ended after ${out}s"
	awk -v t="$out" 'BEGIN { exit !(t >= 2 && t <= 8) }' || fail "a trickling request kept its connection ${out}s (expected 2 to 8 s)"
	assert_eq "$(http_code "http://127.0.0.1:$p/healthz")" 200 "healthz after"
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline"; }

member_session_live() {
	[ "$(q "SELECT count(*) FROM clustered_nodes.members m JOIN pg_stat_activity a
		ON a.pid = m.backend_pid WHERE m.cluster = '$CLUSTER' AND m.node = '$1'")" = 1 ]
}

test_surfaces_dbname_passwords_are_hidden_from_the_command_line() {
	local base="host=127.0.0.1 port=$PGTMP_PORT user=cn_node dbname=postgres" log i line
	local -a secrets=(s3cretPw s3cretUri s3cretQuery 's3cret Quoted')
	log=$(node_log "$CLUSTER" node1)
	# Every form libpq takes a password in; the server trusts, so any password connects.
	NODE_CONNINFO="$base password=${secrets[0]}" start_node "$CLUSTER" node1
	NODE_CONNINFO="postgresql://cn_node:${secrets[1]}@127.0.0.1:$PGTMP_PORT/postgres" start_node "$CLUSTER" node2
	NODE_CONNINFO="postgresql://cn_node@127.0.0.1:$PGTMP_PORT/postgres?password=${secrets[2]}&sslmode=disable" \
		start_node "$CLUSTER" node3
	"$ROOT/clustered_nodes" --node node4 --cluster "$CLUSTER" \
		"--dbname=$base password='${secrets[3]}'" >>"$(node_log "$CLUSTER" node4)" 2>&1 &
	NODE_PID[node4]=$!
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	for i in 1 2 3 4; do wait_for "node$i connected" 5000 member_session_live "node$i"; done
	for i in 1 2 3 4; do
		line=$(cmdline_of "${NODE_PID[node$i]}")
		echo "node$i: $line"
		[[ "$line" != *"${secrets[i - 1]}"* && "$line" != *s3cret* ]] ||
			fail "node$i's command line shows its password: $line"
		[[ "$line" == *"--node node$i"* && "$line" == *127.0.0.1* ]] ||
			fail "node$i's command line lost more than the password: $line"
	done
	# The node kept the real value: a reload sees nothing changed.
	kill -HUP "${NODE_PID[node1]}"
	wait_for "the reload" 5000 grep -q 'SIGHUP: configuration reloaded' "$log"
	grep -q 'SIGHUP: configuration reloaded, nothing changed' "$log" ||
		fail "a reload after hiding the password saw a change: $(grep SIGHUP "$log")"
	# status and --check hide it too, while they run.
	"$ROOT/clustered_nodes" status --cluster "$CLUSTER" --dbname "$base password=${secrets[0]}" >/dev/null 2>&1 ||
		fail "status with a password in --dbname"
}

# A hostile member row (any session that may write the table: here the owner) and a
# hostile payload: no control character, C1 control or bidi override reaches the page.
test_surfaces_status_page_shows_no_raw_control_characters() {
	local p page=$WORK/$CLUSTER.page c0 c1 bidi
	c0=$(printf 'a\001\002\003\004\005\006\a\b\v\f\016\017\020\021\022\023\024\025\026\027\030\031\032\033[2J\034\035\036\037\177z')
	c1=$(printf 'c1\302\200\302\233\302\237z')
	bidi=$(printf 'bi\342\200\252\342\200\253\342\200\254\342\200\255\342\200\256\342\201\246\342\201\247\342\201\250\342\201\251z')
	p=$(free_port)
	start_node "$CLUSTER" node1 --http "127.0.0.1:$p"
	wait_for "a leader" 5000 leader_ready "$CLUSTER"
	q_vars "INSERT INTO clustered_nodes.members (cluster, node, host, pid, version, backend_pid, status_url)
		VALUES (:'c', :'n1', :'h1', 1, '0', 2147483000, :'u1'), (:'c', :'n2', :'h2', 2, '0', 2147483001, :'u2');" \
		-o /dev/null -v c="$CLUSTER" -v n1="evil${c1}${bidi}" -v h1="$c0" -v u1="http://x/${c0}" \
		-v n2="evil2${c0:0:20}" -v h2="${bidi}${c1}" -v u2="http://x/${bidi}"
	q_vars "SELECT pg_notify('test_channel', :'p');" -o /dev/null -v p="payload${c0}${c1}${bidi}"
	wait_for "the page showing both hostile members and the payload" 10000 \
		bash -c "curl -s http://127.0.0.1:$p/ >'$page' && grep -q evil2 '$page' && grep -q payload '$page'"
	python3 - "$page" <<-'PY'
	import re, sys
	body = open(sys.argv[1], "rb").read()
	bad = re.findall(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]", body)
	if bad:
	    sys.exit("the page holds %d raw hazards: %r" % (len(bad), sorted(set(bad))))
	PY
	# ... and shows them, escaped, rather than dropping the rows.
	grep -qF 'evilc1\u{0080}\u{009b}\u{009f}zbi\u{202a}' "$page" || fail "the hostile name is not shown escaped"
	grep -qF 'a\x01\x02\x03' "$page" || fail "the hostile host is not shown escaped"
}
