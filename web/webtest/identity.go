package webtest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
)

// Flow is one OpenID sign-in as a browser makes it: the app's /login, the
// provider's authorize endpoint, and the app's callback.
type Flow struct {
	// AuthorizeURL is where the app sent the browser.
	AuthorizeURL string
	// LoginCookies are the cookies /login set (the login transaction).
	LoginCookies []*http.Cookie
	// CallbackURL is where the provider sent it back (code and state).
	CallbackURL string
	// Status, Location and Body are the callback's answer.
	Status   int
	Location string
	Body     string
	Header   http.Header
}

// OIDCFlow signs in through the test provider with client c (which keeps
// cookies and does not follow redirects), starting at /login?next=next. It
// fails the test only when the flow cannot reach the callback.
func (e *Env) OIDCFlow(tb testing.TB, c *http.Client, next string) Flow {
	tb.Helper()
	if e.Provider == nil {
		tb.Fatal("OIDCFlow: the app has no provider (Options.Provider)")
	}
	start := e.URL + "/login"
	if next != "" {
		start += "?next=" + url.QueryEscape(next)
	}
	resp := get(tb, c, start)
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("GET /login: status %d, want 302 to the provider", resp.StatusCode)
	}
	f := Flow{AuthorizeURL: resp.Header.Get("Location"), LoginCookies: resp.Cookies()}
	resp.Body.Close()
	if !strings.HasPrefix(f.AuthorizeURL, e.Provider.URL+"/") {
		tb.Fatalf("GET /login sent the browser to %q, not the provider", f.AuthorizeURL)
	}
	resp = get(tb, c, f.AuthorizeURL)
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("provider authorize: status %d (%s)", resp.StatusCode, readAll(resp))
	}
	resp.Body.Close()
	f.CallbackURL = resp.Header.Get("Location")
	return e.Callback(tb, c, f)
}

// Callback sends the browser to f.CallbackURL and records the app's answer.
func (e *Env) Callback(tb testing.TB, c *http.Client, f Flow) Flow {
	tb.Helper()
	resp := get(tb, c, f.CallbackURL)
	f.Status, f.Location, f.Header, f.Body = resp.StatusCode, resp.Header.Get("Location"), resp.Header, readAll(resp)
	return f
}

// SignInOIDC returns a client signed in through the provider as login.
func (e *Env) SignInOIDC(tb testing.TB, login Login) *http.Client {
	tb.Helper()
	c := e.Client()
	e.Provider.Next(login)
	if f := e.OIDCFlow(tb, c, ""); f.Status != http.StatusSeeOther {
		tb.Fatalf("sign-in as %s: callback status %d: %s", login.Name, f.Status, f.Body)
	}
	return c
}

// TokenFor creates a user with role (as if they had signed in) and a
// personal access token for them, and returns the token.
func (e *Env) TokenFor(tb testing.TB, id string, role compute.Role) string {
	tb.Helper()
	ctx := context.Background()
	u := compute.User{ID: id, Name: "User " + id, Role: role}
	if err := e.Store.RecordSignIn(ctx, store.UserRecord{ID: u.ID, Name: u.Name, Role: role}); err != nil {
		tb.Fatal(err)
	}
	tok, _, err := e.Store.CreateAccessToken(ctx, u, "test", 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func get(tb testing.TB, c *http.Client, u string) *http.Response {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
