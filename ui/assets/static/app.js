// sparkcd ui: reads the page again when the server says a SparkJob or a
// JobSource changed (server-sent events), and swaps in its <main>: live
// updates without a reload. No other script, no external resource.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var busy = false;
  var again = false;
  var connected = false;

  function setState(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(location.pathname + location.search, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var next = doc.getElementById('main');
        var cur = document.getElementById('main');
        if (next && cur) {
          cur.replaceWith(document.adoptNode(next));
          document.title = doc.title;
        }
        document.body.dataset.updates = String(Number(document.body.dataset.updates || '0') + 1);
      })
      .catch(function () { setState('error', 'update failed'); })
      .finally(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  if (!window.EventSource) {
    setState('off', 'no live updates');
    return;
  }
  var events = new EventSource('/events');
  events.addEventListener('ready', function () {
    setState('live', 'live');
    if (connected) {
      refresh(); // changes may have been missed while disconnected
    }
    connected = true;
  });
  events.addEventListener('change', refresh);
  events.onerror = function () { setState('connecting', 'reconnecting…'); };
})();
