// fedscore console: refreshes the live parts of a page and confirms admin
// actions. Pages work without it; it never builds HTML itself: the server
// renders every fragment.
(function () {
  'use strict';

  // Poll an element's data-live URL and replace its content with the
  // fragment the server renders, until the fragment carries data-final.
  function follow(el) {
    var url = el.getAttribute('data-live');
    var every = parseInt(el.getAttribute('data-every'), 10) || 1000;
    var last = null;
    var busy = false;

    function again(ms) { window.setTimeout(tick, ms); }

    function tick() {
      if (busy) { return; }
      if (document.hidden) { again(every); return; }
      busy = true;
      fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' }, cache: 'no-store' })
        .then(function (r) {
          if (r.status === 401 || r.status === 403) {
            el.setAttribute('data-stale', 'signed-out');
            return null;
          }
          if (!r.ok) { throw new Error('HTTP ' + r.status); }
          return r.text();
        })
        .then(function (html) {
          busy = false;
          if (html === null) { return; }
          el.removeAttribute('data-stale');
          if (html !== last) {
            el.innerHTML = html;
            last = html;
            el.dispatchEvent(new CustomEvent('console:updated', { bubbles: true }));
          }
          if (el.querySelector('[data-final]')) {
            el.removeAttribute('data-live');
            return;
          }
          again(every);
        })
        .catch(function () {
          busy = false;
          el.setAttribute('data-stale', 'unreachable');
          again(every * 3);
        });
    }
    again(every);
  }

  function confirmForms() {
    var forms = document.querySelectorAll('form[data-confirm]');
    Array.prototype.forEach.call(forms, function (f) {
      f.addEventListener('submit', function (e) {
        if (!window.confirm(f.getAttribute('data-confirm'))) { e.preventDefault(); }
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-live]'), follow);
    confirmForms();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
