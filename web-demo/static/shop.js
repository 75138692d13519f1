// The shop's own script: moves between pages without reloading (fetch the next page,
// swap #app, history.pushState), keeps a cart count, and tells the tracker who visits.
(function () {
  'use strict';
  var app = document.getElementById('app');
  var pages = {};
  pages[location.pathname] = { title: document.title, html: app.innerHTML };

  if (window.ptrack) {
    ptrack.setUser({
      userAgent: navigator.userAgent,
      language: navigator.language,
      screen: { width: screen.width, height: screen.height },
      source: 'ptrack-web-demo'
    });
  }

  function show(page) {
    document.title = page.title;
    app.innerHTML = page.html;
    cartCount();
    window.scrollTo(0, 0);
  }

  function go(path) {
    var cached = pages[path];
    if (cached) {
      show(cached);
      history.pushState(null, '', path);
      return;
    }
    fetch(path, { headers: { Accept: 'text/html' } })
      .then(function (res) {
        return res.text().then(function (text) {
          var doc = new DOMParser().parseFromString(text, 'text/html');
          var page = { title: doc.title, html: doc.getElementById('app').innerHTML };
          if (res.ok) pages[path] = page;
          // The title changes before pushState: the tracker's PAGE_VIEW reads it.
          show(page);
          history.pushState(null, '', path);
        });
      })
      .catch(function () { location.href = path; });
  }

  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest('a[href]');
    if (!a || a.target || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    var url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname === '/analytics') return;
    ev.preventDefault();
    if (url.pathname !== location.pathname) go(url.pathname);
  });

  window.addEventListener('popstate', function () {
    var cached = pages[location.pathname];
    if (cached) show(cached);
    else location.reload();
  });

  document.addEventListener('click', function (ev) {
    var add = ev.target.closest && ev.target.closest('#add-to-cart');
    if (!add) return;
    var n = +(localStorage.getItem('shop:cart') || 0) + 1;
    try { localStorage.setItem('shop:cart', String(n)); } catch (e) { /* ignore */ }
    add.textContent = 'Added (' + n + ' in cart)';
    cartCount();
  });

  document.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var note = document.createElement('p');
    note.className = 'hint';
    note.textContent = 'Thanks! (Nothing you typed left this page.)';
    ev.target.appendChild(note);
  });

  function cartCount() {
    var n = localStorage.getItem('shop:cart');
    var spans = document.querySelectorAll('.cart-count');
    for (var i = 0; i < spans.length; i++) spans[i].textContent = n ? '(' + n + ')' : '';
  }
  cartCount();
})();
