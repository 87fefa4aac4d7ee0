package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/sessions"
	"golang.org/x/oauth2"

	"github.com/trainyard/trainyard/compute"
)

// OIDCConfig is how Trainyard signs people in with an OpenID provider such as
// Microsoft Entra ID (see docs/SECURITY.md for the app registration).
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, where discovery starts; for Entra
	// ID https://login.microsoftonline.com/<tenant>/v2.0.
	Issuer string
	// ClientID and ClientSecret are the app registration's credentials. The
	// secret is sent to the token endpoint only; it is never logged.
	ClientID     string
	ClientSecret string
	// RedirectURL is the public URL + /auth/callback, registered with the
	// provider; https there turns on Secure cookies.
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// sign-out (the public URL + /signed-out).
	PostLogoutRedirectURL string
	// Tenants are the tenant IDs allowed to sign in. With a multi-tenant
	// authority (discovery issuer with {tenantid}) each gets its own exact
	// issuer and at least one is required; with a single-tenant issuer the
	// token's tid must be one of them when the list is not empty.
	Tenants []string
	// GroupRoles maps group object IDs to roles, for tenants that assign
	// access by group; the roles claim is used first.
	GroupRoles map[string]compute.Role
	// HTTPClient reaches the provider (nil: a client with a 30 s timeout).
	// Redirects are never followed, whichever client is given.
	HTTPClient *http.Client
	// Now is the clock for token expiry (nil: time.Now).
	Now func() time.Time
	// ExtraScopes are asked for at sign-in besides openid, profile and email:
	// https://management.azure.com/user_impersonation and offline_access
	// when Azure ML workspaces are to be reached as the user.
	ExtraScopes []string
	// RefreshTokens, when set, keeps the refresh token of each sign-in
	// (sealed, per user) for calling Azure Resource Manager as the user.
	RefreshTokens interface {
		PutAzureRefreshToken(ctx context.Context, userID, token string) error
	}
}

// OIDC signs people in with an OpenID provider: authorization-code flow with
// PKCE (S256), state and nonce, ID token verification, and the mapping of
// claims to a Trainyard user. Build it with NewOIDC.
type OIDC struct {
	cfg   OIDCConfig
	oauth oauth2.Config
	// verifiers by exact issuer; each names the tenant it is for ("" when
	// the issuer is single-tenant).
	verifiers  map[string]tenantVerifier
	template   *regexp.Regexp // matches any tenant's issuer of a multi-tenant authority
	tenants    map[string]bool
	endSession string
	origins    []string
	txStore    *sessions.CookieStore
	txCookie   string
	secure     bool
}

type tenantVerifier struct {
	tid string
	v   *oidc.IDTokenVerifier
}

// loginTTL is how long a started sign-in stays valid (Entra's codes live
// about ten minutes).
const loginTTL = 10 * time.Minute

// tenantPlaceholder is how a multi-tenant discovery document spells the tenant.
const tenantPlaceholder = "{tenantid}"

var tenantIDPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.-]{0,127}$`)

// NewOIDC discovers the provider and prepares the verifiers. It fails when
// the configuration is incomplete or the provider cannot be reached, so a
// misconfigured server refuses to start instead of letting nobody in (or
// everybody).
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oidc: the issuer URL is missing (TRAINYARD_OIDC_ISSUER)")
	case cfg.ClientID == "":
		return nil, errors.New("oidc: the client ID is missing (TRAINYARD_OIDC_CLIENT_ID)")
	case cfg.ClientSecret == "":
		return nil, errors.New("oidc: the client secret is missing (TRAINYARD_OIDC_CLIENT_SECRET)")
	case cfg.RedirectURL == "":
		return nil, errors.New("oidc: the redirect URL is missing (TRAINYARD_PUBLIC_URL)")
	}
	for _, t := range cfg.Tenants {
		if !tenantIDPattern.MatchString(t) {
			return nil, fmt.Errorf("oidc: %q is not a tenant ID (TRAINYARD_OIDC_TENANTS)", t)
		}
	}
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), oidcClient(cfg.HTTPClient))
	// A multi-tenant authority's discovery document names the issuer with a
	// {tenantid} placeholder, which go-oidc's discovery would refuse; its
	// issuer is checked here instead, and every token's issuer is checked
	// exactly against an allowed tenant's issuer below.
	dctx := ctx
	if len(cfg.Tenants) > 0 {
		dctx = oidc.InsecureIssuerURLContext(ctx, cfg.Issuer)
	}
	p, err := oidc.NewProvider(dctx, cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && strings.Contains(mismatch.Discovered, tenantPlaceholder) {
		return nil, fmt.Errorf("oidc: %s is a multi-tenant authority (issuer %s): list the allowed tenant IDs in TRAINYARD_OIDC_TENANTS", cfg.Issuer, mismatch.Discovered)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		Issuer     string `json:"issuer"`
		JWKS       string `json:"jwks_uri"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	if meta.JWKS == "" {
		return nil, fmt.Errorf("oidc: discovery at %s names no jwks_uri", cfg.Issuer)
	}
	o := &OIDC{
		cfg: cfg, verifiers: map[string]tenantVerifier{}, tenants: map[string]bool{}, endSession: meta.EndSession,
		secure: strings.HasPrefix(cfg.RedirectURL, "https://"),
	}
	keys := oidc.NewRemoteKeySet(ctx, meta.JWKS)
	vcfg := &oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: []string{oidc.RS256}, Now: cfg.Now}
	if strings.Contains(meta.Issuer, tenantPlaceholder) {
		if len(cfg.Tenants) == 0 {
			return nil, fmt.Errorf("oidc: %s is a multi-tenant authority (issuer %s): list the allowed tenant IDs in TRAINYARD_OIDC_TENANTS", cfg.Issuer, meta.Issuer)
		}
		before, after, _ := strings.Cut(meta.Issuer, tenantPlaceholder)
		o.template = regexp.MustCompile("^" + regexp.QuoteMeta(before) + "[^/]+" + regexp.QuoteMeta(after) + "$")
		for _, tid := range cfg.Tenants {
			iss := strings.Replace(meta.Issuer, tenantPlaceholder, tid, 1)
			o.verifiers[iss] = tenantVerifier{tid: tid, v: oidc.NewVerifier(iss, keys, vcfg)}
		}
	} else {
		if meta.Issuer != cfg.Issuer {
			return nil, fmt.Errorf("oidc: discovery at %s names the issuer %s; set TRAINYARD_OIDC_ISSUER to exactly that", cfg.Issuer, meta.Issuer)
		}
		o.verifiers[meta.Issuer] = tenantVerifier{v: oidc.NewVerifier(meta.Issuer, keys, vcfg)}
		for _, tid := range cfg.Tenants {
			o.tenants[tid] = true
		}
	}
	o.oauth = oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID, "profile", "email"}, cfg.ExtraScopes...),
	}
	for _, raw := range []string{o.oauth.Endpoint.AuthURL, meta.EndSession} {
		if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
			if origin := u.Scheme + "://" + u.Host; !slices.Contains(o.origins, origin) {
				o.origins = append(o.origins, origin)
			}
		}
	}
	// The login-transaction cookie: encrypted and signed with keys that live
	// as long as the process (a sign-in in flight across a restart starts
	// again). Options are set explicitly: gorilla's defaults are SameSite=None
	// and no HttpOnly.
	o.txStore = sessions.NewCookieStore(randomBytes(32), randomBytes(32))
	o.txStore.MaxAge(int(loginTTL.Seconds()))
	o.txStore.Options = &sessions.Options{Path: "/", MaxAge: int(loginTTL.Seconds()), HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode}
	o.txCookie = "trainyard_login"
	if o.secure {
		o.txCookie = "__Host-trainyard_login"
	}
	return o, nil
}

// Origins are the provider's origins the browser is sent to (authorize and
// end-session endpoints), for the CSP form-action directive: sign-out is a
// form POST that redirects there.
func (o *OIDC) Origins() []string {
	if o == nil {
		return nil
	}
	return slices.Clone(o.origins)
}

// Issuer is the configured issuer URL (for messages).
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomString(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

// ParseGroupRoles reads TRAINYARD_OIDC_GROUP_ROLES: "<group object ID>=<role>"
// pairs separated by commas, the role one of Reader, DataScientist,
// ComputeOperator, Admin.
func ParseGroupRoles(s string) (map[string]compute.Role, error) {
	out := map[string]compute.Role{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		gid, name, ok := strings.Cut(pair, "=")
		gid, name = strings.TrimSpace(gid), strings.TrimSpace(name)
		role := compute.ParseRole(name)
		if !ok || gid == "" || role == compute.RoleNone {
			return nil, fmt.Errorf("group role %q: want <group object ID>=<Reader|DataScientist|ComputeOperator|Admin>", pair)
		}
		out[gid] = max(out[gid], role)
	}
	return out, nil
}

// idClaims are the ID token claims Trainyard reads (Entra ID's names).
type idClaims struct {
	TID               string            `json:"tid"`
	OID               string            `json:"oid"`
	Name              string            `json:"name"`
	PreferredUsername string            `json:"preferred_username"`
	Email             string            `json:"email"`
	Roles             []string          `json:"roles"`
	Groups            []string          `json:"groups"`
	HasGroups         bool              `json:"hasgroups"`
	ClaimNames        map[string]string `json:"_claim_names"`
	SID               string            `json:"sid"`
	LoginHint         string            `json:"login_hint"`
}

// signinError is a refused sign-in: what the person is told (Message), the
// status, and for the audit log and server log what went wrong (Reason;
// never a token).
type signinError struct {
	Status  int
	Code    string
	Message string
	Reason  string
	User    *compute.User // known when the token was fine but the user may not in
}

// Error is the code and reason, for logs.
func (e *signinError) Error() string { return e.Code + ": " + e.Reason }

const tryAgain = "Start again from the sign-in link; if it keeps failing, ask your administrator."

func signinFailed(code, reason string) *signinError {
	return &signinError{Status: http.StatusUnauthorized, Code: code, Reason: reason,
		Message: "Sign-in failed: the answer from the identity provider could not be verified. " + tryAgain}
}

// oidcClient is c (or a client with a timeout) that never follows a
// redirect: discovery, the keys and the token endpoint are called at the
// addresses the provider published, and the code exchange carries the
// client secret, which net/http would post again to wherever a 307 points.
func oidcClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	cp := *c
	cp.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("the identity provider answered with a redirect to %s, which Trainyard does not follow", req.URL.Redacted())
	}
	return &cp
}

// authCodeURL is where the browser goes to sign in.
func (o *OIDC) authCodeURL(state, nonce, verifier string) string {
	return o.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("response_mode", "query"))
}

// TokenURL is the provider's token endpoint (delegated Azure access redeems
// users' refresh tokens there).
func (o *OIDC) TokenURL() string { return o.oauth.Endpoint.TokenURL }

// exchange redeems the code (with the PKCE verifier) and verifies the ID
// token; the refresh token, when the provider gave one, comes back too.
func (o *OIDC) exchange(ctx context.Context, code, verifier, nonce string) (*idClaims, string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, oidcClient(o.cfg.HTTPClient))
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		reason := "token endpoint refused the code"
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			reason += ": " + re.ErrorCode
		}
		return nil, "", signinFailed("CodeExchangeFailed", reason)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", signinFailed("NoIDToken", "the token endpoint returned no id_token")
	}
	claims, err := o.verify(ctx, raw, nonce)
	return claims, tok.RefreshToken, err
}

// verify checks an ID token: the issuer exactly (per allowed tenant), the
// signature against the provider's keys (RS256 only), audience, expiry and
// not-before, then the nonce of this sign-in and the tenant.
func (o *OIDC) verify(ctx context.Context, raw, nonce string) (*idClaims, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, signinFailed("MalformedIDToken", "the id_token is not a JWT")
	}
	tv, ok := o.verifiers[iss]
	if !ok {
		if o.template != nil && o.template.MatchString(iss) {
			return nil, &signinError{Status: http.StatusForbidden, Code: "TenantNotAllowed", Reason: "tenant not allowed: issuer " + iss,
				Message: "Your organisation (tenant) is not allowed to sign in to this Trainyard. Ask its administrator to add your tenant."}
		}
		return nil, signinFailed("WrongIssuer", "id_token issuer "+iss+" is not the configured provider")
	}
	idt, err := tv.v.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, signinFailed("IDTokenExpired", "the id_token has expired")
		}
		return nil, signinFailed("InvalidIDToken", "id_token rejected: "+err.Error())
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, signinFailed("NonceMismatch", "the id_token's nonce is not this sign-in's")
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return nil, signinFailed("MalformedIDToken", "the id_token's claims cannot be read")
	}
	if c.TID == "" || c.OID == "" {
		return nil, signinFailed("MissingClaims", "the id_token has no tid or oid claim (is the profile scope granted?)")
	}
	if tv.tid != "" && c.TID != tv.tid {
		return nil, signinFailed("TenantMismatch", "the id_token's tid "+c.TID+" does not match its issuer")
	}
	if len(o.tenants) > 0 && !o.tenants[c.TID] {
		return nil, &signinError{Status: http.StatusForbidden, Code: "TenantNotAllowed", Reason: "tenant not allowed: tid " + c.TID,
			Message: "Your organisation (tenant) is not allowed to sign in to this Trainyard. Ask its administrator to add your tenant."}
	}
	return &c, nil
}

// unverifiedIssuer reads iss from a JWT without checking it, only to pick
// the verifier that then checks everything.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWS compact serialization")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", err
	}
	return c.Iss, nil
}

// userOf maps verified claims to the Trainyard user: ID tid/oid, the highest
// known role of the roles claim, else of the mapped groups. No role, or a
// groups overage when only groups could give one, is a refusal with a page
// that says so — never a silent Reader.
func (o *OIDC) userOf(c *idClaims) (compute.User, error) {
	u := compute.User{ID: c.TID + "/" + c.OID, Name: displayName(c)}
	for _, r := range c.Roles {
		u.Role = max(u.Role, compute.ParseRole(r))
	}
	if u.Role == compute.RoleNone && len(o.cfg.GroupRoles) > 0 {
		if _, overage := c.ClaimNames["groups"]; overage || c.HasGroups {
			return u, &signinError{Status: http.StatusForbidden, Code: "GroupsOverage", User: &u,
				Reason: "groups overage: the token lists no groups (too many) and has no roles claim",
				Message: "You are a member of too many groups for the sign-in token to list them, so Trainyard cannot tell your role from your groups. " +
					"Ask your administrator to assign you one of this app's roles (Reader, DataScientist, ComputeOperator, Admin) directly, " +
					"or to emit only the groups assigned to the application."}
		}
		for _, g := range c.Groups {
			u.Role = max(u.Role, o.cfg.GroupRoles[g])
		}
	}
	if u.Role == compute.RoleNone {
		return u, &signinError{Status: http.StatusForbidden, Code: "NoRole", User: &u, Reason: "no known role in the roles claim or groups",
			Message: "You have no role in this app. Your account signed in, but it is not assigned any of Trainyard's roles " +
				"(Reader, DataScientist, ComputeOperator, Admin). Ask your administrator to assign you one in Entra ID (Enterprise applications → Users and groups)."}
	}
	return u, nil
}

func displayName(c *idClaims) string {
	for _, s := range []string{c.Name, c.PreferredUsername, c.Email} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return c.OID
}

// email is the claim to show on the profile page.
func (c *idClaims) email() string {
	if c.Email != "" {
		return c.Email
	}
	if strings.Contains(c.PreferredUsername, "@") {
		return c.PreferredUsername
	}
	return ""
}

// endSessionURL is where sign-out sends the browser, or "" when the
// provider has no end_session_endpoint.
func (o *OIDC) endSessionURL(loginHint string) string {
	if o.endSession == "" {
		return ""
	}
	u, err := url.Parse(o.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", o.cfg.ClientID)
	if o.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", o.cfg.PostLogoutRedirectURL)
	}
	if loginHint != "" {
		q.Set("logout_hint", loginHint)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
