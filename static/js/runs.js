// Upload progress for the submit form (/runs/new). Loaded from 'self' with
// the page's CSP nonce: no inline code and no eval (htmx runs with
// allowEval off). htmx fires htmx:xhr:progress on the element that made the
// request; its data-progress attribute names the <progress> to fill, and
// the status line after it says "1.2 MB of 3.4 MB".
(function () {
  "use strict";

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }

  // widget returns the progress bar and status line for an event's element.
  // The upload's own input is swapped out by its answer, so htmx fires
  // afterRequest again on an ancestor still in the page: the form, which
  // names the bar too.
  function widget(evt) {
    var el = evt.target && evt.target.closest ? evt.target.closest("[data-progress]") : null;
    if (!el) return null;
    var id = el.getAttribute("data-progress");
    if (!id) return null;
    var bar = document.getElementById(id);
    if (!bar) return null;
    var text = document.getElementById(id.replace(/progress$/, "text"));
    return { el: el, bar: bar, text: text };
  }

  function say(w, msg) {
    if (w.text) w.text.textContent = msg;
  }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var w = widget(evt);
    if (!w) return;
    w.bar.removeAttribute("value");
    w.bar.dataset.total = "0";
    say(w, "Uploading…");
  });

  document.addEventListener("htmx:xhr:progress", function (evt) {
    var w = widget(evt);
    var d = evt.detail || {};
    if (!w || !d.lengthComputable || !d.total) return;
    // The upload's events carry the request's size; the answer's own
    // (smaller) download events come after it and are not shown.
    if (d.total < Number(w.bar.dataset.total || 0)) return;
    w.bar.dataset.total = String(d.total);
    w.bar.max = d.total;
    w.bar.value = d.loaded;
    w.text.textContent = size(d.loaded) + " of " + size(d.total) + " sent";
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    var w = widget(evt);
    if (!w) return;
    var total = Number(w.bar.dataset.total || 0);
    if (evt.detail && evt.detail.successful) {
      w.bar.max = 1;
      w.bar.value = 1;
      say(w, total ? "Uploaded " + size(total) + "; checked by the server." : "Uploaded.");
    } else {
      w.bar.value = 0;
      say(w, "The upload failed. Check the connection and choose the files again.");
    }
  });
})();
