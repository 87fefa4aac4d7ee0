// The terminal page: xterm.js on a WebSocket to a login shell on the
// instance (handlers/terminal.go). Keystrokes and the shell's output travel
// as binary messages; the terminal's size as a JSON text message.
(function () {
  "use strict";
  var el = document.getElementById("terminal");
  var status = document.getElementById("terminal-status");
  var term = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", fontSize: 14 });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  var proto = location.protocol === "https:" ? "wss:" : "ws:";
  var url = proto + "//" + location.host + el.dataset.socket + "?rows=" + term.rows + "&cols=" + term.cols;
  var ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  var enc = new TextEncoder();
  ws.onopen = function () { status.textContent = "Connected"; el.dataset.state = "open"; term.focus(); };
  ws.onmessage = function (ev) {
    if (typeof ev.data !== "string") { term.write(new Uint8Array(ev.data)); }
  };
  ws.onclose = function (ev) {
    el.dataset.state = "closed";
    status.textContent = "Disconnected" + (ev.reason ? ": " + ev.reason : "");
    term.write("\r\n\x1b[2m[" + (ev.reason || "disconnected") + "]\x1b[0m\r\n");
  };
  term.onData(function (d) { if (ws.readyState === WebSocket.OPEN) { ws.send(enc.encode(d)); } });
  term.onBinary(function (d) {
    if (ws.readyState !== WebSocket.OPEN) { return; }
    var b = new Uint8Array(d.length);
    for (var i = 0; i < d.length; i++) { b[i] = d.charCodeAt(i) & 255; }
    ws.send(b);
  });
  term.onResize(function (s) {
    if (ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify({ rows: s.rows, cols: s.cols })); }
  });
  window.addEventListener("resize", function () { fit.fit(); });
})();
