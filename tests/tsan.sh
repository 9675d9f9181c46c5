#!/usr/bin/env bash
# tests/tsan.sh BUILD_DIR — the threaded paths under ThreadSanitizer.
#
# Criterion cannot start under TSan here ("Could not initialize inheritable
# arena"), so this drives the real programs instead, built with
# CMAKE_BUILD_TYPE=Tsan, and fails on the first TSan report:
#   1. storage_append: two appending threads while the sealer thread
#      freezes, evicts and seals (a 3-day spread forces LRU eviction);
#   2. spoord: loadgen POSTs on two ingest threads while the query API
#      (libmicrohttpd threads, the engine's worker pool) answers funnels,
#      replays, series, sessions and stats, the interval sync runs, then
#      SIGTERM and a clean exit.
# Loopback only; every load is bounded; processes are stopped by pid.
set -euo pipefail
B=$(cd "${1:?usage: tests/tsan.sh BUILD_DIR}" && pwd)
TMP=$(mktemp -d /tmp/spoor-tsan-XXXXXX)
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"

echo "tsan: storage_append, 2 appenders + sealer"
"$B/bench/storage_append" --events 50000 --runs 1 --hours 72 --data "$TMP/sa" >"$TMP/sa.log" 2>&1 ||
	{ tail -60 "$TMP/sa.log"; echo "tsan: storage_append FAILED"; exit 1; }

echo "tsan: spoord under ingest and queries"
"$B/spoord" --data "$TMP/d" --listen 127.0.0.1:0 --query-listen 127.0.0.1:0 --threads 2 \
	2>"$TMP/spoord.log" &
SPID=$!
for _ in $(seq 200); do
	QP=$(grep -o ' query_port=[0-9]*' "$TMP/spoord.log" | head -1 | cut -d= -f2 || true)
	[ -n "${QP:-}" ] && break
	sleep 0.1
done
IP=$(grep -o ' port=[0-9]*' "$TMP/spoord.log" | head -1 | cut -d= -f2)
[ -n "${QP:-}" ] && [ -n "$IP" ] || { cat "$TMP/spoord.log"; echo "tsan: spoord did not start"; exit 1; }
"$B/bench/loadgen" --port "$IP" --conns 8 --batch 10 --duration 4 >"$TMP/lg.log" 2>&1 &
LG=$!
q() { curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$@" || true; }
for _ in 1 2 3; do
	q -X POST "http://127.0.0.1:$QP/v1/funnel" \
		-d '{"steps":[{"type":"pageview"},{"type":"click"}],"window_ms":3600000}'
	q -X POST "http://127.0.0.1:$QP/v1/funnel" \
		-d '{"steps":[{"type":"pageview"},{"type":"click"}],"window_ms":3600000,"by":"user","breakdown":"url"}'
	q "http://127.0.0.1:$QP/v1/sessions?limit=5"
	q "http://127.0.0.1:$QP/v1/series?interval=1m"
	q "http://127.0.0.1:$QP/v1/stats"
	q "http://127.0.0.1:$QP/metrics"
	sleep 0.5
done >"$TMP/q.log"
wait "$LG" || { cat "$TMP/lg.log"; echo "tsan: loadgen failed"; exit 1; }
kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
SPID=""
if [ "$rc" != 0 ] || grep -q "ThreadSanitizer" "$TMP/spoord.log"; then
	tail -80 "$TMP/spoord.log"
	echo "tsan: spoord FAILED (exit $rc)"
	exit 1
fi
echo "tsan: no reports ($(sort "$TMP/q.log" | uniq -c | tr -s ' \n' ' '))"
