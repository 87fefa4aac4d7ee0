// Package webtest starts the real application (real SQLite file, real local
// backend, real controller, real router) on an httptest server, for handler,
// browser and benchmark tests.
package webtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/static"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web"
)

// Token is the login token of every test server.
const Token = "test-login-token-0123456789"

// Env is one running application.
type Env struct {
	URL        string
	Server     *httptest.Server
	Store      *store.Store
	Controller *compute.Controller
	Local      *local.Backend
	DataDir    string
	cancel     context.CancelFunc
	done       chan struct{}
}

// Options tunes an Env.
type Options struct {
	// NoController leaves the controller stopped (benchmarks, state snapshots).
	NoController bool
	DataDir      string
	BootDelay    time.Duration
}

// New starts an application for tb and stops it when the test ends.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	dir := opts.DataDir
	if dir == "" {
		dir = tb.TempDir()
	}
	if opts.BootDelay == 0 {
		opts.BootDelay = 100 * time.Millisecond
	}
	log := slog.New(slog.DiscardHandler)
	getenv := func(k string) string { return "" }
	keys, err := store.LoadKeyring(dir, getenv)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, dir, store.Options{Keyring: keys, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	if err := compute.EnsureLocalTarget(ctx, st, time.Now()); err != nil {
		tb.Fatal(err)
	}
	lb := local.New(local.Config{DataDir: filepath.Join(dir, "local"), Nodes: st, BootDelay: opts.BootDelay, PowerDelay: 100 * time.Millisecond, KillGrace: 500 * time.Millisecond, Logger: log})
	backendFor := func(k compute.Kind) compute.Backend {
		switch k {
		case compute.KindLocal, compute.KindCluster, compute.KindInstance:
			return lb
		}
		return nil
	}
	ctrl := compute.NewController(compute.ControllerConfig{Store: st, BackendFor: backendFor, Interval: 50 * time.Millisecond, Logger: log})
	assets, err := static.New()
	if err != nil {
		tb.Fatal(err)
	}
	h := handlers.New(handlers.Config{Store: st, Sessions: st, Controller: ctrl, BackendFor: backendFor, Assets: assets, Logger: log, LoginToken: Token})
	srv := httptest.NewServer(web.NewServer(web.Config{Handlers: h, Sessions: st, Static: assets.Handler(), Logger: log}))
	e := &Env{URL: srv.URL, Server: srv, Store: st, Controller: ctrl, Local: lb, DataDir: dir, cancel: cancel, done: make(chan struct{})}
	if opts.NoController {
		close(e.done)
	} else {
		go func() { ctrl.Run(ctx); close(e.done) }()
	}
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-e.done
		st.Close()
	})
	return e
}

// Browser returns an HTTP client signed in through the login link, keeping
// cookies like a browser (redirects are not followed, so tests see them).
func (e *Env) Browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.URL + "/login?token=" + Token)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("login: status %d", resp.StatusCode)
	}
	return c
}

// Do sends a request with optional form values (POSTs carry a same-origin
// Origin header like a browser's) and returns status and body.
func Do(tb testing.TB, c *http.Client, method, rawURL string, form url.Values, header map[string]string) (int, string, http.Header) {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if u, err := url.Parse(rawURL); err == nil && method != http.MethodGet {
		req.Header.Set("Origin", u.Scheme+"://"+u.Host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s", timeout, what)
}
