// The analytics page: polls the demo's /api/events and /api/stats (forwarded to the
// events API) every second and shows what arrived.
(function () {
  'use strict';
  var rows = document.querySelector('#events tbody');
  var status = document.getElementById('status');
  var counts = document.getElementById('counts');
  var firstSeen = {};
  var started = Date.now();

  function cell(tr, text) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    tr.appendChild(td);
  }
  function secs(ms) { return (ms / 1000).toFixed(2) + ' s'; }

  function get(path) {
    return fetch(path, { cache: 'no-store' }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body && body.error || ('HTTP ' + res.status));
        return body;
      });
    });
  }

  function showEvents(events) {
    var now = Date.now();
    rows.textContent = '';
    events.forEach(function (e) {
      var fresh = !(e.event_id in firstSeen);
      if (fresh) firstSeen[e.event_id] = now;
      var tr = document.createElement('tr');
      tr.setAttribute('data-event-id', e.event_id);
      tr.setAttribute('data-event-type', e.event_type);
      tr.setAttribute('data-component', e.component_name || '');
      if (fresh && now - started > 1500) tr.className = 'new';
      cell(tr, new Date(e.timestamp).toLocaleTimeString());
      cell(tr, e.event_type);
      cell(tr, e.component_name);
      cell(tr, e.page_path);
      cell(tr, e.full_event_data && e.full_event_data.sequence);
      cell(tr, (e.session_id || '').slice(0, 8));
      cell(tr, secs(Date.parse(e.inserted_at) - e.timestamp));
      // Only for events made while this page was open: older ones waited for the page.
      cell(tr, e.timestamp >= started ? secs(firstSeen[e.event_id] - e.timestamp) : '');
      rows.appendChild(tr);
    });
  }

  function showCounts(stats) {
    counts.textContent = '';
    var types = Object.keys(stats.by_type).sort();
    [['ALL', stats.total]].concat(types.map(function (t) { return [t, stats.by_type[t]]; }))
      .forEach(function (pair) {
        var div = document.createElement('div');
        div.className = 'count';
        div.setAttribute('data-type', pair[0]);
        var b = document.createElement('b');
        b.textContent = pair[1];
        div.appendChild(b);
        div.appendChild(document.createTextNode(pair[0]));
        counts.appendChild(div);
      });
  }

  function poll() {
    Promise.all([get('/api/events?limit=50'), get('/api/stats')])
      .then(function (both) {
        showEvents(both[0]);
        showCounts(both[1]);
        status.className = 'status';
        status.textContent = 'Live: updated ' + new Date().toLocaleTimeString() + '. Click around the shop in another tab.';
      })
      .catch(function (err) {
        status.className = 'status down';
        status.textContent = 'No answer: ' + err.message + ' (retrying every second)';
      })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
