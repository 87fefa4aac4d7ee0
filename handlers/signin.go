package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/pages"
)

// Login-transaction cookie values.
const (
	txState    = "state"
	txNonce    = "nonce"
	txVerifier = "verifier"
	txNext     = "next"
)

// startOIDC begins an OpenID Connect sign-in: fresh state, nonce and PKCE
// verifier; the state's hash goes to the store (single use), all three and
// the page to return to go into the encrypted login cookie that binds the
// sign-in to this browser; then the browser goes to the provider.
func (h *Handlers) startOIDC(w http.ResponseWriter, r *http.Request) error {
	o := h.cfg.OIDC
	state, nonce, verifier := randomString(32), randomString(32), oauth2.GenerateVerifier()
	if err := h.cfg.Store.BeginLogin(r.Context(), state, loginTTL); err != nil {
		return err
	}
	tx, _ := o.txStore.New(r, o.txCookie) // a stale or foreign cookie is replaced
	tx.IsNew = true
	tx.Values = map[any]any{txState: state, txNonce: nonce, txVerifier: verifier, txNext: localPath(r.URL.Query().Get("next"))}
	if err := tx.Save(r, w); err != nil {
		return err
	}
	http.Redirect(w, r, o.authCodeURL(state, nonce, verifier), http.StatusFound)
	return nil
}

// AuthCallback handles GET /auth/callback, where the provider sends the
// browser back with ?code=&state= (response_mode=query). It checks that the
// state is this browser's and unused, redeems the code with the PKCE
// verifier, verifies the ID token and its nonce, maps the claims to a user
// and role, and starts a new session. Every refusal is a page that says
// what to do, and an audit event.
func (h *Handlers) AuthCallback(w http.ResponseWriter, r *http.Request) error {
	o := h.cfg.OIDC
	if o == nil {
		return compute.NotFoundf("path", "Sign-in with an identity provider is not configured on this server.")
	}
	q := r.URL.Query()
	tx, txErr := o.txStore.New(r, o.txCookie)
	// The login cookie is used once, whatever happens next.
	clear := *o.txStore.Options
	clear.MaxAge = -1
	tx.Options = &clear
	_ = tx.Save(r, w)

	fail := func(e *signinError) error { return h.signinRefused(w, r, e) }
	if code := q.Get("error"); code != "" {
		return fail(&signinError{Status: http.StatusUnauthorized, Code: "ProviderError", Reason: "provider returned error " + safeCode(code),
			Message: "The identity provider did not sign you in (" + safeCode(code) + "). " + tryAgain})
	}
	want, _ := tx.Values[txState].(string)
	if txErr != nil || want == "" {
		return fail(&signinError{Status: http.StatusBadRequest, Code: "SignInExpired", Reason: "no valid login cookie",
			Message: "This sign-in has expired or was started in another browser. Start again from the sign-in link."})
	}
	state := q.Get("state")
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(want)) != 1 {
		return fail(&signinError{Status: http.StatusBadRequest, Code: "StateMismatch", Reason: "state does not match the login cookie",
			Message: "This sign-in answer does not belong to this browser's sign-in. Start again from the sign-in link."})
	}
	if err := h.cfg.Store.ConsumeLogin(r.Context(), state); err != nil {
		if !errors.Is(err, compute.ErrUnauthenticated) {
			return err
		}
		return fail(&signinError{Status: http.StatusBadRequest, Code: "StateReplayed", Reason: "state already used or expired",
			Message: "This sign-in answer was already used or has expired. Start again from the sign-in link."})
	}
	code := q.Get("code")
	if code == "" {
		return fail(signinFailed("NoCode", "callback without a code"))
	}
	nonce, _ := tx.Values[txNonce].(string)
	verifier, _ := tx.Values[txVerifier].(string)
	claims, refresh, err := o.exchange(r.Context(), code, verifier, nonce)
	var se *signinError
	if errors.As(err, &se) {
		return fail(se)
	} else if err != nil {
		return err
	}
	u, err := o.userOf(claims)
	if errors.As(err, &se) {
		return fail(se)
	} else if err != nil {
		return err
	}
	if err := h.startSession(w, r, u, claims.email(), store.SessionOptions{Method: "oidc", SID: claims.SID, LoginHint: claims.LoginHint}); err != nil {
		return err
	}
	if refresh != "" && o.cfg.RefreshTokens != nil {
		// Delegated access to Azure Resource Manager: kept sealed, never shown.
		if err := o.cfg.RefreshTokens.PutAzureRefreshToken(r.Context(), u.ID, refresh); err != nil {
			return err
		}
	}
	h.audit(withUser(r, &u), "signin", "user/"+u.ID, nil)
	next, _ := tx.Values[txNext].(string)
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
	return nil
}

// signinRefused logs, audits and shows a refused sign-in.
func (h *Handlers) signinRefused(w http.ResponseWriter, r *http.Request, e *signinError) error {
	h.cfg.Logger.WarnContext(r.Context(), "sign-in refused", "code", e.Code, "reason", e.Reason, "remote", r.RemoteAddr)
	ar := r
	object := ""
	if e.User != nil {
		ar, object = withUser(r, e.User), "user/"+e.User.ID
	}
	h.audit(ar, "signin", object, &compute.CodedError{Kind: compute.ErrForbidden, Code: e.Code, Message: e.Code + ": " + e.Reason})
	vm := pages.SignInVM{Page: h.page(r, "Sign-in failed", "", nil), Status: e.Status, Code: e.Code, Message: e.Message,
		ActionHref: "/login", ActionLabel: "Try again"}
	// The page is about this sign-in, not about a session the browser may
	// still have: no user menu, no admin navigation.
	vm.Page.UserName, vm.Page.UserRole = "", ""
	if e.Code == "NoRole" || e.Code == "GroupsOverage" {
		vm.Page.Title = "No access"
		if e.User != nil {
			vm.Detail = "Signed in as " + e.User.Name + " (" + e.User.ID + ")."
		}
	}
	return h.render(w, r, e.Status, pages.SignIn(vm))
}

// safeCode keeps an OAuth error code shown on the page to its alphabet.
func safeCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
