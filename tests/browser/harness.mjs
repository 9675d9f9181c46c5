// harness.mjs — what every browser test needs: the real spoord on loopback
// ports with a throwaway data directory, and Debian's chromium driven
// headless by playwright-core.
//
// SPOORD (env) names the binary; default: the ASan build that `make test`
// makes.  Every wait is bounded; every process started here is stopped by
// its pid in stop(), also when a test fails.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SPOORD = process.env.SPOORD || join(ROOT, 'build-asan', 'spoord');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Where tests leave screenshots and other artifacts CI keeps.
export const ARTIFACTS = process.env.SPOOR_ARTIFACTS || join(ROOT, 'build', 'browser-artifacts');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts spoord with `args` added to --data/--listen/--query-listen.
// Resolves to {pid, port, qport, ingest, query, dir, log(), stop()} once the
// "spoord started" line is logged; rejects if it exits or 20 s pass first.
export async function startSpoord(args = []) {
  if (!existsSync(SPOORD)) throw new Error(`no spoord at ${SPOORD}: build it first`);
  const dir = mkdtempSync(join(tmpdir(), 'spoor-browser-'));
  const child = spawn(SPOORD, ['--data', join(dir, 'data'), '--listen', '127.0.0.1:0',
    '--query-listen', '127.0.0.1:0', '--threads', '2', ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (b) => { log += b; });
  child.stderr.on('data', (b) => { log += b; });
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig || code; });
  const deadline = Date.now() + 20000;
  let m = null;
  while (!(m = /msg="spoord started".* port=(\d+).* query_port=(\d+)/.exec(log))) {
    if (exited !== null) throw new Error(`spoord exited (${exited}):\n${log}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`spoord did not start:\n${log}`); }
    await sleep(20);
  }
  const port = Number(m[1]);
  const qport = Number(m[2]);
  return {
    pid: child.pid,
    port,
    qport,
    ingest: `http://127.0.0.1:${port}`,
    query: `http://127.0.0.1:${qport}`,
    dir,
    log: () => log,
    // SIGTERM, then SIGKILL after 10 s; removes the directory.  Resolves to
    // the exit code (or signal name).
    async stop() {
      if (exited === null) {
        process.kill(child.pid, 'SIGTERM');
        const end = Date.now() + 10000;
        while (exited === null && Date.now() < end) await sleep(20);
        if (exited === null) { process.kill(child.pid, 'SIGKILL'); while (exited === null) await sleep(20); }
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

// Headless chromium.  --no-sandbox: CI runs as root, where chromium's
// sandbox refuses to start.
export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

// GET/POST against spoord with a bound time; resolves to {status, headers, body, json}.
export async function http(url, opts = {}) {
  const res = await fetch(url, { ...opts, signal: AbortSignal.timeout(opts.timeout || 15000) });
  const body = await res.text();
  let json = null;
  try { json = JSON.parse(body); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body, json };
}

// Polls fn() every 50 ms until it returns a truthy value or ms pass; returns
// the last value (falsy on time-out, for the caller's assert to report).
export async function waitFor(fn, ms = 10000) {
  const end = Date.now() + ms;
  let v;
  while (!(v = await fn()) && Date.now() < end) await sleep(50);
  return v;
}

export function readSource(rel) {
  return readFileSync(join(ROOT, rel), 'utf8');
}
