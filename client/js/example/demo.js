// demo.js — the glue of the demo pages, not part of the SDK: tabs switched
// by history.pushState (so the SDK records single-page navigation), and the
// session line with a link to the replay viewer on the query port.
//
// The query port is guessed as the ingest port + 1 (spoord's defaults are
// 8080 and 8081); open the page once with ?query=http://HOST:PORT to set it.
(() => {
  const given = new URLSearchParams(location.search).get('query');
  if (given) sessionStorage.setItem('spoor_demo_query', given);
  const query = given || sessionStorage.getItem('spoor_demo_query') ||
    `${location.protocol}//${location.hostname}:${(Number(location.port) || 80) + 1}`;

  function showTab() {
    const tab = new URLSearchParams(location.search).get('tab') || 'home';
    for (const s of document.querySelectorAll('[data-tab]')) s.hidden = s.dataset.tab !== tab;
  }

  function showSession() {
    const id = window.spoor ? window.spoor.sessionId() : '';
    const sid = document.getElementById('sid');
    const link = document.getElementById('replay');
    if (sid) sid.textContent = id || '(spoor.js did not load)';
    if (link && id) link.href = `${query}/replay/${encodeURIComponent(id)}`;
  }

  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[data-push]');
    if (a) {
      e.preventDefault();
      history.pushState(null, '', a.href);
      showTab();
    }
    showSession();
  });
  addEventListener('popstate', showTab);
  for (const el of document.querySelectorAll('.origin')) el.textContent = location.origin;
  showTab();
  showSession();
})();
