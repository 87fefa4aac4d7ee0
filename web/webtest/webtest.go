// Package webtest starts the real application (real SQLite file, real local
// backend, real controller, real router) on an httptest server, for handler,
// browser and benchmark tests.
package webtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/compute/sshvm"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/app"
)

// Token is the login token of every test server.
const Token = "test-login-token-0123456789"

// Env is one running application.
type Env struct {
	URL    string
	Server *httptest.Server
	// App is the application under test; the fields below are its parts.
	App        *app.App
	Store      *store.Store
	Controller *orchestrate.Controller
	Dispatcher *orchestrate.Dispatcher
	Local      *local.Backend
	SSH        *sshvm.Backend
	DataDir    string
	Handlers   *handlers.Handlers
	// Provider is the test OpenID provider when the app signs in with one.
	Provider *Provider
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// Options tunes an Env.
type Options struct {
	// NoController leaves the controller stopped (benchmarks, state snapshots).
	NoController bool
	DataDir      string
	BootDelay    time.Duration
	// Provider, when set, makes the app sign people in with this OpenID
	// provider (and turns the login token off); OIDC then adjusts the
	// settings (by default the provider's own tenant as the issuer).
	Provider *Provider
	OIDC     func(*handlers.OIDCConfig)
	// TLS serves the app over https (Secure, __Host- cookies; HSTS).
	TLS bool
	// LogOutput receives the server's log; nil discards it.
	LogOutput io.Writer
	// LoginRate is the per-client limit on /login and /auth/* per minute.
	LoginRate int
	// Addr makes the server listen there (host:port) instead of on a fresh
	// port, e.g. to restart an app on the address its runs report to.
	Addr string
	// NoDispatcher leaves the run dispatcher stopped (benchmarks over
	// seeded runs).
	NoDispatcher bool
	// Clusters stands in for the node refresher of attached Slurm clusters
	// (what the details page and the API show of their partitions and nodes).
	Clusters handlers.ClusterInfoSource
	// HealthInterval is how often the controller probes attached machines
	// (default: orchestrate.DefaultHealthInterval).
	HealthInterval time.Duration
	// SSHLostGrace is how long a run's VM may not answer before the run
	// fails (default: sshvm.DefaultLostGrace).
	SSHLostGrace time.Duration
	// SSH starts the SSH server of compute instances on a free loopback port.
	SSH bool
	// IdleMinute shortens a minute of instances' idle shutdown (checked
	// every 50 ms when set).
	IdleMinute time.Duration
	// Interval is how often the controller and the dispatcher pass over
	// their work when nothing wakes them (default 50 ms, for quick tests;
	// benchmarks of the orchestration use serve's 500 ms).
	Interval time.Duration
	// UnsafeNoSandbox runs local jobs unsandboxed (benchmarks of what the
	// sandbox costs).
	UnsafeNoSandbox bool
	// Slurm wires the Slurm backend and the node refresher of attached Slurm
	// clusters (as `trainyard serve` does; Clusters, when set, still wins).
	Slurm bool
	// Azure and AzureOptions reach Azure ML workspaces (tests: the replay
	// server of compute/azure/armreplay and a client trusting it).
	Azure        azure.Config
	AzureOptions azure.ServiceOptions
	// AzureLoop runs the app's Azure loop: operations left under way are
	// resumed, workspaces refreshed with the service principal.
	AzureLoop bool
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
	if opts.Interval == 0 {
		opts.Interval = 50 * time.Millisecond
	}
	log := slog.New(slog.DiscardHandler)
	if opts.LogOutput != nil {
		log = slog.New(slog.NewTextHandler(opts.LogOutput, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The app's URL is needed for its OIDC redirect URL before the app is
	// built, so the server starts first and the handler is plugged in after.
	// Until then (a client of a server that restarts on the same address
	// may knock early) requests get 503, as from a server still starting.
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			tb.Fatal(err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	if opts.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	cfg := app.Config{
		DataDir: dir, PublicURL: srv.URL, LoginToken: Token, LoginRate: opts.LoginRate,
		Interval: opts.Interval, BootDelay: opts.BootDelay, PowerDelay: 100 * time.Millisecond, KillGrace: 500 * time.Millisecond,
		HealthInterval: opts.HealthInterval, HealthTimeout: 5 * time.Second,
		// Test VMs are sshds on this machine: their side stays in the data folder.
		SSHDialTimeout: 5 * time.Second, SSHRemoteDir: filepath.Join(dir, "ssh-remote"),
		SSHLostGrace: opts.SSHLostGrace,
		Clusters:     opts.Clusters, NoSlurm: !opts.Slurm, Logger: log, UnsafeNoSandbox: opts.UnsafeNoSandbox,
		Azure: opts.Azure, AzureOptions: opts.AzureOptions,
	}
	if opts.SSH {
		cfg.SSHAddr = "127.0.0.1:0"
	}
	if opts.IdleMinute > 0 {
		cfg.IdleMinute, cfg.IdleCheckEvery = opts.IdleMinute, 50*time.Millisecond
	}
	if p := opts.Provider; p != nil {
		oc := handlers.OIDCConfig{Issuer: p.Issuer(p.TenantID), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: srv.URL + "/auth/callback", PostLogoutRedirectURL: srv.URL + "/signed-out"}
		if opts.OIDC != nil {
			opts.OIDC(&oc)
		}
		p.RegisterRedirectURI(oc.RedirectURL)
		cfg.OIDC = &oc
	}
	a, err := app.New(ctx, cfg)
	if err != nil {
		srv.Close()
		cancel()
		tb.Fatal(err)
	}
	handler.Store(&a.Handler)
	e := &Env{URL: srv.URL, Server: srv, App: a, Store: a.Store, Controller: a.Controller, Dispatcher: a.Dispatcher, Local: a.Local, SSH: a.SSH,
		DataDir: dir, Handlers: a.Handlers, Provider: opts.Provider, cancel: cancel, done: make(chan struct{})}
	loops := []app.Loop{}
	if !opts.NoController {
		loops = append(loops, app.LoopController)
	}
	if !opts.NoDispatcher {
		loops = append(loops, app.LoopDispatcher)
	}
	if opts.Slurm {
		loops = append(loops, app.LoopNodes)
	}
	if opts.AzureLoop {
		loops = append(loops, app.LoopAzure)
	}
	go func() {
		if len(loops) > 0 {
			a.Run(ctx, loops...)
		}
		close(e.done)
	}()
	tb.Cleanup(e.Kill)
	return e
}

// Kill stops the app the way kill -9 stops a server: the HTTP server closes
// and the controller and dispatcher stop where they are, with nothing
// finalised; jobs the local backend started keep running. The data folder
// stays, so a new Env on it (Options.DataDir, Options.Addr) carries on as a
// restarted server would. Kill is called again, harmlessly, when the test
// ends.
func (e *Env) Kill() {
	e.stopOnce.Do(func() {
		e.Server.CloseClientConnections()
		e.Server.Close()
		e.cancel()
		<-e.done
		_ = e.App.Close()
	})
}

// Browser returns an HTTP client signed in through the login link, keeping
// cookies like a browser (redirects are not followed, so tests see them).
func (e *Env) Browser(tb testing.TB) *http.Client {
	tb.Helper()
	c := e.Client()
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

// Client returns a cookie-keeping client like a browser's that does not
// follow redirects (tests see them); over TLS it trusts the test server.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if e.Server.TLS != nil {
		c.Transport = e.Server.Client().Transport
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

// WaitFor polls cond until it holds, or fails the test after computetest.Slack
// times the timeout (what a quiet machine needs; see Slack).
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout * computetest.Slack)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s", timeout*computetest.Slack, what)
}
