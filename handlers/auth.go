package handlers

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// SessionCookie is the name of the browser session cookie; it carries only
// an opaque token whose hash the store keeps.
const SessionCookie = "trainyard_session"

// LocalUser is who the embedded login token signs in as.
func LocalUser() compute.User {
	return compute.User{ID: "local", Name: "local", Role: compute.RoleAdmin}
}

// TokenMatches compares a presented token with the login token in constant time.
func (h *Handlers) TokenMatches(token string) bool {
	return h.cfg.LoginToken != "" && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.cfg.LoginToken)) == 1
}

// ResolveLoginToken accepts the embedded default's login token as a bearer
// token for the JSON API and CLI.
func (h *Handlers) ResolveLoginToken(_ context.Context, token string) (*compute.User, error) {
	if !h.TokenMatches(token) {
		return nil, compute.ErrUnauthenticated
	}
	u := LocalUser()
	return &u, nil
}

// Login handles GET /login?token=T[&next=/path]: with the right token it starts
// a browser session (a new session ID each time) and redirects to a local
// path; without one it explains where the link is.
func (h *Handlers) Login(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if token == "" {
		return &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "SignInRequired",
			Message: "Open the login link that `trainyard serve` printed in its terminal (it ends in /login?token=…)."}
	}
	if !h.TokenMatches(token) {
		h.cfg.Logger.WarnContext(r.Context(), "login refused: wrong token", "remote", r.RemoteAddr)
		return &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "InvalidToken",
			Message: "This login link is not valid. Use the newest link printed by `trainyard serve`."}
	}
	sid, err := h.cfg.Sessions.CreateSession(r.Context(), LocalUser(), h.cfg.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: sid, Path: "/", HttpOnly: true, Secure: h.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(h.cfg.SessionTTL.Seconds()),
	})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
	return nil
}

// Logout handles POST /logout: it revokes the server-side session.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := h.cfg.Sessions.RevokeSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
	return nil
}

// SignedOut handles GET /signed-out.
func (h *Handlers) SignedOut(w http.ResponseWriter, r *http.Request) error {
	return &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "SignedOut", Message: "You are signed out. Open the login link again to sign back in."}
}

// localPath accepts only a path on this site, so a login link can never
// redirect elsewhere (no scheme, no host, no //, no backslash).
func localPath(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") || strings.ContainsAny(next, "\r\n\t") {
		return "/computes"
	}
	return next
}

// Health handles GET /healthz.
func (h *Handlers) Health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
