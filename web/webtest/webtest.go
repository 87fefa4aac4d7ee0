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

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/compute/slurm"
	"github.com/trainyard/trainyard/compute/sshvm"
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
	Dispatcher *compute.Dispatcher
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
	// (default: compute.DefaultHealthInterval).
	HealthInterval time.Duration
	// Slurm wires the Slurm backend and the node refresher of attached Slurm
	// clusters (as `trainyard serve` does; Clusters, when set, still wins).
	Slurm bool
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
	if opts.LogOutput != nil {
		log = slog.New(slog.NewTextHandler(opts.LogOutput, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
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
	sb := sshvm.New(sshvm.Config{Credentials: sshvm.StoreCredentials(st), Targets: st.GetTarget, Logger: log,
		StagingDir: filepath.Join(dir, "ssh-staging"), DialTimeout: 5 * time.Second,
		// Test VMs are sshds on this machine: their side stays in the data folder.
		RemoteDir: filepath.Join(dir, "ssh-remote")})
	var nodes *compute.NodeRefresher
	regs := []compute.Registration{lb.Registration(), sb.Registration()}
	if opts.Slurm {
		regs = append(regs, slurm.New(slurm.Config{Credentials: slurm.StoreCredentials(st), Logger: log}).Registration())
	}
	backends := compute.MustRegistry(regs...)
	if opts.Slurm {
		nodes = compute.NewNodeRefresher(compute.NodeRefresherConfig{Targets: st, Nodes: st, Backends: backends, Logger: log, History: st})
		if opts.Clusters == nil {
			opts.Clusters = nodes
		}
	}
	var disp *compute.Dispatcher
	ctrl := compute.NewController(compute.ControllerConfig{Store: st, Backends: backends, Interval: 50 * time.Millisecond, Logger: log,
		Demand: func(target string) int { return disp.Demand(target) }, HealthInterval: opts.HealthInterval, HealthTimeout: 5 * time.Second})
	sb.NotifyUnreachable(func(target string, err error) { ctrl.ReportUnreachable(context.WithoutCancel(ctx), target, err) })
	assets, err := static.New()
	if err != nil {
		tb.Fatal(err)
	}
	// The app's URL is needed for its OIDC redirect URL before the app is
	// built, so the server starts first and the handler is plugged in after.
	// Until then (a client of a server that restarts on the same address
	// may knock early) requests get 503, as from a server still starting.
	var app atomic.Pointer[http.Handler]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := app.Load(); h != nil {
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
	disp = compute.NewDispatcher(compute.DispatcherConfig{Runs: st, Targets: st, Sweeps: st, Backends: backends, TrackingURI: srv.URL,
		Interval: 50 * time.Millisecond, Logger: log, KickTargets: ctrl.Kick,
		UntrustedHostKey: func(ctx context.Context, target string, hk compute.UntrustedHostKey) {
			_ = ctrl.RefuseHostKey(ctx, target, hk)
		}})
	hcfg := handlers.Config{Store: st, Sessions: st, Identity: st, Controller: ctrl, Backends: backends, Assets: assets, Logger: log,
		LoginToken: Token, SecureCookies: opts.TLS, Runs: handlers.RunDeps{Store: st, Dispatcher: disp}, Clusters: opts.Clusters}
	if p := opts.Provider; p != nil {
		oc := handlers.OIDCConfig{Issuer: p.Issuer(p.TenantID), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: srv.URL + "/auth/callback", PostLogoutRedirectURL: srv.URL + "/signed-out"}
		if opts.OIDC != nil {
			opts.OIDC(&oc)
		}
		p.RegisterRedirectURI(oc.RedirectURL)
		o, err := handlers.NewOIDC(ctx, oc)
		if err != nil {
			srv.Close()
			tb.Fatal(err)
		}
		hcfg.OIDC, hcfg.LoginToken = o, ""
	}
	h := handlers.New(hcfg)
	var handler http.Handler = web.NewServer(web.Config{Handlers: h, Sessions: st, Static: assets.Handler(), Logger: log, Secure: opts.TLS, LoginRate: opts.LoginRate,
		Tokens: []web.TokenResolver{web.TokenResolverFunc(h.ResolveAccessToken), web.TokenResolverFunc(st.ResolveRunToken)}})
	app.Store(&handler)
	e := &Env{URL: srv.URL, Server: srv, Store: st, Controller: ctrl, Dispatcher: disp, Local: lb, SSH: sb, DataDir: dir, Handlers: h, Provider: opts.Provider,
		cancel: cancel, done: make(chan struct{})}
	var loops sync.WaitGroup
	if !opts.NoController {
		loops.Go(func() { ctrl.Run(ctx) })
	}
	if !opts.NoDispatcher {
		loops.Go(func() { disp.Run(ctx) })
	}
	if nodes != nil {
		loops.Go(func() { nodes.Run(ctx) })
	}
	go func() { loops.Wait(); close(e.done) }()
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
		_ = e.SSH.Close()
		e.Store.Close()
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
