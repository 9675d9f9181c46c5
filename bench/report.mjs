// bench/report.mjs — turns the records of one bench/suite.sh run into the
// raw results (STEM.json), the report (STEM.md) and the data of the plots
// (STEM-ingest.dat, STEM-funnel.dat, drawn by bench/plot.gp).
//
//   node bench/report.mjs RECORDS.jsonl STEM [--img-prefix P]
//   node bench/report.mjs --from STEM.json STEM [--img-prefix P]
//
// RECORDS.jsonl holds one JSON object a line, each with a `kind` (machine,
// data, load, reference, check, note, query, rss, ingest, timing), as the
// suite writes them.  --from re-renders the report of a raw JSON written
// before.  --img-prefix is put before the plots' file names in the markdown
// (docs/benchmarks.md, which sits in docs/, wants ../bench/results/).
// Medians and percentiles are computed here, from the raw runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const SYSTEMS = ['spoor', 'clickhouse', 'postgres', 'duckdb'];
const NAME = { spoor: 'spoor', clickhouse: 'ClickHouse', postgres: 'PostgreSQL', duckdb: 'DuckDB' };
const QUERIES = {
	funnel_session: 'session funnel, 4 steps, 1 h window',
	funnel_user: 'user funnel, 4 steps, 1 h window',
	funnel_breakdown: 'session funnel by url of step 1 (top 20)',
	series: 'series: clicks and distinct sessions per minute, one day',
};

function main() {
	const args = process.argv.slice(2);
	let prefix = '';
	const i = args.indexOf('--img-prefix');
	if (i >= 0) { prefix = args[i + 1]; args.splice(i, 2); }
	let raw;
	if (args[0] === '--from') raw = JSON.parse(readFileSync(args[1], 'utf8'));
	else raw = collect(readFileSync(args[0], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
	const stem = args[args[0] === '--from' ? 2 : 1];
	if (!stem) throw new Error('usage: report.mjs RECORDS.jsonl STEM [--img-prefix P]');
	if (args[0] !== '--from') writeFileSync(`${stem}.json`, JSON.stringify(raw, null, 1) + '\n');
	writeFileSync(`${stem}-ingest.dat`, ingestDat(raw));
	writeFileSync(`${stem}-funnel.dat`, funnelDat(raw));
	writeFileSync(`${stem}.md`, markdown(raw, prefix + basename(stem)));
}

// ---- numbers ----------------------------------------------------------------

function median(v) {
	const s = [...v].sort((a, b) => a - b);
	return s.length ? s[(s.length - 1) >> 1] : NaN;
}

// The nearest-rank percentile q (0..1) of v.
function pct(v, q) {
	const s = [...v].sort((a, b) => a - b);
	return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
}

function fmt(x, digits = 3) {
	if (x === undefined || x === null || Number.isNaN(x)) return '—';
	if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
	return Number(x.toPrecision(digits)).toString();
}

function bytes(x) {
	if (!x) return '—';
	const u = ['B', 'KiB', 'MiB', 'GiB'];
	let k = 0;
	while (x >= 1024 && k < u.length - 1) { x /= 1024; k++; }
	return `${fmt(x)} ${u[k]}`;
}

// How many times better spoor is: other / spoor for costs (time, bytes),
// spoor / other for rates.
function ratio(sp, other, higherIsBetter) {
	if (!(sp > 0) || !(other > 0)) return '';
	const r = higherIsBetter ? sp / other : other / sp;
	return ` (${r >= 10 ? r.toFixed(0) : r.toFixed(r >= 1 ? 1 : 2)}×)`;
}

// ---- raw results ---------------------------------------------------------------

function collect(recs) {
	const of = (k) => recs.filter((r) => r.kind === k);
	const raw = {
		machine: of('machine')[0] || {},
		timing: of('timing')[0] || {},
		data: of('data'),
		loads: of('load'),
		references: of('reference'),
		checks: of('check'),
		notes: of('note'),
		rss: of('rss'),
		queries: of('query').map((q) => ({
			...q,
			median_ms: median(q.ms),
			p50_ms: pct(q.ms, 0.5),
			p99_ms: pct(q.ms, 0.99),
		})),
		ingest: of('ingest').map((p) => {
			const ev = median(p.runs.map((r) => r.events_per_s));
			const events = p.runs.reduce((a, r) => a + r.events, 0);
			return {
				...p,
				events_per_s: ev,
				requests_per_s: median(p.runs.map((r) => r.requests_per_s)),
				p50_ms: median(p.runs.map((r) => r.p50_ms)),
				p99_ms: median(p.runs.map((r) => r.p99_ms)),
				failed: p.runs.reduce((a, r) => a + r.non_200 + r.errors, 0),
				cpu_s_per_m: events ? p.cpu_s / (events / 1e6) : NaN,
			};
		}),
	};
	raw.sizes = [...new Set(raw.loads.map((l) => l.size))].sort((a, b) => a - b);
	raw.systems = SYSTEMS.filter((s) => raw.loads.some((l) => l.system === s));
	return raw;
}

const q = (raw, sys, size, name) => raw.queries.find((x) => x.system === sys && x.size === size && x.query === name);
const load = (raw, sys, size) => raw.loads.find((x) => x.system === sys && x.size === size);

// ---- plots' data ------------------------------------------------------------

// The plots' data: a "# ncols=K" line, a header of quoted titles, then
// rows; "?" marks a missing point.  Only series with points get a column.
function dat(comment, xname, series, rows) {
	const keep = series.map((_, i) => rows.some((r) => r[i + 1] !== '?'));
	const cols = series.filter((_, i) => keep[i]);
	let out = `# ${comment}\n# ncols=${cols.length + 1}\n`;
	out += [xname, ...cols].map((t) => `"${t}"`).join(' ') + '\n';
	for (const r of rows) out += [r[0], ...r.slice(1).filter((_, i) => keep[i])].join(' ') + '\n';
	return out;
}

// events/s by batch size at the connection count with most points (16 in
// both modes of the suite).
function ingestDat(raw) {
	const conns = mostCommon(raw.ingest.map((p) => p.conns));
	const batches = [...new Set(raw.ingest.map((p) => p.batch))].sort((a, b) => a - b);
	const get = (s, f, b) => raw.ingest.find((p) => p.system === s && p.fsync === f && p.batch === b && p.conns === conns);
	const rows = batches.map((b) => [b, ...[get('spoor', 'interval', b), get('spoor', 'always', b), get('clickhouse', 'default', b)]
		.map((p) => (p ? Math.round(p.events_per_s) : '?'))]);
	return dat(`events/s by batch size at ${conns} connections`, 'batch',
		['spoor, --fsync interval', 'spoor, --fsync always', 'ClickHouse (INSERT JSONEachRow)'], rows);
}

function funnelDat(raw) {
	const how = { spoor: 'HTTP', clickhouse: 'HTTP', postgres: 'psql', duckdb: 'in process' };
	const rows = raw.sizes.map((n) => [n, ...SYSTEMS.map((s) => {
		const x = q(raw, s, n, 'funnel_session');
		return x ? x.median_ms.toFixed(3) : '?';
	})]);
	return dat('session funnel median ms by events', 'events', SYSTEMS.map((s) => `${NAME[s]} (${how[s]})`), rows);
}

function mostCommon(v) {
	const c = new Map();
	for (const x of v) c.set(x, (c.get(x) || 0) + 1);
	let best, n = -1;
	for (const [k, m] of c) if (m > n || (m === n && k === 16)) { best = k; n = m; }
	return best;
}

// ---- markdown ---------------------------------------------------------------

function markdown(raw, img) {
	const m = raw.machine, L = [];
	const size = raw.sizes[raw.sizes.length - 1];
	const peers = raw.systems.filter((s) => s !== 'spoor');
	const head = ['', ...raw.systems.map((s) => NAME[s])];
	const version = (s) => (load(raw, s, size) || {}).version || '';
	const runs = m.runs;

	L.push(`## spoor side by side: ${raw.systems.map((s) => NAME[s]).join(', ')}${m.quick ? ' (quick run)' : ''}`);
	L.push('');
	L.push(`Run of ${(m.date || '').replace('T', ' ').replace('Z', ' UTC')} on \`${m.host}\`, spoor ${m.spoor_commit}: `
		+ `\`${m.command}\` (${Math.round(raw.timing.measure_s || 0)} s of measuring`
		+ `${raw.timing.install_s > 5 ? `, ${Math.round(raw.timing.install_s)} s of installing and building first` : ''}).`);
	L.push('');
	L.push('| machine | |');
	L.push('|---|---|');
	L.push(`| CPU | ${m.cpu}, ${m.cores} cores |`);
	L.push(`| memory | ${bytes(m.mem_bytes)} |`);
	L.push(`| kernel | Linux ${m.kernel} |`);
	L.push(`| OS | ${m.os} |`);
	L.push(`| load average | ${m.loadavg_start} at the start, ${raw.timing.loadavg_end} at the end |`);
	L.push(`| systems | ${raw.systems.map((s) => version(s) || NAME[s]).join('; ')} |`);
	L.push('');
	const d = raw.data.find((x) => x.size === size) || {};
	L.push(`Data: \`bench/gen --events ${size} --seed ${m.seed}\` (${bytes(d.bytes)} of NDJSON, `
		+ `${fmt(d.bytes / size)} bytes/event), the same file for every system. Times are medians of ${runs} runs `
		+ `after a warm-up; replay is ${m.replay} sampled sessions, one request each. `
		+ 'In brackets: how many times better spoor is than that system, measured in the same run '
		+ '(above 1: spoor faster or smaller; below 1: the peer is).');
	L.push('');

	// headline table
	L.push(`### ${fmt(size)} events`);
	L.push('');
	L.push(`| ${head.join(' | ')} |`);
	L.push(`|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`);
	const row = (label, f, higher, show = fmt) => {
		const sp = f('spoor');
		L.push(`| ${label} | ${raw.systems.map((s) => {
			const v = f(s);
			if (v === undefined || Number.isNaN(v)) return '—';
			return `${show(v)}${s === 'spoor' ? '' : ratio(sp, v, higher)}`;
		}).join(' | ')} |`);
	};
	row('bulk load, events/s (load + compaction)', (s) => { const l = load(raw, s, size); return l && size / (l.seconds + l.seal_s); }, true);
	row('server CPU seconds per million events loaded', (s) => { const l = load(raw, s, size); return l && (l.cpu_s + l.seal_cpu_s) / (size / 1e6); }, false);
	for (const [k, label] of Object.entries(QUERIES)) {
		row(`${label}, ms`, (s) => { const x = q(raw, s, size, k); return x && x.median_ms; }, false);
	}
	row('replay of one session, p50 ms', (s) => { const x = q(raw, s, size, 'replay'); return x && x.p50_ms; }, false);
	row('replay of one session, p99 ms', (s) => { const x = q(raw, s, size, 'replay'); return x && x.p99_ms; }, false);
	row('bytes on disk per event', (s) => { const l = load(raw, s, size); return l && l.bytes / size; }, false);
	row('peak RSS while loading', (s) => { const l = load(raw, s, size); return l && l.peak_rss ? l.peak_rss : undefined; }, false, bytes);
	L.push('');
	const spl = load(raw, 'spoor', size);
	if (spl) {
		L.push(`spoor's load: ${fmt(spl.seconds)} s over HTTP (${fmt(spl.loadgen.events_per_s)} events/s, `
			+ `p99 ${fmt(spl.loadgen.p99_ms)} ms per ${m.spoor_load.batch}-event request) + ${fmt(spl.seal_s)} s to stop spoord `
			+ `(${fmt(spl.stop_s)} s: its final sync of the ${fmt(size)} events) and seal every segment. `
			+ `Peak RSS of spoord while serving the queries: ${bytes((raw.rss.find((r) => r.system === 'spoor' && r.size === size) || {}).query_peak_rss)}.`);
		L.push('');
	}

	// checks
	L.push('### Same answers first');
	L.push('');
	L.push('Before any timing, each peer\'s answers were compared with spoor\'s on the same data; a difference stops the run.');
	L.push('');
	for (const n of raw.sizes) {
		const ref = raw.references.find((r) => r.size === n);
		if (ref) L.push(`- ${fmt(n)} events: spoor's session funnel ${ref.funnel_session.replace(/\t/g, ' → ')}, user funnel ${ref.funnel_user.replace(/\t/g, ' → ')}, series totals ${ref.series.replace('\t', ' clicks, ')} session-minutes.`);
		for (const s of peers) {
			const c = raw.checks.filter((x) => x.system === s && x.size === n);
			const notes = raw.notes.filter((x) => x.system === s && x.size === n);
			if (!c.length && !notes.length) continue;
			L.push(`  - ${NAME[s]}: ${c.map((x) => `${x.what.replace('_', ' ')} ${x.ok ? 'equal' : '**DIFFERENT**'}`).join(', ')}${notes.length ? '; ' + notes.map((x) => x.text).join('; ') : ''}.`);
		}
	}
	L.push('');

	// ingest sweep
	if (raw.ingest.length) {
		L.push('### Ingest by batch size and connections');
		L.push('');
		L.push('bench/loadgen on the same machine, keep-alive connections to 127.0.0.1, each request one session\'s events as NDJSON '
			+ `(~180 bytes each, timestamps of now), as fast as the server answers; a fresh server per point; median of `
			+ `${raw.ingest[0].runs.length} run(s) of ${fmt(raw.ingest[0].runs[0].seconds, 2)} s after a warm-up. `
			+ 'ClickHouse takes the same lines as `INSERT ... FORMAT JSONEachRow` into a MergeTree (props skipped: 18.16 reads no object into a String).');
		L.push('');
		L.push('| batch | connections | spoor, fsync interval | spoor, fsync always | ClickHouse |');
		L.push('|---:|---:|---:|---:|---:|');
		const keys = [...new Set(raw.ingest.map((p) => `${p.batch}:${p.conns}`))]
			.map((k) => k.split(':').map(Number)).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
		const cell = (p, sp) => {
			if (!p) return '—';
			let c = `${fmt(p.events_per_s)} ev/s, p99 ${fmt(p.p99_ms)} ms, ${fmt(p.cpu_s_per_m)} CPU s/M`;
			if (sp && p !== sp) c += ratio(sp.events_per_s, p.events_per_s, true);
			if (p.failed) c += `, ${p.failed} failed`;
			return c;
		};
		for (const [b, c] of keys) {
			const get = (s, f) => raw.ingest.find((p) => p.system === s && p.fsync === f && p.batch === b && p.conns === c);
			const sp = get('spoor', 'interval');
			L.push(`| ${b} | ${c} | ${cell(sp)} | ${cell(get('spoor', 'always'))} | ${cell(get('clickhouse', 'default'), sp)} |`);
		}
		L.push('');
		L.push('(CPU s/M: the server\'s CPU seconds per million events accepted. The bracket on ClickHouse compares it with spoor at `--fsync interval`.)');
		L.push('');
		L.push(`![ingest throughput by batch size](${img}-ingest.svg)`);
		L.push('');
	}

	// funnel vs size
	if (raw.sizes.length) {
		L.push('### Funnel time by data size');
		L.push('');
		L.push(`| events | ${raw.systems.map((s) => NAME[s]).join(' | ')} |`);
		L.push(`|---:|${raw.systems.map(() => '---:').join('|')}|`);
		for (const n of raw.sizes) {
			const sp = q(raw, 'spoor', n, 'funnel_session');
			L.push(`| ${fmt(n)} | ${raw.systems.map((s) => { const x = q(raw, s, n, 'funnel_session'); return x ? `${fmt(x.median_ms)} ms${s === 'spoor' ? '' : ratio(sp && sp.median_ms, x.median_ms, false)}` : '—'; }).join(' | ')} |`);
		}
		L.push('');
		L.push(`![session funnel time by data size](${img}-funnel.svg)`);
		L.push('');
	}

	L.push('### What each figure includes');
	L.push('');
	L.push(`- **Bulk load**: from the first byte sent to the data being queryable in its compacted form. spoor: \`bench/loadgen --file\` POSTs the NDJSON to spoord in ${m.spoor_load.batch}-event bodies over ${m.spoor_load.conns} connections, then the store is sealed (\`query_bench --seal-only\` on the stopped server: what spoord's idle sealer does after 5 minutes by itself). ClickHouse: the same client, \`INSERT INTO ev FORMAT JSONEachRow\` in ${m.clickhouse_load.batch}-row bodies over ${m.clickhouse_load.conns} connections, then \`OPTIMIZE TABLE ev FINAL\`; the copy with props as a string is made beforehand, untimed. PostgreSQL: psql \`\\copy\` of the lines into a staging table, \`INSERT ... SELECT\` with jsonb parsing into typed columns, the (session, ts) index, \`VACUUM ANALYZE\`, \`CHECKPOINT\`. DuckDB: \`CREATE TABLE ev AS SELECT * FROM read_ndjson(...) ORDER BY session, ts\`, \`CHECKPOINT\`, in process.`);
	L.push('- **Server CPU**: user + system seconds of the server processes over the load (spoord, clickhouse-server, the postmaster with its backends and workers, the node process running DuckDB), sealing included for spoor; the client\'s CPU is not counted.');
	L.push('- **Queries**: spoor and ClickHouse over HTTP on loopback, each run a new `curl` (connection set-up, request, the whole reply read); PostgreSQL in one `psql` session over TCP loopback, timed by `\\timing` (round trip, the rows fetched); DuckDB in process (`runAndReadAll`, rows converted to JS values), with no network at all. spoor\'s funnel and series are its API (`POST /v1/funnel`, `GET /v1/series`); the peers run SQL (bench/peers/sql.sh, bench/peers/clickhouse.sh).');
	L.push('- **Replay**: all events of one session in time order. spoor `GET /v1/sessions/{id}/events`, ClickHouse `WHERE session = ? ORDER BY ts FORMAT JSONEachRow`, both over one keep-alive connection; PostgreSQL the same SQL through its (session, ts) index; DuckDB a prepared statement on the table sorted by (session, ts).');
	L.push('- **Bytes on disk**: spoor `bytes_on_disk` of `/v1/stats` (sealed segment files), ClickHouse `system.parts.bytes_on_disk` of the table, PostgreSQL `pg_total_relation_size` (heap, TOAST, index; not the WAL), DuckDB the database file after CHECKPOINT.');
	L.push('- **Peak RSS**: VmHWM of spoord and clickhouse-server, maxRSS of the node process running DuckDB; not measured for PostgreSQL (one process per connection, shared buffers counted in each).');
	L.push('');
	L.push('### Where a peer lacks a feature');
	L.push('');
	L.push('- ClickHouse 18.16 `windowFunnel(window)(timestamp, cond...)` has no mode options (later versions added `strict_order`, `strict_deduplication`, `strict_increase`); it lets one event fill two steps when it matches both, and orders equal timestamps by storage order, where spoor orders by arrival. The suite compares it only on funnels where neither can matter: four distinct event types, and in the user funnel only when no user has two step events at the same millisecond. Its timestamp must be a DateTime or UInt32, hence `tsr`, milliseconds since a base, a column of its own.');
	L.push('- ClickHouse cannot say which event started the chain it counted, so "breakdown by the url of step 1" has no exact equivalent: its query groups by the url of the session\'s last signup (`argMaxIf`), and its counts are not compared. It also has no median time between steps (spoor returns `median_ms_from_prev`).');
	L.push('- PostgreSQL and DuckDB have no funnel function: the funnel is SQL (bench/peers/sql.sh), exact, with the same answers as spoor; no HTTP ingest endpoint either, so they take part in the bulk load but not in the ingest sweep. DuckDB is embedded: one writing process at a time, no server for browsers to send to.');
	L.push('- ClickHouse\'s inserts are not fsynced per insert in 18.16 (compare with spoor at `--fsync interval`); PostgreSQL runs with `fsync` and `synchronous_commit` on.');
	L.push('');
	return L.join('\n');
}

main();
