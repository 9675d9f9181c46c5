# bench/peers/common.sh — helpers shared by bench/suite.sh and the peer
# files (sourced, not run).  Every wait here is bounded; every server is
# started in the background by its peer file, which records its pid in
# SUITE_PIDS so the suite's exit trap stops it (by pid) also on Ctrl-C.

SUITE_PIDS=()

die() { echo "suite: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# A free TCP port on 127.0.0.1 (bound and released: racy, but the servers
# started right after are the only takers on this machine).
free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# CPU seconds (user + system) of a pid, children it waited for included.
cpu_of() {
	awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / t}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Peak resident set of a pid, in bytes.
hwm_of() {
	awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0
}

# stop_pid PID: SIGTERM, up to 20 s for it to exit, then SIGKILL.
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# wait_http URL PID WHAT: until URL answers (30 s at most) while PID lives.
wait_http() {
	for i in $(seq 1 300); do
		curl -sf --max-time 1 "$1" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || die "$3 exited while starting"
		[ "$i" -lt 300 ] || die "$3 did not answer in 30 s"
		sleep 0.1
	done
}

# Installs the Debian packages given when one is missing (needs root or sudo).
apt_need() {
	local missing=""
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
	[ -z "$missing" ] && return 0
	say "installing$missing (apt-get)"
	local sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
	timeout 900 $sudo_ apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive timeout 900 $sudo_ apt-get install -y -qq $missing >/dev/null ||
		die "could not install$missing"
}

# rec JSON: appends one record (a JSON object on one line) to the results.
rec() { echo "$1" >>"$WORK/records.jsonl"; }

# ms_list: seconds (one a line, as curl's time_total) to a JSON array of ms.
ms_list() { awk 'BEGIN {printf "["} {printf "%s%.3f", (NR > 1 ? "," : ""), $1 * 1000} END {printf "]"}'; }

# The median of numbers, one a line.
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "nan"}'; }

# http_times URL BODY R: one warm-up, then R POSTs of BODY, each a new curl
# (new connection); prints the R times in seconds, one a line.
http_times() {
	curl -sS --fail --max-time 600 -o /dev/null "$1" --data-binary "$2" || die "request failed: $1 $2"
	for _ in $(seq 1 "$3"); do
		curl -sS --fail --max-time 600 -o /dev/null -w '%{time_total}\n' "$1" --data-binary "$2" ||
			die "request failed: $1"
	done
}

# replay_times_get URLPREFIX URLSUFFIX SESSIONS: a GET of URLPREFIX + id +
# URLSUFFIX for each session id of the file, all in one curl over one
# keep-alive connection, after the first 10 once as a warm-up.  Prints the
# times in seconds, one a line.
replay_times_get() {
	local pre=$1 suf=$2 file=$3 args=() warm=()
	while read -r s; do
		args+=(-sS --fail -o /dev/null -w '%{time_total}\n' "$pre$s$suf" --next)
		[ ${#warm[@]} -lt 70 ] && warm+=(-sS --fail -o /dev/null "$pre$s$suf" --next)
	done <"$file"
	unset 'args[${#args[@]}-1]' 'warm[${#warm[@]}-1]'
	curl --max-time 900 "${warm[@]}" >/dev/null || die "replay warm-up failed: $pre"
	curl --max-time 900 "${args[@]}" || die "replay failed: $pre"
}

# calc EXPR: a number as JSON takes it (bc alone prints ".5").
calc() { echo "$1" | bc -l | awk '{printf "%.6f\n", $1}'; }
