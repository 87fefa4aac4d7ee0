package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/web"
	"github.com/trainyard/trainyard/web/webtest"
)

var cspNonce = regexp.MustCompile(`script-src 'self' 'nonce-([A-Za-z0-9+/]{22})'`)

// checkHeaders asserts the headers every response carries.
func checkHeaders(t *testing.T, what string, h http.Header, tls bool, formAction string) string {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
		"connect-src 'self'", "form-action " + formAction + ";"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows unsafe-*: %q", what, csp)
	}
	m := cspNonce.FindStringSubmatch(csp)
	if m == nil {
		t.Errorf("%s: CSP has no script nonce: %q", what, csp)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin", "X-Frame-Options": "DENY"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	if hsts := h.Get("Strict-Transport-Security"); tls != (hsts == "max-age=31536000; includeSubDomains") {
		t.Errorf("%s: HSTS %q over tls=%v", what, hsts, tls)
	}
	if m == nil {
		return ""
	}
	return m[1]
}

// TestSecurityHeadersOnEveryRoute: every GET route of the table, plus error
// pages, answers with the strict CSP (a fresh nonce that the page's scripts
// carry), framing and sniffing off, no referrer, and no-store.
func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	c := env.Browser(t)
	nonces := map[string]bool{}
	paths := []string{"/nope", "/computes/nope", "/login?token=wrong"}
	for _, rt := range web.Routes(env.Handlers, http.NotFoundHandler()) {
		if rt.Method == "GET" {
			paths = append(paths, concretePath(rt.Pattern))
		}
	}
	for _, p := range paths {
		status, body, h := webtest.Do(t, c, "GET", env.URL+p, nil, nil)
		nonce := checkHeaders(t, p, h, false, "'self'")
		if nonces[nonce] {
			t.Errorf("%s: nonce reused", p)
		}
		nonces[nonce] = true
		if !strings.HasPrefix(p, "/static/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, h.Get("Cache-Control"))
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
			d.Find("script").Each(func(_ int, s *goquery.Selection) {
				if n, _ := s.Attr("nonce"); n != nonce {
					t.Errorf("%s: script without the response's nonce", p)
				}
			})
			if cfg, _ := d.Find(`meta[name=htmx-config]`).Attr("content"); status != http.StatusSeeOther && !strings.Contains(cfg, `"allowEval":false`) {
				t.Errorf("%s: htmx allowEval not off: %q", p, cfg)
			}
		}
	}
}

// TestCookieAttributes: the session cookie carries only an opaque token,
// HttpOnly, SameSite=Lax, Path=/, no Domain; over https it is Secure and
// __Host-; the login-transaction cookie likewise, short-lived; a new session
// ID at every sign-in.
func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name       string
		tls, oidc  bool
		wantName   string
		wantSecure bool
	}{
		{"login token over http", false, false, handlers.SessionCookie, false},
		{"login token over https", true, false, handlers.SecureSessionCookie, true},
		{"OIDC over http", false, true, handlers.SessionCookie, false},
		{"OIDC over https", true, true, handlers.SecureSessionCookie, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := webtest.Options{NoController: true, TLS: tc.tls}
			if tc.oidc {
				opts.Provider = webtest.NewProvider(t)
			}
			env := webtest.New(t, opts)
			c := env.Client()
			u, _ := url.Parse(env.URL)
			// A cookie planted before sign-in is not adopted (no fixation).
			c.Jar.SetCookies(u, []*http.Cookie{{Name: tc.wantName, Value: "planted-by-attacker-0000000000000000000000"}})
			var set []*http.Cookie
			if tc.oidc {
				env.Provider.Next(webtest.Login{OID: "o1", Name: "N", Roles: []string{"Reader"}})
				f := env.OIDCFlow(t, c, "")
				if f.Status != http.StatusSeeOther {
					t.Fatalf("sign-in: %d %s", f.Status, f.Body)
				}
				for _, lc := range f.LoginCookies {
					wantLogin := "trainyard_login"
					if tc.tls {
						wantLogin = "__Host-trainyard_login"
					}
					if lc.Name != wantLogin || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/" || lc.Domain != "" ||
						lc.Secure != tc.wantSecure || lc.MaxAge != 600 {
						t.Errorf("login cookie %+v", lc)
					}
				}
				set = (&http.Response{Header: f.Header}).Cookies()
			} else {
				resp, err := c.Get(env.URL + "/login?token=" + webtest.Token)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				set = resp.Cookies()
			}
			var session *http.Cookie
			for _, ck := range set {
				if ck.Name == tc.wantName {
					session = ck
				}
			}
			if session == nil {
				t.Fatalf("no %s cookie in %v", tc.wantName, set)
			}
			if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "" || session.Secure != tc.wantSecure ||
				session.MaxAge != 12*3600 || len(session.Value) != 43 || strings.HasPrefix(session.Value, "planted") {
				t.Errorf("session cookie %+v", session)
			}
			if st, _, h := webtest.Do(t, c, "GET", env.URL+"/computes", nil, nil); st != 200 {
				t.Errorf("signed-in page: %d", st)
			} else {
				checkHeaders(t, "/computes", h, tc.tls, formActionFor(env))
			}
		})
	}
}

func formActionFor(env *webtest.Env) string {
	if env.Provider == nil {
		return "'self'"
	}
	return "'self' " + env.Provider.URL
}

// TestCrossOriginRefusedEverywhere: every state-changing route of the table
// refuses a browser request from another origin (403) even with a valid
// session cookie, while the same request from the page's own origin passes
// the CSRF check.
func TestCrossOriginRefusedEverywhere(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	c := env.Browser(t)
	for _, rt := range web.Routes(env.Handlers, http.NotFoundHandler()) {
		if rt.Method == "GET" {
			continue
		}
		path := env.URL + concretePath(rt.Pattern)
		for _, hdr := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			{"Sec-Fetch-Site": "same-site", "Origin": "https://sub." + strings.TrimPrefix(env.URL, "http://")},
			{"Origin": "https://evil.example"}, // an older browser: no Sec-Fetch-Site
		} {
			req, _ := http.NewRequest(rt.Method, path, strings.NewReader(""))
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %v: %d, want 403", rt.Method, rt.Pattern, hdr, resp.StatusCode)
			}
		}
	}
	// DELETE through the API with the session cookie, cross-site: refused; same-origin: allowed (404, nothing there).
	for _, tc := range []struct {
		site string
		want int
	}{{"cross-site", 403}, {"same-origin", 404}} {
		st, _, _ := webtest.Do(t, c, "DELETE", env.URL+"/api/v1/computes/nothing-here", nil, map[string]string{"Sec-Fetch-Site": tc.site})
		if st != tc.want {
			t.Errorf("DELETE %s: %d, want %d", tc.site, st, tc.want)
		}
	}
}

// TestLoginRateLimit: /login and /auth/* are limited per client, keyed by
// the TCP peer: a forged X-Forwarded-For neither escapes nor moves the limit.
func TestLoginRateLimit(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, LoginRate: 5})
	c := env.Client()
	for i := range 5 {
		if st, _, _ := webtest.Do(t, c, "GET", env.URL+"/login?token=wrong", nil, map[string]string{"X-Forwarded-For": "203.0.113." + string(rune('1'+i))}); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, st)
		}
	}
	for _, p := range []string{"/login?token=" + webtest.Token, "/auth/callback?code=x&state=y"} {
		if st, _, _ := webtest.Do(t, c, "GET", env.URL+p, nil, map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.8"}); st != http.StatusTooManyRequests {
			t.Errorf("%s after the limit: %d, want 429", p, st)
		}
	}
	if st, _, _ := webtest.Do(t, c, "GET", env.URL+"/healthz", nil, nil); st != http.StatusOK {
		t.Errorf("other routes limited too: %d", st)
	}
}
