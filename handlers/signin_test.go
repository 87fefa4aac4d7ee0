package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// The sign-in tests run the real login code end to end against an
// in-process OpenID provider shaped like Entra ID (webtest.Provider): real
// discovery, JWKS fetch, RS256 signatures, PKCE, state and nonce.

const (
	aliceOID  = "11111111-1111-1111-1111-111111111111"
	otherTID  = "99999999-9999-4999-8999-999999999999"
	groupSci  = "aaaaaaaa-0000-0000-0000-000000000001"
	groupOps  = "aaaaaaaa-0000-0000-0000-000000000002"
	groupNone = "aaaaaaaa-0000-0000-0000-000000000003"
)

func oidcEnv(t *testing.T, edit func(*handlers.OIDCConfig)) *webtest.Env {
	t.Helper()
	return webtest.New(t, webtest.Options{Provider: webtest.NewProvider(t), OIDC: edit, NoController: true})
}

func alice(roles ...string) webtest.Login {
	return webtest.Login{OID: aliceOID, Name: "Alice Example", Email: "alice@example.com", Roles: roles}
}

func TestOIDCSignIn(t *testing.T) {
	env := oidcEnv(t, nil)
	c := env.Client()
	env.Provider.Next(alice("DataScientist"))
	f := env.OIDCFlow(t, c, "/computes?tab=instances")

	// The authorize request carried PKCE S256, state, nonce and response_mode=query.
	az, _ := url.Parse(f.AuthorizeURL)
	q := az.Query()
	for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256", "response_mode": "query",
		"client_id": webtest.TestClientID, "redirect_uri": env.URL + "/auth/callback"} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 || len(q.Get("code_challenge")) != 43 || !strings.Contains(q.Get("scope"), "openid") {
		t.Errorf("authorize query %v", q)
	}
	if f.Status != http.StatusSeeOther || f.Location != "/computes?tab=instances" {
		t.Fatalf("callback: %d → %q\n%s", f.Status, f.Location, f.Body)
	}
	// A server-side session for tid/oid with the role from the roles claim.
	status, body, _ := webtest.Do(t, c, "GET", env.URL+"/profile", nil, nil)
	if status != 200 {
		t.Fatalf("profile: %d", status)
	}
	d := doc(t, body)
	wantID := webtest.TestTenantID + "/" + aliceOID
	if got := d.Find(`[data-testid=profile-role]`).Text(); got != "DataScientist" || !strings.Contains(d.Find(`[data-testid=profile]`).Text(), wantID) {
		t.Fatalf("profile: role %q, text %q", got, d.Find(`[data-testid=profile]`).Text())
	}
	if got := d.Find(`[data-testid=user]`).Text(); !strings.Contains(got, "Alice Example") || !strings.Contains(got, "DataScientist") {
		t.Errorf("user menu %q", got)
	}
	if d.Find(`a[href="/audit"]`).Length() != 0 {
		t.Error("a DataScientist sees the Audit log link")
	}
	u, err := env.Store.GetUser(context.Background(), wantID)
	if err != nil || u.Email != "alice@example.com" || u.Role != compute.RoleDataScientist {
		t.Fatalf("user record %+v %v", u, err)
	}
	// The login token is off in OIDC mode, as a link and as a bearer token.
	if st, _, _ := webtest.Do(t, env.Client(), "GET", env.URL+"/login?token="+webtest.Token, nil, nil); st != http.StatusFound {
		t.Errorf("/login?token= in OIDC mode: %d, want 302 to the provider", st)
	}
	if st, _, _ := webtest.Do(t, http.DefaultClient, "GET", env.URL+"/api/v1/computes", nil, map[string]string{"Authorization": "Bearer " + webtest.Token}); st != http.StatusUnauthorized {
		t.Errorf("login token as bearer in OIDC mode: %d, want 401", st)
	}
}

// TestOIDCRefusals: every way a sign-in answer can be wrong ends on a page
// that says so, with no session.
func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	future := func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() }
	tests := []struct {
		name       string
		config     func(*handlers.OIDCConfig)
		login      webtest.Login
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{name: "wrong issuer", login: withClaims(alice("Admin"), func(c map[string]any) { c["iss"] = "https://evil.example/" + webtest.TestTenantID + "/v2.0" }),
			wantStatus: 401, wantCode: "WrongIssuer"},
		{name: "wrong audience", login: withClaims(alice("Admin"), func(c map[string]any) { c["aud"] = "some-other-app" }),
			wantStatus: 401, wantCode: "InvalidIDToken"},
		{name: "expired token", login: withClaims(alice("Admin"), future), wantStatus: 401, wantCode: "IDTokenExpired"},
		{name: "not yet valid", login: withClaims(alice("Admin"), func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }),
			wantStatus: 401, wantCode: "InvalidIDToken"},
		{name: "bad signature", login: func() webtest.Login { l := alice("Admin"); l.BadSignature = true; return l }(), wantStatus: 401, wantCode: "InvalidIDToken"},
		{name: "wrong nonce", login: withClaims(alice("Admin"), func(c map[string]any) { c["nonce"] = "not-this-sign-in" }), wantStatus: 401, wantCode: "NonceMismatch"},
		{name: "no nonce", login: withClaims(alice("Admin"), func(c map[string]any) { delete(c, "nonce") }), wantStatus: 401, wantCode: "NonceMismatch"},
		{name: "no oid", login: withClaims(alice("Admin"), func(c map[string]any) { delete(c, "oid") }), wantStatus: 401, wantCode: "MissingClaims"},
		{name: "tid does not match issuer", config: multiTenant(webtest.TestTenantID),
			login: withClaims(alice("Admin"), func(c map[string]any) { c["tid"] = otherTID }), wantStatus: 401, wantCode: "TenantMismatch"},
		{name: "tenant not allowed (multi-tenant)", config: multiTenant(webtest.TestTenantID),
			login: func() webtest.Login { l := alice("Admin"); l.TenantID = otherTID; return l }(), wantStatus: 403, wantCode: "TenantNotAllowed"},
		{name: "tenant not allowed (single issuer, allow-list)", config: func(c *handlers.OIDCConfig) { c.Tenants = []string{otherTID} },
			login: alice("Admin"), wantStatus: 403, wantCode: "TenantNotAllowed"},
		{name: "missing roles", login: alice(), wantStatus: 403, wantCode: "NoRole", wantText: "You have no role in this app"},
		{name: "unknown roles only", login: alice("Owner", "Contributor"), wantStatus: 403, wantCode: "NoRole", wantText: "You have no role in this app"},
		{name: "groups overage", config: groupRoles,
			login: func() webtest.Login { l := alice(); l.Overage = true; return l }(), wantStatus: 403, wantCode: "GroupsOverage", wantText: "too many groups"},
		{name: "groups overage without group mapping is no role", login: func() webtest.Login { l := alice(); l.Overage = true; return l }(),
			wantStatus: 403, wantCode: "NoRole"},
		{name: "unmapped groups", config: groupRoles, login: func() webtest.Login { l := alice(); l.Groups = []string{groupNone}; return l }(),
			wantStatus: 403, wantCode: "NoRole"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own app and provider
			env := oidcEnv(t, tc.config)
			c := env.Client()
			env.Provider.Next(tc.login)
			f := env.OIDCFlow(t, c, "")
			if f.Status != tc.wantStatus {
				t.Fatalf("callback status %d, want %d\n%s", f.Status, tc.wantStatus, f.Body)
			}
			d := doc(t, f.Body)
			if code, _ := d.Find(`[data-testid=signin]`).Attr("data-code"); code != tc.wantCode {
				t.Fatalf("reason %q, want %q: %s", code, tc.wantCode, d.Find(`[data-testid=signin-message]`).Text())
			}
			if tc.wantText != "" && !strings.Contains(d.Find(`[data-testid=signin-message]`).Text(), tc.wantText) {
				t.Errorf("message %q lacks %q", d.Find(`[data-testid=signin-message]`).Text(), tc.wantText)
			}
			assertSignedOut(t, env, c)
			events, _, _ := env.Store.ListAudit(context.Background(), store.AuditFilter{Outcome: store.AuditDenied, Query: "signin"})
			if len(events) != 1 || !strings.Contains(events[0].Detail, tc.wantCode) {
				t.Errorf("audit: %+v", events)
			}
		})
	}
}

// TestOIDCStateAndCode: the state is single-use and bound to the browser.
func TestOIDCStateAndCode(t *testing.T) {
	env := oidcEnv(t, nil)
	c := env.Client()
	env.Provider.Next(alice("Reader"), alice("Reader"), alice("Reader"))
	ok := env.OIDCFlow(t, c, "")
	if ok.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", ok.Status)
	}

	t.Run("replayed state with the old login cookie", func(t *testing.T) {
		// An attacker who captured the callback URL and the login cookie.
		thief := env.Client()
		u, _ := url.Parse(env.URL)
		for _, ck := range ok.LoginCookies {
			thief.Jar.SetCookies(u, []*http.Cookie{ck})
		}
		if len(thief.Jar.Cookies(u)) == 0 {
			t.Fatal("the sign-in set no login cookie")
		}
		f := env.Callback(t, thief, webtest.Flow{CallbackURL: ok.CallbackURL})
		assertRefused(t, f, http.StatusBadRequest, "StateReplayed")
	})
	t.Run("callback without the login cookie (another browser)", func(t *testing.T) {
		f := env.Callback(t, env.Client(), webtest.Flow{CallbackURL: ok.CallbackURL})
		assertRefused(t, f, http.StatusBadRequest, "SignInExpired")
	})
	t.Run("state of another sign-in", func(t *testing.T) {
		b := env.Client()
		resp, _ := b.Get(env.URL + "/login")
		resp.Body.Close()
		// b's login cookie, but the callback of the earlier sign-in.
		f := env.Callback(t, b, webtest.Flow{CallbackURL: ok.CallbackURL})
		assertRefused(t, f, http.StatusBadRequest, "StateMismatch")
	})
	t.Run("provider error", func(t *testing.T) {
		b := env.Client()
		resp, _ := b.Get(env.URL + "/login")
		resp.Body.Close()
		f := env.Callback(t, b, webtest.Flow{CallbackURL: env.URL + "/auth/callback?error=access_denied&error_description=<script>x</script>"})
		assertRefused(t, f, http.StatusUnauthorized, "ProviderError")
		if strings.Contains(f.Body, "<script>x") {
			t.Error("the provider's error description was echoed")
		}
	})
	t.Run("open redirect after login", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
			b := env.Client()
			env.Provider.Next(alice("Reader"))
			f := env.OIDCFlow(t, b, next)
			if f.Status != http.StatusSeeOther || f.Location != "/computes" {
				t.Errorf("next=%q: %d → %q, want /computes", next, f.Status, f.Location)
			}
		}
	})
}

func TestOIDCGroupRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		login  webtest.Login
		want   string
		wantID string
	}{
		{"group gives role", webtest.Login{OID: aliceOID, Name: "A", Groups: []string{groupSci}}, "DataScientist", ""},
		{"highest group wins", webtest.Login{OID: aliceOID, Name: "A", Groups: []string{groupNone, groupSci, groupOps}}, "ComputeOperator", ""},
		{"roles claim wins over groups", webtest.Login{OID: aliceOID, Name: "A", Roles: []string{"Reader"}, Groups: []string{groupOps}}, "Reader", ""},
		{"roles claim even with overage", webtest.Login{OID: aliceOID, Name: "A", Roles: []string{"Admin"}, Overage: true}, "Admin", ""},
		{"multi-tenant: allowed other tenant", webtest.Login{TenantID: otherTID, OID: aliceOID, Name: "A", Roles: []string{"Reader"}}, "Reader", otherTID + "/" + aliceOID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := groupRoles
			if tc.wantID != "" {
				cfg = multiTenant(webtest.TestTenantID, otherTID)
			}
			env := oidcEnv(t, cfg)
			c := env.SignInOIDC(t, tc.login)
			_, body, _ := webtest.Do(t, c, "GET", env.URL+"/profile", nil, nil)
			d := doc(t, body)
			if got := d.Find(`[data-testid=profile-role]`).Text(); got != tc.want {
				t.Fatalf("role %q, want %q", got, tc.want)
			}
			if tc.wantID != "" && !strings.Contains(d.Find(`[data-testid=profile]`).Text(), tc.wantID) {
				t.Fatalf("user ID not %s", tc.wantID)
			}
		})
	}
}

// TestOIDCLogout: POST /logout revokes the server session and sends the
// browser to the provider's end_session_endpoint.
func TestOIDCLogout(t *testing.T) {
	env := oidcEnv(t, nil)
	c := env.SignInOIDC(t, alice("Admin"))
	u, _ := url.Parse(env.URL)
	var token string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == handlers.SessionCookie {
			token = ck.Value
		}
	}
	status, _, h := webtest.Do(t, c, "POST", env.URL+"/logout", url.Values{}, nil)
	loc, _ := url.Parse(h.Get("Location"))
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), env.Provider.URL+"/"+webtest.TestTenantID+"/oauth2/v2.0/logout?") {
		t.Fatalf("logout: %d → %q", status, h.Get("Location"))
	}
	lq := loc.Query()
	if lq.Get("post_logout_redirect_uri") != env.URL+"/signed-out" || lq.Get("client_id") != webtest.TestClientID || lq.Get("logout_hint") != "hint-"+aliceOID {
		t.Errorf("end-session query %v", lq)
	}
	if _, err := env.Store.LookupSession(context.Background(), token, 0); err == nil {
		t.Fatal("the server-side session survived logout")
	}
	// Replaying the old cookie gets nothing.
	anon := env.Client()
	anon.Jar.SetCookies(u, []*http.Cookie{{Name: handlers.SessionCookie, Value: token}})
	if st, _, _ := webtest.Do(t, anon, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("old cookie after logout: %d", st)
	}
	st, body, _ := webtest.Do(t, c, "GET", env.URL+"/signed-out", nil, nil)
	if st != 200 || doc(t, body).Find(`a[href="/login"]`).Length() == 0 {
		t.Fatalf("signed-out page: %d", st)
	}
}

// TestOIDCMisconfigured: the server refuses to start rather than guess.
func TestOIDCMisconfigured(t *testing.T) {
	p := webtest.NewProvider(t)
	base := handlers.OIDCConfig{Issuer: p.Issuer(webtest.TestTenantID), ClientID: "c", ClientSecret: "very-secret-value-4711", RedirectURL: "http://127.0.0.1/auth/callback"}
	tests := []struct {
		name string
		edit func(*handlers.OIDCConfig)
		want string
	}{
		{"no client ID", func(c *handlers.OIDCConfig) { c.ClientID = "" }, "client ID"},
		{"no secret", func(c *handlers.OIDCConfig) { c.ClientSecret = "" }, "client secret"},
		{"no redirect", func(c *handlers.OIDCConfig) { c.RedirectURL = "" }, "TRAINYARD_PUBLIC_URL"},
		{"multi-tenant authority without tenants", func(c *handlers.OIDCConfig) { c.Issuer = p.Issuer("organizations") }, "TRAINYARD_OIDC_TENANTS"},
		{"bad tenant ID", func(c *handlers.OIDCConfig) { c.Tenants = []string{"a/b"} }, "not a tenant ID"},
		{"issuer differs from discovery", func(c *handlers.OIDCConfig) { c.Issuer += "/" }, "issuer"},
		{"unreachable", func(c *handlers.OIDCConfig) { c.Issuer = "http://127.0.0.1:1/x/v2.0" }, "discovery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := handlers.NewOIDC(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "very-secret-value-4711") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
	if _, err := handlers.ParseGroupRoles("g1=Admin, g2=Reader"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"g1", "=Admin", "g1=Owner"} {
		if _, err := handlers.ParseGroupRoles(bad); err == nil {
			t.Errorf("ParseGroupRoles(%q) accepted", bad)
		}
	}
}

func withClaims(l webtest.Login, f func(map[string]any)) webtest.Login {
	l.Claims = f
	return l
}

func multiTenant(tenants ...string) func(*handlers.OIDCConfig) {
	return func(c *handlers.OIDCConfig) {
		c.Issuer = strings.Replace(c.Issuer, "/"+webtest.TestTenantID+"/", "/organizations/", 1)
		c.Tenants = tenants
	}
}

func groupRoles(c *handlers.OIDCConfig) {
	c.GroupRoles = map[string]compute.Role{groupSci: compute.RoleDataScientist, groupOps: compute.RoleComputeOperator}
}

func assertRefused(t *testing.T, f webtest.Flow, status int, code string) {
	t.Helper()
	if f.Status != status {
		t.Fatalf("status %d, want %d: %s", f.Status, status, f.Body)
	}
	if got, _ := doc(t, f.Body).Find(`[data-testid=signin]`).Attr("data-code"); got != code {
		t.Fatalf("reason %q, want %q", got, code)
	}
	if strings.Contains(f.Header.Get("Set-Cookie"), handlers.SessionCookie+"=") && !strings.Contains(f.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("a refused sign-in set a session cookie: %s", f.Header.Get("Set-Cookie"))
	}
}

func assertSignedOut(t *testing.T, env *webtest.Env, c *http.Client) {
	t.Helper()
	if st, _, _ := webtest.Do(t, c, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("after a refused sign-in the API answers %d, want 401", st)
	}
}
