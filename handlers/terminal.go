package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/pages"
)

// Terminal handles GET /computes/{name}/terminal: a page holding one
// terminal (xterm.js) connected to a login shell on the instance. Each
// page (each browser tab) is a shell of its own.
func (h *Handlers) Terminal(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	if _, _, err := h.appsOpener(r, name, "terminal"); err != nil {
		return err
	}
	allowInlineStyles(w)
	vm := pages.TerminalVM{
		Name:      name,
		Nonce:     NonceFrom(r.Context()),
		SocketURL: "/computes/" + url.PathEscape(name) + "/terminal/socket",
		BackURL:   "/computes/" + url.PathEscape(name),
	}
	if a := h.cfg.Assets; a != nil {
		vm.CSSURL, vm.XtermCSSURL = a.URL("css/app.css"), a.URL("css/xterm.css")
		vm.ScriptURLs = []string{a.URL("js/xterm.js"), a.URL("js/addon-fit.js"), a.URL("js/terminal.js")}
	}
	return h.render(w, r, http.StatusOK, pages.Terminal(vm))
}

// allowInlineStyles lets xterm.js, which sizes and colours the terminal
// with <style> elements it makes at run time (they carry no nonce), style
// this one page. Scripts stay nonce-only.
func allowInlineStyles(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1))
}

// terminalControl is a text message from the page: the terminal's new size.
// Keystrokes come as binary messages, so no typed text is ever parsed here.
type terminalControl struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// TerminalSocket handles GET /computes/{name}/terminal/socket: the
// WebSocket between a terminal page and its shell. The session (cookie or
// token) was checked by the route; here the user must be the instance's
// own, the instance running, and the Origin this server's (websocket.Accept
// refuses a cross-origin upgrade: a page elsewhere cannot drive the shell
// with the user's cookie). Binary messages carry the terminal's bytes both
// ways; text messages from the page carry its size. The shell ends when the
// socket closes, and the socket closes when the shell exits.
func (h *Handlers) TerminalSocket(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	t, so, err := h.appsOpener(r, name, "terminal")
	if err != nil {
		return err
	}
	size := compute.TTYSize{Rows: dimension(r.URL.Query().Get("rows"), 24), Cols: dimension(r.URL.Query().Get("cols"), 80)}
	clearDeadlines(w)
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		h.audit(r, "open terminal", auditObject("compute", name), &compute.CodedError{Kind: compute.ErrForbidden, Code: "BadOrigin", Message: err.Error()})
		return nil // Accept has answered
	}
	ctx := r.Context()
	s, err := so.OpenSession(ctx, t, compute.SessionSpec{Purpose: "terminal", TTY: &size,
		Env: map[string]string{"TERM": "xterm-256color", "COLORTERM": "truecolor"}})
	if err != nil {
		h.cfg.Logger.Warn("terminal could not start", "target", name, "err", err)
		_ = c.Close(websocket.StatusInternalError, closeReason("the terminal could not start: "+err.Error()))
		return nil
	}
	h.audit(r, "open terminal", auditObject("compute", name), nil)
	defer s.Close()

	shellDone := make(chan struct{})
	go func() {
		defer close(shellDone)
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				if werr := c.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = c.Close(websocket.StatusNormalClosure, "the shell exited")
				return
			}
		}
	}()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			break // the page went away (or the shell's end closed the socket)
		}
		if typ == websocket.MessageBinary {
			if _, err := s.Write(data); err != nil {
				break
			}
			continue
		}
		var ctl terminalControl
		if json.Unmarshal(data, &ctl) == nil && ctl.Rows > 0 && ctl.Cols > 0 {
			_ = s.Resize(compute.TTYSize{Rows: ctl.Rows, Cols: ctl.Cols})
		}
	}
	_ = s.Close()
	select {
	case <-shellDone:
	case <-time.After(5 * time.Second):
	}
	_ = c.CloseNow()
	return nil
}

// dimension is a terminal's rows or columns from the page, within reason.
func dimension(v string, def uint16) uint16 {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return def
	}
	return uint16(n)
}

// clearDeadlines lifts the server's ReadTimeout from a connection that
// becomes a WebSocket: a terminal stays open for hours.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// closeReason fits a WebSocket close reason (at most 123 bytes).
func closeReason(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:120]
}
