/*
 * home.js — the page at GET / (index.html): the store's counts
 * (GET /v1/stats), the 50 most recent sessions (GET /v1/sessions) with a
 * link to the replay of each, and a funnel form (POST /v1/funnel) whose
 * reply is drawn as one bar per step, its width the step's share of step 1,
 * labelled with the count and the conversion in percent.
 *
 * DOM the tests read: #sessions tbody tr (one per session) with
 * a.replay-link; #funnel-result .bar-row[data-step] with .bar-count and
 * .bar-pct ("50.0%"); body[data-state] = loading | ready | error, and
 * #funnel-result[data-state] = running | done | error.
 */
(function () {
  'use strict';

  var U = window.SpoorUI;
  var el = U.el;
  var SESSION_LIMIT = 50;
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

  // ---- funnel form -----------------------------------------------------------

  function field(cls, label, placeholder, required) {
    return el('label', { className: 'step-field' }, [
      label + ' ',
      el('input', { className: cls, placeholder: placeholder, required: !!required, size: 12, spellcheck: false }),
    ]);
  }

  function updateRemoveButtons() {
    var rows = document.querySelectorAll('#steps .step');
    for (var i = 0; i < rows.length; i++) {
      rows[i].querySelector('.step-remove').disabled = rows.length === 1;
    }
  }

  function addStep() {
    var li = el('li', { className: 'step' }, [
      field('step-type', 'type', 'pageview', true),
      field('step-target', 'target', '#buy'),
      field('step-url', 'url', '/pricing'),
      field('step-url-prefix', 'url prefix', '/docs/'),
      field('step-props', 'props', '{"plan":"pro"}'),
      el('button', { type: 'button', className: 'step-remove', textContent: 'Remove', title: 'remove this step' }),
    ]);
    li.querySelector('.step-remove').addEventListener('click', function () {
      li.parentNode.removeChild(li);
      updateRemoveButtons();
    });
    document.getElementById('steps').appendChild(li);
    updateRemoveButtons();
  }

  // The request body from the form; throws an Error naming a bad field.
  function funnelRequest() {
    var steps = [];
    var rows = document.querySelectorAll('#steps .step');
    for (var i = 0; i < rows.length; i++) {
      var q = function (c) { return rows[i].querySelector(c).value.trim(); };
      var st = { type: q('.step-type') };
      if (!st.type) throw new Error('step ' + (i + 1) + ': the type is required');
      if (q('.step-target')) st.target = q('.step-target');
      if (q('.step-url')) st.url = q('.step-url');
      if (q('.step-url-prefix')) st.url_prefix = q('.step-url-prefix');
      if (q('.step-props')) {
        try {
          st.props = JSON.parse(q('.step-props'));
        } catch (e) {
          throw new Error('step ' + (i + 1) + ': props must be a JSON object such as {"plan":"pro"}');
        }
      }
      steps.push(st);
    }
    var win = document.getElementById('window').value.trim();
    var body = { steps: steps, window_ms: /^\d+$/.test(win) ? Number(win) : win };
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
    return body;
  }

  function stepLabel(st, k) {
    var parts = [st.type];
    if (st.target) parts.push('target ' + st.target);
    if (st.url) parts.push('url ' + st.url);
    if (st.url_prefix) parts.push('url ' + st.url_prefix + '…');
    if (st.props) parts.push(JSON.stringify(st.props));
    return (k + 1) + '. ' + parts.join(' · ');
  }

  function pct(x) {
    return (x * 100).toFixed(1) + '%';
  }

  function barRow(req, s, k) {
    var fill = el('div', { className: 'bar-fill' });
    fill.style.width = Math.max(0, Math.min(100, s.conversion * 100)) + '%';
    var prev = k === 0 ? ''
      : pct(s.conversion_from_prev) + ' of step ' + k +
        (s.median_ms_from_prev === null ? '' : ' · median ' + U.fmtDuration(s.median_ms_from_prev));
    return el('li', { className: 'bar-row', data: { step: k + 1, count: s.count, conversion: s.conversion } }, [
      el('div', { className: 'bar-label', textContent: stepLabel(req.steps[k], k) }),
      el('div', { className: 'bar-track' }, [fill]),
      el('span', { className: 'bar-count', textContent: String(s.count) }),
      el('span', { className: 'bar-pct', textContent: pct(s.conversion) }),
      el('span', { className: 'bar-prev muted', textContent: prev }),
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

  function renderFunnel(req, res) {
    var out = document.getElementById('funnel-result');
    U.clear(out);
    var who = req.by === 'user' ? 'users' : 'sessions';
    out.appendChild(el('p', {
      className: 'summary',
      textContent: res.actors + ' ' + who + ' matched a step · ' + res.events_scanned +
        ' events scanned · ' + res.took_ms + ' ms',
    }));
    var ol = el('ol', { className: 'bars' });
    res.steps.forEach(function (s, k) { ol.appendChild(barRow(req, s, k)); });
    out.appendChild(ol);
    if (res.breakdown && res.breakdown.length) out.appendChild(breakdownTable(req, res.breakdown));
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
  document.getElementById('funnel-form').addEventListener('submit', runFunnel);
  document.getElementById('refresh').addEventListener('click', load);
  U.initTokenForm(load);
  load();
})();
