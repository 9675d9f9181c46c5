/*
 * common.js — what the pages of the query port share (served as
 * /ui/common.js): the query token, calls to the /v1 API, formatting, and DOM
 * helpers that never parse data as HTML.
 *
 * Token: spoord started with --query-token wants `Authorization: Bearer
 * TOKEN` on every /v1 call.  The pages take it from `#token=TOKEN` in their
 * address (then drop it from the address bar, so it is not bookmarked or
 * shown) or from the token form, and keep it in localStorage under
 * "spoor.queryToken", so the links between pages need not carry it.
 *
 * Safety: data reaches the DOM only through textContent, attributes set as
 * properties, and dataset; nothing is ever assigned to innerHTML.  The
 * pages run under a Content-Security-Policy of 'self' only, so every script
 * is a file and styles are set through the CSSOM.
 *
 * Exposes one global, SpoorUI.
 */
(function () {
  'use strict';

  var KEY = 'spoor.queryToken';
  var memToken = ''; // when localStorage is unavailable

  function getToken() {
    try {
      return window.localStorage.getItem(KEY) || '';
    } catch (e) {
      return memToken;
    }
  }

  function setToken(t) {
    memToken = t || '';
    try {
      if (t) window.localStorage.setItem(KEY, t);
      else window.localStorage.removeItem(KEY);
    } catch (e) { /* memToken holds it for this page */ }
  }

  // Moves #token=... from the address into storage; other fragment
  // parameters stay.
  function takeHashToken() {
    var h = location.hash.replace(/^#/, '');
    if (!h) return;
    var p = new URLSearchParams(h);
    if (!p.has('token')) return;
    setToken(p.get('token'));
    p.delete('token');
    var rest = p.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }

  // An error of the API: status 0 for a network failure.
  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.name = 'ApiError';

  var AUTH_MSG = 'This spoord wants a query token (it runs with --query-token). ' +
    'Enter it in the token form above, or open this page with #token=TOKEN at the end of its address.';
  var BAD_TOKEN_MSG = 'The query token was refused (401): this spoord runs with another --query-token. ' +
    'Enter the right one in the token form above, or open this page with #token=TOKEN.';

  // Calls the query API at `path` (a path on this origin).  opts.body: an
  // object sent as JSON with POST.  Resolves to the parsed JSON reply;
  // rejects with an ApiError naming what went wrong.
  function api(path, opts) {
    opts = opts || {};
    var headers = { Accept: 'application/json' };
    var tok = getToken();
    if (tok) headers.Authorization = 'Bearer ' + tok;
    var init = { method: opts.body ? 'POST' : 'GET', headers: headers, cache: 'no-store' };
    if (opts.body) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (res.status === 401) {
          throw new ApiError(401, tok ? BAD_TOKEN_MSG : AUTH_MSG);
        }
        if (!res.ok) {
          throw new ApiError(res.status, (json && json.error) || ('HTTP ' + res.status));
        }
        if (!json) throw new ApiError(res.status, 'the reply is not JSON');
        return json;
      });
    }, function (e) {
      throw new ApiError(0, 'cannot reach spoord: ' + (e && e.message ? e.message : e));
    });
  }

  // Creates <tag> with properties (className, href, textContent, title,
  // type, value...), `data` (dataset entries) and children (nodes or
  // strings, as text).
  function el(tag, props, children) {
    var n = document.createElement(tag);
    var k;
    props = props || {};
    for (k in props) {
      if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
      if (k === 'data') {
        for (var d in props.data) n.dataset[d] = String(props.data[d]);
      } else {
        n[k] = props[k];
      }
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      n.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return n;
  }

  function clear(n) {
    while (n.firstChild) n.removeChild(n.firstChild);
  }

  function pad(n, w) {
    var s = String(n);
    while (s.length < w) s = '0' + s;
    return s;
  }

  // 83500 -> "1:23.500"; negative values get a "-".
  function fmtClock(ms) {
    var neg = ms < 0;
    ms = Math.round(Math.abs(ms));
    var m = Math.floor(ms / 60000);
    var s = Math.floor(ms / 1000) % 60;
    return (neg ? '-' : '') + m + ':' + pad(s, 2) + '.' + pad(ms % 1000, 3);
  }

  // A duration for people: "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min".
  function fmtDuration(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.round(ms / 1000) % 60 + ' s';
    return Math.floor(ms / 3600000) + ' h ' + Math.floor(ms / 60000) % 60 + ' min';
  }

  // ms since the epoch -> "2024-11-21 14:03:05 UTC".
  function fmtTime(ms) {
    var d = new Date(ms);
    if (isNaN(d.getTime())) return String(ms);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // Shows `msg` in the page's #error box (empty hides it) and, for a 401,
  // opens the token form.
  function showError(msg, status) {
    var box = document.getElementById('error');
    if (!box) return;
    box.textContent = msg || '';
    box.hidden = !msg;
    if (status === 401) {
      var auth = document.getElementById('auth');
      if (auth) auth.open = true;
      var inp = document.getElementById('token-input');
      if (inp) inp.focus();
    }
  }

  // Wires the token form of the page; onChange runs after a save or forget.
  function initTokenForm(onChange) {
    var form = document.getElementById('token-form');
    var inp = document.getElementById('token-input');
    var forget = document.getElementById('token-forget');
    var state = document.getElementById('token-state');
    function show() {
      if (state) state.textContent = getToken() ? '(set)' : '';
    }
    show();
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      setToken(inp.value.trim());
      inp.value = '';
      show();
      onChange();
    });
    forget.addEventListener('click', function () {
      setToken('');
      inp.value = '';
      show();
      onChange();
    });
  }

  takeHashToken();

  window.SpoorUI = {
    api: api,
    ApiError: ApiError,
    el: el,
    clear: clear,
    fmtClock: fmtClock,
    fmtDuration: fmtDuration,
    fmtTime: fmtTime,
    showError: showError,
    getToken: getToken,
    setToken: setToken,
    initTokenForm: initTokenForm,
  };
})();
