// Live pages: the fallback when the page's event stream is down. A live page
// holds one Server-Sent Events stream (<body sse-connect="/events?w=…">, htmx's
// SSE extension); each live section ([data-live]) fetches itself again on
// its "changed" event (hx-trigger="sse:changed, live-poll"). While the
// stream is down this script fires live-poll on every live section every
// few seconds instead, and once the stream is back it fires one more, since
// changes made meanwhile were never announced. Loaded from 'self' with the
// page's CSP nonce: no inline code, no eval.
(function () {
  "use strict";

  var pollEvery = 3000; // ms between polls while the stream is down
  var timer = null;
  var wasDown = false;

  function pollAll() {
    var els = document.querySelectorAll("[data-live]");
    for (var i = 0; i < els.length; i++) {
      window.htmx.trigger(els[i], "live-poll");
    }
  }

  document.addEventListener("htmx:sseError", function () {
    wasDown = true;
    document.body.setAttribute("data-live-state", "polling");
    if (timer === null) timer = window.setInterval(pollAll, pollEvery);
  });

  document.addEventListener("htmx:sseOpen", function () {
    document.body.setAttribute("data-live-state", "streaming");
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
    if (wasDown) {
      wasDown = false;
      pollAll();
    }
  });

  // A one-line message after an action ("cpu-cluster is being created")
  // is news, not state: it goes once the page has shown the next change,
  // or when its close button is pressed.
  function dismissFlash() {
    var f = document.querySelector("[data-flash]");
    if (f) f.remove();
  }
  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-flash-close]")) dismissFlash();
  });
  document.addEventListener("htmx:sseMessage", function () {
    var f = document.querySelector("[data-flash]");
    if (f && Date.now() - Number(f.getAttribute("data-shown") || 0) > 4000) dismissFlash();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var f = document.querySelector("[data-flash]");
    if (f) f.setAttribute("data-shown", String(Date.now()));
  });
})();
