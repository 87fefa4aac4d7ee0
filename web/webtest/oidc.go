package webtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// Provider is an in-process OpenID provider shaped like Microsoft Entra ID
// v2.0, for tests: discovery per tenant path (the "organizations" authority
// names its issuer with {tenantid}), JWKS served by go-oidc's oidctest, and
// the authorize, token and logout endpoints that oidctest lacks. It checks
// what Entra checks — client ID and secret, the exact registered redirect
// URI, response_type=code, PKCE S256, single-use codes that expire — and
// signs real RS256 ID tokens with Entra's claims (tid, oid, roles, …).
type Provider struct {
	URL          string // base, e.g. http://127.0.0.1:PORT
	Server       *httptest.Server
	ClientID     string
	ClientSecret string
	// TenantID is the tenant users belong to unless a Login says otherwise.
	TenantID string

	key      *rsa.PrivateKey
	wrongKey *rsa.PrivateKey // signs "bad signature" tokens under the same kid
	keyID    string

	mu           sync.Mutex
	redirectURIs []string
	next         []Login
	codes        map[string]*grant
	logouts      []url.Values
	// refresh holds the refresh tokens handed out (offline_access) and whom
	// they sign in; scopes the scope of every authorize request.
	refresh map[string]Login
	scopes  []string
	// AccessTokenIssued, when set, is told of every access token the token
	// endpoint issues and for whom (an ARM stand-in can then accept it as
	// that user: compute/azure/armreplay.Server.AcceptToken).
	AccessTokenIssued func(token string, l Login)
}

// Login is the person the provider signs in on the next authorize request,
// and how to spoil the token for negative tests.
type Login struct {
	TenantID string // default: the provider's TenantID
	OID      string
	Name     string
	Email    string
	Roles    []string
	Groups   []string
	// Overage drops the groups claim and adds _claim_names/_claim_sources,
	// as Entra does past 200 groups.
	Overage bool
	// BadSignature signs the token with a key the JWKS does not have (same kid).
	BadSignature bool
	// Claims edits the claims just before signing.
	Claims func(c map[string]any)
}

type grant struct {
	login       Login
	tenant      string
	nonce       string
	challenge   string
	redirectURI string
	expires     time.Time
	offline     bool // offline_access was asked for: a refresh token comes with the tokens
}

// Default test provider credentials.
const (
	TestClientID     = "trainyard-test-client"
	TestClientSecret = "provider-client-secret-7f3a9c1e5b"
	TestTenantID     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// NewProvider starts a provider for tb; it stops when the test ends.
func NewProvider(tb testing.TB) *Provider {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Provider{ClientID: TestClientID, ClientSecret: TestClientSecret, TenantID: TestTenantID, key: key, wrongKey: wrong,
		keyID: "test-key-1", codes: map[string]*grant{}, refresh: map[string]Login{}}
	keys := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: p.keyID, Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.Handle("GET /discovery/v2.0/keys", http.StripPrefix("/discovery/v2.0", keys))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", p.authorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", p.token)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", p.logout)
	p.Server = httptest.NewServer(mux)
	p.URL = p.Server.URL
	keys.SetIssuer(p.URL)
	tb.Cleanup(p.Server.Close)
	return p
}

// Issuer is the issuer URL of a tenant path: a tenant ID, or "organizations"
// for the multi-tenant authority.
func (p *Provider) Issuer(tenant string) string { return p.URL + "/" + tenant + "/v2.0" }

// RegisterRedirectURI adds an exact redirect URI the provider accepts.
func (p *Provider) RegisterRedirectURI(u string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirectURIs = append(p.redirectURIs, u)
}

// Next queues who signs in on the following authorize requests, in order.
func (p *Provider) Next(logins ...Login) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = append(p.next, logins...)
}

// Logouts returns the query of every end-session request so far.
func (p *Provider) Logouts() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.logouts)
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	issuer := p.Issuer(tenant)
	if tenant == "organizations" || tenant == "common" {
		issuer = p.URL + "/{tenantid}/v2.0"
	}
	base := p.URL + "/" + tenant + "/oauth2/v2.0/"
	writeJSONBody(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                base + "authorize",
		"token_endpoint":                        base + "token",
		"end_session_endpoint":                  base + "logout",
		"jwks_uri":                              p.URL + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic", "private_key_jwt"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	registered := slices.Contains(p.redirectURIs, q.Get("redirect_uri"))
	p.mu.Unlock()
	switch {
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "AADSTS700016: unknown client_id", http.StatusBadRequest)
	case !registered:
		http.Error(w, "AADSTS50011: redirect_uri not registered", http.StatusBadRequest)
	case q.Get("response_type") != "code":
		http.Error(w, "unsupported response_type", http.StatusBadRequest)
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43:
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
	case q.Get("state") == "" || q.Get("nonce") == "":
		http.Error(w, "state and nonce required", http.StatusBadRequest)
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		http.Error(w, "scope openid required", http.StatusBadRequest)
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		http.Error(w, "this test provider answers with response_mode=query only", http.StatusBadRequest)
	default:
		p.mu.Lock()
		login := Login{OID: "00000000-0000-0000-0000-00000000000a", Name: "Default User", Roles: []string{"Reader"}}
		if len(p.next) > 0 {
			login, p.next = p.next[0], p.next[1:]
		}
		code := randomID()
		p.codes[code] = &grant{login: login, tenant: r.PathValue("tenant"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge"),
			redirectURI: q.Get("redirect_uri"), expires: time.Now().Add(10 * time.Minute),
			offline: slices.Contains(strings.Fields(q.Get("scope")), "offline_access")}
		p.scopes = append(p.scopes, q.Get("scope"))
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := back.Query()
		bq.Set("code", code)
		bq.Set("state", q.Get("state"))
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		writeJSONBody(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if f.Get("grant_type") == "refresh_token" {
		p.redeemRefresh(w, f)
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	p.mu.Lock()
	g := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code")) // single use
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case g == nil || time.Now().After(g.expires):
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "AADSTS70008: code expired or used"})
		return
	case f.Get("redirect_uri") != g.redirectURI:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "AADSTS501481: code_verifier does not match"})
		return
	}
	body := map[string]any{
		"token_type": "Bearer", "expires_in": 3600, "access_token": p.issue(g.login), "id_token": p.IDToken(g.login, g.nonce),
	}
	if g.offline {
		rt := "refresh-" + randomID()
		p.mu.Lock()
		p.refresh[rt] = g.login
		p.mu.Unlock()
		body["refresh_token"] = rt
	}
	writeJSONBody(w, http.StatusOK, body)
}

// issue makes an access token for l and tells AccessTokenIssued.
func (p *Provider) issue(l Login) string {
	tok := "access-" + randomID()
	if p.AccessTokenIssued != nil {
		p.AccessTokenIssued(tok, l)
	}
	return tok
}

// redeemRefresh is the refresh-token grant: a new access token and a new
// refresh token (rotation, as Entra ID does); the old one stops working.
func (p *Provider) redeemRefresh(w http.ResponseWriter, f url.Values) {
	p.mu.Lock()
	l, ok := p.refresh[f.Get("refresh_token")]
	delete(p.refresh, f.Get("refresh_token"))
	next := "refresh-" + randomID()
	if ok {
		p.refresh[next] = l
	}
	p.scopes = append(p.scopes, f.Get("scope"))
	p.mu.Unlock()
	if !ok {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "AADSTS70008: the refresh token has expired or was revoked"})
		return
	}
	writeJSONBody(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": p.issue(l), "refresh_token": next, "scope": f.Get("scope")})
}

// Scopes returns the scope of every authorize and refresh request so far.
func (p *Provider) Scopes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.scopes)
}

// IDToken signs an Entra-shaped ID token for login with this nonce.
func (p *Provider) IDToken(l Login, nonce string) string {
	tid := l.TenantID
	if tid == "" {
		tid = p.TenantID
	}
	now := time.Now()
	c := map[string]any{
		"iss": p.Issuer(tid), "aud": p.ClientID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": nonce, "tid": tid, "oid": l.OID, "sub": "pairwise-" + l.OID, "name": l.Name,
		"preferred_username": l.Email, "sid": "sid-" + l.OID, "login_hint": "hint-" + l.OID, "ver": "2.0",
	}
	if l.Email != "" {
		c["email"] = l.Email
	}
	if l.Roles != nil {
		c["roles"] = l.Roles
	}
	if l.Overage {
		c["_claim_names"] = map[string]string{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]string{"endpoint": "https://graph.microsoft.com/v1.0/users/" + l.OID + "/getMemberObjects"}}
	} else if l.Groups != nil {
		c["groups"] = l.Groups
	}
	if l.Claims != nil {
		l.Claims(c)
	}
	body, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	key := p.key
	if l.BadSignature {
		key = p.wrongKey
	}
	return oidctest.SignIDToken(key, p.keyID, oidc.RS256, string(body))
}

func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.logouts = append(p.logouts, q)
	p.mu.Unlock()
	if back := q.Get("post_logout_redirect_uri"); back != "" {
		http.Redirect(w, r, back, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "You have signed out of your account.")
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
