# bench/peers/postgres.sh — PostgreSQL for bench/suite.sh (sourced).
#
# Debian's postgresql (initdb, postgres from /usr/lib/postgresql/N/bin) in a
# throwaway cluster under $WORK/pg on a free 127.0.0.1 port, run as the
# `postgres` user when the suite runs as root (postgres refuses root; setpriv
# execs it, so the pid the suite keeps is the postmaster's), stopped by pid.
# Load: psql's \copy streams the gen file's lines into a staging table, one
# INSERT ... SELECT turns them into typed columns (props as jsonb), then
# the (session, ts) index is built and VACUUM ANALYZE run: the bulk-load
# order PostgreSQL's manual recommends ("Populating a Database"), with
# wal_level minimal so the table made and filled in one transaction skips
# the WAL (it is fsynced at commit instead).  Queries go through one psql session
# on TCP loopback, timed by psql's \timing (client round trip, without psql's
# start-up).  Settings: shared_buffers 1GB, work_mem 256MB, max_wal_size
# 8GB, fsync and synchronous_commit on (its defaults), 2 parallel workers.

PG_PID=""

pg_install() {
	apt_need postgresql
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -x "$PGBIN/postgres" ] || die "no postgres under /usr/lib/postgresql"
}

pg_version() { pg_psql -At -c "SHOW server_version" | cut -d" " -f1; }

# as_pg CMD...: CMD as the postgres user when root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir="$WORK/pg"
	rm -rf "$dir"; mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --locale=C -E UTF8 \
		>"$WORK/pg-initdb.log" 2>&1 || { cat "$WORK/pg-initdb.log" >&2; die "initdb failed"; }
	PG_PORT=$(free_port)
	as_pg "$PGBIN/postgres" -D "$dir/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
		-c unix_socket_directories="$dir" -c shared_buffers=1GB -c work_mem=256MB \
		-c maintenance_work_mem=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min \
		-c max_parallel_workers_per_gather=2 -c effective_cache_size=8GB \
		-c wal_level=minimal -c max_wal_senders=0 -c logging_collector=off >"$dir/server.log" 2>&1 &
	PG_PID=$!
	SUITE_PIDS+=("$PG_PID")
	for i in $(seq 1 300); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
		kill -0 "$PG_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "postgres exited while starting"; }
		[ "$i" -lt 300 ] || die "postgres did not answer in 30 s"
		sleep 0.1
	done
}

# SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for clients).
pg_stop() {
	[ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null
	stop_pid "$PG_PID"; PG_PID=""
}

pg_psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

# CPU seconds of the server: the postmaster (with the backends it reaped)
# and its live children.
pg_cpu() {
	local t c
	t=$(cpu_of "$PG_PID")
	for c in $(ps -o pid= --ppid "$PG_PID" 2>/dev/null); do t="$t + $(cpu_of "$c")"; done
	calc "$t"
}

# pg_load FILE NEV: the timed load; sets LOAD_S, LOAD_CPU, LOAD_RSS (n/a: 0).
pg_load() {
	local c0 c1 t0 t1 rows
	c0=$(pg_cpu); t0=$(date +%s.%N)
	pg_psql >"$WORK/pg-load.log" 2>&1 <<SQL || { cat "$WORK/pg-load.log" >&2; die "postgres load failed"; }
BEGIN;
CREATE TABLE ev (session text NOT NULL, "user" text, type text NOT NULL, target text, url text,
  x int, y int, ts bigint NOT NULL, id text, props jsonb);
CREATE TEMP TABLE raw (j text);
\copy raw FROM '$1' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
INSERT INTO ev SELECT j->>'session', j->>'user', j->>'type', j->>'target', j->>'url',
  (j->>'x')::int, (j->>'y')::int, (j->>'ts')::bigint, j->>'id', j->'props'
  FROM (SELECT j::jsonb AS j FROM raw) r;
DROP TABLE raw;
COMMIT;
CREATE INDEX ev_session_ts ON ev (session, ts);
VACUUM ANALYZE ev;
CHECKPOINT;
SQL
	t1=$(date +%s.%N); c1=$(pg_cpu)
	rows=$(pg_psql -At -c "SELECT count(*) FROM ev")
	[ "$rows" = "$2" ] || die "postgres holds $rows rows, the file $2"
	LOAD_S=$(calc "$t1 - $t0"); LOAD_CPU=$(calc "$c1 - $c0"); LOAD_RSS=0
}

pg_bytes() { pg_psql -At -c "SELECT pg_total_relation_size('ev')"; }

pg_rows() { sql_query "$1" | pg_psql -At -F $'\t'; }

# pg_timed SCRIPT: runs SQL statements (one per line of SCRIPT, already
# with \timing on and output to /dev/null) and prints their times in s.
pg_timed() {
	pg_psql -f "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | awk '{printf "%.6f\n", $1 / 1000}'
}

# pg_time NAME R: warm-up + R runs in one psql session.
pg_time() {
	local q f="$WORK/pg-time.sql"
	q=$(sql_query "$1" | tr '\n' ' ')
	{ echo '\o /dev/null'; echo "$q"; echo '\timing on'; for _ in $(seq 1 "$2"); do echo "$q"; done; } >"$f"
	pg_timed "$f"
}

# pg_replay SESSIONS: the events of each session by the index, one psql session.
pg_replay() {
	local q f="$WORK/pg-replay.sql"
	q=$(sql_query replay)
	{
		echo '\o /dev/null'
		head -10 "$1" | while read -r s; do echo "${q//:SESSION/$s}"; done
		echo '\timing on'
		while read -r s; do echo "${q//:SESSION/$s}"; done <"$1"
	} >"$f"
	pg_timed "$f"
}
