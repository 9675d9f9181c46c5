#!/usr/bin/env bash
# bench/ingest.sh — ingest throughput and latency of spoord, with nginx
# answering 204 from memory on the same machine as the ceiling for
# requests/s.  Everything runs on loopback, every load run is bounded in
# time, and the servers started here are stopped by pid, also on Ctrl-C.
#
#   bench/ingest.sh            # RUNS=3 DURATION=5 by default
#   RUNS=5 DURATION=10 bench/ingest.sh
#   URING=0 bench/ingest.sh    # loadgen's epoll loop for every run
#
# loadgen runs with --uring: its sends and receives go through one io_uring
# per thread, one system call per round for all connections, so the load
# generator takes less of the cores it shares with the server under test
# (nginx is measured with the same loadgen).
#
# Prints a markdown table (median of RUNS runs each, after a warm-up) and
# writes the raw figures to bench/results/ingest-<date>-<host>.json.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
URING=${URING:-1}
LOADGEN="$BUILD/bench/loadgen"
SPOORD="$BUILD/spoord"
TMP=$(mktemp -d /tmp/spoor-ingest-bench-XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ ! -x "$SPOORD" ] || [ ! -x "$LOADGEN" ]; then
	make -C "$ROOT" build >/dev/null
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
	$sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# start_spoord FSYNC: starts spoord on a free port with a fresh data dir,
# sets PORT and SPID.
start_spoord() {
	local dir="$TMP/data-$1-$RANDOM"
	"$SPOORD" --data "$dir" --listen 127.0.0.1:0 --query-listen 127.0.0.1:0 --fsync "$1" \
		2>"$TMP/spoord.log" &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 100); do
		PORT=$(grep -o ' port=[0-9]*' "$TMP/spoord.log" | head -1 | cut -d= -f2 || true)
		[ -n "${PORT:-}" ] && return 0
		sleep 0.1
	done
	echo "spoord did not start:" >&2
	cat "$TMP/spoord.log" >&2
	exit 1
}

stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

start_nginx() {
	PORT=$((20000 + RANDOM % 20000))
	mkdir -p "$TMP/nginx/logs"
	cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    client_max_body_size 1m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT reuseport;
        location / { return 204; }
    }
}
EOF
	"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>>"$TMP/nginx/logs/error.log" &
	NPID=$!
	PIDS+=("$NPID")
	for _ in $(seq 50); do
		if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nginx did not start" >&2
	cat "$TMP/nginx/logs/error.log" >&2
	exit 1
}

# median FIELD FILE...: the median of a numeric JSON field over result lines.
median() {
	local field=$1
	shift
	grep -ho "\"$field\":[0-9.]*" "$@" | cut -d: -f2 | sort -g |
		awk '{v[NR]=$1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

# measure NAME ARGS...: a warm-up, then RUNS runs of loadgen; the JSON lines
# go to $TMP/NAME.json.
measure() {
	local name=$1
	shift
	if [ "$URING" = 1 ]; then set -- "$@" --uring; fi
	"$LOADGEN" --port "$PORT" --duration 1 --json "$@" >/dev/null
	: >"$TMP/$name.json"
	for _ in $(seq "$RUNS"); do
		"$LOADGEN" --port "$PORT" --duration "$DURATION" --json "$@" >>"$TMP/$name.json"
	done
}

echo "spoord ingest benchmark: $RUNS runs x ${DURATION}s, $CONNS connections, loadgen on the same machine (loadgen $([ "$URING" = 1 ] && echo "io_uring" || echo "epoll"))" >&2

start_spoord interval
measure b100 --conns "$CONNS" --batch 100
measure b10 --conns "$CONNS" --batch 10
measure b1 --conns "$CONNS" --batch 1
stop_pid "$SPID"

# Latency at half the batch-1 peak, on a fresh server: the runs above leave
# millions of events for the background sealer, whose CPU would otherwise
# be charged to this run.
peak=$(median requests_per_s "$TMP/b1.json")
half=$(awk -v p="$peak" 'BEGIN {printf "%d", p / 2}')
start_spoord interval
"$LOADGEN" --port "$PORT" --duration 3 --batch 1 --conns "$CONNS" --rate "$half" \
	$([ "$URING" = 1 ] && echo --uring) >/dev/null
measure b1half --conns "$CONNS" --batch 1 --rate "$half"
stop_pid "$SPID"

start_spoord always
measure always_b100 --conns "$CONNS" --batch 100
measure always_b1 --conns "$CONNS" --batch 1
stop_pid "$SPID"

start_nginx
measure nginx_b1 --conns "$CONNS" --batch 1
stop_pid "$NPID"

row() { # name label
	printf '| %s | %s | %s | %s | %s | %s |\n' "$2" \
		"$(median requests_per_s "$TMP/$1.json")" "$(median events_per_s "$TMP/$1.json")" \
		"$(median p50_ms "$TMP/$1.json")" "$(median p99_ms "$TMP/$1.json")" \
		"$(median p999_ms "$TMP/$1.json")"
}
ratio=$(awk -v a="$(median requests_per_s "$TMP/b1.json")" -v b="$(median requests_per_s "$TMP/nginx_b1.json")" \
	'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')

echo
echo "| load | requests/s | events/s | p50 ms | p99 ms | p99.9 ms |"
echo "|------|-----------:|---------:|-------:|-------:|---------:|"
row b100 "spoord, batch 100, fsync interval"
row b10 "spoord, batch 10, fsync interval"
row b1 "spoord, batch 1, fsync interval"
row b1half "spoord, batch 1 at 50% of peak ($half req/s)"
row always_b100 "spoord, batch 100, fsync always"
row always_b1 "spoord, batch 1, fsync always"
row nginx_b1 "nginx return 204, batch 1 body"
echo
echo "spoord / nginx requests/s (batch 1): $ratio"

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/ingest-$(date -u +%Y%m%d)-$(hostname -s).json"
{
	echo "{\"machine\":{\"cpu\":\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\",\"cores\":$(nproc),"
	echo "\"mem_kb\":$(awk '/MemTotal/ {print $2}' /proc/meminfo),\"kernel\":\"$(uname -r)\"},"
	echo "\"runs\":$RUNS,\"duration_s\":$DURATION,\"conns\":$CONNS,\"loadgen_uring\":$URING,\"results\":{"
	first=1
	for f in b100 b10 b1 b1half always_b100 always_b1 nginx_b1; do
		[ $first = 1 ] || echo ","
		first=0
		printf '"%s":[%s]' "$f" "$(paste -sd, "$TMP/$f.json")"
	done
	echo "},\"spoord_over_nginx_rps\":\"$ratio\"}"
} >"$out"
echo "raw figures: $out" >&2
