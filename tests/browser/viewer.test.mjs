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

// ---- the funnel form's "More options" ---------------------------------------
//
// Shop sessions, [ms after the session's start, type, props?]; session m-i
// starts 10 s after m-(i-1).  Steps view -> cart -> buy.
const SHOP = [
  [[0, 'view'], [1000, 'cart'], [4000, 'buy']],
  [[0, 'view'], [1000, 'help'], [2000, 'cart'], [3000, 'buy']],
  [[0, 'view'], [1000, 'cart', { promo: true }], [2000, 'buy']],
  [[0, 'view'], [1000, 'cart']],
  [[0, 'cart'], [1000, 'buy']],
  [[0, 'view'], [1000, 'cart', { promo: true }], [2000, 'view'], [3000, 'cart'], [4000, 'buy']],
  [[0, 'view']],
];
const SHOP_T = T0 + 100000;
const shopSid = (i) => `m-${i + 1}`;
const shopTs = (i, k) => SHOP_T + 10000 * i + SHOP[i][k][0];
function shopEvents() {
  const out = [];
  SHOP.forEach((evs, i) => evs.forEach(([dt, type, props], k) => {
    const e = { session: shopSid(i), ts: shopTs(i, k), type };
    if (props) e.props = props;
    out.push(e);
  }));
  return out;
}
let shopPosted = false;
async function postShop() {
  if (!shopPosted) await post(s, shopEvents());
  shopPosted = true;
}

// Fills the step rows with `types` (adding or removing rows as needed).
async function fillSteps(page, types) {
  const steps = page.locator('#steps .step');
  while ((await steps.count()) < types.length) await page.click('#add-step');
  while ((await steps.count()) > types.length) await steps.last().locator('.step-remove').click();
  for (let k = 0; k < types.length; k++) await steps.nth(k).locator('.step-type').fill(types[k]);
}

// Clicks Run; resolves to [the JSON body the page posted, the bar counts].
async function runFunnel(page) {
  const reqP = page.waitForRequest((r) => r.url().endsWith('/v1/funnel'), { timeout: 15000 });
  await page.click('#run');
  const req = await reqP;
  assert.ok(await waitFor(async () => (await page.getAttribute('#funnel-result', 'data-state')) !== 'running'));
  assert.equal(await page.getAttribute('#funnel-result', 'data-state'), 'done',
    `funnel: ${await page.textContent('#funnel-error')}`);
  const counts = await page.locator('#funnel-result .bar-row .bar-count').allTextContents();
  return [JSON.parse(req.postData()), counts.map(Number)];
}

async function openHome(page) {
  await page.goto(`${s.query}/`);
  await waitState(page, 'ready');
}

test('More options: strict order and an exclusion, then a per-step window, change the bars', async () => {
  await postShop();
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await openHome(page);
  await fillSteps(page, ['view', 'cart', 'buy']);
  await page.fill('#window', '1h');
  // Closed, the part hides the step timing; opened, steps 2 and 3 show it
  // (once the details element's toggle event, a task of its own, has run).
  const withinShown = (n) => waitFor(async () => (await page.locator('#steps .step-within:visible').count()) === n);
  assert.equal(await page.locator('#steps .step-within:visible').count(), 0);
  await page.click('#more summary');
  assert.ok(await withinShown(2), 'opened: steps 2 and 3 show their timing');
  assert.equal(await page.locator('#steps .step').first().locator('.step-within').isDisabled(), true);

  await page.selectOption('#order', 'strict');
  await page.click('#add-exclude');
  const ex = page.locator('#excludes .excl');
  await ex.locator('.excl-type').fill('cart');
  await ex.locator('.excl-props').fill('{"promo":true}');
  await ex.locator('.excl-i').fill('1');
  await ex.locator('.excl-j').fill('3');
  assert.equal(await page.textContent('#more-count'), '2 set');

  // By hand, strict: m-2's help follows its view, so it stays at step 1; the
  // promo cart lies between m-3's view and buy (m-3: step 2); m-6's second
  // view starts a clean chain; m-5 has no view; m-7 only a view.
  const [body, counts] = await runFunnel(page);
  assert.deepEqual(body, {
    steps: [{ type: 'view' }, { type: 'cart' }, { type: 'buy' }], window_ms: '1h', by: 'session',
    order: 'strict', exclude: [{ type: 'cart', props: { promo: true }, between: [1, 3] }],
  });
  assert.deepEqual(counts, [6, 4, 2]); // step 1: all but m-5; 2: m-1, m-3, m-4, m-6; 3: m-1, m-6
  assert.equal(await page.locator('#funnel-result .bar-row').nth(2).locator('.bar-pct').textContent(), '33.3%');
  assert.match(await page.textContent('#funnel-result .summary'), /7 sessions matched a step.*strict order.*1 exclusion/);
  await page.screenshot({ path: join(ARTIFACTS, 'home-funnel-options.png'), fullPage: true });

  // Ordered, no exclusion, buy within 2 s of the cart: m-1's buy came 3 s
  // after its cart, so only m-2, m-3 and m-6 reach step 3.
  await page.selectOption('#order', 'ordered');
  await ex.locator('.excl-remove').click();
  await page.locator('#steps .step').nth(2).locator('.step-within').fill('2s');
  assert.equal(await page.textContent('#more-count'), '1 set');
  // Closed, the part still shows the step whose timing is set.
  await page.click('#more summary');
  assert.ok(await withinShown(1), 'closed: only the step with a timing shows it');
  const [body2, counts2] = await runFunnel(page);
  assert.deepEqual(body2.steps, [{ type: 'view' }, { type: 'cart' }, { type: 'buy', within_ms: '2s' }]);
  assert.equal(body2.order, undefined);
  assert.equal(body2.exclude, undefined);
  assert.deepEqual(counts2, [6, 5, 3]);
  assert.match(await page.locator('#funnel-result .bar-label').nth(2).textContent(), /within 2s/);

  // A server error names the field; the form keeps its values.
  await page.locator('#steps .step').nth(2).locator('.step-after').fill('5s');
  await page.click('#run');
  assert.ok(await waitFor(async () => (await page.getAttribute('#funnel-result', 'data-state')) === 'error'));
  assert.match(await page.textContent('#funnel-error'), /steps\[2\]\.after_ms: must not exceed within_ms/);
  assert.deepEqual(errors, []);
  await page.close();
});

// The sample links of the result: {kind: [[step, session, ts], ...]}, sorted.
async function sampleLinks(page) {
  const links = await page.locator('#funnel-result .bar-row').evaluateAll((rows) => rows.flatMap((r) =>
    Array.from(r.querySelectorAll('a.sample-link')).map((a) =>
      [a.dataset.kind, Number(r.dataset.step), a.dataset.session, Number(a.dataset.ts), a.getAttribute('href')])));
  const out = { converted: [], dropped: [] };
  for (const [kind, step, sid, ts, href] of links) {
    assert.equal(href, `/replay/${encodeURIComponent(sid)}?t=${ts}`);
    out[kind].push([step, sid, ts]);
  }
  out.converted.sort();
  out.dropped.sort();
  return out;
}

test('samples link to the replay at the step\'s event; time to convert is drawn as a histogram', async () => {
  await postShop();
  const page = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
  await openHome(page);
  await fillSteps(page, ['view', 'cart', 'buy']);
  await page.fill('#window', '1h');
  await page.click('#more summary');
  await page.fill('#samples', '10');
  await page.check('#ttc-on');
  await page.fill('#ttc-bins', '4');
  const [body, counts] = await runFunnel(page);
  assert.deepEqual(body.samples, 10);
  assert.deepEqual(body.time_to_convert, { from: 1, to: 3, bins: 4 });
  assert.deepEqual(counts, [6, 5, 4]);

  // By hand, the counted chains (latest start, then earliest steps), as
  // [session index, event index] per step: m-6's starts at its second view.
  const chain = { 0: [0, 1, 2], 1: [0, 2, 3], 2: [0, 1, 2], 3: [0, 1], 5: [2, 3, 4], 6: [0] };
  const want = { converted: [], dropped: [] };
  for (const [i, ks] of Object.entries(chain)) {
    ks.forEach((k, step) => want.converted.push([step + 1, shopSid(+i), shopTs(+i, k)]));
    // Stopped before step ks.length + 1: the time of its last step.
    if (ks.length < 3) want.dropped.push([ks.length + 1, shopSid(+i), shopTs(+i, ks[ks.length - 1])]);
  }
  want.converted.sort();
  want.dropped.sort();
  assert.deepEqual(await sampleLinks(page), want);

  // Time from view to buy, by hand: m-1 4 s, m-2 3 s, m-3 2 s, m-6 2 s.
  // Four equal bins from the least, each (4000 - 2000) / 4 + 1 ms wide.
  const w = Math.floor((4000 - 2000) / 4) + 1;
  const wantBins = [2, 1, 0, 1].map((c, b) => [2000 + b * w, 2000 + (b + 1) * w, c]);
  const bins = page.locator('#ttc .ttc-bin');
  assert.deepEqual(await bins.evaluateAll((bs) => bs.map((b) => [+b.dataset.fromMs, +b.dataset.toMs, +b.dataset.count])), wantBins);
  assert.deepEqual(await bins.locator('.ttc-count').allTextContents(), ['2', '1', '', '1']);
  const heights = await bins.evaluateAll((bs) => bs.map((b) =>
    b.querySelector('.ttc-bar').getBoundingClientRect().height / b.querySelector('.ttc-well').getBoundingClientRect().height));
  wantBins.forEach(([, , c], b) => assert.ok(Math.abs(heights[b] - c / 2) < 0.02, `bin ${b} is ${heights[b]} high`));
  assert.match(await page.textContent('#ttc-stats'), /^4 converted · average 2\.\d s · median 2\.0 s · p90 4\.0 s$/);
  await page.screenshot({ path: join(ARTIFACTS, 'home-funnel-samples.png'), fullPage: true });

  // m-6's step-2 sample opens its replay at its second cart, not its first.
  const link = page.locator('#funnel-result .bar-row[data-step="2"] a.sample-link[data-kind=converted][data-session="m-6"]');
  await link.click();
  await waitState(page, 'ready');
  assert.equal(await page.textContent('#session-id'), 'm-6');
  assert.equal(new URL(page.url()).search, `?t=${shopTs(5, 3)}`);
  assert.equal(await page.getAttribute('#timeline li.row.current', 'data-index'), '3');
  assert.equal(await page.textContent('#timeline li.row.current .row-type'), 'cart');
  await page.close();
});

test('trend: conversion per day of the step-1 event, the current day marked incomplete', async () => {
  const DAY = 86400000;
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  // [land ts, pays 1 s later?]: three days ago 2 of 2 pay; two days ago 2
  // of 4, one of them landing 0.5 s before midnight (its day is that of its
  // land); none yesterday; today 1 of 2.
  const lands = [
    [today - 3 * DAY + 3600000, true], [today - 3 * DAY + 7200000, true],
    [today - 2 * DAY + 3600000, true], [today - 2 * DAY + 7200000, false],
    [today - 2 * DAY + 9000000, false], [today - DAY - 500, true],
    [Math.max(today, now - 120000), true], [Math.max(today + 1, now - 60000), false],
  ];
  const evs = [];
  lands.forEach(([ts, pays], i) => {
    evs.push({ session: `t-${i}`, type: 'land', ts });
    if (pays) evs.push({ session: `t-${i}`, type: 'pay', ts: ts + 1000 });
  });
  await post(s, evs);
  const wantRows = [[today - 3 * DAY, 2, 2], [today - 2 * DAY, 4, 2], [today, 2, 1]];

  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  await openHome(page);
  await fillSteps(page, ['land', 'pay']);
  await page.fill('#window', '1h');
  await page.click('#more summary');
  await page.fill('#trend-interval', '1d');
  const [body, counts] = await runFunnel(page);
  assert.equal(body.trend, '1d');
  assert.deepEqual(counts, [8, 5]);
  const rows = page.locator('#trend tbody tr');
  const got = await rows.evaluateAll((rs) => rs.map((r) => [+r.dataset.start, +r.cells[1].textContent, +r.cells[2].textContent,
    r.querySelector('.trend-conv').textContent, r.dataset.incomplete]));
  // Incomplete: an actor entering at the interval's end may still convert.
  assert.deepEqual(got, wantRows.map(([st, a, b]) =>
    [st, a, b, `${(100 * b / a).toFixed(1)}%`, String(st + DAY + 3600000 > now)]));
  assert.equal(got[got.length - 1][4], 'true');
  assert.equal(await rows.nth(0).locator('td').first().textContent(), new Date(wantRows[0][0]).toISOString().slice(0, 10));
  assert.match(await rows.last().textContent(), /incomplete/);
  await page.screenshot({ path: join(ARTIFACTS, 'home-funnel-trend.png'), fullPage: true });
  await page.close();
});
