#!/usr/bin/env bash
# clickhouse.sh — spoor against ClickHouse on the same gen file, same machine,
# same run.
#
#   bench/clickhouse.sh [--events N] [--seed S] [--runs R] [--replay K]
#                       [--build DIR] [--file F.ndjson]
#
# Generates N events (default 1 M) with bench/gen (or takes --file), runs
# spoor's query_bench --load on it, then starts a throwaway ClickHouse
# (Debian's clickhouse-server 18.16, installed with apt-get when missing) on
# 127.0.0.1 with free ports and a data directory under $TMPDIR, loads the
# same file over HTTP (JSONEachRow), checks that ClickHouse's windowFunnel
# step counts equal spoor's (exits 1 on a mismatch), and times:
#   funnel  signup -> add_to_cart -> checkout -> purchase by session, window
#           1 h: median of R runs (default 5) after a warm-up
#   series  clicks and distinct sessions per minute over one day (HTTP both)
#   replay  all events of one session ordered by ts, for K random sessions
#           (default 300): p50 / p99
# Prints a table with both, their ratio and bytes on disk per event.
# bench/suite.sh (make bench) does this comparison over HTTP for both, with
# PostgreSQL and DuckDB too, and writes a report; this script stays for
# spoor's in-process figures (query_bench) next to ClickHouse's.
#
# Caveats of the comparison: the funnel's steps are distinct types, so no
# event fills two steps; gen timestamps strictly increase within a session,
# so ClickHouse's order of equal timestamps (not by arrival) cannot matter.
# spoor's funnel time is in process (q_funnel), ClickHouse's is an HTTP
# request timed by curl on loopback (about 1 ms of overhead); both replays
# go over HTTP (spoor: a new connection per request, ClickHouse: curl
# keep-alive).  ClickHouse's server is stopped (by pid) and its directory
# removed on exit, also on Ctrl-C.
set -euo pipefail

EVENTS=1000000 SEED=42 RUNS=5 REPLAY=300 FILE=""
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
while [ $# -gt 0 ]; do
	case "$1" in
	--events) EVENTS=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--replay) REPLAY=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--file) FILE=$2; shift 2 ;;
	*) echo "usage: $0 [--events N] [--seed S] [--runs R] [--replay K] [--build DIR] [--file F]" >&2; exit 2 ;;
	esac
done

die() { echo "clickhouse.sh: $*" >&2; exit 1; }
# shellcheck source=bench/peers/clickhouse.sh
. "$ROOT/bench/peers/clickhouse.sh" # ch_config

for b in gen query_bench; do
	[ -x "$BUILD/bench/$b" ] || die "$BUILD/bench/$b missing: build it (cmake --build $BUILD --target $b)"
done
if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
	echo "installing clickhouse-server clickhouse-client (apt-get)"
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq \
		clickhouse-server clickhouse-client >/dev/null || die "could not install clickhouse-server"
fi
CH_SERVER=$(command -v clickhouse-server)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/spoor-ch-XXXXXX")
CH_PID=""
cleanup() {
	if [ -n "$CH_PID" ] && kill -0 "$CH_PID" 2>/dev/null; then
		kill "$CH_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$CH_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$CH_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
if [ -z "$FILE" ]; then
	FILE="$WORK/events.ndjson"
	"$BUILD/bench/gen" --events "$EVENTS" --seed "$SEED" >"$FILE"
fi
NEV=$(wc -l <"$FILE")
echo "data: $FILE, $NEV events, $(stat -c %s "$FILE") bytes"

# ---- spoor ------------------------------------------------------------------
echo "spoor: query_bench --load (unsealed, then sealed)"
timeout 1800 "$BUILD/bench/query_bench" --load "$FILE" --runs "$RUNS" --replay "$REPLAY" \
	--data "$WORK/spoor" >"$WORK/spoor.out" || { cat "$WORK/spoor.out"; die "query_bench failed"; }
cat "$WORK/spoor.out"
# the sealed round's session funnel, replay and bytes per event
SP_LINE=$(grep -E '^  session ' "$WORK/spoor.out" | tail -1)
SP_MS=$(awk '{print $2}' <<<"$SP_LINE")
SP_STEPS=$(sed -E 's/.*steps ([0-9 ]+),.*/\1/' <<<"$SP_LINE")
SP_REPLAY=$(grep -E 'replay \(HTTP\)' "$WORK/spoor.out" | tail -1 | awk '{print $4, $7}')
SP_BPE=$(grep -E 'on disk:' "$WORK/spoor.out" | sed -E 's/.*, ([0-9.]+) bytes\/event/\1/')
rm -rf "$WORK/spoor"

# ---- ClickHouse -------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port) TCP_PORT=$(free_port)
[ "$HTTP_PORT" != "$TCP_PORT" ] || TCP_PORT=$(free_port)
ch_config "$WORK/ch" "$HTTP_PORT" "$TCP_PORT" 20
echo "clickhouse: starting $CH_SERVER on 127.0.0.1:$HTTP_PORT (tcp $TCP_PORT), data in $WORK/ch"
"$CH_SERVER" --config-file="$WORK/ch/config.xml" >"$WORK/ch/log/stdout.log" 2>&1 &
CH_PID=$!
URL="http://127.0.0.1:$HTTP_PORT/"
for i in $(seq 1 300); do
	curl -sf --max-time 1 "$URL" >/dev/null 2>&1 && break
	kill -0 "$CH_PID" 2>/dev/null || { cat "$WORK/ch/log/"*.log >&2 || true; die "clickhouse-server exited"; }
	[ "$i" -lt 300 ] || die "clickhouse-server did not answer in 30 s"
	sleep 0.1
done
chq() { # chq SQL [curl args...]: runs a query, fails loudly
	local q=$1; shift
	curl -sS --fail-with-body --max-time 600 "$@" "$URL" --data-binary "$q" ||
		die "query failed: $q"
}
echo "clickhouse: version $(chq 'SELECT version()')"

BASE=$(awk -F'"ts":' 'NR==1{split($2,a,","); print a[1]; exit}' "$FILE")
# tsr: ms since a base well before the data (fits UInt32 for ~49 days)
BASE=$((BASE - 86400000))
chq "CREATE TABLE ev (session String, user String, type String, target String, url String,
	x Int32, y Int32, ts UInt64, id String, props String,
	tsr UInt32 MATERIALIZED toUInt32(ts - $BASE))
	ENGINE = MergeTree ORDER BY (session, ts)"
# 18.16's JSONEachRow takes no object into a String: turn the props object
# (flat and last on each gen line) into a JSON string.
t0=$(date +%s.%N)
awk -v q='"' '{
	i = index($0, ",\"props\":{")
	if (!i) { print; next }
	o = substr($0, i + 9, length($0) - i - 9)
	gsub(q, "\\\"", o)
	print substr($0, 1, i - 1) ",\"props\":\"" o "\"}"
}' "$FILE" | split -l 1000000 --filter="curl -sS --fail-with-body --max-time 900 \
	'${URL}?query=INSERT%20INTO%20ev%20FORMAT%20JSONEachRow' --data-binary @-" - ||
	die "load failed"
chq "OPTIMIZE TABLE ev FINAL" >/dev/null
t1=$(date +%s.%N)
CH_ROWS=$(chq "SELECT count() FROM ev")
[ "$CH_ROWS" = "$NEV" ] || die "clickhouse holds $CH_ROWS rows, the file $NEV"
CH_BYTES=$(chq "SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'ev' AND active")
echo "clickhouse: $CH_ROWS rows loaded and merged in $(echo "$t1 - $t0" | bc) s, $CH_BYTES bytes on disk"

FUNNEL="SELECT level, count() FROM (SELECT session, windowFunnel(3600000)(tsr,
	type = 'signup', type = 'add_to_cart', type = 'checkout', type = 'purchase') AS level
	FROM ev WHERE type IN ('signup', 'add_to_cart', 'checkout', 'purchase') GROUP BY session)
	GROUP BY level ORDER BY level FORMAT TSV"
# cumulative: sessions with level >= k, as spoor reports steps
CH_STEPS=$(chq "$FUNNEL" | awk '{c[$1]=$2} END {for (k=1;k<=4;k++) {s=0; for (l=k;l<=4;l++) s+=c[l]; printf "%s%d", (k>1?" ":""), s}}')
echo "funnel steps: spoor [$SP_STEPS]  clickhouse [$CH_STEPS]"
[ "$SP_STEPS" = "$CH_STEPS" ] || die "MISMATCH: funnel step counts differ"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
chq "$FUNNEL" >/dev/null # warm-up
CH_MS=$(for _ in $(seq 1 "$RUNS"); do
	curl -sS --fail --max-time 600 -o /dev/null -w '%{time_total}\n' "$URL" --data-binary "$FUNNEL"
done | awk '{print $1 * 1000}' | median)

# replay: K random sessions (fixed by hash), one keep-alive curl
chq "SELECT DISTINCT session FROM ev ORDER BY cityHash64(session) LIMIT $REPLAY FORMAT TSV" \
	>"$WORK/sessions.txt"
sel='SELECT session, user, type, target, url, x, y, ts, id, props FROM ev WHERE session = '
args=() # one curl, one connection (keep-alive), one transfer per session
while read -r s; do
	args+=(-sS --fail -o /dev/null -w '%{time_total}\n'
		--data-binary "$sel'$s' ORDER BY ts FORMAT JSONEachRow" "$URL" --next)
done <"$WORK/sessions.txt"
unset 'args[${#args[@]}-1]'
curl --max-time 600 "${args[@]:0:99}" >/dev/null # warm-up: the first 10
curl --max-time 600 "${args[@]}" | awk '{print $1 * 1000}' | sort -g >"$WORK/replay.txt"
[ "$(wc -l <"$WORK/replay.txt")" = "$(wc -l <"$WORK/sessions.txt")" ] || die "replay requests failed"
CH_P50=$(awk '{a[NR]=$1} END {print a[int(NR*0.5)+1]}' "$WORK/replay.txt")
CH_P99=$(awk '{a[NR]=$1} END {i=int(NR*0.99)+1; if (i>NR) i=NR; print a[i]}' "$WORK/replay.txt")
read -r SP_P50 SP_P99 <<<"$SP_REPLAY"

# series: clicks per minute and distinct sessions per minute over spoor's day
SER_LINE=$(grep -E 'series 1m' "$WORK/spoor.out" | tail -1)
SP_SER_MS=$(awk '{print $7}' <<<"$SER_LINE")
read -r SFROM SP_SER_EV SP_SER_SS <<<"$(sed -E 's/.*from ([0-9]+), type=click: ([0-9]+) events, ([0-9]+) session-minutes.*/\1 \2 \3/' <<<"$SER_LINE")"
SERIES="SELECT intDiv(ts, 60000) AS m, count() AS c, uniqExact(session) AS s FROM ev
	WHERE type = 'click' AND ts >= $SFROM AND ts < $SFROM + 86400000 GROUP BY m ORDER BY m
	FORMAT TSV"
CH_SER=$(chq "$SERIES" | awk '{c += $2; s += $3} END {print c + 0, s + 0}')
echo "series totals: spoor [$SP_SER_EV $SP_SER_SS]  clickhouse [$CH_SER]"
[ "$SP_SER_EV $SP_SER_SS" = "$CH_SER" ] || die "MISMATCH: series totals differ"
CH_SER_MS=$(for _ in $(seq 1 "$RUNS"); do
	curl -sS --fail --max-time 600 -o /dev/null -w '%{time_total}\n' "$URL" --data-binary "$SERIES"
done | awk '{print $1 * 1000}' | median)

echo
echo "events $NEV; load average $(cut -d' ' -f1-3 /proc/loadavg); clickhouse $(chq 'SELECT version()')"
printf '%-34s %12s %12s %8s\n' "" "spoor" "clickhouse" "ratio"
row() { printf '%-34s %12.3f %12.3f %8.2f\n' "$1" "$2" "$3" "$(echo "scale=4; $3 / $2" | bc)"; }
row "session funnel 4 steps, 1 h (ms)" "$SP_MS" "$CH_MS"
row "series 1 day x 1 min (ms, HTTP)" "$SP_SER_MS" "$CH_SER_MS"
row "replay p50 (ms, HTTP)" "$SP_P50" "$CH_P50"
row "replay p99 (ms, HTTP)" "$SP_P99" "$CH_P99"
row "bytes on disk per event" "$SP_BPE" "$(echo "scale=3; $CH_BYTES / $CH_ROWS" | bc)"
echo "(ratio = clickhouse / spoor: above 1 means spoor is faster / smaller)"
