/*! ptrack tracker: page views, clicks and hovers to a ptrack collector's POST /track.
 * One global, window.ptrack; no dependencies; nothing it does may break the page. */
(function (w, d) {
  'use strict';
  if (w.ptrack && w.ptrack.version) return;
  var P = 'ptrack:', nav = w.navigator, loc = w.location;
  var cfg = {
    endpoint: 'http://127.0.0.1:8000', appName: '', appVersion: '', writeKey: '',
    batchSize: 10, flushInterval: 1000, maxQueue: 500, maxBytes: 60000,
    sessionTimeout: 1800000, maxRetryDelay: 30000, respectGpc: true, allClicks: false
  };
  var queue = [], user = {}, on = false, timer = 0, busy = false, waitUntil = 0, attempt = 0;
  var lastPath = null, hovered = null, hoveredPath = '', mem = {}, inflight = {};
  var n = { sent: 0, dropped: 0, rejected: 0, retries: 0, errors: 0 };

  // Every entry point goes through guard: an exception is counted, never thrown.
  function guard(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) { n.errors++; }
    };
  }
  function put(k, v) {
    mem[k] = v;
    try { w.localStorage.setItem(P + k, JSON.stringify(v)); } catch (e) { /* private mode, full */ }
  }
  function get(k) {
    try { var v = w.localStorage.getItem(P + k); if (v != null) return JSON.parse(v); } catch (e) { /* blocked */ }
    return mem[k];
  }
  function uuid() {
    var c = w.crypto, b = new Uint8Array(16), h = '', i;
    if (c && c.randomUUID) return c.randomUUID();
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = b[6] & 15 | 64;
    b[8] = b[8] & 63 | 128;
    for (i = 0; i < 16; i++) h += (i == 4 || i == 6 || i == 8 || i == 10 ? '-' : '') + (b[i] + 256).toString(16).slice(1);
    return h;
  }
  function blocked() {
    return !on || get('optout') === true || (cfg.respectGpc && nav.globalPrivacyControl === true);
  }
  // The session ends after sessionTimeout without an event; its events are numbered.
  function session() {
    var now = Date.now(), s = get('session');
    if (!s || !(now - s.last <= cfg.sessionTimeout)) s = { id: uuid(), seq: 0 };
    s.last = now;
    s.seq++;
    put('session', s);
    return s;
  }
  function anonymousId() {
    var a = get('anon');
    if (!a) put('anon', a = uuid());
    return a;
  }
  function closest(el, attr) {
    for (; el && el.getAttribute; el = el.parentNode) if (el.hasAttribute(attr)) return el;
    return null;
  }
  // What the element looks like; never the value of a field, nor editable text.
  function dom(el) {
    var tag = el.tagName, text = '';
    if (!/^(INPUT|TEXTAREA|SELECT|OPTION)$/.test(tag) && !el.isContentEditable && !el.querySelector('[contenteditable],textarea')) {
      text = (el.textContent || '').replace(/\s+/g, ' ').replace(/^ | $/g, '').slice(0, 64);
    }
    return {
      tag: tag, id: el.id || '',
      className: typeof el.className == 'string' ? el.className : el.getAttribute('class') || '',
      text: text
    };
  }
  function track(type, el, name, path) {
    if (blocked()) return;
    var s = session(), e = {
      event_id: uuid(), event_type: type, location_type: name ? 'COMPONENT' : 'PAGE',
      page_path: path || loc.pathname, page_title: d.title, timestamp: Date.now(),
      user_metadata: user, session_id: s.id, anonymous_id: anonymousId(),
      // The collector keeps fields it does not know in full_event_data.
      sequence: s.seq
    };
    if (name) e.component_name = name;
    if (el) e.dom_info = dom(el);
    queue.push(e);
    trim();
    save();
    if (queue.length >= cfg.batchSize) flush();
    else if (!timer) timer = setTimeout(guard(tick), cfg.flushInterval);
  }
  // A timer may fire a little before Date.now() reaches waitUntil: its time has come.
  function tick() { timer = 0; waitUntil = 0; flush(); }
  function trim() {
    var over = queue.length - cfg.maxQueue;
    if (over > 0) { queue.splice(0, over); n.dropped += over; put('dropped', n.dropped); }
  }
  function save() { put('queue', queue); }
  function size(s) { return w.Blob ? new Blob([s]).size : s.length * 3; }
  // The oldest events not on their way whose body stays under maxBytes (at least one).
  function take(max) {
    var out = [], bytes = 60, i, s;
    for (i = 0; i < queue.length && out.length < max; i++) {
      if (inflight[queue[i].event_id]) continue;
      s = size(JSON.stringify(queue[i])) + 1;
      if (out.length && bytes + s > cfg.maxBytes) break;
      bytes += s;
      out.push(queue[i]);
    }
    return out;
  }
  function body(events) {
    return JSON.stringify({ events: events, appName: cfg.appName, appVersion: cfg.appVersion });
  }
  function remove(events) {
    var gone = {}, i;
    for (i = 0; i < events.length; i++) gone[events[i].event_id] = 1;
    queue = queue.filter(function (e) { return !gone[e.event_id]; });
    save();
  }
  function later(ms) {
    clearTimeout(timer);
    waitUntil = Date.now() + ms;
    timer = setTimeout(guard(tick), ms);
  }
  function retry(res) {
    var after = res && +res.headers.get('Retry-After');
    var ms = after > 0 ? after * 1000 : Math.min(cfg.maxRetryDelay, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt++;
    n.retries++;
    later(ms);
  }
  function mark(events, v) {
    for (var i = 0; i < events.length; i++) if (v) inflight[events[i].event_id] = 1; else delete inflight[events[i].event_id];
  }
  function flush() {
    if (busy || !queue.length || blocked() || Date.now() < waitUntil || !w.fetch) return;
    var events = take(cfg.batchSize);
    busy = true;
    mark(events, 1);
    // text/plain: the same body a beacon sends, and no CORS preflight unless a write key
    // adds its header (the collector allows X-Ptrack-Key).
    var h = { 'Content-Type': 'text/plain' };
    if (cfg.writeKey) h['X-Ptrack-Key'] = cfg.writeKey;
    w.fetch(cfg.endpoint + '/track', {
      method: 'POST', body: body(events), headers: h, credentials: 'omit'
    }).then(guard(function (res) {
      busy = false;
      mark(events, 0);
      if (res.ok || (res.status >= 400 && res.status < 500 && res.status != 429)) {
        // A 4xx other than 429 will not get better by sending it again.
        if (res.ok) n.sent += events.length; else n.rejected += events.length;
        attempt = 0;
        waitUntil = 0;
        remove(events);
        if (queue.length) flush();
      } else retry(res);
    }), guard(function () { busy = false; mark(events, 0); retry(); }));
  }
  // The page is going away or hidden: hand what fits in the browser's 64 KB keepalive
  // budget to sendBeacon (or a keepalive fetch). While the collector is failing (the
  // last send failed), a beacon would be lost unseen: the events stay in local storage
  // for the next visit instead.
  function flushUnloading() {
    if (blocked() || !queue.length || attempt > 0) return;
    // A beacon cannot set headers: the write key goes in the query.
    var budget = cfg.maxBytes, events, b, ok, url = cfg.endpoint + '/track' + (cfg.writeKey ? '?key=' + encodeURIComponent(cfg.writeKey) : '');
    for (;;) {
      events = take(cfg.maxQueue);
      if (!events.length) break;
      b = body(events);
      if ((budget -= size(b)) < 0) break;
      ok = false;
      try { ok = nav.sendBeacon && nav.sendBeacon(url, new Blob([b], { type: 'text/plain' })); } catch (e) { ok = false; }
      if (!ok && w.fetch) {
        w.fetch(url, { method: 'POST', body: b, keepalive: true, headers: { 'Content-Type': 'text/plain' }, credentials: 'omit' })['catch'](function () {});
        ok = true;
      }
      if (!ok) break;
      n.sent += events.length;
      remove(events);
    }
  }
  function pageView() {
    if (loc.pathname === lastPath) return;
    lastPath = loc.pathname;
    track('PAGE_VIEW');
  }
  function onClick(ev) {
    var t = ev.target, el = closest(t, 'data-track');
    if (closest(t, 'data-track-ignore')) return;
    if (el) track('CLICK', el, el.getAttribute('data-track'));
    else if (cfg.allClicks && t && t.tagName) track('CLICK', t);
  }
  function hover(el) {
    if (el === hovered) return;
    // A leave belongs to the page of its enter, even after a navigation replaced it.
    if (hovered) track('HOVER_LEAVE', hovered, hovered.getAttribute('data-track'), hoveredPath);
    hovered = el;
    hoveredPath = loc.pathname;
    if (el) track('HOVER_ENTER', el, el.getAttribute('data-track'));
  }
  function onOver(ev) {
    var t = ev.target;
    hover(closest(t, 'data-track-ignore') ? null : closest(t, 'data-track'));
  }
  function onOut(ev) { if (!ev.relatedTarget) hover(null); }
  function patch(name) {
    var orig = w.history[name];
    if (!orig) return;
    w.history[name] = function () {
      var r = orig.apply(this, arguments);
      guard(pageView)();
      return r;
    };
  }

  function init(opts) {
    var k;
    for (k in opts || {}) if (Object.prototype.hasOwnProperty.call(cfg, k)) cfg[k] = opts[k];
    cfg.endpoint = String(cfg.endpoint).replace(/\/+$/, '');
    if (on) return;
    on = true;
    n.dropped = get('dropped') || 0;
    // Events a previous page could not send come first.
    queue = (get('queue') || []).concat(queue);
    // ...unless tracking is refused now (Global Privacy Control, opt-out): forgotten.
    if (blocked()) queue = [];
    trim();
    save();
    var opt = { capture: true, passive: true };
    d.addEventListener('click', guard(onClick), opt);
    d.addEventListener('mouseover', guard(onOver), opt);
    d.addEventListener('mouseout', guard(onOut), opt);
    w.addEventListener('popstate', guard(function () { setTimeout(guard(pageView), 0); }));
    d.addEventListener('visibilitychange', guard(function () { if (d.visibilityState == 'hidden') flushUnloading(); }));
    w.addEventListener('pagehide', guard(flushUnloading));
    w.addEventListener('online', guard(function () { waitUntil = 0; flush(); }));
    patch('pushState');
    patch('replaceState');
    user = get('user') || user;
    pageView();
    flush();
  }

  w.ptrack = {
    version: '1',
    init: guard(init),
    // Metadata sent with every later event (say a user id or a plan); kept across pages.
    setUser: guard(function (meta) { user = meta && typeof meta == 'object' ? meta : {}; put('user', user); }),
    // Stops tracking for good on this browser and forgets what was not sent.
    optOut: guard(function () { put('optout', true); queue = []; save(); }),
    optIn: guard(function () { put('optout', false); }),
    flush: guard(function () { waitUntil = 0; flush(); }),
    track: guard(function (type, name) { track(type, null, name); }),
    stats: guard(function () {
      return {
        queued: queue.length, sent: n.sent, dropped: n.dropped, rejected: n.rejected,
        retries: n.retries, errors: n.errors, blocked: blocked(),
        sessionId: (get('session') || {}).id || null, anonymousId: get('anon') || null
      };
    })
  };
})(window, document);
