# bench/peers/spoor.sh — spoor for bench/suite.sh (sourced).
#
# spoord from $BUILD, on 127.0.0.1 with free ports (port 0) and a throwaway
# data directory under $WORK, stopped by pid.  The load is the gen file sent
# by bench/loadgen --file to POST /v1/events in NDJSON bodies of SP_BATCH
# events over SP_CONNS connections (a bulk load over the product's own
# ingest path).  Then spoord is stopped, `query_bench --seal-only` seals
# every active segment (what spoord's idle sealer does by itself after 5
# minutes without appends), and spoord is started again on the sealed store:
# queries see spoor compacted, as the peers after their merges.

SP_BATCH=${SP_BATCH:-1000}
SP_CONNS=${SP_CONNS:-16}
SP_PID=""

# sp_start DIR [FSYNC]: sets SP_PID, SP_PORT (ingest), SP_Q (query API URL).
sp_start() {
	local log="$WORK/spoord-$RANDOM.log" qp=""
	"$BUILD/spoord" --data "$1" --listen 127.0.0.1:0 --query-listen 127.0.0.1:0 \
		--fsync "${2:-interval}" 2>"$log" &
	SP_PID=$!
	SUITE_PIDS+=("$SP_PID")
	for _ in $(seq 1 300); do
		SP_PORT=$(grep -o ' port=[0-9]*' "$log" | head -1 | cut -d= -f2 || true)
		qp=$(grep -o 'query_port=[0-9]*' "$log" | head -1 | cut -d= -f2 || true)
		[ -n "$SP_PORT" ] && [ -n "$qp" ] && break
		kill -0 "$SP_PID" 2>/dev/null || { cat "$log" >&2; die "spoord exited while starting"; }
		sleep 0.1
	done
	[ -n "$qp" ] || { cat "$log" >&2; die "spoord did not start in 30 s"; }
	SP_Q="http://127.0.0.1:$qp"
}

sp_stop() { stop_pid "$SP_PID"; SP_PID=""; }

# sp_load FILE NEV DIR: the timed load; sets LOAD_S, LOAD_CPU (spoord's CPU
# seconds), LOAD_RSS (spoord's peak RSS, bytes), LOAD_OUT; then SEAL_S and
# SEAL_CPU: stopping spoord (its final sync of what the load left dirty,
# STOP_S of it) and sealing.
sp_load() {
	local c0 c1 t0 t1 ev ts0 ts1 tc v i=0
	sp_start "$3"
	c0=$(cpu_of "$SP_PID"); t0=$(date +%s.%N)
	LOAD_OUT=$("$BUILD/bench/loadgen" --port "$SP_PORT" --file "$1" --batch "$SP_BATCH" \
		--conns "$SP_CONNS" --duration 1800 --json) || die "spoor load failed: $LOAD_OUT"
	t1=$(date +%s.%N); c1=$(cpu_of "$SP_PID")
	ev=$(node -e 'const r=JSON.parse(process.argv[1]); console.log(r.non_200 || r.errors ? -1 : r.events)' "$LOAD_OUT")
	[ "$ev" = "$2" ] || die "spoor accepted $ev events of $2 ($LOAD_OUT)"
	LOAD_RSS=$(hwm_of "$SP_PID")
	ts0=$(date +%s.%N)
	LOAD_S=$(calc "$t1 - $t0"); LOAD_CPU=$(calc "$c1 - $c0")
	c0=$(cpu_of "$SP_PID") c1=$c0
	kill "$SP_PID"
	# its CPU until it exits (the last reading before it is gone), 120 s at most
	while [ $((i++)) -lt 2400 ] && kill -0 "$SP_PID" 2>/dev/null &&
		[ "$(awk '{print $3}' "/proc/$SP_PID/stat" 2>/dev/null)" != Z ]; do
		v=$(cpu_of "$SP_PID") # 0 when it exited between the test and the read
		c1=$(awk -v a="$c1" -v b="$v" 'BEGIN {print (b > a ? b : a)}'); sleep 0.05
	done
	sp_stop
	STOP_S=$(calc "$(date +%s.%N) - $ts0")
	tc=$( { /usr/bin/time -f '%U %S' "$BUILD/bench/query_bench" --seal-only "$3" >/dev/null; } 2>&1 | tail -1) ||
		die "query_bench --seal-only failed: $tc"
	ts1=$(date +%s.%N)
	SEAL_S=$(calc "$ts1 - $ts0"); SEAL_CPU=$(calc "$(echo "$tc" | awk '{print $1 + $2}') + $c1 - $c0")
	sp_start "$3"
}

sp_bytes() { curl -sS --fail "$SP_Q/v1/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).bytes_on_disk))'; }
sp_rss() { hwm_of "$SP_PID"; }

# The request of each query: "POST body" or "GET path".
sp_req() {
	local steps='[{"type":"signup"},{"type":"add_to_cart"},{"type":"checkout"},{"type":"purchase"}]'
	case "$1" in
	funnel_session) echo "POST {\"steps\":$steps,\"window_ms\":$WINDOW}" ;;
	funnel_user) echo "POST {\"steps\":$steps,\"window_ms\":$WINDOW,\"by\":\"user\"}" ;;
	funnel_breakdown) echo "POST {\"steps\":$steps,\"window_ms\":$WINDOW,\"breakdown\":\"url\"}" ;;
	series) echo "GET /v1/series?type=click&from=$SERIES_FROM&to=$((SERIES_FROM + 86400000))&interval=1m" ;;
	*) die "sp_req: $1?" ;;
	esac
}

# sp_rows NAME: the result as the checks want it (TSV, as the SQL peers print it).
sp_rows() {
	local r
	r=$(sp_req "$1")
	case "$r" in
	POST*) curl -sS --fail-with-body --max-time 600 "$SP_Q/v1/funnel" --data-binary "${r#POST }" ;;
	GET*) curl -sS --fail-with-body --max-time 600 "$SP_Q${r#GET }" ;;
	esac | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
	const r = JSON.parse(s), what = process.argv[1];
	if (what === "series") {
		let c = 0, n = 0; for (const b of r.buckets) { c += b.count; n += b.sessions; }
		console.log(c + "\t" + n);
	} else if (what === "funnel_breakdown") {
		for (const g of r.breakdown) if (!g.other) console.log([g.value, ...g.steps.map(x => x.count)].join("\t"));
	} else console.log(r.steps.map(x => x.count).join("\t"));
});' "$1" || die "spoor $1 failed"
}

# sp_time NAME R: warm-up + R runs over HTTP (curl); seconds one a line.
sp_time() {
	local r
	r=$(sp_req "$1")
	case "$r" in
	POST*) http_times "$SP_Q/v1/funnel" "${r#POST }" "$2" ;;
	GET*)
		curl -sS --fail --max-time 600 -o /dev/null "$SP_Q${r#GET }" || die "spoor $1 failed"
		for _ in $(seq 1 "$2"); do
			curl -sS --fail --max-time 600 -o /dev/null -w '%{time_total}\n' "$SP_Q${r#GET }"
		done ;;
	esac
}

# sp_replay SESSIONS: GET /v1/sessions/{id}/events of each (keep-alive curl).
sp_replay() { replay_times_get "$SP_Q/v1/sessions/" "/events" "$1"; }
