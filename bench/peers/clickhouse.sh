# bench/peers/clickhouse.sh — ClickHouse for bench/suite.sh (sourced).
#
# Debian's clickhouse-server (18.16), started on 127.0.0.1 with free ports
# and a throwaway directory under $WORK/ch, stopped by pid.  Events go into a
# MergeTree ordered by (session, ts) over HTTP (INSERT ... FORMAT
# JSONEachRow), sent by bench/loadgen --file in batches of CH_BATCH rows;
# then OPTIMIZE TABLE ... FINAL merges the parts.  Funnels use windowFunnel,
# which in 18.16 takes a DateTime or UInt32 time: tsr holds ms since BASE in
# a UInt32 column (fits ~49 days).  18.16's JSONEachRow reads no object into
# a String column, so the suite hands it a copy of the gen file with props
# turned into a JSON string (made before the timed load; see ch_prepare).

CH_BATCH=${CH_BATCH:-100000}
CH_CONNS=${CH_CONNS:-2}
CH_PID=""

ch_install() { apt_need clickhouse-server clickhouse-client; }

ch_version() { ch_q "SELECT version()"; }

# ch_config DIR HTTP_PORT TCP_PORT MAX_QUERIES: a server's config.xml and
# users.xml in DIR (with data, tmp, log and user_files below it), listening
# on 127.0.0.1 only.  Also used by bench/clickhouse.sh.
ch_config() {
	local dir=$1 http=$2 tcp=$3 maxq=$4
	mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files"
	cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log>
    <errorlog>$dir/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>1073741824</mark_cache_size>
  <max_concurrent_queries>$maxq</max_concurrent_queries>
  <keep_alive_timeout>30</keep_alive_timeout>
</yandex>
XML
	cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
XML
}

# ch_start: a fresh server; sets CH_URL.
ch_start() {
	local dir="$WORK/ch" http tcp
	rm -rf "$dir"
	http=$(free_port); tcp=$(free_port)
	[ "$http" != "$tcp" ] || tcp=$(free_port)
	ch_config "$dir" "$http" "$tcp" 400
	clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
	CH_PID=$!
	SUITE_PIDS+=("$CH_PID")
	CH_PORT=$http
	CH_URL="http://127.0.0.1:$http/"
	wait_http "$CH_URL" "$CH_PID" clickhouse-server
}

ch_stop() { stop_pid "$CH_PID"; CH_PID=""; }

# ch_q SQL: runs one query, prints its result; dies on an error.
ch_q() {
	curl -sS --fail-with-body --max-time 900 "$CH_URL" --data-binary "$1" || die "clickhouse query failed: $1"
}

# ch_prepare FILE OUT: OUT = FILE with each props object as a JSON string
# (gen writes props flat and last on its line).
ch_prepare() {
	awk -v q='"' '{
		i = index($0, ",\"props\":{")
		if (!i) { print; next }
		o = substr($0, i + 9, length($0) - i - 9)
		gsub(q, "\\\"", o)
		print substr($0, 1, i - 1) ",\"props\":\"" o "\"}"
	}' "$1" >"$2"
}

ch_schema() {
	ch_q "DROP TABLE IF EXISTS ev" >/dev/null
	ch_q "CREATE TABLE ev (session String, user String, type String, target String, url String,
		x Int32, y Int32, ts UInt64, id String, props String,
		tsr UInt32 MATERIALIZED toUInt32(ts - $BASE))
		ENGINE = MergeTree ORDER BY (session, ts)"
}

# ch_load CHFILE NEV: the timed load and merge; sets LOAD_S, LOAD_CPU
# (the server's CPU seconds), LOAD_RSS, LOAD_OUT.
ch_load() {
	local c0 c1 t0 t1 rows
	ch_schema
	c0=$(cpu_of "$CH_PID"); t0=$(date +%s.%N)
	LOAD_OUT=$("$BUILD/bench/loadgen" --port "$CH_PORT" --file "$1" --batch "$CH_BATCH" \
		--conns "$CH_CONNS" --duration 1800 --json \
		--path "/?query=INSERT%20INTO%20ev%20FORMAT%20JSONEachRow") || die "clickhouse load failed: $LOAD_OUT"
	ch_q "OPTIMIZE TABLE ev FINAL" >/dev/null
	t1=$(date +%s.%N); c1=$(cpu_of "$CH_PID")
	rows=$(ch_q "SELECT count() FROM ev")
	[ "$rows" = "$2" ] || die "clickhouse holds $rows rows, the file $2 ($LOAD_OUT)"
	LOAD_S=$(calc "$t1 - $t0"); LOAD_CPU=$(calc "$c1 - $c0")
	LOAD_RSS=$(hwm_of "$CH_PID")
}

ch_bytes() { ch_q "SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'ev' AND active"; }
ch_rss() { hwm_of "$CH_PID"; }

# The queries, by name (see bench/suite.sh for what each asks).
ch_sql() {
	local steps="type = 'signup', type = 'add_to_cart', type = 'checkout', type = 'purchase'"
	local where="type IN ('signup', 'add_to_cart', 'checkout', 'purchase')"
	case "$1" in
	funnel_session | funnel_user)
		local a=session; [ "$1" = funnel_user ] && a=user
		echo "SELECT countIf(level >= 1), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4)
			FROM (SELECT $a, windowFunnel($WINDOW)(tsr, $steps) AS level
			FROM ev WHERE $where AND $a != '' GROUP BY $a) FORMAT TSV" ;;
	funnel_breakdown) # approximate: the url of the session's last signup (see the report)
		echo "SELECT u, countIf(level >= 1) AS c1, countIf(level >= 2), countIf(level >= 3),
			countIf(level >= 4) FROM (SELECT session, windowFunnel($WINDOW)(tsr, $steps) AS level,
			argMaxIf(url, tsr, type = 'signup') AS u FROM ev WHERE $where GROUP BY session)
			WHERE level >= 1 GROUP BY u ORDER BY c1 DESC, u LIMIT 20 FORMAT TSV" ;;
	series)
		echo "SELECT intDiv(ts, 60000) AS m, count() AS c, uniqExact(session) AS s FROM ev
			WHERE type = 'click' AND ts >= $SERIES_FROM AND ts < $SERIES_FROM + 86400000
			GROUP BY m ORDER BY m FORMAT TSV" ;;
	ties)
		echo "SELECT count() FROM (SELECT user, ts FROM ev WHERE $where AND user != ''
			GROUP BY user, ts HAVING count() > 1)" ;;
	*) die "ch_sql: $1?" ;;
	esac
}

# ch_rows NAME: the result rows (TSV) of a query, for the checks.
ch_rows() { ch_q "$(ch_sql "$1")"; }

# ch_time NAME R: warm-up + R timed runs (HTTP, curl); seconds one a line.
ch_time() { http_times "$CH_URL" "$(ch_sql "$1")" "$2"; }

# ch_replay SESSIONS: replay of each session (keep-alive curl).
ch_replay() {
	local sel='SELECT session, user, type, target, url, x, y, ts, id, props FROM ev WHERE session = '
	local args=() warm=() q
	while read -r s; do
		q="$sel'$s' ORDER BY ts FORMAT JSONEachRow"
		args+=(-sS --fail -o /dev/null -w '%{time_total}\n' --data-binary "$q" "$CH_URL" --next)
		[ ${#warm[@]} -lt 60 ] && warm+=(-sS --fail -o /dev/null --data-binary "$q" "$CH_URL" --next)
	done <"$1"
	unset 'args[${#args[@]}-1]' 'warm[${#warm[@]}-1]'
	curl --max-time 900 "${warm[@]}" >/dev/null || die "clickhouse replay warm-up failed"
	curl --max-time 900 "${args[@]}" || die "clickhouse replay failed"
}

# ch_ingest_table: the table of the ingest sweep (loadgen's generated
# events; props, an object, skipped by input_format_skip_unknown_fields).
ch_ingest_table() {
	ch_q "DROP TABLE IF EXISTS ev_in" >/dev/null
	ch_q "CREATE TABLE ev_in (session String, user String, type String, target String,
		url String, x Int32, y Int32, ts UInt64) ENGINE = MergeTree ORDER BY (session, ts)" >/dev/null
}
CH_INGEST_PATH="/?query=INSERT%20INTO%20ev_in%20FORMAT%20JSONEachRow&input_format_skip_unknown_fields=1"
