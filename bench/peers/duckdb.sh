# bench/peers/duckdb.sh — DuckDB for bench/suite.sh (sourced).
#
# DuckDB is embedded: there is no server, bench/peers/duckdb/duckdb.mjs opens
# the database file $WORK/duckdb/ev.duckdb in its own node process for each
# step (load, check, timing).  The npm package @duckdb/node-api (the version
# pinned in package.json / package-lock.json) is installed by `npm ci` into
# bench/peers/duckdb/node_modules the first time.  Load: read_ndjson with
# the columns typed, into a table sorted by (session, ts) (so its zone maps
# serve the replay's WHERE session = ?), then CHECKPOINT.

DUCK_DIR="$ROOT/bench/peers/duckdb"

duck_install() {
	command -v node >/dev/null || die "node is needed for DuckDB (apt-get install nodejs)"
	if [ ! -d "$DUCK_DIR/node_modules/@duckdb/node-api" ]; then
		say "installing @duckdb/node-api (npm ci in bench/peers/duckdb)"
		(cd "$DUCK_DIR" && timeout 600 npm ci --no-audit --no-fund >/dev/null 2>&1) ||
			die "npm ci in $DUCK_DIR failed"
	fi
}

duck() { node "$DUCK_DIR/duckdb.mjs" "$WORK/duckdb/ev.duckdb" "$@"; }

duck_version() {
	node -e 'console.log(require(process.argv[1] + "/node_modules/@duckdb/node-api/package.json").version)' "$DUCK_DIR"
}

duck_start() { rm -rf "$WORK/duckdb"; mkdir -p "$WORK/duckdb"; }
duck_stop() { :; }

# duck_load FILE NEV: sets LOAD_S, LOAD_CPU, LOAD_RSS, DUCK_BYTES.
duck_load() {
	local out
	out=$(duck load "$1") || die "duckdb load failed"
	read -r LOAD_S LOAD_CPU LOAD_RSS DUCK_BYTES rows < <(node -e '
		const r = JSON.parse(process.argv[1]); console.log(r.seconds, r.cpu_s, r.max_rss, r.bytes, r.rows)' "$out")
	[ "$rows" = "$2" ] || die "duckdb holds $rows rows, the file $2"
}

duck_bytes() { echo "$DUCK_BYTES"; }

duck_rows() { sql_query "$1" >"$WORK/duck-q.sql"; duck rows "$WORK/duck-q.sql"; }
duck_time() { sql_query "$1" >"$WORK/duck-q.sql"; duck time "$WORK/duck-q.sql" "$2"; }
duck_replay() {
	echo "SELECT * FROM ev WHERE session = ? ORDER BY ts" >"$WORK/duck-replay.sql"
	duck replay "$WORK/duck-replay.sql" "$1"
}
