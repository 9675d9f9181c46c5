// viewer.test.mjs — the pages of the query port in headless chromium against
// a real spoord: the replay viewer (GET /replay/{session}) plays a posted
// session to its end, honours ?t=, and the home page (GET /) lists the
// sessions and draws a funnel; with --query-token the pages ask for the
// token and work once given #token=.
//
// The screenshot of the finished replay is left in ARTIFACTS/replay.png
// (build/browser-artifacts by default) for CI to keep.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startSpoord, launchBrowser, http, waitFor, ARTIFACTS } from './harness.mjs';

const T0 = Math.floor(Date.now() / 1000) * 1000 - 600000; // ten minutes ago
// A session id that needs percent-encoding in a path and escaping in HTML.
const SID = 'replay <b>1</b>/é & co';
const VIEWPORT = { vw: 1024, vh: 640 };

// The replay session: [ms after T0, event].  The 2.7 s pause before the
// scroll exercises "skip idle"; the last event is a click.
const REPLAY = [
  [0, { type: 'pageview', url: '/signup', props: { ...VIEWPORT, title: 'Sign up' } }],
  [200, { type: 'mousemove', x: 100, y: 100 }],
  [300, { type: 'mousemove', x: 200, y: 150 }],
  [400, { type: 'mousemove', x: 300, y: 200 }],
  [500, { type: 'mousemove', x: 400, y: 260 }],
  [600, { type: 'mouseover', target: '#email' }],
  [650, { type: 'mousemove', x: 420, y: 300 }],
  [700, { type: 'input', target: '#email', props: { action: 'focus' } }],
  [1200, { type: 'input', target: '#email', props: { action: 'change' } }],
  [1500, { type: 'input', target: '#email', props: { action: 'blur' } }],
  [1600, { type: 'mouseout', target: '#email', props: { dwell_ms: 1000 } }],
  [1700, { type: 'mousemove', x: 500, y: 320 }],
  [1800, { type: 'click', target: '#submit', x: 512, y: 330 }],
  [4500, { type: 'scroll', x: 0, y: 800 }],
  [5000, { type: 'click', target: '#next', x: 600, y: 400 }],
].map(([dt, e]) => ({ ...e, ts: T0 + dt, session: SID, user: 'ann' }));

// Funnel sessions: each reaches `level` of pageview "/" -> click #signup -> signup.
const FUNNEL_LEVELS = [3, 2, 1, 1];
const FUNNEL_STEPS = [
  { type: 'pageview', url: '/' },
  { type: 'click', target: '#signup' },
  { type: 'signup' },
];
function funnelEvents() {
  const out = [];
  FUNNEL_LEVELS.forEach((level, i) => {
    for (let k = 0; k < level; k++) {
      out.push({ ...FUNNEL_STEPS[k], session: `f-${i}`, ts: T0 + 10000 * i + 1000 * k });
    }
  });
  return out;
}

const rowsOf = (page) => page.locator('#timeline li.row');

async function post(s, events) {
  const r = await http(`${s.ingest}/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(events),
  });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.accepted, events.length, r.body);
}

async function waitState(page, states, ms = 15000) {
  const want = [].concat(states);
  const ok = await waitFor(async () => want.includes(await page.getAttribute('body', 'data-state')), ms);
  assert.ok(ok, `page state ${await page.getAttribute('body', 'data-state')}, wanted ${want.join('|')}; ` +
    `error box: ${await page.textContent('#error')}`);
}

const replayUrl = (s, id, q = '') => `${s.query}/replay/${encodeURIComponent(id)}${q}`;

let s; // spoord without token
let browser;

before(async () => {
  s = await startSpoord();
  browser = await launchBrowser();
  await post(s, REPLAY);
  await post(s, funnelEvents());
});

after(async () => {
  if (browser) await browser.close();
  if (s) assert.equal(await s.stop(), 0);
});

test('the replay plays a session to its end: timeline, cursor, highlighted last event', async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(replayUrl(s, SID));
  await waitState(page, 'ready');

  // The id is shown as text: the <b> in it is not markup.
  assert.equal(await page.textContent('#session-id'), SID);
  assert.equal(await page.locator('header b').count(), 0);

  // Every event but the mouse moves is a row; the canvas is the recorded viewport.
  const listed = REPLAY.filter((e) => e.type !== 'mousemove');
  assert.equal(await rowsOf(page).count(), listed.length);
  assert.deepEqual(await rowsOf(page).evaluateAll((rs) => rs.map((r) => r.dataset.type)),
    listed.map((e) => e.type));
  const size = await page.$eval('#stage', (c) => [c.width, c.height]);
  assert.deepEqual(size, [VIEWPORT.vw, VIEWPORT.vh]);

  await page.selectOption('#speed', '64');
  await page.click('#play');
  await waitState(page, 'ended');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'replay.png'), fullPage: true });

  const last = REPLAY[REPLAY.length - 1];
  assert.equal(await page.textContent('#cursor'), `${last.x}, ${last.y}`);
  assert.deepEqual(await page.$eval('#stage', (c) => [c.dataset.cursorX, c.dataset.cursorY]),
    [String(last.x), String(last.y)]);
  // The cursor is drawn there: the pixel just inside its tip is dark.
  const px = await page.$eval('#stage', (c, p) => Array.from(c.getContext('2d').getImageData(p.x + 2, p.y + 6, 1, 1).data),
    { x: last.x, y: last.y });
  assert.ok(px[0] < 80 && px[1] < 80 && px[2] < 80, `pixel under the cursor: ${px}`);

  const current = page.locator('#timeline li.row.current');
  assert.equal(await current.count(), 1);
  assert.equal(await current.getAttribute('data-index'), String(REPLAY.length - 1));
  assert.equal(await current.getAttribute('aria-current'), 'true');
  assert.match(await page.textContent('#clock'), /^0:05\.000 \/ 0:05\.000$/);
  assert.match(await page.textContent('#scroll'), /^0, 800$/);

  // "mouse moves" lists every event.
  await page.check('#show-moves');
  assert.equal(await rowsOf(page).count(), REPLAY.length);
  assert.deepEqual(errors, []);
  await page.close();
});

test('?t= opens the replay at the event at or just before t', async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const iChange = REPLAY.findIndex((e) => e.props && e.props.action === 'change');
  const t = REPLAY[iChange].ts + 50; // between the change and the blur
  await page.goto(replayUrl(s, SID, `?t=${t}`));
  await waitState(page, 'ready');
  const current = page.locator('#timeline li.row.current');
  assert.equal(await current.getAttribute('data-index'), String(iChange));
  const lastPointer = REPLAY.slice(0, iChange + 1).filter((e) => e.type === 'mousemove').pop();
  assert.equal(await page.textContent('#cursor'), `${lastPointer.x}, ${lastPointer.y}`);
  assert.equal(await page.textContent('#hover'), '#email');
  assert.equal(await page.textContent('#focus'), '#email');
  assert.equal(await page.inputValue('#seek'), String(t - T0));
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'replay-at-t.png') });

  // Before the session: clamped to its first event; a click on a row seeks there.
  await page.goto(replayUrl(s, SID, `?t=${T0 - 100000}`));
  await waitState(page, 'ready');
  assert.equal(await page.getAttribute('#timeline li.row.current', 'data-index'), '0');
  assert.equal(await page.textContent('#cursor'), '—');
  await rowsOf(page).nth(3).click(); // the 4th listed row
  const listedIdx = REPLAY.map((e, i) => [e, i]).filter(([e]) => e.type !== 'mousemove').map(([, i]) => i);
  assert.equal(await page.getAttribute('#timeline li.row.current', 'data-index'), String(listedIdx[3]));
  await page.close();
});

test('an unknown session says so', async () => {
  const page = await browser.newPage();
  await page.goto(replayUrl(s, 'nobody-here'));
  await waitState(page, 'error');
  assert.match(await page.textContent('#error'), /No event of session "nobody-here"/);
  await page.close();
});

test('GET / lists the sessions with replay links and draws a funnel', async () => {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  await page.goto(`${s.query}/`);
  await waitState(page, 'ready');
  const rows = page.locator('#sessions tbody tr');
  assert.equal(await rows.count(), 1 + FUNNEL_LEVELS.length);
  const link = page.locator('#sessions a.replay-link', { hasText: SID });
  assert.equal(await link.count(), 1);
  assert.equal(await link.getAttribute('href'), `/replay/${encodeURIComponent(SID)}`);

  // The funnel of the posted sessions, as bars with conversion percentages.
  const steps = page.locator('#steps .step');
  while ((await steps.count()) < FUNNEL_STEPS.length) await page.click('#add-step');
  for (let k = 0; k < FUNNEL_STEPS.length; k++) {
    const st = FUNNEL_STEPS[k];
    await steps.nth(k).locator('.step-type').fill(st.type);
    if (st.url) await steps.nth(k).locator('.step-url').fill(st.url);
    if (st.target) await steps.nth(k).locator('.step-target').fill(st.target);
  }
  await page.fill('#window', '1h');
  await page.click('#run');
  assert.ok(await waitFor(async () => (await page.getAttribute('#funnel-result', 'data-state')) === 'done'),
    `funnel: ${await page.textContent('#funnel-error')}`);
  const counts = FUNNEL_STEPS.map((_, k) => FUNNEL_LEVELS.filter((l) => l > k).length);
  const bars = page.locator('#funnel-result .bar-row');
  assert.equal(await bars.count(), FUNNEL_STEPS.length);
  for (let k = 0; k < counts.length; k++) {
    const share = counts[k] / counts[0];
    assert.equal(await bars.nth(k).locator('.bar-count').textContent(), String(counts[k]));
    assert.equal(await bars.nth(k).locator('.bar-pct').textContent(), `${(share * 100).toFixed(1)}%`);
    const w = await bars.nth(k).evaluate((r) =>
      r.querySelector('.bar-fill').getBoundingClientRect().width / r.querySelector('.bar-track').getBoundingClientRect().width);
    assert.ok(Math.abs(w - share) < 0.01, `bar ${k + 1} is ${w} of the track, wanted ${share}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'home.png'), fullPage: true });

  // The link opens the replay.
  await link.click();
  await waitState(page, 'ready');
  assert.equal(await page.textContent('#session-id'), SID);
  assert.equal(await rowsOf(page).count(), REPLAY.filter((e) => e.type !== 'mousemove').length);
  await page.close();
});

test('the SDK\'s shapes (pageview w/h, focus/change types); no viewport: estimated from the pointer', async () => {
  const A = 'sdk-shape', B = 'no-viewport';
  const a = [
    { type: 'pageview', url: '/a', props: { nav: 'load', w: 800, h: 500 } },
    { type: 'mouseover', target: '#name', x: 50, y: 60 },
    { type: 'focus', target: '#name' },
    { type: 'change', target: '#name', props: { filled: true } },
  ].map((e, i) => ({ ...e, session: A, ts: T0 + 100 * i }));
  const b = [
    { type: 'mousemove', x: 700, y: 380 },
    { type: 'click', target: '#x', x: 903, y: 451 },
  ].map((e, i) => ({ ...e, session: B, ts: T0 + 100 * i }));
  await post(s, a.concat(b));
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });

  await page.goto(replayUrl(s, A, `?t=${a[3].ts}`));
  await waitState(page, 'ready');
  assert.deepEqual(await page.$eval('#stage', (c) => [c.width, c.height]), [800, 500]);
  assert.equal(await page.textContent('#focus'), '#name');
  assert.equal(await page.textContent('#hover'), '#name');
  assert.equal(await page.textContent('#cursor'), '50, 60');

  // Documented rule: the largest x / y plus 20, rounded up to 10, at least 320 x 240.
  await page.goto(replayUrl(s, B));
  await waitState(page, 'ready');
  const up10 = (v) => Math.ceil(v / 10) * 10;
  assert.deepEqual(await page.$eval('#stage', (c) => [c.width, c.height]),
    [Math.max(320, up10(903 + 20)), Math.max(240, up10(451 + 20))]);
  assert.match(await page.textContent('#viewport'), /estimated/);
  await page.close();
});

test('with --query-token the pages ask for the token and work with #token=', async () => {
  const TOKEN = 'tok en/+=1';
  const st = await startSpoord(['--query-token', TOKEN]);
  const ctx = await browser.newContext();
  try {
    await post(st, REPLAY);
    // The pages hold no data: served without the token; the API is not.
    assert.equal((await http(`${st.query}/`)).status, 200);
    assert.equal((await http(replayUrl(st, SID))).status, 200);
    assert.equal((await http(`${st.query}/v1/sessions`)).status, 401);

    const page = await ctx.newPage();
    await page.goto(`${st.query}/`);
    await waitState(page, 'error');
    assert.match(await page.textContent('#error'), /query token.*--query-token.*#token=/s);
    await page.goto(replayUrl(st, SID));
    await waitState(page, 'error');
    assert.match(await page.textContent('#error'), /--query-token/);

    await page.goto(`${st.query}/#token=${encodeURIComponent(TOKEN)}`);
    await waitState(page, 'ready');
    assert.equal(await page.locator('#sessions tbody tr').count(), 1);
    assert.ok(!page.url().includes('token'), `the token stays in the address: ${page.url()}`);
    // Kept for the other page.
    await page.goto(replayUrl(st, SID));
    await waitState(page, 'ready');
    assert.equal(await rowsOf(page).count(), REPLAY.filter((e) => e.type !== 'mousemove').length);

    // A wrong token is refused with its own message; the form replaces it.
    await page.goto(`${st.query}/#token=wrong`);
    await waitState(page, 'error');
    assert.match(await page.textContent('#error'), /refused/);
    assert.equal(await page.$eval('#auth', (d) => d.open), true);
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await waitState(page, 'ready');
    assert.equal(await page.isHidden('#error'), true);
  } finally {
    await ctx.close();
    assert.equal(await st.stop(), 0);
  }
});
