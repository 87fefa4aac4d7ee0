package handlers

import (
	"net/http"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
)

// SessionCookie is the name of the browser session cookie over plain http;
// it carries only an opaque token whose hash the store keeps.
const SessionCookie = "trainyard_session"

// SecureSessionCookie is its name over https: the __Host- prefix makes the
// browser insist on Secure, Path=/ and no Domain, so no subdomain can plant it.
const SecureSessionCookie = "__Host-trainyard_session"

// SessionCookieName is the session cookie's name on this server.
func (h *Handlers) SessionCookieName() string {
	if h.cfg.SecureCookies {
		return SecureSessionCookie
	}
	return SessionCookie
}

// OIDCEnabled reports whether people sign in with an OpenID provider (and
// the login token is off).
func (h *Handlers) OIDCEnabled() bool { return h.cfg.OIDC != nil }

// FormActionOrigins are the origins besides 'self' that forms may lead to:
// the OpenID provider's, since sign-out POSTs redirect to it.
func (h *Handlers) FormActionOrigins() []string { return h.cfg.OIDC.Origins() }

// setSessionCookie starts the browser session: HttpOnly, SameSite=Lax,
// Secure and __Host- over https, no Domain.
func (h *Handlers) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.SessionCookieName(), Value: token, Path: "/", HttpOnly: true, Secure: h.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(h.cfg.SessionTTL.Seconds()),
	})
}

func (h *Handlers) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: h.SessionCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// startSession records the sign-in, ends the browser's previous session (a
// new session ID at every sign-in: no fixation) and sets the new cookie.
func (h *Handlers) startSession(w http.ResponseWriter, r *http.Request, u compute.User, email string, opts store.SessionOptions) error {
	ctx := r.Context()
	if err := h.cfg.Store.RecordSignIn(ctx, store.UserRecord{ID: u.ID, Name: u.Name, Email: email, Role: u.Role}); err != nil {
		return err
	}
	if c, err := r.Cookie(h.SessionCookieName()); err == nil && c.Value != "" {
		_, _ = h.cfg.Store.EndSession(ctx, c.Value)
	}
	token, err := h.cfg.Store.CreateSessionWith(ctx, u, h.cfg.SessionTTL, opts)
	if err != nil {
		return err
	}
	h.setSessionCookie(w, token)
	return nil
}
