package handlers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/store"
)

// The audit log records who did what to which object, when, and how it
// ended, and every refused attempt. Conventions for callers of h.audit:
// action is a verb ("create", "attach", "detach", "delete", "start", "stop",
// "restart", "submit", "cancel", "signin", "token.create", …); object is
// "<kind>/<name>" ("compute/cpu-cluster", "run/<id>", "user/<id>",
// "token/<name>"). Neither ever holds a secret; the detail of a refusal or
// failure is the public message the caller was shown.

// auditScope lives in a request's context: the client address for events
// recorded deep in a call, and whether the request has been audited, so a
// refusal the handler already recorded is not recorded again by Fail.
type auditScope struct {
	remote   string
	recorded atomic.Bool
}

type auditScopeKey struct{}

// WithAuditScope prepares a request's context for auditing; the web
// middleware calls it once per request with the TCP peer's address.
func WithAuditScope(ctx context.Context, remoteAddr string) context.Context {
	return context.WithValue(ctx, auditScopeKey{}, &auditScope{remote: clientIP(remoteAddr)})
}

func scopeFrom(ctx context.Context) *auditScope {
	s, _ := ctx.Value(auditScopeKey{}).(*auditScope)
	return s
}

func clientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// withUser returns r as if u were signed in (audit events of sign-in and
// sign-out, where the context has no user yet or any more).
func withUser(r *http.Request, u *compute.User) *http.Request {
	return r.WithContext(compute.WithUser(r.Context(), u))
}

// audit records who did what to which object, and whether it was allowed.
// err is nil for a successful action. Input errors (422) are not recorded:
// nothing happened. It never records secrets: callers pass only verbs and
// object names.
func (h *Handlers) audit(r *http.Request, action, object string, err error) {
	remote := clientIP(r.RemoteAddr)
	if s := scopeFrom(r.Context()); s != nil {
		remote = s.remote
	}
	h.auditCtx(r.Context(), remote, action, object, err)
}

// auditCtx is audit for code that has a context but no request.
func (h *Handlers) auditCtx(ctx context.Context, remote, action, object string, err error) {
	if h.cfg.Store == nil {
		return
	}
	e := store.AuditEvent{Action: action, Object: object, Outcome: store.AuditSucceeded, Remote: remote}
	if remote == "" {
		if s := scopeFrom(ctx); s != nil {
			e.Remote = s.remote
		}
	}
	if err != nil {
		status, body := arm.FromError(err)
		switch {
		case errors.Is(err, compute.ErrForbidden) || errors.Is(err, compute.ErrUnauthenticated) ||
			status == http.StatusForbidden || status == http.StatusUnauthorized:
			e.Outcome = store.AuditDenied
		case errors.Is(err, compute.ErrInvalid) || status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
			return
		default:
			e.Outcome = store.AuditFailed
		}
		e.Detail = body.Error.Message
		if status >= 500 {
			e.Detail = "internal error"
		}
	}
	if u := compute.UserFrom(ctx); u != nil {
		e.UserID, e.UserName, e.Role = u.ID, u.Name, u.Role
		if u.RunID != "" {
			e.UserName += " (run " + u.RunID + ")"
		}
	}
	if s := scopeFrom(ctx); s != nil {
		s.recorded.Store(true)
	}
	// The audit write must not be lost with a cancelled request.
	if werr := h.cfg.Store.AppendAudit(context.WithoutCancel(ctx), e); werr != nil {
		h.cfg.Logger.ErrorContext(ctx, "audit log write failed", "action", action, "object", object, "err", werr)
	}
}

// auditRefusal records a refused request that no handler recorded: every
// 403 (role checks, cross-origin requests, per-object checks) and every 401
// on a state-changing request. Fail calls it.
func (h *Handlers) auditRefusal(r *http.Request, status int, err error) {
	if status != http.StatusForbidden && !(status == http.StatusUnauthorized && !isSafeMethod(r.Method)) {
		return
	}
	if s := scopeFrom(r.Context()); s != nil && s.recorded.Load() {
		return
	}
	action := r.Method + " " + r.URL.Path
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		action = r.Method + " " + rc.RoutePattern()
	}
	h.audit(r, action, r.URL.Path, err)
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// auditObject names a compute for the audit log.
func auditObject(kind, name string) string {
	return kind + "/" + strings.TrimSpace(name)
}
