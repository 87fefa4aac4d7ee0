package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// tokenDays are the lifetimes a personal access token can be given.
var tokenDays = []struct {
	days  int
	label string
}{{7, "7 days"}, {30, "30 days"}, {90, "90 days"}, {365, "1 year"}}

const defaultTokenDays = "30"

// Profile handles GET /profile: who you are, your access tokens, your sessions.
func (h *Handlers) Profile(w http.ResponseWriter, r *http.Request) error {
	vm, err := h.profileVM(r)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, pages.Profile(vm))
}

func (h *Handlers) profileVM(r *http.Request) (pages.ProfileVM, error) {
	u := compute.UserFrom(r.Context())
	vm := pages.ProfileVM{
		Page: h.page(r, "Profile", "profile", []layout.Crumb{{Label: "Profile"}}),
		Name: u.Name, UserID: u.ID, Role: u.Role.String(), Method: "the login token", TokenDays: defaultTokenDays,
		CanMakeToken: u.RunID == "", DayOptions: dayOptions(defaultTokenDays),
	}
	if h.OIDCEnabled() {
		vm.Method = "your organisation's identity provider (" + h.cfg.OIDC.Issuer() + ")"
	}
	if rec, err := h.cfg.Store.GetUser(r.Context(), u.ID); err == nil {
		vm.Email = rec.Email
	} else if !errors.Is(err, compute.ErrNotFound) {
		return vm, err
	}
	tokens, err := h.cfg.Store.ListAccessTokens(r.Context(), u.ID)
	if err != nil {
		return vm, err
	}
	now := h.cfg.Now()
	for _, t := range tokens {
		row := pages.TokenRowVM{ID: t.ID, Name: t.Name, Created: formatTime(t.CreatedAt), Expires: formatTime(t.ExpiresAt),
			LastUsed: formatTime(t.LastUsedAt), Status: "Active"}
		switch {
		case !t.RevokedAt.IsZero():
			row.Status = "Revoked " + formatTime(t.RevokedAt)
		case !now.Before(t.ExpiresAt):
			row.Status = "Expired"
		default:
			row.RevokeURL = "/profile/tokens/" + t.ID + "/revoke"
		}
		if row.LastUsed == "" {
			row.LastUsed = "Never"
		}
		vm.Tokens = append(vm.Tokens, row)
	}
	sessions, err := h.cfg.Store.ListSessions(r.Context(), u.ID)
	if err != nil {
		return vm, err
	}
	current := ""
	if c, err := r.Cookie(h.SessionCookieName()); err == nil && c.Value != "" {
		current = store.SessionHandle(c.Value)
	}
	for _, s := range sessions {
		vm.Sessions = append(vm.Sessions, sessionRow(s, s.Handle == current, ""))
	}
	return vm, nil
}

func sessionRow(s store.SessionInfo, current bool, revokeURL string) pages.SessionRowVM {
	method := "Login token"
	if s.Method == "oidc" {
		method = "Identity provider"
	}
	return pages.SessionRowVM{Handle: s.Handle, User: s.UserName + " (" + s.UserID + ")", Role: s.Role.String(), Method: method,
		Created: formatTime(s.CreatedAt), LastSeen: formatTime(s.LastSeen), Expires: formatTime(s.ExpiresAt), Current: current, RevokeURL: revokeURL}
}

func dayOptions(selected string) []pages.OptionVM {
	var out []pages.OptionVM
	for _, d := range tokenDays {
		v := strconv.Itoa(d.days)
		out = append(out, pages.OptionVM{Value: v, Label: d.label, Selected: v == selected})
	}
	return out
}

// CreateToken handles POST /profile/tokens (name, days): it creates a
// personal access token and shows it once, on the page it answers with
// (never in a redirect, a cookie or a log).
func (h *Handlers) CreateToken(w http.ResponseWriter, r *http.Request) error {
	u := compute.UserFrom(r.Context())
	if u.RunID != "" {
		return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Message: "A run's token cannot create access tokens."}
	}
	if err := r.ParseForm(); err != nil {
		return compute.Invalid("form", "the form could not be read: %v", err)
	}
	name, daysText := r.PostForm.Get("name"), r.PostForm.Get("days")
	days, err := strconv.Atoi(daysText)
	valid := false
	for _, d := range tokenDays {
		valid = valid || d.days == days
	}
	if err != nil || !valid {
		return compute.Invalid("days", "Choose how long the token lasts: 7, 30, 90 or 365 days.")
	}
	token, t, err := h.cfg.Store.CreateAccessToken(r.Context(), *u, name, time.Duration(days)*24*time.Hour)
	var verr *compute.ValidationError
	if errors.As(err, &verr) || errors.Is(err, compute.ErrInvalid) {
		vm, vmErr := h.profileVM(r)
		if vmErr != nil {
			return vmErr
		}
		vm.TokenName, vm.TokenDays = name, daysText
		vm.TokenError = err.Error()
		if verr != nil && len(verr.Fields) > 0 {
			vm.TokenError = verr.Fields[0].Message
		}
		vm.DayOptions = dayOptions(vm.TokenDays)
		return h.render(w, r, http.StatusUnprocessableEntity, pages.Profile(vm))
	}
	h.audit(r, "token.create", "token/"+t.Name, err)
	if err != nil {
		return err
	}
	vm, err := h.profileVM(r)
	if err != nil {
		return err
	}
	vm.NewToken, vm.NewTokenName = token, t.Name
	vm.DayOptions = dayOptions(defaultTokenDays)
	return h.render(w, r, http.StatusOK, pages.Profile(vm))
}

// RevokeToken handles POST /profile/tokens/{id}/revoke: only the token's
// owner can revoke it.
func (h *Handlers) RevokeToken(w http.ResponseWriter, r *http.Request) error {
	u := compute.UserFrom(r.Context())
	t, err := h.cfg.Store.RevokeAccessToken(r.Context(), u.ID, chi.URLParam(r, "id"))
	object := "token/" + chi.URLParam(r, "id")
	if err == nil {
		object = "token/" + t.Name
	}
	h.audit(r, "token.revoke", object, err)
	if err != nil {
		return err
	}
	setFlash(w, "Token “"+t.Name+"” revoked.")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}

// SignOutEverywhere handles POST /profile/sessions/revoke: it ends every
// session of the user, this one included.
func (h *Handlers) SignOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	u := compute.UserFrom(r.Context())
	_, err := h.cfg.Store.RevokeUserSessions(r.Context(), u.ID)
	h.audit(r, "signout.everywhere", "user/"+u.ID, err)
	if err != nil {
		return err
	}
	h.clearSessionCookie(w)
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
	return nil
}

// ResolveAccessToken is the bearer-token resolver for personal access
// tokens (a web.TokenResolver). With an OpenID provider configured, tokens
// of the login-token user "local" no longer work.
func (h *Handlers) ResolveAccessToken(ctx context.Context, token string) (*compute.User, error) {
	if h.cfg.Store == nil {
		return nil, compute.ErrUnauthenticated
	}
	u, err := h.cfg.Store.ResolveAccessToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if h.OIDCEnabled() && u.ID == LocalUser().ID {
		return nil, compute.ErrUnauthenticated
	}
	return u, nil
}

// Me handles GET /api/v1/me: who the caller is (the CLI's `trainyard login`
// checks a token with it).
func (h *Handlers) Me(w http.ResponseWriter, r *http.Request) error {
	u := compute.UserFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"id": u.ID, "name": u.Name, "role": u.Role.String()})
	return nil
}
