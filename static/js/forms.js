// The size picker's search (create wizards): typing narrows the table to
// the sizes whose name, category, family or GPU contain every word typed,
// and says how many are left. Loaded from 'self' with the page's CSP nonce:
// no inline code, no eval. Without it, the whole table shows.
(function () {
  "use strict";

  function filter(input) {
    var body = document.getElementById(input.getAttribute("data-size-search"));
    if (!body) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    var rows = body.querySelectorAll("tr[data-search]");
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].getAttribute("data-search");
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      // A checked size stays visible: the choice is never hidden from view.
      var checked = rows[i].querySelector("input:checked");
      rows[i].hidden = !(match || checked);
      if (!rows[i].hidden) shown++;
    }
    var count = document.getElementById(input.getAttribute("aria-describedby"));
    if (count) count.textContent = shown + (shown === 1 ? " size" : " sizes");
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-size-search")) filter(e.target);
  });
})();
