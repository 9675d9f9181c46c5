/*
 * home.js — the page at GET / (index.html): the store's counts
 * (GET /v1/stats), the 50 most recent sessions (GET /v1/sessions) with a
 * link to the replay of each, and a funnel form (POST /v1/funnel) whose
 * reply is drawn as one bar per step, its width the step's share of step 1,
 * labelled with the count and the conversion in percent.
 *
 * The form's "More options" part holds what goes beyond windowFunnel
 * (docs/api.md, "Beyond windowFunnel"): order, count, same, exclusions
 * (rows with their own "between" steps), sample actors, time to convert
 * and trend.  The per-step within/after fields sit on each step row but
 * show only while that part is open or when they hold a value; the
 * summary says how many options are set, so a closed part never hides an
 * option that changes the answer.
 *
 * DOM the tests read: #sessions tbody tr (one per session) with
 * a.replay-link; #funnel-result .bar-row[data-step] with .bar-count and
 * .bar-pct ("50.0%"); a step's samples in .bar-samples as
 * a.sample-link[data-kind=converted|dropped][data-session][data-ts];
 * #ttc .ttc-bin[data-count][data-from-ms][data-to-ms] and #ttc-stats;
 * #trend tbody tr[data-start][data-incomplete] with .trend-conv;
 * body[data-state] = loading | ready | error, and
 * #funnel-result[data-state] = running | done | error.
 */
(function () {
  'use strict';

  var U = window.SpoorUI;
  var el = U.el;
  var SESSION_LIMIT = 50;
  var MAX_EXCLUDE = 8; // the server's limit
  var loads = 0; // loads started: a reply to an older one is dropped

  // ---- sessions ------------------------------------------------------------

  function sessionRow(s) {
    var link = el('a', {
      className: 'replay-link',
      href: '/replay/' + encodeURIComponent(s.session),
      textContent: s.session,
      title: 'replay ' + s.session,
    });
    return el('tr', { data: { session: s.session } }, [
      el('td', { className: 'session' }, [link]),
      el('td', { textContent: s.user === null || s.user === undefined ? '—' : s.user }),
      el('td', { textContent: U.fmtTime(s.first_ts) }),
      el('td', { textContent: U.fmtDuration(s.last_ts - s.first_ts) }),
      el('td', { className: 'num', textContent: String(s.events) }),
      el('td', { className: 'num', textContent: String(s.pages) }),
    ]);
  }

  function renderSessions(list) {
    var tbody = document.querySelector('#sessions tbody');
    U.clear(tbody);
    list.forEach(function (s) { tbody.appendChild(sessionRow(s)); });
    document.getElementById('sessions-empty').hidden = list.length > 0;
    document.getElementById('sessions').hidden = list.length === 0;
    document.getElementById('sessions-note').textContent =
      list.length >= SESSION_LIMIT ? 'the ' + SESSION_LIMIT + ' newest' : '';
  }

  function renderStats(st) {
    document.getElementById('stats').textContent =
      st.events + ' events · ' + st.sessions + ' sessions' +
      (st.newest_ts ? ' · newest ' + U.fmtTime(st.newest_ts) : '');
  }

  function load() {
    var gen = ++loads;
    document.body.dataset.state = 'loading';
    U.showError('');
    return Promise.all([
      U.api('/v1/sessions?limit=' + SESSION_LIMIT),
      U.api('/v1/stats'),
    ]).then(function (r) {
      if (gen !== loads) return;
      renderSessions(r[0].sessions || []);
      renderStats(r[1]);
      document.body.dataset.state = 'ready';
    }, function (e) {
      if (gen !== loads) return;
      U.showError(e.message, e.status);
      document.body.dataset.state = 'error';
    });
  }

  // ---- funnel form: rows -----------------------------------------------------

  function field(cls, label, placeholder, opts) {
    opts = opts || {};
    return el('label', { className: 'step-field' }, [
      label + ' ',
      el('input', {
        className: cls, placeholder: placeholder, required: !!opts.required,
        size: opts.size || 12, spellcheck: false, title: opts.title || '',
      }),
    ]);
  }

  function numField(cls, label, opts) {
    var inp = el('input', { className: cls, type: 'number', min: String(opts.min || 1), step: '1', title: opts.title || '' });
    if (opts.value !== undefined) inp.value = String(opts.value);
    if (opts.placeholder) inp.placeholder = opts.placeholder;
    return el('label', { className: 'step-field' }, [label + ' ', inp]);
  }

  // The matcher fields of a step or an exclusion: `p` is the class prefix
  // ("step" or "excl"), so a step's type box is .step-type.
  function matcherFields(p) {
    return [
      field(p + '-type', 'type', p === 'step' ? 'pageview' : 'help', { required: true }),
      field(p + '-target', 'target', '#buy'),
      field(p + '-url', 'url', '/pricing'),
      field(p + '-url-prefix', 'url prefix', '/docs/'),
      field(p + '-props', 'props', '{"plan":"pro"}'),
    ];
  }

  var DUR_TITLE = 'ms, or a duration: 500ms, 90s, 30m, 1h, 2d';

  // Keeps the rows consistent with the number of steps: one step cannot be
  // removed, the first step has no within/after, and step numbers in the
  // options stay within 1..steps.
  function updateRows() {
    var rows = document.querySelectorAll('#steps .step');
    var n = rows.length;
    for (var i = 0; i < n; i++) {
      rows[i].querySelector('.step-remove').disabled = n === 1;
      var timing = rows[i].querySelectorAll('.step-timing input');
      for (var t = 0; t < timing.length; t++) timing[t].disabled = i === 0;
    }
    var nums = document.querySelectorAll('.excl-between, #ttc-from, #ttc-to');
    for (var k = 0; k < nums.length; k++) nums[k].max = String(n);
    var excl = document.querySelectorAll('#excludes .excl').length;
    document.getElementById('add-exclude').disabled = excl >= MAX_EXCLUDE;
    document.getElementById('ttc-to').placeholder = String(n);
    updateMoreCount();
  }

  function addStep() {
    var timing = el('span', { className: 'step-timing' }, [
      field('step-within', 'within', '30s', { size: 6, title: 'at most this long after the previous step (' + DUR_TITLE + ')' }),
      field('step-after', 'after', '0', { size: 6, title: 'at least this long after the previous step (' + DUR_TITLE + ')' }),
    ]);
    var li = el('li', { className: 'step' }, matcherFields('step').concat([
      timing,
      el('button', { type: 'button', className: 'step-remove', textContent: 'Remove', title: 'remove this step' }),
    ]));
    li.querySelector('.step-remove').addEventListener('click', function () {
      li.parentNode.removeChild(li);
      updateRows();
    });
    document.getElementById('steps').appendChild(li);
    updateRows();
  }

  function addExclusion() {
    var n = document.querySelectorAll('#steps .step').length;
    var li = el('li', { className: 'excl' }, matcherFields('excl').concat([
      el('span', { className: 'excl-range' }, [
        numField('excl-between excl-i', 'between step', { value: 1, title: 'from the event of this step…' }),
        numField('excl-between excl-j', 'and', { value: Math.max(2, n), title: '…to the event of this step' }),
      ]),
      el('button', { type: 'button', className: 'excl-remove', textContent: 'Remove', title: 'remove this exclusion' }),
    ]));
    li.querySelector('.excl-remove').addEventListener('click', function () {
      li.parentNode.removeChild(li);
      updateRows();
    });
    document.getElementById('excludes').appendChild(li);
    updateRows();
  }

  // ---- funnel form: the request ----------------------------------------------

  function val(root, sel) {
    var n = root.querySelector(sel);
    return n && !n.disabled ? n.value.trim() : '';
  }

  // A duration field's value for the API: digits as a number (ms), anything
  // else as the string for the server to check; '' when empty.
  function duration(s) {
    return /^\d+$/.test(s) ? Number(s) : s;
  }

  // A whole number >= 1 from a number box; throws naming `what`.
  function posInt(s, what) {
    if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(what + ': a whole number from 1 is wanted');
    return Number(s);
  }

  // Reads the matcher fields of `row` (prefix `p`); `what` names it in errors.
  function readMatcher(row, p, what) {
    var m = { type: val(row, '.' + p + '-type') };
    if (!m.type) throw new Error(what + ': the type is required');
    var t = val(row, '.' + p + '-target');
    var u = val(row, '.' + p + '-url');
    var up = val(row, '.' + p + '-url-prefix');
    var pr = val(row, '.' + p + '-props');
    if (t) m.target = t;
    if (u) m.url = u;
    if (up) m.url_prefix = up;
    if (pr) {
      try {
        m.props = JSON.parse(pr);
      } catch (e) {
        throw new Error(what + ': props must be a JSON object such as {"plan":"pro"}');
      }
    }
    return m;
  }

  // The options of "More options" into body; throws an Error naming a bad field.
  function readOptions(body, nsteps) {
    var order = document.getElementById('order').value;
    var count = document.getElementById('count').value;
    var same = document.getElementById('same').value.trim();
    if (order !== 'ordered') body.order = order;
    if (count !== 'actors') body.count = count;
    if (same) body.same = same;
    var ex = document.querySelectorAll('#excludes .excl');
    if (ex.length) {
      body.exclude = [];
      for (var i = 0; i < ex.length; i++) {
        var what = 'exclusion ' + (i + 1);
        var m = readMatcher(ex[i], 'excl', what);
        m.between = [posInt(val(ex[i], '.excl-i'), what + ', first step'),
          posInt(val(ex[i], '.excl-j'), what + ', second step')];
        body.exclude.push(m);
      }
    }
    var smp = val(document, '#samples');
    if (smp) body.samples = posInt(smp, 'samples');
    if (document.getElementById('ttc-on').checked) {
      var to = val(document, '#ttc-to');
      body.time_to_convert = {
        from: posInt(val(document, '#ttc-from') || '1', 'time to convert, from step'),
        to: to ? posInt(to, 'time to convert, to step') : nsteps,
        bins: posInt(val(document, '#ttc-bins') || '10', 'time to convert, bins'),
      };
    }
    var trend = val(document, '#trend-interval');
    if (trend) body.trend = duration(trend);
  }

  // The request body from the form; throws an Error naming a bad field.
  function funnelRequest() {
    var steps = [];
    var rows = document.querySelectorAll('#steps .step');
    for (var i = 0; i < rows.length; i++) {
      var st = readMatcher(rows[i], 'step', 'step ' + (i + 1));
      var w = val(rows[i], '.step-within');
      var a = val(rows[i], '.step-after');
      if (w) st.within_ms = duration(w);
      if (a) st.after_ms = duration(a);
      steps.push(st);
    }
    var win = document.getElementById('window').value.trim();
    var body = { steps: steps, window_ms: duration(win) };
    body.by = document.getElementById('by').value;
    ['from', 'to'].forEach(function (k) {
      var v = document.getElementById(k).value;
      if (!v) return;
      var ms = new Date(v).getTime();
      if (isNaN(ms)) throw new Error(k + ': not a date');
      body[k] = ms;
    });
    var bd = document.getElementById('breakdown').value.trim();
    if (bd) body.breakdown = bd;
    readOptions(body, steps.length);
    return body;
  }

  // How many options of "More options" differ from their defaults; shown in
  // its summary.
  function updateMoreCount() {
    var n = 0;
    if (document.getElementById('order').value !== 'ordered') n++;
    if (document.getElementById('count').value !== 'actors') n++;
    ['same', 'samples', 'trend-interval'].forEach(function (id) {
      if (document.getElementById(id).value.trim()) n++;
    });
    if (document.getElementById('ttc-on').checked) n++;
    n += document.querySelectorAll('#excludes .excl').length;
    var spans = document.querySelectorAll('#steps .step-timing');
    for (var i = 0; i < spans.length; i++) {
      var set = 0;
      var inps = spans[i].querySelectorAll('input');
      for (var k = 0; k < inps.length; k++) if (!inps[k].disabled && inps[k].value.trim() !== '') set++;
      n += set;
      spans[i].classList.toggle('has-value', set > 0);
    }
    document.getElementById('more-count').textContent = n ? n + ' set' : '';
    var on = document.getElementById('ttc-on').checked;
    ['ttc-from', 'ttc-to', 'ttc-bins'].forEach(function (id) { document.getElementById(id).disabled = !on; });
  }

  // ---- funnel result -----------------------------------------------------------

  function matcherLabel(st) {
    var parts = [st.type];
    if (st.target) parts.push('target ' + st.target);
    if (st.url) parts.push('url ' + st.url);
    if (st.url_prefix) parts.push('url ' + st.url_prefix + '…');
    if (st.props) parts.push(JSON.stringify(st.props));
    return parts.join(' · ');
  }

  function stepLabel(req, k) {
    if (req.order === 'any') return (k + 1) + ' of the ' + req.steps.length + ' steps, any order';
    var st = req.steps[k];
    var lim = [];
    if (st.after_ms !== undefined) lim.push('after ' + st.after_ms);
    if (st.within_ms !== undefined) lim.push('within ' + st.within_ms);
    return (k + 1) + '. ' + matcherLabel(st) + (lim.length ? ' (' + lim.join(', ') + ')' : '');
  }

  function pct(x) {
    return (x * 100).toFixed(1) + '%';
  }

  function sampleLink(smp, kind) {
    var when = U.fmtTime(smp.ts);
    return el('a', {
      className: 'sample-link',
      href: '/replay/' + encodeURIComponent(smp.session) + '?t=' + Math.floor(smp.ts),
      textContent: smp.user !== undefined && smp.user !== null ? smp.user + ' (' + smp.session + ')' : smp.session,
      title: (kind === 'converted' ? 'replay at this step, ' : 'replay at its last step, ') + when,
      data: { kind: kind, session: smp.session, ts: smp.ts },
    });
  }

  // The sampled actors of step k: those that reached it and those that
  // stopped at the step before.
  function samplesBox(s, k) {
    var box = el('div', { className: 'bar-samples' });
    function line(list, kind, label) {
      if (!list || !list.length) return;
      var p = el('p', { className: 'sample-line' }, [el('span', { className: 'muted', textContent: label })]);
      list.forEach(function (smp) { p.appendChild(sampleLink(smp, kind)); });
      box.appendChild(p);
    }
    line(s.samples.converted, 'converted', 'reached: ');
    if (k > 0) line(s.samples.dropped, 'dropped', 'stopped at step ' + k + ': ');
    return box.firstChild ? box : null;
  }

  function barRow(req, s, k) {
    var fill = el('div', { className: 'bar-fill' });
    fill.style.width = Math.max(0, Math.min(100, s.conversion * 100)) + '%';
    var prev = k === 0 ? ''
      : pct(s.conversion_from_prev) + ' of step ' + k +
        (s.median_ms_from_prev === null || s.median_ms_from_prev === undefined ? ''
          : ' · median ' + U.fmtDuration(s.median_ms_from_prev));
    return el('li', { className: 'bar-row', data: { step: k + 1, count: s.count, conversion: s.conversion } }, [
      el('div', { className: 'bar-label', textContent: stepLabel(req, k), title: stepLabel(req, k) }),
      el('div', { className: 'bar-track' }, [fill]),
      el('span', { className: 'bar-count', textContent: String(s.count) }),
      el('span', { className: 'bar-pct', textContent: pct(s.conversion) }),
      el('span', { className: 'bar-prev muted', textContent: prev }),
      s.samples ? samplesBox(s, k) : null,
    ]);
  }

  function breakdownTable(req, groups) {
    var head = el('tr', {}, [el('th', { textContent: req.breakdown })]);
    req.steps.forEach(function (st, k) { head.appendChild(el('th', { className: 'num', textContent: 'step ' + (k + 1) })); });
    var tbody = el('tbody');
    groups.forEach(function (g) {
      var tr = el('tr', { className: 'group-row' }, [
        el('td', { textContent: g.other ? '(other values)' : (g.value === '' ? '(none)' : g.value) }),
      ]);
      g.steps.forEach(function (s) {
        tr.appendChild(el('td', { className: 'num', textContent: s.count + ' (' + pct(s.conversion) + ')' }));
      });
      tbody.appendChild(tr);
    });
    return el('table', { className: 'grid breakdown' }, [el('thead', {}, [head]), tbody]);
  }

  function fmtMaybe(ms) {
    return ms === null || ms === undefined ? '—' : U.fmtDuration(ms);
  }

  // The time-to-convert histogram: one column per bin, its height the bin's
  // share of the fullest bin.
  function ttcBox(t) {
    var max = 0;
    (t.bins || []).forEach(function (b) { if (b.count > max) max = b.count; });
    var cols = el('div', { className: 'ttc-bins' });
    var every = Math.ceil((t.bins || []).length / 8); // at most ~8 axis labels
    (t.bins || []).forEach(function (b, i) {
      var bar = el('div', { className: 'ttc-bar' });
      bar.style.height = (max ? (b.count / max) * 100 : 0) + '%';
      cols.appendChild(el('div', {
        className: 'ttc-bin',
        title: U.fmtDuration(b.from_ms) + ' – ' + U.fmtDuration(b.to_ms) + ': ' + b.count,
        data: { count: b.count, fromMs: b.from_ms, toMs: b.to_ms },
      }, [
        el('span', { className: 'ttc-count', textContent: b.count ? String(b.count) : '' }),
        el('div', { className: 'ttc-well' }, [bar]),
        el('span', { className: 'ttc-axis muted', textContent: i % every === 0 ? U.fmtDuration(b.from_ms) : '' }),
      ]));
    });
    return el('section', { id: 'ttc', className: 'extra' }, [
      el('h3', { textContent: 'Time from step ' + t.from + ' to step ' + t.to }),
      el('p', {
        id: 'ttc-stats', className: 'muted',
        textContent: t.actors + ' converted · average ' + fmtMaybe(t.average_ms) + ' · median ' +
          fmtMaybe(t.median_ms) + ' · p90 ' + fmtMaybe(t.p90_ms),
      }),
      cols,
    ]);
  }

  // One row per interval: step 1, the last step, and the conversion between
  // them as a number and a bar.
  function trendBox(req, rows) {
    var n = req.steps.length;
    var dayOnly = rows.every(function (r) { return r.start % 86400000 === 0; });
    var tbody = el('tbody');
    rows.forEach(function (r) {
      var first = r.steps[0].count;
      var last = r.steps[r.steps.length - 1].count;
      var conv = first ? last / first : 0;
      var fill = el('div', { className: 'bar-fill' });
      fill.style.width = conv * 100 + '%';
      var when = U.fmtTime(r.start);
      if (dayOnly) when = when.slice(0, 10);
      tbody.appendChild(el('tr', { className: r.incomplete ? 'incomplete' : '', data: { start: r.start, incomplete: !!r.incomplete } }, [
        el('td', {}, [when, r.incomplete ? el('span', { className: 'tag', textContent: 'incomplete', title: 'this interval is cut by from/to or not over yet' }) : null]),
        el('td', { className: 'num', textContent: String(first) }),
        el('td', { className: 'num', textContent: String(last) }),
        el('td', { className: 'num trend-conv', textContent: pct(conv) }),
        el('td', { className: 'trend-bar' }, [el('div', { className: 'bar-track' }, [fill])]),
      ]));
    });
    var head = el('tr', {}, [
      el('th', { textContent: 'Interval from' }),
      el('th', { className: 'num', textContent: 'step 1' }),
      el('th', { className: 'num', textContent: 'step ' + n }),
      el('th', { className: 'num', textContent: 'conversion' }),
      el('th', {}),
    ]);
    return el('section', { id: 'trend', className: 'extra' }, [
      el('h3', { textContent: 'Conversion per ' + req.trend }),
      el('table', { className: 'grid trend' }, [el('thead', {}, [head]), tbody]),
    ]);
  }

  function renderFunnel(req, res) {
    var out = document.getElementById('funnel-result');
    U.clear(out);
    var who = req.by === 'user' ? 'users' : 'sessions';
    var how = [];
    if (req.order) how.push(req.order + ' order');
    if (req.count === 'entries') how.push('bars count entries');
    if (req.same) how.push('same ' + req.same);
    if (req.exclude) how.push(req.exclude.length + (req.exclude.length === 1 ? ' exclusion' : ' exclusions'));
    out.appendChild(el('p', {
      className: 'summary',
      textContent: res.actors + ' ' + who + ' matched a step · ' + res.events_scanned +
        ' events scanned · ' + res.took_ms + ' ms' + (how.length ? ' · ' + how.join(' · ') : ''),
    }));
    var ol = el('ol', { className: 'bars' });
    res.steps.forEach(function (s, k) { ol.appendChild(barRow(req, s, k)); });
    out.appendChild(ol);
    if (res.breakdown && res.breakdown.length) out.appendChild(breakdownTable(req, res.breakdown));
    if (res.time_to_convert) out.appendChild(ttcBox(res.time_to_convert));
    if (res.trend) out.appendChild(trendBox(req, res.trend));
    out.dataset.state = 'done';
  }

  function runFunnel(ev) {
    ev.preventDefault();
    var out = document.getElementById('funnel-result');
    var errBox = document.getElementById('funnel-error');
    var req;
    errBox.hidden = true;
    try {
      req = funnelRequest();
    } catch (e) {
      errBox.textContent = e.message;
      errBox.hidden = false;
      out.dataset.state = 'error';
      return;
    }
    out.dataset.state = 'running';
    document.getElementById('run').disabled = true;
    U.api('/v1/funnel', { body: req }).then(function (res) {
      renderFunnel(req, res);
    }, function (e) {
      U.clear(out);
      errBox.textContent = e.message;
      errBox.hidden = false;
      out.dataset.state = 'error';
      if (e.status === 401) U.showError(e.message, 401);
    }).then(function () {
      document.getElementById('run').disabled = false;
    });
  }

  addStep();
  addStep();
  document.getElementById('add-step').addEventListener('click', addStep);
  document.getElementById('add-exclude').addEventListener('click', addExclusion);
  var form = document.getElementById('funnel-form');
  var more = document.getElementById('more');
  form.addEventListener('input', updateMoreCount);
  form.addEventListener('change', updateMoreCount);
  more.addEventListener('toggle', function () { form.classList.toggle('more-open', more.open); });
  form.classList.toggle('more-open', more.open);
  form.addEventListener('submit', runFunnel);
  document.getElementById('refresh').addEventListener('click', load);
  U.initTokenForm(load);
  load();
})();
