// Live updates for dashboard pages: no inline script, nothing needed for the page to work.
// The page names its rooms in <body data-live-rooms="org:1 repo:2">; sections that can change
// carry data-live="name". On an event we refetch this same URL and swap those sections in.
(function () {
  "use strict";
  var rooms = (document.body.getAttribute("data-live-rooms") || "").split(" ").filter(Boolean);
  if (!rooms.length || !("WebSocket" in window)) { return; }
  var status = document.getElementById("live-status");
  var attempt = 0;
  var connectedBefore = false;
  var refreshTimer = null;
  var MAX_DELAY_MS = 30000;

  function say(text) { if (status) { status.textContent = text; } }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (old) {
          var name = old.getAttribute("data-live");
          var replacement = fresh.querySelector('[data-live="' + name + '"]');
          if (replacement) { old.replaceWith(document.importNode(replacement, true)); }
        });
        document.body.setAttribute("data-live-updated", String(Date.now()));
        say("Updated " + new Date().toLocaleTimeString());
      })
      .catch(function () { say("Could not refresh; reload the page to see the latest figures."); });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var query = rooms.map(function (r) { return "room=" + encodeURIComponent(r); }).join("&");
    var socket = new WebSocket(scheme + window.location.host + "/api/live?" + query);
    var opened = false;
    socket.onopen = function () {
      opened = true;
      attempt = 0;
      document.body.setAttribute("data-live-connected", "true");
      // Back after a drop: events sent meanwhile are lost, so fetch the page once.
      if (connectedBefore) { refresh(); }
      connectedBefore = true;
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.type === "hello") { return; }
      clearTimeout(refreshTimer);  // a burst of events is one refresh
      refreshTimer = setTimeout(refresh, 300);
    };
    socket.onclose = function (event) {
      document.body.setAttribute("data-live-connected", "false");
      if (event.code === 4401) { signedOut(); return; }
      if (opened) { retry(); return; }
      // A refused handshake (401 after signing out) looks like any dropped connection to a
      // page: ask for the page itself; signed out, it redirects to the landing page.
      fetch(window.location.href, { credentials: "same-origin", redirect: "manual" })
        .then(function (response) {
          if (response.type === "opaqueredirect") { signedOut(); } else { retry(); }
        }, retry);
    };
  }

  function signedOut() { say("Signed out: live updates stopped."); }

  function retry() {
    var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt += 1;
    setTimeout(connect, delay);
  }
  connect();
}());
