/*
 * replay.js — the replay viewer at GET /replay/{session} (replay.html).
 *
 * Loads every event of the session (GET /v1/sessions/{id}/events, page
 * after page, at most 100 pages of 10000), then plays them back against the
 * clock of their timestamps.
 *
 * What it reads from the events (the SDK's names; anything else is shown
 * as it is):
 *   viewport  props.vw / props.vh, or props.viewport_w / props.viewport_h
 *             (numbers, CSS pixels) on any event, or props.w / props.h on a
 *             pageview (what client/js/spoor.js sends); the latest one at
 *             the playhead sizes the canvas.  Before the first
 *             one, the first one of the session; in a session without any,
 *             the largest pointer x / y seen plus a margin (at least
 *             320 x 240), shown as "estimated".
 *   pointer   x, y of every event but "scroll": the cursor position in
 *             viewport CSS pixels, drawn 1:1 in canvas pixels (the canvas
 *             is then scaled down by CSS to fit the page, not the data).
 *   clicks    click, dblclick, contextmenu with x, y: rings on the canvas.
 *   hover     mouseover sets the hovered target, a mouseout of it clears it;
 *             props.dwell_ms of a mouseout is listed.
 *   inputs    focus / blur / change events, or type "input" with
 *             props.action (or props.kind) "focus", "blur" or "change"
 *             ("change" when absent): the focused target.  Values are never
 *             recorded, so none is shown.
 *   scroll    x, y of a "scroll" event without a target: the page's scroll
 *             position (readout, and a bar on the canvas's right edge
 *             relative to the deepest seen); one with a target (an element
 *             scrolled inside the page) is listed only.
 *   pageview  starts a page: the cursor path and clicks drawn are those of
 *             the current page; hover and focus are cleared.
 *
 * The timeline lists every event but mousemove (the "mouse moves" box adds
 * them).  The playhead is a time t; the current event is the last one with
 * ts <= t (in the API's (ts, arrival) order), and its row — or the last
 * listed row before it — is highlighted.  ?t=MS (ms since the epoch) opens
 * the replay there, clamped to the session's first and last ts.
 *
 * DOM the tests read: body[data-state] = loading | ready | playing |
 * paused | ended | error; #timeline li.row (one per listed event,
 * data-index = the event's index in the session, data-ts) with class
 * "current" and aria-current on the highlighted one; #cursor ("X, Y" or
 * "—"); canvas#stage with data-cursor-x / data-cursor-y (absent before
 * the first pointer event) and width / height = the viewport in use.
 *
 * Keys: space plays / pauses, left / right arrows step between events.
 */
(function () {
  'use strict';

  var U = window.SpoorUI;
  var el = U.el;

  var PAGE_LIMIT = 10000;   // events per API page
  var MAX_PAGES = 100;      // pages loaded at most
  var IDLE_MS = 2000;       // "skip idle" jumps over gaps longer than this...
  var IDLE_LEAD = 300;      // ...to this long before the next event
  var RIPPLE_MS = 800;      // a click's ring grows and fades for this long
  var PATH_CHUNK = 256;     // segments of the cursor path stroked at once
  var MAX_DOTS = 2000;      // a page with more pointer events is drawn thin, without dots
  var MIN_W = 320, MIN_H = 240, MAX_SIDE = 16384;
  var CLICKS = { click: 1, dblclick: 1, contextmenu: 1 };
  var INPUT_ACTIONS = { focus: 'focus', focusin: 'focus', blur: 'blur', focusout: 'blur', change: 'change' };
  var SHOWN_PROPS_SKIP = { vw: 1, vh: 1, viewport_w: 1, viewport_h: 1, dwell_ms: 1, action: 1, kind: 1 };

  var S = {
    id: '',
    events: [],      // as served
    states: [],      // states[i]: what is true once event i has happened
    ptrIdx: [],      // indices of pointer events, ascending
    clickIdx: [],    // indices of clicks with a position, ascending
    pageDots: {},    // page's first event index -> true: not dense, a dot at each pointer event
    rows: [],        // the timeline's <li>, in order
    rowOf: [],       // rowOf[i]: index in rows of event i's row, or of the last row before it (-1: none)
    vpDefault: null, // {w, h, how}
    maxScrollY: 0,
    t0: 0, t1: 0,    // first and last ts
    t: 0,            // the playhead
    cur: -1,         // the current event
    shownCur: -2,    // the event the DOM shows (-2: none yet)
    playing: false,
    last: 0,         // performance.now() of the last frame
    speed: 1,
    gen: 0,          // loads started: a reply to an older one is dropped
  };

  var canvas, ctx;

  // ---- reading the events -------------------------------------------------------

  function num(v) {
    if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) v = Number(v);
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function isObj(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  // The viewport an event declares, {w, h}, or null.
  function viewportOf(e) {
    var p = e.props;
    if (!isObj(p)) return null;
    var w = num(p.vw), h = num(p.vh);
    if (w === null || h === null) {
      w = num(p.viewport_w);
      h = num(p.viewport_h);
    }
    if ((w === null || h === null) && e.type === 'pageview') {
      w = num(p.w);
      h = num(p.h);
    }
    if (w === null || h === null || w < 1 || h < 1) return null;
    return { w: Math.min(Math.round(w), MAX_SIDE), h: Math.min(Math.round(h), MAX_SIDE), how: 'recorded' };
  }

  function isPointer(e) {
    return e.type !== 'scroll' && typeof e.x === 'number' && typeof e.y === 'number';
  }

  // "focus", "blur", "change" for an input event, else "".
  function inputAction(e) {
    if (INPUT_ACTIONS[e.type]) return INPUT_ACTIONS[e.type];
    if (e.type !== 'input') return '';
    var p = isObj(e.props) ? e.props : {};
    var a = String(p.action || p.kind || '').toLowerCase();
    return INPUT_ACTIONS[a] || 'change';
  }

  // Fills S.states, S.ptrIdx, S.clickIdx, S.pageDots, S.vpDefault, S.maxScrollY.
  function digest(events) {
    var prev = { page: 0, url: null, vp: null, px: null, py: null, hover: null, focus: null, sx: null, sy: null };
    var maxX = 0, maxY = 0, firstVp = null;
    S.states = new Array(events.length);
    S.ptrIdx = [];
    S.clickIdx = [];
    S.maxScrollY = 0;
    var perPage = {};
    for (var i = 0; i < events.length; i++) {
      var e = events[i];
      var s = Object.assign({}, prev);
      if (e.type === 'pageview') {
        s.page = i;
        s.hover = null;
        s.focus = null;
      }
      if (typeof e.url === 'string' && e.url) s.url = e.url;
      var vp = viewportOf(e);
      if (vp) {
        s.vp = vp;
        if (!firstVp) firstVp = vp;
      }
      if (isPointer(e)) {
        s.px = e.x;
        s.py = e.y;
        S.ptrIdx.push(i);
        perPage[s.page] = (perPage[s.page] || 0) + 1;
        if (CLICKS[e.type]) S.clickIdx.push(i);
        maxX = Math.max(maxX, e.x);
        maxY = Math.max(maxY, e.y);
      }
      if (e.type === 'mouseover' && e.target) s.hover = e.target;
      if (e.type === 'mouseout' && (!e.target || e.target === s.hover)) s.hover = null;
      var a = inputAction(e);
      if ((a === 'focus' || a === 'change') && e.target) s.focus = e.target;
      if (a === 'blur' && (!e.target || e.target === s.focus)) s.focus = null;
      if (e.type === 'scroll' && !e.target) {
        if (typeof e.x === 'number') s.sx = e.x;
        if (typeof e.y === 'number') {
          s.sy = e.y;
          S.maxScrollY = Math.max(S.maxScrollY, e.y);
        }
      }
      S.states[i] = s;
      prev = s;
    }
    S.pageDots = {};
    for (var pg in perPage) S.pageDots[pg] = perPage[pg] <= MAX_DOTS;
    S.vpDefault = firstVp || {
      w: Math.min(Math.max(MIN_W, Math.ceil((maxX + 20) / 10) * 10), MAX_SIDE),
      h: Math.min(Math.max(MIN_H, Math.ceil((maxY + 20) / 10) * 10), MAX_SIDE),
      how: 'estimated from the pointer positions',
    };
  }

  function viewportAt(i) {
    return (i >= 0 && S.states[i].vp) || S.vpDefault;
  }

  // ---- loading -----------------------------------------------------------------------

  function sessionFromPath() {
    var rest = location.pathname.slice('/replay/'.length);
    try {
      return decodeURIComponent(rest);
    } catch (e) {
      return rest;
    }
  }

  // Resolves to {events, truncated}: every page of the session's events.
  function fetchAll(id) {
    var base = '/v1/sessions/' + encodeURIComponent(id) + '/events?limit=' + PAGE_LIMIT;
    var all = [];
    function page(after, n) {
      return U.api(base + (after ? '&after=' + encodeURIComponent(after) : '')).then(function (r) {
        for (var i = 0; i < r.events.length; i++) all.push(r.events[i]);
        if (r.after && n + 1 < MAX_PAGES) return page(r.after, n + 1);
        return { events: all, truncated: !!r.after };
      });
    }
    return page(null, 0);
  }

  // ---- timeline ------------------------------------------------------------------------

  // The props of e not shown otherwise, as compact JSON (80 chars at most).
  function shortProps(e) {
    var p = e.props;
    if (!isObj(p)) return '';
    var o = {}, any = false;
    for (var k in p) {
      if (Object.prototype.hasOwnProperty.call(p, k) && !SHOWN_PROPS_SKIP[k] &&
          !(e.type === 'pageview' && (k === 'w' || k === 'h'))) {
        o[k] = p[k];
        any = true;
      }
    }
    if (!any) return '';
    var s = JSON.stringify(o);
    return s.length > 80 ? s.slice(0, 79) + '…' : s;
  }

  function detailOf(e) {
    var parts = [];
    var p = isObj(e.props) ? e.props : {};
    if (e.type === 'scroll') {
      parts.push('to ' + (e.x || 0) + ', ' + (e.y || 0));
    } else if (typeof e.x === 'number' && typeof e.y === 'number') {
      parts.push('at ' + e.x + ', ' + e.y);
    }
    var vp = viewportOf(e);
    if (vp) parts.push(vp.w + '×' + vp.h);
    if (num(p.dwell_ms) !== null) parts.push('dwell ' + U.fmtDuration(num(p.dwell_ms)));
    var a = inputAction(e);
    if (a && a !== e.type) parts.push(a);
    var rest = shortProps(e);
    if (rest) parts.push(rest);
    return parts.join(' · ');
  }

  function rowFor(e, i) {
    var what = e.target || (e.type === 'pageview' ? e.url : '') || '';
    var li = el('li', { className: 'row', title: U.fmtTime(e.ts), data: { index: i, ts: e.ts, type: e.type } }, [
      el('span', { className: 'row-t', textContent: '+' + U.fmtClock(e.ts - S.t0) }),
      el('span', { className: 'row-type', textContent: e.type }),
      el('span', { className: 'row-what', textContent: what }),
      el('span', { className: 'row-detail', textContent: detailOf(e) }),
    ]);
    li.addEventListener('click', function () {
      pause(false);
      setT(e.ts, i);
    });
    return li;
  }

  function buildTimeline() {
    var ol = document.getElementById('timeline');
    var showMoves = document.getElementById('show-moves').checked;
    U.clear(ol);
    S.rows = [];
    S.rowOf = new Array(S.events.length);
    var frag = document.createDocumentFragment();
    for (var i = 0; i < S.events.length; i++) {
      var e = S.events[i];
      if (showMoves || e.type !== 'mousemove') {
        var li = rowFor(e, i);
        S.rows.push(li);
        frag.appendChild(li);
      }
      S.rowOf[i] = S.rows.length - 1;
    }
    ol.appendChild(frag);
    document.getElementById('timeline-count').textContent =
      S.rows.length + (S.rows.length === S.events.length ? ' events' : ' of ' + S.events.length + ' events');
    S.shownCur = -2;
  }

  // ---- the playhead --------------------------------------------------------------------

  // The last event with ts <= t, or -1.
  function eventAt(t) {
    var lo = 0, hi = S.events.length; // first index with ts > t
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (S.events[mid].ts <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  // First index k of the ascending array a with a[k] >= v.
  function lowerBound(a, v) {
    var lo = 0, hi = a.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (a[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Moves the playhead to t (clamped to the session).  `at`: an event
  // stamped exactly t to make current (a row clicked among events of equal
  // ts); else the last event with ts <= t.
  function setT(t, at) {
    S.t = Math.min(Math.max(t, S.t0), S.t1);
    S.cur = at !== undefined && S.events[at] && S.events[at].ts === S.t ? at : eventAt(S.t);
    render();
  }

  function setState(st) {
    document.body.dataset.state = st;
  }

  function play() {
    if (!S.events.length) return;
    if (S.t >= S.t1) setT(S.t0);
    S.playing = true;
    S.last = performance.now();
    setState('playing');
    document.getElementById('play').textContent = 'Pause';
    requestAnimationFrame(tick);
  }

  function pause(ended) {
    S.playing = false;
    setState(ended ? 'ended' : 'paused');
    document.getElementById('play').textContent = ended ? 'Replay' : 'Play';
  }

  function tick(now) {
    if (!S.playing) return;
    var dt = Math.min(Math.max(now - S.last, 0), 250); // a hidden tab's pause is not played
    S.last = now;
    var t = S.t + dt * S.speed;
    var next = S.events[S.cur + 1];
    if (document.getElementById('skip-idle').checked && next &&
        next.ts - S.t > IDLE_MS && t < next.ts - IDLE_LEAD) {
      t = next.ts - IDLE_LEAD;
    }
    setT(t);
    if (S.t >= S.t1) {
      pause(true);
      return;
    }
    requestAnimationFrame(tick);
  }

  // ---- rendering ---------------------------------------------------------------------------

  function render() {
    var seek = document.getElementById('seek');
    seek.value = String(Math.round(S.t - S.t0));
    document.getElementById('clock').textContent = U.fmtClock(S.t - S.t0) + ' / ' + U.fmtClock(S.t1 - S.t0);
    if (S.cur !== S.shownCur) showCurrent();
    draw();
  }

  // Updates what depends on the current event: highlighted row, readouts.
  function showCurrent() {
    var old = S.shownCur >= 0 ? S.rows[S.rowOf[S.shownCur]] : null;
    var row = S.cur >= 0 ? S.rows[S.rowOf[S.cur]] : null;
    if (old && old !== row) {
      old.classList.remove('current');
      old.removeAttribute('aria-current');
    }
    if (row) {
      row.classList.add('current');
      row.setAttribute('aria-current', 'true');
      if (row !== old) row.scrollIntoView({ block: 'nearest' });
    }
    S.shownCur = S.cur;
    var s = S.cur >= 0 ? S.states[S.cur] : null;
    var vp = viewportAt(S.cur);
    document.getElementById('cursor').textContent = s && s.px !== null ? s.px + ', ' + s.py : '—';
    document.getElementById('hover').textContent = (s && s.hover) || '—';
    document.getElementById('focus').textContent = (s && s.focus) || '—';
    document.getElementById('scroll').textContent = s && s.sy !== null ? (s.sx || 0) + ', ' + s.sy : '—';
    document.getElementById('viewport').textContent = vp.w + ' × ' + vp.h + ' (' + vp.how + ')';
    document.getElementById('page-url').textContent = (s && s.url) || '—';
    if (s && s.px !== null) {
      canvas.dataset.cursorX = s.px;
      canvas.dataset.cursorY = s.py;
    } else {
      delete canvas.dataset.cursorX;
      delete canvas.dataset.cursorY;
    }
    var link = document.getElementById('moment-link');
    link.href = location.pathname + '?t=' + Math.floor(S.t);
  }

  // The trail layer: an offscreen canvas holding the grid, the cursor path
  // and the click rings of events [layer.page, layer.upto] of one page.
  // Playing forward only adds the new events to it; a seek backwards, a new
  // page or a new viewport redraws it.  So a frame costs the events since
  // the last frame, not the whole page.
  var layer = { c: null, g: null, page: -1, upto: -1 };

  function drawGrid(g, w, h) {
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, w, h);
    g.strokeStyle = '#eef0f5';
    g.lineWidth = 1;
    g.beginPath();
    for (var x = 100; x < w; x += 100) {
      g.moveTo(x + 0.5, 0);
      g.lineTo(x + 0.5, h);
    }
    for (var y = 100; y < h; y += 100) {
      g.moveTo(0, y + 0.5);
      g.lineTo(w, y + 0.5);
    }
    g.stroke();
  }

  // Draws on g the path through the pointer events of (from, to], joined to
  // the page's pointer event before them; page: the page's first event.
  function drawPath(g, page, from, to) {
    var a = lowerBound(S.ptrIdx, from + 1), b = lowerBound(S.ptrIdx, to + 1);
    if (a === b) return;
    var k0 = a > 0 && S.ptrIdx[a - 1] >= page ? a - 1 : a;
    var k, e;
    var dense = !S.pageDots[page];
    g.strokeStyle = 'rgba(37, 99, 235, 0.55)';
    g.lineWidth = dense ? 1 : 2; // a hairline rasterizes several times faster
    g.lineJoin = 'round';
    g.lineCap = 'round';
    // Stroked PATH_CHUNK segments at a time: one path of thousands of
    // crossing segments costs the rasterizer several times more.
    for (var c = k0; c < b - 1; c += PATH_CHUNK) {
      g.beginPath();
      for (k = c; k < b && k <= c + PATH_CHUNK; k++) {
        e = S.events[S.ptrIdx[k]];
        if (k === c) g.moveTo(e.x, e.y);
        else g.lineTo(e.x, e.y);
      }
      g.stroke();
    }
    if (dense) return;
    g.fillStyle = 'rgba(37, 99, 235, 0.8)';
    for (k = a; k < b; k++) {
      e = S.events[S.ptrIdx[k]];
      g.fillRect(e.x - 1.5, e.y - 1.5, 3, 3);
    }
  }

  // Draws on g the rings of the clicks of (from, to].
  function drawClicks(g, from, to) {
    var a = lowerBound(S.clickIdx, from + 1), b = lowerBound(S.clickIdx, to + 1);
    g.fillStyle = 'rgba(220, 38, 38, 0.25)';
    g.strokeStyle = '#dc2626';
    g.lineWidth = 2;
    for (var k = a; k < b; k++) {
      var e = S.events[S.clickIdx[k]];
      g.beginPath();
      g.arc(e.x, e.y, 10, 0, 2 * Math.PI);
      g.fill();
      g.stroke();
    }
  }

  // Brings the layer up to the current event of page s.page, viewport vp.
  function updateLayer(s, vp) {
    if (!layer.c) {
      layer.c = document.createElement('canvas');
      layer.g = layer.c.getContext('2d');
    }
    if (layer.page !== s.page || layer.upto > S.cur || layer.c.width !== vp.w || layer.c.height !== vp.h) {
      layer.c.width = vp.w;
      layer.c.height = vp.h;
      drawGrid(layer.g, vp.w, vp.h);
      layer.page = s.page;
      layer.upto = s.page - 1;
    }
    if (layer.upto < S.cur) {
      drawPath(layer.g, s.page, layer.upto, S.cur);
      drawClicks(layer.g, layer.upto, S.cur);
      layer.upto = S.cur;
    }
  }

  // The growing, fading ring of the clicks of this page younger than RIPPLE_MS.
  function drawRipples(page) {
    for (var k = lowerBound(S.clickIdx, S.cur + 1) - 1; k >= 0 && S.clickIdx[k] >= page; k--) {
      var e = S.events[S.clickIdx[k]];
      var age = S.t - e.ts;
      if (age >= RIPPLE_MS) break;
      ctx.strokeStyle = 'rgba(220, 38, 38, ' + (1 - age / RIPPLE_MS).toFixed(3) + ')';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(e.x, e.y, 10 + 30 * age / RIPPLE_MS, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  function drawLabel(text, x, y, color) {
    ctx.font = '13px system-ui, sans-serif';
    if (text.length > 60) text = text.slice(0, 59) + '…';
    var w = ctx.measureText(text).width + 12;
    x = Math.min(Math.max(x, 2), canvas.width - w - 2);
    y = Math.min(Math.max(y, 2), canvas.height - 24);
    ctx.fillStyle = color;
    ctx.fillRect(x, y, w, 22);
    ctx.fillStyle = '#ffffff';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, x + 6, y + 11);
  }

  function drawCursor(x, y) {
    var pts = [0, 0, 0, 18, 4.5, 14, 7.5, 21, 10.5, 20, 7.5, 13, 13, 13];
    ctx.beginPath();
    ctx.moveTo(x + pts[0], y + pts[1]);
    for (var k = 2; k < pts.length; k += 2) ctx.lineTo(x + pts[k], y + pts[k + 1]);
    ctx.closePath();
    ctx.fillStyle = '#111827';
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 1.5;
    ctx.fill();
    ctx.stroke();
  }

  function drawScroll(s, w, h) {
    if (s.sy === null || !S.maxScrollY) return;
    var track = h - 8, thumb = Math.max(24, track / 6);
    var y = 4 + (track - thumb) * (s.sy / S.maxScrollY);
    ctx.fillStyle = 'rgba(17, 24, 39, 0.08)';
    ctx.fillRect(w - 10, 4, 6, track);
    ctx.fillStyle = 'rgba(17, 24, 39, 0.45)';
    ctx.fillRect(w - 10, y, 6, thumb);
  }

  function draw() {
    var vp = viewportAt(S.cur);
    if (canvas.width !== vp.w || canvas.height !== vp.h) {
      canvas.width = vp.w;
      canvas.height = vp.h;
    }
    if (S.cur < 0) {
      drawGrid(ctx, vp.w, vp.h);
      return;
    }
    var s = S.states[S.cur];
    updateLayer(s, vp);
    ctx.drawImage(layer.c, 0, 0);
    drawRipples(s.page);
    drawScroll(s, vp.w, vp.h);
    if (s.focus) drawLabel('focus ' + s.focus, 8, vp.h - 30, 'rgba(5, 150, 105, 0.9)');
    if (s.px !== null) {
      if (s.hover) drawLabel(s.hover, s.px + 16, s.py + 20, 'rgba(37, 99, 235, 0.9)');
      drawCursor(s.px, s.py);
    }
  }

  // ---- start -----------------------------------------------------------------------------

  function start(res) {
    S.events = res.events;
    if (!S.events.length) {
      U.showError('Session "' + S.id + '" has no events.');
      setState('error');
      return;
    }
    S.t0 = S.events[0].ts;
    S.t1 = S.events[S.events.length - 1].ts;
    digest(S.events);
    buildTimeline();
    var user = null;
    for (var i = 0; i < S.events.length && !user; i++) user = S.events[i].user || null;
    document.getElementById('session-meta').textContent =
      (user ? 'user ' + user + ' · ' : '') + S.events.length + ' events · ' + U.fmtTime(S.t0) +
      ' · ' + U.fmtDuration(S.t1 - S.t0) + (res.truncated ? ' · only the first ' + S.events.length + ' events loaded' : '');
    var seek = document.getElementById('seek');
    seek.max = String(S.t1 - S.t0);
    seek.disabled = false;
    document.getElementById('play').disabled = false;
    S.speed = Number(document.getElementById('speed').value) || 1;
    var qt = new URLSearchParams(location.search).get('t');
    setT(qt !== null && /^-?\d+$/.test(qt) ? Number(qt) : S.t0);
    setState('ready');
  }

  function load() {
    var gen = ++S.gen;
    if (S.playing) pause(false);
    setState('loading');
    U.showError('');
    fetchAll(S.id).then(function (res) {
      if (gen === S.gen) start(res);
    }, function (e) {
      if (gen !== S.gen) return;
      var msg = e.status === 404 ? 'No event of session "' + S.id + '" is stored (' + e.message + ').' : e.message;
      U.showError(msg, e.status);
      setState('error');
    });
  }

  function onKey(ev) {
    var tag = ev.target && ev.target.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || !S.events.length) return;
    if (ev.key === ' ' && (tag === 'BUTTON' || tag === 'A' || tag === 'SUMMARY')) return; // the browser clicks it
    if (ev.key === ' ') {
      ev.preventDefault();
      if (S.playing) pause(false);
      else play();
    } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      var i = S.cur + (ev.key === 'ArrowRight' ? 1 : -1);
      if (i >= 0 && i < S.events.length) {
        pause(false);
        setT(S.events[i].ts, i);
      }
    }
  }

  canvas = document.getElementById('stage');
  ctx = canvas.getContext('2d');
  S.id = sessionFromPath();
  document.getElementById('session-id').textContent = S.id;
  document.title = 'spoor replay · ' + S.id;
  document.getElementById('play').addEventListener('click', function () {
    if (S.playing) pause(false);
    else play();
  });
  document.getElementById('seek').addEventListener('input', function (ev) {
    setT(S.t0 + Number(ev.target.value));
  });
  document.getElementById('speed').addEventListener('change', function (ev) {
    S.speed = Number(ev.target.value) || 1;
  });
  document.getElementById('show-moves').addEventListener('change', function () {
    buildTimeline();
    render();
  });
  document.addEventListener('keydown', onKey);
  U.initTokenForm(load);
  load();
})();
