package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

func bearer(t *testing.T, env *webtest.Env, token, method, path string) (int, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	st, body, _ := webtest.Do(t, c, method, env.URL+path, nil, map[string]string{"Authorization": "Bearer " + token})
	return st, body
}

// TestAccessTokensOnProfile: create a token on the Profile page (shown once),
// use it as a bearer token with the user's role, see its last use, revoke it.
func TestAccessTokensOnProfile(t *testing.T) {
	env := oidcEnv(t, nil)
	c := env.SignInOIDC(t, alice("DataScientist"))

	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/profile/tokens", url.Values{"name": {"laptop"}, "days": {"30"}}, nil)
	if status != http.StatusOK {
		t.Fatalf("create: %d %s", status, body)
	}
	d := doc(t, body)
	token, _ := d.Find(`#new-token-value`).Attr("value")
	if !strings.HasPrefix(token, store.AccessTokenPrefix) || d.Find(`[data-testid=new-token]`).Length() != 1 {
		t.Fatalf("new token not shown: %q", token)
	}
	// Shown once: the page afterwards does not have it.
	_, again, _ := webtest.Do(t, c, "GET", env.URL+"/profile", nil, nil)
	if strings.Contains(again, token) {
		t.Fatal("the profile page shows the token again")
	}
	row := doc(t, again).Find(`[data-testid=tokens] tbody tr`).First()
	if !strings.Contains(row.Text(), "laptop") || !strings.Contains(row.Text(), "Never") || !strings.Contains(row.Text(), "Active") {
		t.Fatalf("token row %q", row.Text())
	}

	// The token acts as the user, with their role.
	st, me := bearer(t, env, token, "GET", "/api/v1/me")
	var who map[string]string
	if st != 200 || json.Unmarshal([]byte(me), &who) != nil || who["role"] != "DataScientist" || who["id"] != webtest.TestTenantID+"/"+aliceOID {
		t.Fatalf("/api/v1/me with the token: %d %s", st, me)
	}
	if st, _ := bearer(t, env, token, "PUT", "/api/v1/computes/x"); st != http.StatusForbidden {
		t.Fatalf("DataScientist token creating compute: %d, want 403", st)
	}
	_, again, _ = webtest.Do(t, c, "GET", env.URL+"/profile", nil, nil)
	if row := doc(t, again).Find(`[data-testid=tokens] tbody tr`).First(); strings.Contains(row.Text(), "Never") {
		t.Fatalf("last use not shown: %q", row.Text())
	}

	// Another user cannot revoke it.
	bob := env.SignInOIDC(t, webtest.Login{OID: "22222222-2222-2222-2222-222222222222", Name: "Bob", Roles: []string{"Admin"}})
	tokens, _ := env.Store.ListAccessTokens(context.Background(), webtest.TestTenantID+"/"+aliceOID)
	if st, _, _ := webtest.Do(t, bob, "POST", env.URL+"/profile/tokens/"+tokens[0].ID+"/revoke", url.Values{}, nil); st != http.StatusNotFound {
		t.Fatalf("revoke by another user: %d, want 404", st)
	}
	if st, _ := bearer(t, env, token, "GET", "/api/v1/me"); st != 200 {
		t.Fatal("token stopped working after a foreign revoke attempt")
	}
	// Its owner can.
	if st, _, h := webtest.Do(t, c, "POST", env.URL+"/profile/tokens/"+tokens[0].ID+"/revoke", url.Values{}, nil); st != http.StatusSeeOther || h.Get("Location") != "/profile" {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := bearer(t, env, token, "GET", "/api/v1/me"); st != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", st)
	}
	_, again, _ = webtest.Do(t, c, "GET", env.URL+"/profile", nil, nil)
	if row := doc(t, again).Find(`[data-testid=tokens] tbody tr`).First(); !strings.Contains(row.Text(), "Revoked") || row.Find("button").Length() != 0 {
		t.Fatalf("revoked row: %q", row.Text())
	}

	// Bad input keeps what was typed and says what is wrong.
	st, body, _ = webtest.Do(t, c, "POST", env.URL+"/profile/tokens", url.Values{"name": {"  "}, "days": {"90"}}, nil)
	if st != http.StatusUnprocessableEntity || doc(t, body).Find(`#err-token-name`).Length() != 1 {
		t.Fatalf("empty name: %d", st)
	}
	if st, _, _ := webtest.Do(t, c, "POST", env.URL+"/profile/tokens", url.Values{"name": {"x"}, "days": {"9999"}}, nil); st != http.StatusUnprocessableEntity {
		t.Fatalf("bad lifetime: %d", st)
	}

	// A role taken away in Entra ID narrows the tokens at the next sign-in.
	tok2, _, _ := env.Store.CreateAccessToken(context.Background(), compute.User{ID: webtest.TestTenantID + "/" + aliceOID, Name: "Alice"}, "ci", 48*3600e9)
	env.SignInOIDC(t, alice("Reader"))
	if _, me := bearer(t, env, tok2, "GET", "/api/v1/me"); !strings.Contains(me, `"role":"Reader"`) {
		t.Fatalf("after demotion: %s", me)
	}
}

// TestSignOutEverywhere ends every session of the user, not others'.
func TestSignOutEverywhere(t *testing.T) {
	env := oidcEnv(t, nil)
	a1 := env.SignInOIDC(t, alice("Reader"))
	a2 := env.SignInOIDC(t, alice("Reader"))
	bob := env.SignInOIDC(t, webtest.Login{OID: "22222222-2222-2222-2222-222222222222", Name: "Bob", Roles: []string{"Reader"}})
	_, body, _ := webtest.Do(t, a1, "GET", env.URL+"/profile", nil, nil)
	if n := doc(t, body).Find(`[data-testid=sessions] tbody tr[data-session]`).Length(); n != 2 {
		t.Fatalf("profile lists %d sessions, want 2", n)
	}
	if st, _, h := webtest.Do(t, a1, "POST", env.URL+"/profile/sessions/revoke", url.Values{}, nil); st != http.StatusSeeOther || h.Get("Location") != "/signed-out" {
		t.Fatalf("sign out everywhere: %d", st)
	}
	for name, c := range map[string]*http.Client{"a1": a1, "a2": a2} {
		if st, _, _ := webtest.Do(t, c, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("%s still signed in: %d", name, st)
		}
	}
	if st, _, _ := webtest.Do(t, bob, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusOK {
		t.Errorf("bob signed out too: %d", st)
	}
}

// TestLoginTokenModeProfile: the embedded default's local Admin has a
// profile and can make tokens too (for `trainyard login`).
func TestLoginTokenModeProfile(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	c := env.Browser(t)
	st, body, _ := webtest.Do(t, c, "POST", env.URL+"/profile/tokens", url.Values{"name": {"cli"}, "days": {"7"}}, nil)
	token, _ := doc(t, body).Find(`#new-token-value`).Attr("value")
	if st != 200 || token == "" {
		t.Fatalf("create: %d", st)
	}
	if st, me := bearer(t, env, token, "GET", "/api/v1/me"); st != 200 || !strings.Contains(me, `"role":"Admin"`) || !strings.Contains(me, `"id":"local"`) {
		t.Fatalf("me: %d %s", st, me)
	}
	// The login token itself still works as a bearer token.
	if st, _ := bearer(t, env, webtest.Token, "GET", "/api/v1/computes"); st != 200 {
		t.Fatalf("login token as bearer: %d", st)
	}
}
