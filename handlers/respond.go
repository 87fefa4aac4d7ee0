package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// flashCookie carries a one-line message across a redirect (PRG). A cookie,
// not a query parameter, so nobody can craft a link that shows their text.
const flashCookie = "trainyard_flash"

func setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

type nonceKey struct{}

// WithNonce stores the request's CSP nonce for the page frame.
func WithNonce(ctx context.Context, nonce string) context.Context {
	return context.WithValue(ctx, nonceKey{}, nonce)
}

// NonceFrom is the request's CSP nonce ("" outside the security headers).
func NonceFrom(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Wrap turns a HandlerFunc into an http.HandlerFunc: errors become the one
// error page (a full page, an htmx partial, or a JSON body under /api/),
// and only unexpected ones are logged.
func (h *Handlers) Wrap(fn HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.Fail(w, r, err)
		}
	}
}

// Fail writes err in the form the request expects.
func (h *Handlers) Fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := arm.FromError(err)
	if status >= 500 {
		h.cfg.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h.auditRefusal(r, status, err)
	if isMLflowPath(r.URL.Path) {
		// The tracking client reads MLflow's error shape (mlflow.go).
		mlStatus, mlBody := mlflowStatus(err)
		writeJSON(w, mlStatus, mlBody)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, body)
		return
	}
	msg := body.Error.Message
	if isHTMX(r) {
		_ = h.render(w, r, status, pages.ErrorPartial(msg))
		return
	}
	vm := pages.ErrorVM{Page: h.page(r, errorTitle(status), "", nil), Status: status, Message: msg}
	_ = h.render(w, r, status, pages.Error(vm))
}

func errorTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusUnauthorized:
		return "Sign in needed"
	case http.StatusConflict:
		return "Not possible now"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "Check the input"
	}
	return "Something went wrong"
}

// render writes a component through a buffer, so a failing component becomes
// a clean error instead of half a page.
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := r.Cookie(flashCookie); err == nil && !isHTMX(r) {
		// The full page showed the flash: it is said once.
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// page builds the frame's view model for a request.
func (h *Handlers) page(r *http.Request, title, nav string, crumbs []layout.Crumb) layout.Page {
	p := layout.Page{Title: title, Nav: nav, Breadcrumbs: crumbs, Nonce: NonceFrom(r.Context()), Unsandboxed: h.cfg.Unsandboxed}
	if h.cfg.Assets != nil {
		p.CSSURL = h.cfg.Assets.URL("css/app.css")
		p.HtmxURL = h.cfg.Assets.URL("js/htmx.min.js")
	}
	if u := compute.UserFrom(r.Context()); u != nil {
		p.UserName, p.UserRole = u.Name, u.Role.String()
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		p.Flash, _ = url.QueryUnescape(c.Value)
	}
	return p
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Compact: clients that show JSON to people (the CLI) indent it themselves.
	_ = json.NewEncoder(w).Encode(v)
}

// require returns ErrForbidden unless the signed-in user has the role.
func require(r *http.Request, role compute.Role) error {
	u := compute.UserFrom(r.Context())
	if u == nil {
		return compute.ErrUnauthenticated
	}
	if !u.Can(role) {
		return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
			Message: "Your role (" + u.Role.String() + ") does not allow this; it needs " + role.String() + "."}
	}
	return nil
}

// actor names the signed-in user for created-by and audit fields.
func actor(r *http.Request) string {
	if u := compute.UserFrom(r.Context()); u != nil {
		return u.Name
	}
	return ""
}
