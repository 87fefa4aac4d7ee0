package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/pages"
)

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

// Login handles GET /login. With an OpenID provider configured it starts
// the sign-in there; otherwise it takes ?token=T[&next=/path]: with the
// right token it starts a browser session (a new session ID each time) and
// redirects to a local path, and without one it explains where the link is.
func (h *Handlers) Login(w http.ResponseWriter, r *http.Request) error {
	if h.OIDCEnabled() {
		return h.startOIDC(w, r)
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "SignInRequired",
			Message: "Open the login link that `trainyard serve` printed in its terminal (it ends in /login?token=…)."}
	}
	if !h.TokenMatches(token) {
		h.cfg.Logger.WarnContext(r.Context(), "login refused: wrong token", "remote", r.RemoteAddr)
		err := &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "InvalidToken",
			Message: "This login link is not valid. Use the newest link printed by `trainyard serve`."}
		h.audit(r, "signin", "", err)
		return err
	}
	u := LocalUser()
	if err := h.startSession(w, r, u, "", store.SessionOptions{Method: "token"}); err != nil {
		return err
	}
	h.audit(withUser(r, &u), "signin", "user/"+u.ID, nil)
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
	return nil
}

// Logout handles POST /logout: it revokes the server-side session, clears
// the cookie, and — after an OpenID sign-in, when the provider has an
// end_session_endpoint — sends the browser there to end the provider's
// session too (it comes back to /signed-out).
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) error {
	next := "/signed-out"
	if c, err := r.Cookie(h.SessionCookieName()); err == nil && c.Value != "" {
		ended, err := h.cfg.Store.EndSession(r.Context(), c.Value)
		switch {
		case err == nil:
			u := &compute.User{ID: ended.UserID, Name: ended.UserName, Role: ended.Role}
			h.audit(withUser(r, u), "signout", "user/"+u.ID, nil)
			if ended.Method == "oidc" && h.OIDCEnabled() {
				if end := h.cfg.OIDC.endSessionURL(ended.LoginHint); end != "" {
					next = end
				}
			}
		case !errors.Is(err, compute.ErrNotFound):
			return err
		}
	}
	h.clearSessionCookie(w)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// SignedOut handles GET /signed-out.
func (h *Handlers) SignedOut(w http.ResponseWriter, r *http.Request) error {
	vm := pages.SignInVM{Page: h.page(r, "Signed out", "", nil), Message: "You are signed out."}
	if h.OIDCEnabled() {
		vm.ActionHref, vm.ActionLabel = "/login", "Sign in again"
	} else {
		vm.Detail = "Open the login link that `trainyard serve` printed to sign back in."
	}
	return h.render(w, r, http.StatusOK, pages.SignIn(vm))
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
