package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// aliceToken signs Alice, a data scientist, in to the server as if she had
// used the browser, and returns a personal access token of hers, as the
// Profile page makes it.
func aliceToken(t *testing.T, srv *server) string {
	t.Helper()
	ctx := context.Background()
	alice := compute.User{ID: "tid/oid", Name: "Alice", Role: compute.RoleDataScientist}
	if err := srv.env.Store.RecordSignIn(ctx, store.UserRecord{ID: alice.ID, Name: alice.Name, Role: alice.Role}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := srv.env.Store.CreateAccessToken(ctx, alice, "cli", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLogin(t *testing.T) {
	srv := newComputeServer(t)
	token := aliceToken(t, srv)
	cfgHome := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": cfgHome}
	path := filepath.Join(cfgHome, "trainyard", "config.json")

	// A token the server refuses is not stored.
	res := runCLIEnv(t, map[string]string{"XDG_CONFIG_HOME": cfgHome}, "wrong-token\n", "login", "--url", srv.URL, "--token-stdin")
	if res.code == 0 || !strings.Contains(res.stderr, "did not accept the token") {
		t.Fatalf("bad token: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a refused token was stored")
	}

	// Without --token-stdin it asks on stderr; the token is read from stdin.
	res = runCLIEnv(t, env, token+"\n", "login", "--url", srv.URL+"/")
	if res.code != 0 || !strings.Contains(res.stderr, srv.URL+"/profile") || !strings.Contains(res.stdout, "as Alice (DataScientist)") {
		t.Fatalf("login: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, token) {
		t.Fatal("login printed the token")
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("config folder mode %v", dir.Mode().Perm())
	}
	var stored cliConfig
	b, _ := os.ReadFile(path)
	if json.Unmarshal(b, &stored) != nil || stored.URL != srv.URL || stored.Token != token {
		t.Fatalf("stored %s", b)
	}

	// The other commands use it with no TRAINYARD_URL or TRAINYARD_TOKEN.
	before := srv.count()
	res = runCLIEnv(t, env, "", "computetarget", "list", "-o", "json")
	if res.code != 0 || !strings.Contains(res.stdout, "gpu-cluster") || srv.count() == before {
		t.Fatalf("list with the stored login: exit %d\n%s", res.code, res.stderr)
	}
	// TRAINYARD_TOKEN wins over the stored token.
	res = runCLIEnv(t, map[string]string{"XDG_CONFIG_HOME": cfgHome, "TRAINYARD_TOKEN": "env-token"}, "", "computetarget", "list")
	if res.code == 0 || !strings.Contains(res.stderr, "InvalidAuthenticationToken") {
		t.Fatalf("env token did not win: exit %d\n%s", res.code, res.stderr)
	}
	// The stored token is never sent to another server.
	other := newServer(t, webtest.Options{NoController: true, NoDispatcher: true})
	res = runCLIEnv(t, map[string]string{"XDG_CONFIG_HOME": cfgHome, "TRAINYARD_URL": other.URL}, "", "computetarget", "list")
	other.mu.Lock()
	defer other.mu.Unlock()
	for _, r := range other.requests {
		if r.Auth != "" {
			t.Fatalf("the stored token went to another server: %q", r.Auth)
		}
	}
	if res.code == 0 || !strings.Contains(res.stderr, "trainyard login") && !strings.Contains(res.stderr, "TRAINYARD_TOKEN") {
		t.Errorf("no hint without a token: %s", res.stderr)
	}
}

func TestLoginUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		stdin string
		env   map[string]string
		want  string
	}{
		{[]string{"login", "extra"}, "", map[string]string{"HOME": t.TempDir()}, "unexpected argument"},
		{[]string{"login", "--token-stdin"}, "\n", map[string]string{"HOME": t.TempDir()}, "no token given"},
		{[]string{"login", "--url", "ftp://x", "--token-stdin"}, "t\n", map[string]string{"HOME": t.TempDir()}, "--url"},
		{[]string{"login", "--token-stdin"}, "t\n", map[string]string{}, "set HOME or XDG_CONFIG_HOME"},
	} {
		res := runCLIEnv(t, tc.env, tc.stdin, tc.args...)
		if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
	res := runCLIEnv(t, nil, "", "login", "--help")
	if res.code != 0 || !strings.Contains(res.stdout, "Stores a personal access token") || !strings.Contains(res.stdout, "--token-stdin") {
		t.Errorf("help: %d %s", res.code, res.stdout)
	}
}

// TestServeSignInSettings: the OIDC settings come from the environment (or
// flags, the secret from env or a file), the redirect URL is the public URL
// + /auth/callback, and only the login-token mode is kept to loopback.
func TestServeSignInSettings(t *testing.T) {
	secretFile := writeFile(t, "secret", "  secret-from-file \n")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c serveConfig)
	}{
		{name: "login token mode refuses a public address", args: []string{"--addr", "0.0.0.0:8080"}, wantErr: "not a loopback address"},
		{name: "OIDC from the environment", env: map[string]string{
			"TRAINYARD_OIDC_ISSUER": "https://login.microsoftonline.com/t1/v2.0", "TRAINYARD_OIDC_CLIENT_ID": "cid",
			"TRAINYARD_OIDC_CLIENT_SECRET": "s3cret", "TRAINYARD_PUBLIC_URL": "https://ty.example.com/", "TRAINYARD_OIDC_TENANTS": " t1, t2 ,",
			"TRAINYARD_OIDC_GROUP_ROLES": "g1=Admin"},
			args: []string{"--addr", "0.0.0.0:8080"},
			check: func(t *testing.T, c serveConfig) {
				o := c.OIDC
				if o.ClientID != "cid" || o.ClientSecret != "s3cret" || o.RedirectURL != "https://ty.example.com/auth/callback" ||
					o.PostLogoutRedirectURL != "https://ty.example.com/signed-out" || strings.Join(o.Tenants, ",") != "t1,t2" || len(o.GroupRoles) != 1 {
					t.Errorf("OIDC config %+v", o)
				}
			}},
		{name: "secret from a file", env: map[string]string{"TRAINYARD_OIDC_ISSUER": "https://issuer.example/v2.0", "TRAINYARD_OIDC_CLIENT_SECRET_FILE": secretFile},
			check: func(t *testing.T, c serveConfig) {
				if c.OIDC.ClientSecret != "secret-from-file" || c.OIDC.RedirectURL != "http://127.0.0.1:8080/auth/callback" {
					t.Errorf("%+v", c.OIDC)
				}
			}},
		{name: "bad group roles", env: map[string]string{"TRAINYARD_OIDC_ISSUER": "https://i.example/v2.0", "TRAINYARD_OIDC_GROUP_ROLES": "g1=Boss"}, wantErr: "--oidc-group-roles"},
		{name: "session lifetimes", args: []string{"--session-idle", "15m", "--session-max", "8h"}, check: func(t *testing.T, c serveConfig) {
			if c.SessionIdle.Minutes() != 15 || c.SessionMax.Hours() != 8 {
				t.Errorf("idle %v max %v", c.SessionIdle, c.SessionMax)
			}
		}},
		{name: "bad session idle", args: []string{"--session-idle", "0s"}, wantErr: "--session-idle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			c, err := parseServeFlags(tc.args, func(k string) string { return tc.env[k] }, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestLoggerRedactsCredentials: a credential-looking attribute never reaches
// the server log, whoever logs it.
func TestLoggerRedactsCredentials(t *testing.T) {
	var b strings.Builder
	log := newLogger(&b, 0)
	log.Info("x", "client_secret", "cs-1", "token", "tk-2", "Authorization", "Bearer ab-3", "password", "pw-4", "secret_key", "k-20260101", "path", "/p")
	out := b.String()
	for _, s := range []string{"cs-1", "tk-2", "ab-3", "pw-4"} {
		if strings.Contains(out, s) {
			t.Errorf("log shows %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "k-20260101") || !strings.Contains(out, "path=/p") {
		t.Errorf("log lost harmless attributes: %s", out)
	}
}

// TestServeWiresSignIn runs the real wiring (newApp) in OIDC mode: /login
// goes to the provider, the login token is off, and personal access tokens
// resolve as bearer tokens.
func TestServeWiresSignIn(t *testing.T) {
	p := webtest.NewProvider(t)
	env := map[string]string{
		"TRAINYARD_OIDC_ISSUER": p.Issuer(webtest.TestTenantID), "TRAINYARD_OIDC_CLIENT_ID": p.ClientID,
		"TRAINYARD_OIDC_CLIENT_SECRET": p.ClientSecret, "TRAINYARD_TOKEN": "ignored-login-token",
		"TRAINYARD_PUBLIC_URL": "http://127.0.0.1:9", "TRAINYARD_SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseServeFlags([]string{"--data", t.TempDir()}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token = "" // as runServe does in OIDC mode
	a, err := newApp(context.Background(), cfg, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + "/login?token=ignored-login-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), p.URL+"/") ||
		!strings.Contains(resp.Header.Get("Location"), url.QueryEscape("http://127.0.0.1:9/auth/callback")) {
		t.Fatalf("/login: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, _, err := a.Store.CreateAccessToken(context.Background(), compute.User{ID: "t/o", Name: "O", Role: compute.RoleReader}, "x", time.Hour*24)
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int{tok: 200, "ignored-login-token": 401} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("bearer %.6s…: %d, want %d", token, resp.StatusCode, want)
		}
	}
}
