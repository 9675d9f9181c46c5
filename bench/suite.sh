#!/usr/bin/env bash
# bench/suite.sh — spoor side by side with the systems users would pick
# instead (ClickHouse, PostgreSQL, DuckDB): the same generated data, the same
# machine, the same run; a raw JSON, a markdown report and plots.
#
#   bench/suite.sh [--quick] [--build DIR] [--sizes "N ..."] [--runs R]
#                  [--peers clickhouse,postgres,duckdb] [--replay K]
#                  [--no-ingest] [--out DIR] [--keep] [--no-build]
#
# --quick: 1 M events, 3 runs, a short ingest sweep (under 3 minutes on a
# 2-core machine once the peers are installed).  Default (full): 1 M and
# 10 M events, 5 runs, the whole ingest sweep.  Sizes are events; 100 M is
# allowed (--sizes "1000000 10000000 100000000") but off by default.
#
# For each size: bench/gen writes the events (seed 42, 3 days) and a sample
# of K sessions (default 1000).  Each system in turn (spoor first: its
# results are the reference) is started on 127.0.0.1 with a throwaway
# directory under $TMPDIR, loads the file (timed: wall seconds, and the
# server's CPU seconds), compacts (spoor seals, ClickHouse OPTIMIZE FINAL,
# PostgreSQL index + VACUUM ANALYZE, DuckDB CHECKPOINT: part of the load
# time), and is checked: its session and user funnel counts (4 steps, 1 h)
# must equal spoor's, and so must its one-day series totals and, where the
# peer can express it, the funnel breakdown by url; a mismatch stops the
# run (exit 1).  Then each query gets a warm-up and R timed runs (medians in
# the report), and the replay of the K sampled sessions (p50, p99).  Then
# the system is stopped and its directory removed.
#
# The ingest sweep (spoor with --fsync interval and always, ClickHouse) runs
# bench/loadgen against each fresh server: batch sizes 1, 10, 100, 1000 and
# 1, 16, 256 connections, each point bounded in time (SWEEP_DUR seconds,
# SWEEP_RUNS runs: environment variables, 5 and 3 by default, 2 and 1 quick).
# loadgen runs with --uring (one system call per round for all connections,
# as bench/ingest.sh); URING=0 uses its epoll loop.
#
# Everything runs on loopback; every load is bounded in count and time; the
# servers started here are stopped by pid on exit, also on Ctrl-C.  Writes
# OUT/<date>-<host>[-quick].json (raw records), .md (the report) and .svg
# plots (OUT: bench/results).  Needs root or sudo the first time, to install
# clickhouse-server, postgresql and gnuplot (apt-get) and DuckDB (npm ci).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
QUICK=0 SIZES="" RUNS="" REPLAY=1000 INGEST=1 KEEP=0 SEED=42 NOBUILD=0
PEERS="clickhouse,postgres,duckdb"
OUT="$ROOT/bench/results"
ARGS="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; shift ;;
	--build) BUILD=$(cd "$2" && pwd); shift 2 ;;
	--sizes) SIZES=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--peers) PEERS=$2; shift 2 ;;
	--replay) REPLAY=$2; shift 2 ;;
	--no-ingest) INGEST=0; shift ;;
	--out) OUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--no-build) NOBUILD=1; shift ;;
	-h | --help) sed -n '2,39p' "$0"; exit 0 ;;
	*) sed -n '2,39p' "$0" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	SIZES=${SIZES:-1000000} RUNS=${RUNS:-3}
	SWEEP="interval:1:16 interval:10:16 interval:100:16 interval:1000:16 always:1:16 always:100:16"
	SWEEP_DUR=${SWEEP_DUR:-2} SWEEP_RUNS=${SWEEP_RUNS:-1}
else
	SIZES=${SIZES:-1000000 10000000} RUNS=${RUNS:-5}
	SWEEP=""
	for f in interval always; do for c in 1 16 256; do for b in 1 10 100 1000; do
		SWEEP="$SWEEP $f:$b:$c"; done; done; done
	SWEEP_DUR=${SWEEP_DUR:-5} SWEEP_RUNS=${SWEEP_RUNS:-3}
fi
START=$((1700000000000 / 3600000 * 3600000))      # the hour of gen's default start
SERIES_FROM=$(((START / 86400000 + 1) * 86400000)) # the first whole UTC day of the data
BASE=$((START - 86400000))                        # ClickHouse's tsr: ms since BASE
WINDOW=3600000

# shellcheck source=bench/peers/common.sh
. "$ROOT/bench/peers/common.sh"
. "$ROOT/bench/peers/sql.sh"
. "$ROOT/bench/peers/spoor.sh"
. "$ROOT/bench/peers/clickhouse.sh"
. "$ROOT/bench/peers/postgres.sh"
. "$ROOT/bench/peers/duckdb.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/spoor-suite-XXXXXX")
chmod 755 "$WORK" # the postgres user reaches its cluster directory through it
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for ((i = ${#SUITE_PIDS[@]} - 1; i >= 0; i--)); do
		p=${SUITE_PIDS[$i]}
		kill -0 "$p" 2>/dev/null || continue
		[ "$p" = "${PG_PID:-}" ] && kill -INT "$p" 2>/dev/null
		stop_pid "$p"
	done
	if [ "$KEEP" = 1 ]; then echo "suite: kept $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
T_START=$(date +%s.%N)

has_peer() { [[ ",$PEERS," == *",$1,"* ]]; }

# ---- build and peers --------------------------------------------------------
# The binaries must come from one build of one tree: an incremental build
# (a no-op when nothing changed) unless --no-build.
if [ "$NOBUILD" = 0 ]; then
	say "building spoor (Release) in $BUILD"
	[ -f "$BUILD/CMakeCache.txt" ] ||
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSPOOR_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j "$(nproc)" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "build failed"; }
fi
for b in spoord bench/gen bench/loadgen bench/query_bench; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b missing (build it: make build)"
done
command -v node >/dev/null || apt_need nodejs npm
apt_need gnuplot-nox bc curl util-linux
has_peer clickhouse && ch_install
has_peer postgres && pg_install
has_peer duckdb && duck_install
T_READY=$(date +%s.%N)

# ---- machine ----------------------------------------------------------------
json_str() { node -e 'console.log(JSON.stringify(process.argv[1]))' "$1"; }
rec "{\"kind\":\"machine\",\"cpu\":$(json_str "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"),\
\"cores\":$(nproc),\"mem_bytes\":$(awk '/MemTotal/ {printf "%.0f", $2 * 1024}' /proc/meminfo),\
\"kernel\":$(json_str "$(uname -r)"),\"os\":$(json_str "$(. /etc/os-release && echo "$PRETTY_NAME")"),\
\"host\":$(json_str "$(hostname -s)"),\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\
\"loadavg_start\":$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)"),\
\"spoor_commit\":$(json_str "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo +changes)"),\
\"command\":$(json_str "bench/suite.sh $ARGS"),\"quick\":$QUICK,\"runs\":$RUNS,\"replay\":$REPLAY,\
\"seed\":$SEED,\"window_ms\":$WINDOW,\"series_from\":$SERIES_FROM,\
\"spoor_load\":{\"batch\":$SP_BATCH,\"conns\":$SP_CONNS},\"clickhouse_load\":{\"batch\":$CH_BATCH,\"conns\":$CH_CONNS}}"

# ---- per system -------------------------------------------------------------
# Names as the report shows them, and the function prefix of each.
declare -A PFX=([spoor]=sp [clickhouse]=ch [postgres]=pg [duckdb]=duck)

# record_times SYSTEM SIZE QUERY: reads seconds (one a line), records ms.
record_times() {
	local ms n
	ms=$(ms_list)
	n=$(node -e 'console.log(JSON.parse(process.argv[1]).length)' "$ms")
	[ "$n" -ge 1 ] || die "$1 $3: no timings"
	rec "{\"kind\":\"query\",\"system\":\"$1\",\"size\":$2,\"query\":\"$3\",\"ms\":$ms}"
	say "  $1 $3: median $(echo "$ms" | tr -d '[]' | tr ',' '\n' | median) ms over $n"
}

# check SYSTEM SIZE WHAT EXPECTED GOT: records the check; dies on a mismatch.
check() {
	local ok=true
	[ "$4" = "$5" ] || ok=false
	rec "{\"kind\":\"check\",\"system\":\"$1\",\"size\":$2,\"what\":\"$3\",\"ok\":$ok,\
\"spoor\":$(json_str "$4"),\"got\":$(json_str "$5")}"
	if [ "$ok" = false ]; then
		printf 'spoor:\n%s\n%s:\n%s\n' "$4" "$1" "$5" >&2
		die "MISMATCH: $1's $3 differs from spoor's on $2 events"
	fi
	say "  $1 $3 = spoor's: $(echo "$5" | head -1 | tr '\t' ' ')$([ "$(echo "$5" | wc -l)" -gt 1 ] && echo " ...")"
}

note() { rec "{\"kind\":\"note\",\"system\":\"$1\",\"size\":$2,\"text\":$(json_str "$3")}"; }

series_totals() { awk -F'\t' '{c += $2; s += $3} END {print c + 0 "\t" s + 0}'; }

for N in $SIZES; do
	F="$WORK/ev-$N.ndjson" SESS="$WORK/sessions-$N.txt"
	say "gen: $N events"
	"$BUILD/bench/gen" --events "$N" --seed "$SEED" --start "$START" --sample "$REPLAY" "$SESS" >"$F" \
		2>"$WORK/gen.log" || die "gen failed"
	rec "{\"kind\":\"data\",\"size\":$N,\"bytes\":$(stat -c %s "$F"),\"gen\":$(json_str "$(cat "$WORK/gen.log")")}"

	for S in spoor clickhouse postgres duckdb; do
		[ "$S" = spoor ] || has_peer "$S" || continue
		P=${PFX[$S]}
		LOAD_S=0 LOAD_CPU=0 LOAD_RSS=0 SEAL_S=0 SEAL_CPU=0 STOP_S=0 LOAD_OUT="{}"
		case "$S" in
		spoor)
			say "spoor: load $N events over HTTP (loadgen --file, batch $SP_BATCH, $SP_CONNS connections), seal"
			sp_load "$F" "$N" "$WORK/spoor-data"
			VERSION=$("$BUILD/spoord" --version 2>/dev/null | head -1 || echo spoord) ;;
		clickhouse)
			ch_prepare "$F" "$WORK/ev-ch.ndjson" # untimed: 18.16 reads no object into a String
			ch_start
			say "clickhouse: load $N events (loadgen --file, INSERT JSONEachRow, batch $CH_BATCH, $CH_CONNS connections), OPTIMIZE FINAL"
			ch_load "$WORK/ev-ch.ndjson" "$N"
			rm -f "$WORK/ev-ch.ndjson"
			VERSION="ClickHouse $(ch_version)" ;;
		postgres)
			pg_start
			say "postgres: load $N events (\\copy, INSERT SELECT, index, VACUUM ANALYZE)"
			pg_load "$F" "$N"
			VERSION="PostgreSQL $(pg_version)" ;;
		duckdb)
			duck_start
			say "duckdb: load $N events (read_ndjson, ORDER BY session, ts; CHECKPOINT)"
			duck_load "$F" "$N"
			VERSION="DuckDB $(duck_version)" ;;
		esac
		BYTES=$(${P}_bytes)
		rec "{\"kind\":\"load\",\"system\":\"$S\",\"version\":$(json_str "$VERSION"),\"size\":$N,\
\"seconds\":$LOAD_S,\"cpu_s\":$LOAD_CPU,\"seal_s\":$SEAL_S,\"seal_cpu_s\":$SEAL_CPU,\"stop_s\":$STOP_S,\
\"peak_rss\":${LOAD_RSS:-0},\"bytes\":$BYTES,\"loadgen\":$LOAD_OUT}"
		say "  $S: loaded in $LOAD_S s$([ "$S" = spoor ] && echo " (+ $SEAL_S s stop and seal, $STOP_S of it stopping)"), $LOAD_CPU CPU s, $BYTES bytes"

		# correctness before timing
		if [ "$S" = spoor ]; then
			REF_FS=$(sp_rows funnel_session) REF_FU=$(sp_rows funnel_user)
			REF_BD=$(sp_rows funnel_breakdown | sort) REF_SER=$(sp_rows series)
			rec "{\"kind\":\"reference\",\"size\":$N,\"funnel_session\":$(json_str "$REF_FS"),\
\"funnel_user\":$(json_str "$REF_FU"),\"series\":$(json_str "$REF_SER")}"
			say "  spoor: session funnel $REF_FS, user funnel $REF_FU, series totals $REF_SER"
		else
			check "$S" "$N" funnel_session "$REF_FS" "$(${P}_rows funnel_session)"
			TIES=$(${P}_rows ties)
			if [ "$S" = clickhouse ] && [ "$TIES" != 0 ]; then
				# 18.16 orders equal timestamps by storage order, spoor by arrival
				note "$S" "$N" "user funnel not compared: $TIES (user, ts) pairs hold two step events, and ClickHouse orders equal timestamps by storage order"
			else
				check "$S" "$N" funnel_user "$REF_FU" "$(${P}_rows funnel_user)"
			fi
			check "$S" "$N" series "$REF_SER" "$(${P}_rows series | series_totals)"
			if [ "$S" = clickhouse ]; then
				note "$S" "$N" "funnel breakdown not compared: windowFunnel does not tell which event started the chain; the query groups by the url of the session's last signup"
			else
				check "$S" "$N" funnel_breakdown "$REF_BD" "$(${P}_rows funnel_breakdown | sort)"
			fi
		fi

		for Q in funnel_session funnel_user funnel_breakdown series; do
			${P}_time "$Q" "$RUNS" >"$WORK/t.txt"
			[ "$(wc -l <"$WORK/t.txt")" = "$RUNS" ] || die "$S $Q: $(wc -l <"$WORK/t.txt") timings of $RUNS"
			record_times "$S" "$N" "$Q" <"$WORK/t.txt"
		done
		${P}_replay "$SESS" >"$WORK/t.txt"
		[ "$(wc -l <"$WORK/t.txt")" = "$(wc -l <"$SESS")" ] || die "$S replay: $(wc -l <"$WORK/t.txt") timings"
		record_times "$S" "$N" replay <"$WORK/t.txt"
		case "$S" in
		spoor) rec "{\"kind\":\"rss\",\"system\":\"spoor\",\"size\":$N,\"query_peak_rss\":$(sp_rss)}" ;;
		clickhouse) rec "{\"kind\":\"rss\",\"system\":\"clickhouse\",\"size\":$N,\"query_peak_rss\":$(ch_rss)}" ;;
		esac
		${P}_stop
		rm -rf "$WORK/spoor-data" "$WORK/ch" "$WORK/pg" "$WORK/duckdb"
	done
	rm -f "$F"
done

# ---- ingest sweep -----------------------------------------------------------
# One point: a fresh server, a 0.5 s warm-up, then SWEEP_RUNS runs of
# SWEEP_DUR seconds; the server's CPU over the timed runs is recorded too.
sweep_point() { # SYSTEM FSYNC BATCH CONNS PORT PID [loadgen args]
	local s=$1 f=$2 b=$3 c=$4 port=$5 pid=$6 c0 c1 out=""
	shift 6
	if [ "${URING:-1}" = 1 ]; then set -- "$@" --uring; fi
	local one
	# loadgen exits 1 when no request was answered: a figure all the same (0)
	"$BUILD/bench/loadgen" --port "$port" --batch "$b" --conns "$c" --duration 0.5 --ndjson "$@" \
		>/dev/null 2>&1 || true
	c0=$(cpu_of "$pid")
	for _ in $(seq 1 "$SWEEP_RUNS"); do
		one=$("$BUILD/bench/loadgen" --port "$port" --batch "$b" --conns "$c" \
			--duration "$SWEEP_DUR" --ndjson --json "$@") || true
		[[ "$one" == "{"* ]] || die "$s: loadgen failed (batch $b, $c connections): $one"
		out="$out${out:+,}$one"
	done
	c1=$(cpu_of "$pid")
	rec "{\"kind\":\"ingest\",\"system\":\"$s\",\"fsync\":\"$f\",\"batch\":$b,\"conns\":$c,\
\"cpu_s\":$(calc "$c1 - $c0"),\"runs\":[$out]}"
	say "  $s fsync=$f batch=$b conns=$c: $(echo "[$out]" | node -e '
		let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);
		const v=r.map(x=>x.events_per_s).sort((a,b)=>a-b); const e=r.reduce((a,x)=>a+x.non_200+x.errors,0);
		console.log(v[(v.length-1)>>1]+" events/s"+(e?", "+e+" failed requests":""))})')"
}

if [ "$INGEST" = 1 ]; then
	say "ingest sweep: spoor"
	for p in $SWEEP; do
		IFS=: read -r f b c <<<"$p"
		sp_start "$WORK/sweep-$RANDOM" "$f"
		sweep_point spoor "$f" "$b" "$c" "$SP_PORT" "$SP_PID"
		sp_stop
		rm -rf "$WORK"/sweep-*
	done
	if has_peer clickhouse; then
		say "ingest sweep: clickhouse"
		ch_start
		for p in $SWEEP; do
			IFS=: read -r f b c <<<"$p"
			[ "$f" = interval ] || continue # ClickHouse has no per-insert fsync setting to match
			ch_ingest_table
			sweep_point clickhouse default "$b" "$c" "$CH_PORT" "$CH_PID" --path "$CH_INGEST_PATH"
		done
		ch_stop
		rm -rf "$WORK/ch"
	fi
fi

# ---- report -----------------------------------------------------------------
T_END=$(date +%s.%N)
rec "{\"kind\":\"timing\",\"install_s\":$(calc "$T_READY - $T_START"),\
\"measure_s\":$(calc "$T_END - $T_READY"),\"loadavg_end\":$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")}"
mkdir -p "$OUT"
STEM="$OUT/$(date -u +%Y%m%d)-$(hostname -s)$([ "$QUICK" = 1 ] && echo -quick || true)"
node "$ROOT/bench/report.mjs" "$WORK/records.jsonl" "$STEM" || die "report.mjs failed"
gnuplot -e "stem='$STEM'" "$ROOT/bench/plot.gp" 2>"$WORK/gnuplot.log" || { cat "$WORK/gnuplot.log" >&2; die "gnuplot failed"; }
rm -f "$STEM"-*.dat # made again by: node bench/report.mjs --from STEM.json STEM
say "done in $(calc "$(date +%s.%N) - $T_START" | cut -d. -f1) s: $STEM.json, $STEM.md, $STEM-*.svg"
