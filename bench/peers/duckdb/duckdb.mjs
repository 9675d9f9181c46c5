// bench/peers/duckdb/duckdb.mjs — DuckDB for bench/suite.sh: DuckDB runs
// embedded in this process (@duckdb/node-api), so each subcommand opens the
// database file, does one thing and prints its result on stdout.
//
//   node duckdb.mjs DB load FILE         read_ndjson into a table sorted by
//                                        (session, ts), CHECKPOINT; prints JSON
//                                        {seconds, cpu_s, max_rss, bytes, rows}
//   node duckdb.mjs DB rows SQLFILE      the result rows, tab-separated
//   node duckdb.mjs DB time SQLFILE R    a warm-up, then R runs: seconds, one a line
//   node duckdb.mjs DB replay SQLFILE SESSIONS
//                                        SQLFILE's query (with ? for the session)
//                                        for each session of the file, after a
//                                        warm-up of 10: seconds, one a line
//
// Times are taken around the whole query, results read into JS values
// (runAndReadAll): the in-process cost, with no network or protocol.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, statSync } from 'node:fs';

const [db, cmd, a1, a2] = process.argv.slice(2);
const now = () => performance.now() / 1000;

async function main() {
	const inst = await DuckDBInstance.create(db);
	const c = await inst.connect();
	if (cmd === 'load') {
		const u0 = process.cpuUsage(), t0 = now();
		await c.run(`CREATE TABLE ev AS SELECT * FROM read_ndjson(${quote(a1)}, columns = {
			session: 'VARCHAR', "user": 'VARCHAR', type: 'VARCHAR', target: 'VARCHAR',
			url: 'VARCHAR', x: 'INTEGER', y: 'INTEGER', ts: 'BIGINT', id: 'VARCHAR',
			props: 'JSON'}) ORDER BY session, ts`);
		await c.run('CHECKPOINT');
		const t1 = now(), u = process.cpuUsage(u0);
		const rows = (await c.runAndReadAll('SELECT count(*) FROM ev')).getRows()[0][0];
		console.log(JSON.stringify({
			seconds: t1 - t0, cpu_s: (u.user + u.system) / 1e6,
			max_rss: process.resourceUsage().maxRSS * 1024, bytes: statSync(db).size,
			rows: Number(rows),
		}));
	} else if (cmd === 'rows') {
		const r = await c.runAndReadAll(readFileSync(a1, 'utf8'));
		for (const row of r.getRows()) console.log(row.map(String).join('\t'));
	} else if (cmd === 'time') {
		const sql = readFileSync(a1, 'utf8'), n = Number(a2), out = [];
		await c.runAndReadAll(sql);
		for (let i = 0; i < n; i++) {
			const t0 = now();
			await c.runAndReadAll(sql);
			out.push((now() - t0).toFixed(6));
		}
		console.log(out.join('\n'));
	} else if (cmd === 'replay') {
		const st = await c.prepare(readFileSync(a1, 'utf8'));
		const ids = readFileSync(a2, 'utf8').split('\n').filter(Boolean), out = [];
		const one = async (s) => { st.bindVarchar(1, s); return (await st.runAndReadAll()).getRows().length; };
		for (const s of ids.slice(0, 10)) await one(s);
		for (const s of ids) {
			const t0 = now();
			if (await one(s) < 1) throw new Error(`session ${s}: no events`);
			out.push((now() - t0).toFixed(6));
		}
		console.log(out.join('\n'));
	} else {
		throw new Error(`unknown command ${cmd}`);
	}
	c.closeSync?.();
}

function quote(s) { return `'${String(s).replace(/'/g, "''")}'`; }

main().catch((e) => { console.error(`duckdb.mjs: ${e.message}`); process.exit(1); });
