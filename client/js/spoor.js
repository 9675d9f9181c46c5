/*
 * spoor.js — the browser SDK of spoor.  One dependency-free file (ES2017),
 * served by spoord at GET /spoor.js.  It records what a visitor does and
 * sends it to spoord's POST /v1/events.
 *
 * Use:
 *   <script src="http://HOST:8080/spoor.js" data-key="KEY" defer></script>
 * starts recording at once: the endpoint is where the script came from,
 * options come from data-* attributes (data-auto="false" waits for an
 * explicit spoor.init()).  As an ES module: `import 'http://HOST:8080/spoor.js'`
 * defines the global `spoor` the same way (a module has no currentScript, so
 * nothing starts until spoor.init({endpoint})).
 *
 * API (window.spoor): init(options), track(type, props), identify(user),
 * sessionId(), flush() → Promise<boolean>, stop() → Promise<boolean>.
 * Calls queued by a stub before the file loaded (spoor.q = [[name, ...args]])
 * are replayed in order.
 *
 * Invariants:
 *  1. Nothing here throws into the page: every listener, timer and API entry
 *     is wrapped; a failure is at most a console warning (20 at most).
 *  2. A listener does O(depth of the element) work: a selector, one
 *     JSON.stringify, an array push.  Sampled streams (mousemove, scroll)
 *     keep only the latest position between samples.
 *  3. Every event has an id (page id + counter) kept across retries, so the
 *     server stores a retried event once.
 *  4. One fetch in flight at a time; each request body is at most MAX_BODY
 *     bytes (the browsers' keepalive/beacon budget is 64 KiB); a failed
 *     batch goes back to the head of the queue, retried with exponential
 *     backoff; the queue holds at most maxQueue events (oldest dropped).
 *  5. When the page is hidden or left, the queue goes out by sendBeacon;
 *     what could not be handed over is saved in sessionStorage and sent by
 *     the next page of the tab.
 *
 * Session: a random id kept in sessionStorage ("spoor": {s, t, u}), renewed
 * when the last event is more than 30 minutes old.  Never the typed value of
 * a field: focus, blur and change only, with `filled` / `checked`.
 */
(() => {
  'use strict';
  const W = typeof window === 'object' ? window : null;
  const D = W && W.document;
  const EXPORTS = typeof module === 'object' && module;
  if (W && W.spoor && W.spoor.version) { // loaded twice: the first copy stays
    if (EXPORTS) EXPORTS.exports = W.spoor;
    return;
  }

  const IDLE_MS = 30 * 60 * 1000;
  const MAX_BODY = 64000; // bytes of one request body
  const SKEY = 'spoor'; // sessionStorage: the session
  const QKEY = 'spoor_q'; // sessionStorage: events left unsent by the last page
  const ACTIVE = 'a,button,input,select,textarea,label,summary,[role=button],[role=link]';
  const DATA_ATTRS = ['data-spoor', 'data-testid', 'data-test', 'data-cy'];
  const CAPTURE = ['pageview', 'click', 'hover', 'input', 'scroll', 'mousemove'];

  let cfg = null; // options while recording, null when stopped
  let base = ''; // the endpoint the script tag's src implies
  let ep = ''; // POST URL, kept after stop() so queued events still go out
  let batchMax = 100;
  let queue = []; // serialized events not yet sent
  let inflight = null; // events of the fetch in flight
  let sending = null; // its promise (never rejects)
  let timer = 0;
  let timerAt = 0;
  let failures = 0; // consecutive failed sends
  let retryAt = 0; // no send before this (backoff)
  let sess = null; // {s: id, t: last event ms, u: user}
  let savedAt = 0;
  let renewed = 0; // the session was renewed: its first event is a pageview
  let seq = 0;
  let pvKey = null; // path + query of the last pageview
  let pvAt = 0;
  let hovered = null;
  let hoveredSel = '';
  let hoveredAt = 0;
  let focusAt = 0;
  let off = []; // undoes what start() did
  let warned = 0;
  const moveSlot = {};
  const scrollSlot = {};
  const pageId = hex(4);

  function warn(m) {
    try { if (warned++ < 20) console.warn('spoor:', m); } catch (e) { /* no console */ }
  }

  function hex(n) {
    const b = new Uint8Array(n);
    try { crypto.getRandomValues(b); } catch (e) { for (let i = 0; i < n; i++) b[i] = Math.random() * 256; }
    let s = '';
    for (let i = 0; i < n; i++) s += (b[i] + 256).toString(16).slice(1);
    return s;
  }

  // UTF-8 length of s, never under it (a surrogate pair counts 6).
  function size(s) {
    let n = s.length;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) n += c > 2047 ? 2 : 1;
    }
    return n;
  }

  function num(v, def, min) {
    return v == null || v === '' || !isFinite(+v) ? def : Math.max(min, +v);
  }

  function sget(k) {
    try { return JSON.parse(W.sessionStorage.getItem(k)); } catch (e) { return null; }
  }

  function sset(k, v) {
    try {
      if (v == null) W.sessionStorage.removeItem(k);
      else W.sessionStorage.setItem(k, JSON.stringify(v));
    } catch (e) { /* storage disabled or full: memory only */ }
  }

  // The session id for an event at `now`; touch: it is activity.
  function session(now, touch) {
    if (!sess) {
      const o = sget(SKEY) || {};
      sess = { s: typeof o.s === 'string' ? o.s : '', t: +o.t || 0 };
      if (typeof o.u === 'string') sess.u = o.u;
    }
    if (!sess.s || now - sess.t > IDLE_MS) {
      renewed = !!sess.s;
      sess.s = hex(16);
      sess.t = now;
      savedAt = 0;
    }
    if (touch) sess.t = now;
    if (now - savedAt > 5000) {
      savedAt = now;
      sset(SKEY, sess);
    }
    return sess.s;
  }

  /* ---- events ---------------------------------------------------------- */

  function emit(type, target, x, y, props) {
    if (!cfg) return;
    const now = Date.now();
    const sid = session(now, 1);
    if (renewed) {
      renewed = 0;
      pvKey = null;
      if (type !== 'pageview' && cfg.cap.pageview) pageview('resume');
    }
    const e = { id: pageId + (++seq).toString(36), ts: now, session: sid, type: type };
    if (sess.u) e.user = sess.u;
    if (target) e.target = target;
    e.url = String(location.href).slice(0, 2048);
    if (x != null) {
      e.x = Math.round(x);
      e.y = Math.round(y);
    }
    if (props) e.props = props;
    const s = JSON.stringify(e);
    if (size(s) > MAX_BODY - 64) return warn('event over 64 KiB dropped');
    queue.push(s);
    trim();
    arm(queue.length >= batchMax ? 0 : cfg.flushMs);
  }

  function trim() {
    const max = cfg ? cfg.maxQueue : 5000;
    if (queue.length > max) queue.splice(0, queue.length - max);
  }

  function el(t) {
    return t && t.nodeType === 1 ? t : null;
  }

  function ignored(t) {
    return !!t.closest('[data-spoor-ignore]');
  }

  function esc(s) {
    return W.CSS && CSS.escape ? CSS.escape(s) : s;
  }

  // One step of a selector: '#id', '[data-x="v"]', or tag.class.class:nth-of-type(i).
  function step(e, tag) {
    if (e.id) return ['#' + esc(e.id), 1];
    for (const a of DATA_ATTRS) {
      const v = e.getAttribute(a);
      if (v) return ['[' + a + '="' + esc(v) + '"]', 1];
    }
    let s = tag;
    for (const c of ((e.getAttribute('class') || '').match(/\S+/g) || []).slice(0, 2)) s += '.' + esc(c);
    let i = 1;
    let twin = 0;
    for (let o = e.previousElementSibling; o; o = o.previousElementSibling) if (o.localName === tag) i++;
    for (let o = e.nextElementSibling; o && i === 1 && !twin; o = o.nextElementSibling) twin = o.localName === tag;
    if (i > 1 || twin) s += ':nth-of-type(' + i + ')';
    return [s, tag === 'body' || tag === 'html'];
  }

  // A short stable selector of t: up to its nearest ancestor with an id or
  // data attribute (or body), at most 256 bytes.
  function selector(t) {
    let out = '';
    for (let e = t, k = 0; e && e.nodeType === 1 && k < 32; e = e.parentElement, k++) {
      const tag = e.localName;
      if (out && (tag === 'body' || tag === 'html')) break;
      const p = step(e, tag);
      const s = out ? p[0] + '>' + out : p[0];
      if (size(s) > 256) {
        if (!out) for (out = s.slice(0, 256); size(out) > 256;) out = out.slice(0, -1);
        break;
      }
      out = s;
      if (p[1]) break;
    }
    return out;
  }

  // At most one fn() per ms for a stream; the last call of a busy period
  // runs at its end, so the final position is always recorded.
  function throttle(slot, ms, key, fn) {
    const now = Date.now();
    if (slot.h && slot.k !== key) {
      clearTimeout(slot.h);
      slot.h = 0;
      slot.f();
    }
    slot.k = key;
    slot.f = fn;
    if (slot.h) return;
    const wait = (slot.t || 0) + ms - now;
    if (wait <= 0) {
      slot.t = now;
      fn();
      return;
    }
    slot.h = setTimeout(() => {
      slot.h = 0;
      slot.t = Date.now();
      try { if (cfg) slot.f(); } catch (x) { warn(x); }
    }, wait);
  }

  function pageview(nav) {
    const k = location.pathname + location.search;
    if (k === pvKey) return;
    pvKey = k;
    pvAt = Date.now();
    const p = { nav: nav, title: String(D.title).slice(0, 256), w: W.innerWidth, h: W.innerHeight };
    if (nav === 'load' && D.referrer) p.ref = D.referrer.slice(0, 1024);
    emit('pageview', null, null, null, p);
  }

  function over(e) {
    const t = el(e.target);
    if (!t || ignored(t)) return;
    hovered = t;
    hoveredSel = selector(t);
    hoveredAt = Date.now();
    emit('mouseover', hoveredSel, e.clientX, e.clientY);
  }

  function out(e) {
    const t = el(e.target);
    if (!t || ignored(t)) return;
    const same = t === hovered;
    hovered = null;
    emit('mouseout', same ? hoveredSel : selector(t), e.clientX, e.clientY,
      same ? { dwell_ms: Date.now() - hoveredAt } : null);
  }

  function click(e) {
    let t = el(e.target);
    if (!t || ignored(t)) return;
    t = t.closest(ACTIVE) || t;
    let p = null;
    if (/^(a|button|summary)$/.test(t.localName) && !t.isContentEditable && !t.querySelector('[contenteditable]')) {
      const text = t.textContent.replace(/\s+/g, ' ').trim().slice(0, 64);
      if (text) p = { text: text };
    }
    // detail 0: a click from the keyboard, without a pointer position
    emit('click', selector(t), e.detail ? e.clientX : null, e.clientY, p);
  }

  function field(t) {
    return t && !ignored(t) && (t.isContentEditable || t.matches('select,textarea') ||
      (t.localName === 'input' && !/^(button|submit|reset|image|hidden)$/.test(t.type))) ? t : null;
  }

  function focus(e) {
    const t = field(el(e.target));
    if (!t) return;
    focusAt = Date.now();
    emit('focus', selector(t));
  }

  function blur(e) {
    const t = field(el(e.target));
    if (!t) return;
    emit('blur', selector(t), null, null, focusAt ? { dwell_ms: Date.now() - focusAt } : null);
    focusAt = 0;
  }

  function change(e) {
    const t = field(el(e.target));
    if (!t) return;
    const kind = t.localName === 'input' ? t.type : t.localName;
    emit('change', selector(t), null, null, /^(checkbox|radio)$/.test(kind)
      ? { kind: kind, checked: t.checked } : { kind: kind, filled: !!t.value });
  }

  function scroll(e) {
    const t = e.target;
    if (t === D || t === D.documentElement || t === W) {
      throttle(scrollSlot, 250, D, () => emit('scroll', null, W.scrollX, W.scrollY));
    } else if (el(t) && t.localName !== 'input' && !ignored(t)) { // an input scrolls as text is typed
      throttle(scrollSlot, 250, t, () => emit('scroll', selector(t), t.scrollLeft, t.scrollTop));
    }
  }

  function move(e) {
    throttle(moveSlot, cfg.sampleMouseMs, 0, () => {
      const t = el(e.target);
      if (!t || !ignored(t)) emit('mousemove', null, e.clientX, e.clientY);
    });
  }

  /* ---- sending --------------------------------------------------------- */

  function envelope(batch) {
    return '{"sent_at":' + Date.now() + ',"events":[' + batch.join(',') + ']}';
  }

  // How many events from the queue's head make one request.
  function take() {
    let n = 0;
    for (let bytes = 48; n < queue.length && n < batchMax; n++) {
      bytes += size(queue[n]) + 1;
      if (bytes > MAX_BODY && n) break;
    }
    return n;
  }

  function arm(ms) {
    if (sending || !queue.length) return;
    const at = Math.max(Date.now() + ms, retryAt);
    if (timer && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => { timer = 0; send(); }, at - Date.now());
  }

  // POSTs the queue's head.  Resolves to true when the batch was delivered
  // (or refused for good: 4xx), false when it went back to be retried.
  function send() {
    if (sending) return sending;
    clearTimeout(timer);
    timer = 0;
    if (!queue.length || !ep) return Promise.resolve(!queue.length);
    const batch = queue.splice(0, take());
    let p;
    inflight = batch;
    try {
      p = fetch(ep, { method: 'POST', body: envelope(batch), keepalive: !failures, credentials: 'omit' });
    } catch (x) {
      p = Promise.reject(x);
    }
    // The reply is read to its end before the next send: until then the
    // browser counts this body against the keepalive budget.
    sending = p.then((r) => r.text().then((t) => {
      if (r.ok) {
        const j = JSON.parse(t);
        if (j.rejected) warn(j.rejected + ' events refused: ' + JSON.stringify(j.errors));
        return true;
      }
      if (r.status >= 500 || r.status === 408 || r.status === 429) return false;
      warn('spoord answered ' + r.status + ': ' + batch.length + ' events dropped');
      return true;
    }, () => r.ok).catch(() => r.ok), () => false).then((ok) => {
      inflight = null;
      sending = null;
      if (ok) {
        failures = 0;
        retryAt = 0;
      } else {
        queue = batch.concat(queue);
        trim();
        failures++;
        retryAt = Date.now() + Math.min(60000, 500 * 2 ** failures) * (0.5 + Math.random() / 2);
      }
      if (cfg) arm(!ok || queue.length >= batchMax ? 0 : cfg.flushMs); // a retry waits for retryAt only
      return ok;
    });
    return sending;
  }

  // Hands the whole queue to sendBeacon, request by request, while the
  // browser takes them.
  function beacon() {
    for (let i = 0; queue.length && ep && i < 64; i++) {
      const n = take();
      let ok = false;
      try { ok = navigator.sendBeacon(ep, envelope(queue.slice(0, n))); } catch (x) { /* unsupported */ }
      if (!ok) return;
      queue.splice(0, n);
    }
  }

  function save() {
    if (sess) sset(SKEY, sess);
  }

  function hidden() {
    if (D.visibilityState !== 'hidden') return;
    beacon();
    save();
  }

  function leave() {
    const now = Date.now();
    if (cfg.cap.pageview && pvKey != null && sess && now - sess.t <= IDLE_MS) emit('pageleave', null, null, null, { dwell_ms: now - pvAt });
    beacon();
    save();
    // the next page of this tab sends what is left (ids make a repeat harmless)
    const rest = (inflight || []).concat(queue).slice(-2000);
    sset(QKEY, rest.length ? rest : null);
  }

  function shown(e) {
    if (!e.persisted) return;
    sset(QKEY, null); // back from the bfcache: the queue is still here
    pvKey = null;
    if (cfg.cap.pageview) pageview('restore');
  }

  /* ---- start / stop ---------------------------------------------------- */

  function on(t, type, fn) {
    const g = (e) => {
      try { if (cfg) fn(e); } catch (x) { warn(x); }
    };
    t.addEventListener(type, g, { capture: true, passive: true });
    off.push(() => t.removeEventListener(type, g, { capture: true }));
  }

  function patch(name, nav) {
    const h = W.history;
    const orig = h[name];
    if (typeof orig !== 'function') return;
    const f = function () {
      const r = orig.apply(this, arguments);
      try { if (cfg) pageview(nav); } catch (x) { warn(x); }
      return r;
    };
    h[name] = f;
    off.push(() => { if (h[name] === f) h[name] = orig; });
  }

  function teardown() {
    for (const f of off) try { f(); } catch (x) { /* already gone */ }
    off = [];
    for (const s of [moveSlot, scrollSlot]) {
      clearTimeout(s.h);
      s.h = 0;
    }
  }

  function init(o) {
    try {
      if (!D) return api;
      o = o && typeof o === 'object' ? o : {};
      const end = String(o.endpoint || base || '').replace(/\/+$/, '');
      if (!end) {
        warn('init: no endpoint');
        return api;
      }
      teardown();
      const c = o.capture;
      const cap = {};
      for (const k of CAPTURE) cap[k] = c !== false && !(c && typeof c === 'object' && c[k] === false);
      cfg = { flushMs: num(o.flushMs, 1000, 0), sampleMouseMs: num(o.sampleMouseMs, 50, 10), maxQueue: num(o.maxQueue, 5000, 1), cap: cap };
      batchMax = num(o.maxBatch, 100, 1);
      ep = (/\/v1\/events$/.test(end) ? end : end + '/v1/events') + (o.key ? '?key=' + encodeURIComponent(o.key) : '');
      if (o.user != null) identify(o.user);
      const saved = sget(QKEY);
      if (Array.isArray(saved)) {
        sset(QKEY, null);
        queue = saved.filter((s) => typeof s === 'string').concat(queue);
        trim();
      }
      on(D, 'visibilitychange', hidden);
      on(W, 'pagehide', leave);
      on(W, 'pageshow', shown);
      if (cap.pageview) {
        on(W, 'popstate', () => pageview('pop'));
        patch('pushState', 'push');
        patch('replaceState', 'replace');
      }
      if (cap.click) on(D, 'click', click);
      if (cap.hover) {
        on(D, 'mouseover', over);
        on(D, 'mouseout', out);
      }
      if (cap.input) {
        on(D, 'focus', focus);
        on(D, 'blur', blur);
        on(D, 'change', change);
      }
      if (cap.scroll) on(D, 'scroll', scroll);
      if (cap.mousemove) on(D, 'mousemove', move);
      if (cap.pageview) pageview('load');
      arm(queue.length >= batchMax ? 0 : cfg.flushMs);
    } catch (x) {
      warn(x);
    }
    return api;
  }

  function track(type, props) {
    try {
      if (!cfg) return warn('track: not started (spoor.init first)');
      type = String(type == null ? '' : type);
      if (!type || size(type) > 64) return warn('track: type must be 1 to 64 bytes');
      if (props != null && (typeof props !== 'object' || Array.isArray(props))) return warn('track: props must be an object');
      if (props != null && size(JSON.stringify(props)) > 8192) return warn('track: props over 8 KiB');
      emit(type, null, null, null, props);
    } catch (x) {
      warn(x);
    }
  }

  function identify(user) {
    try {
      session(Date.now(), 0);
      if (user == null || user === '') {
        delete sess.u;
      } else {
        user = String(user);
        if (size(user) > 128) return warn('identify: user over 128 bytes');
        sess.u = user;
      }
      sset(SKEY, sess);
    } catch (x) {
      warn(x);
    }
  }

  function sessionId() {
    try { return session(Date.now(), 0); } catch (x) { return ''; }
  }

  // Sends everything queued now.  Resolves to true once the queue is empty,
  // false when a send failed (the retry stays scheduled).  Never rejects.
  async function flush() {
    try {
      for (let i = 0; i < 10000; i++) {
        if (sending) await sending;
        if (!queue.length) return true;
        if (!(await send())) return false;
      }
    } catch (x) {
      warn(x);
    }
    return !queue.length;
  }

  function stop() {
    try {
      teardown();
      cfg = null;
      pvKey = null;
    } catch (x) {
      warn(x);
    }
    return flush();
  }

  const api = { version: '1', init: init, track: track, identify: identify, sessionId: sessionId, flush: flush, stop: stop };

  if (D) {
    const pre = W.spoor;
    W.spoor = api;
    const cs = D.currentScript;
    if (cs && cs.src) {
      base = cs.src.replace(/[?#].*/, '').replace(/\/[^/]*$/, '');
      const d = cs.dataset;
      if (!/^(false|off|no|0)$/i.test(d.auto || '')) {
        init({ endpoint: d.endpoint, key: d.key, user: d.user, flushMs: d.flushMs, maxBatch: d.maxBatch, sampleMouseMs: d.sampleMouseMs,
          capture: d.capture && CAPTURE.reduce((o, k) => ((o[k] = d.capture.split(/[\s,]+/).indexOf(k) >= 0), o), {}) });
      }
    }
    if (pre && Array.isArray(pre.q)) {
      for (const call of pre.q) try { api[call[0]].apply(api, [].slice.call(call, 1)); } catch (x) { warn(x); }
    }
  }
  if (EXPORTS) EXPORTS.exports = api;
})();
