package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// serveConfig is `trainyard serve`'s settings, from flags and environment.
type serveConfig struct {
	Addr        string
	DataDir     string
	PublicURL   string
	Token       string
	AllowRemote bool
	LogLevel    slog.Level
	// BootDelay and PowerDelay set how long the local backend's nodes take to
	// boot and instances to start or stop: visible in the UI, short in tests.
	BootDelay  time.Duration
	PowerDelay time.Duration
	Interval   time.Duration
	// SessionIdle and SessionMax end a browser session after that long
	// unused, and that long after sign-in whatever happens.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// LoginRate is how many /login and /auth/* requests one client address
	// may make per minute.
	LoginRate int
	// OIDC, when its Issuer is set, signs people in with an OpenID provider
	// (Entra ID) instead of the login token.
	OIDC handlers.OIDCConfig
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("trainyard serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveConfig{}
	var err error
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "TRAINYARD_ADDR", "127.0.0.1:8080"), "listen address `host:port` (env TRAINYARD_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", envOr(getenv, "TRAINYARD_DATA", "./data"), "data `folder`: SQLite database, secrets key, job files (env TRAINYARD_DATA)")
	fs.StringVar(&cfg.PublicURL, "public-url", getenv("TRAINYARD_PUBLIC_URL"), "the `URL` users reach the server at, if not http://ADDR (env TRAINYARD_PUBLIC_URL)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", getenv("TRAINYARD_ALLOW_REMOTE") == "1", "allow the login-token mode on a non-loopback address (env TRAINYARD_ALLOW_REMOTE=1)")
	level := fs.String("log-level", envOr(getenv, "TRAINYARD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env TRAINYARD_LOG_LEVEL)")
	fs.DurationVar(&cfg.BootDelay, "node-boot-delay", 1500*time.Millisecond, "how long a new local cluster node is preparing")
	fs.DurationVar(&cfg.PowerDelay, "instance-power-delay", 2*time.Second, "how long a local instance takes to start or stop")
	fs.DurationVar(&cfg.Interval, "reconcile-interval", 500*time.Millisecond, "how often the controller moves targets along")
	idle := fs.String("session-idle", envOr(getenv, "TRAINYARD_SESSION_IDLE", "1h"), "end a browser session unused this `long` (env TRAINYARD_SESSION_IDLE)")
	maxAge := fs.String("session-max", envOr(getenv, "TRAINYARD_SESSION_MAX", "12h"), "end a browser session this `long` after sign-in (env TRAINYARD_SESSION_MAX)")
	loginRate := fs.String("login-rate", envOr(getenv, "TRAINYARD_LOGIN_RATE", strconv.Itoa(web.DefaultLoginRate)), "sign-in requests (/login, /auth/*) one client address may make per `minute` (env TRAINYARD_LOGIN_RATE)")
	fs.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", getenv("TRAINYARD_OIDC_ISSUER"), "OpenID provider `URL`, e.g. https://login.microsoftonline.com/<tenant>/v2.0; turns on sign-in with it (env TRAINYARD_OIDC_ISSUER)")
	fs.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", getenv("TRAINYARD_OIDC_CLIENT_ID"), "the app registration's client `ID` (env TRAINYARD_OIDC_CLIENT_ID)")
	secretFile := fs.String("oidc-client-secret-file", getenv("TRAINYARD_OIDC_CLIENT_SECRET_FILE"), "read the client secret from this `file` (env TRAINYARD_OIDC_CLIENT_SECRET_FILE; or set TRAINYARD_OIDC_CLIENT_SECRET)")
	tenants := fs.String("oidc-tenants", getenv("TRAINYARD_OIDC_TENANTS"), "comma-separated tenant `IDs` allowed to sign in (env TRAINYARD_OIDC_TENANTS; required for a multi-tenant issuer)")
	groupRoles := fs.String("oidc-group-roles", getenv("TRAINYARD_OIDC_GROUP_ROLES"), "`groupID=Role,…` to give roles by group membership (env TRAINYARD_OIDC_GROUP_ROLES)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: trainyard serve [--addr HOST:PORT] [--data DIR] [--public-url URL]")
		fmt.Fprintln(stderr, "\nStarts the web app and JSON API. Without TRAINYARD_TOKEN a login token is generated and printed.")
		fs.PrintDefaults()
	}
	if err = fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	if cfg.SessionIdle, err = time.ParseDuration(*idle); err != nil || cfg.SessionIdle <= 0 {
		return cfg, fmt.Errorf("--session-idle %q: want a positive duration such as 30m", *idle)
	}
	if cfg.SessionMax, err = time.ParseDuration(*maxAge); err != nil || cfg.SessionMax <= 0 {
		return cfg, fmt.Errorf("--session-max %q: want a positive duration such as 12h", *maxAge)
	}
	if cfg.LoginRate, err = strconv.Atoi(*loginRate); err != nil || cfg.LoginRate <= 0 {
		return cfg, fmt.Errorf("--login-rate %q: want a positive number of requests a minute", *loginRate)
	}
	cfg.Token = getenv("TRAINYARD_TOKEN")
	if cfg.OIDC.Issuer != "" {
		cfg.OIDC.ClientSecret = getenv("TRAINYARD_OIDC_CLIENT_SECRET")
		if *secretFile != "" {
			b, err := os.ReadFile(*secretFile)
			if err != nil {
				return cfg, fmt.Errorf("--oidc-client-secret-file: %w", err)
			}
			cfg.OIDC.ClientSecret = strings.TrimSpace(string(b))
		}
		for _, t := range strings.Split(*tenants, ",") {
			if t = strings.TrimSpace(t); t != "" {
				cfg.OIDC.Tenants = append(cfg.OIDC.Tenants, t)
			}
		}
		if cfg.OIDC.GroupRoles, err = handlers.ParseGroupRoles(*groupRoles); err != nil {
			return cfg, fmt.Errorf("--oidc-group-roles: %w", err)
		}
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Addr
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("--public-url %q: must be an http:// or https:// URL", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.OIDC.Issuer != "" {
		cfg.OIDC.RedirectURL = cfg.PublicURL + "/auth/callback"
		cfg.OIDC.PostLogoutRedirectURL = cfg.PublicURL + "/signed-out"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return cfg, fmt.Errorf("--addr %q: %w", cfg.Addr, err)
	}
	if cfg.OIDC.Issuer == "" && !isLoopback(host) && !cfg.AllowRemote {
		return cfg, fmt.Errorf("--addr %s is not a loopback address: the login-token mode is meant for one person on this machine; pass --allow-remote (or TRAINYARD_ALLOW_REMOTE=1) to serve it on the network anyway", cfg.Addr)
	}
	return cfg, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// runServe is `trainyard serve`: it opens the store, starts the controller
// and serves HTTP until ctx ends.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, cfg.LogLevel)
	if cfg.OIDC.Issuer != "" {
		if cfg.Token != "" {
			log.Warn("TRAINYARD_TOKEN is ignored: people sign in with the OpenID provider", "issuer", cfg.OIDC.Issuer)
		}
		cfg.Token = ""
	} else if cfg.Token == "" {
		cfg.Token = randomToken()
	}
	app, err := newApp(ctx, cfg, getenv, log)
	if err != nil {
		return err
	}
	defer app.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           app.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // uploads; no WriteTimeout: it would cut live streams
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { app.runLoops(runCtx); close(done) }()

	if cfg.OIDC.Issuer != "" {
		fmt.Fprintf(stdout, "Trainyard is running on %s (data in %s).\nSign in with %s at:\n\n    %s/login\n\n", cfg.Addr, cfg.DataDir, cfg.OIDC.Issuer, cfg.PublicURL)
	} else {
		fmt.Fprintf(stdout, "Trainyard is running on %s (data in %s).\nOpen this link to sign in:\n\n    %s/login?token=%s\n\n", cfg.Addr, cfg.DataDir, cfg.PublicURL, cfg.Token)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stop()
		<-done
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	stop()
	<-done
	log.Info("stopped")
	return nil
}

// app is the wired application: store, backends, controller, HTTP handler.
type app struct {
	Store      *store.Store
	Controller *compute.Controller
	Dispatcher *compute.Dispatcher
	// Nodes keeps attached Slurm clusters' nodes and partitions fresh.
	Nodes   *compute.NodeRefresher
	Handler http.Handler
	Local   *local.Backend
	SSH     *sshvm.Backend
}

// newApp wires everything the server needs; tests use it to run the real program.
func newApp(ctx context.Context, cfg serveConfig, getenv func(string) string, log *slog.Logger) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	keys, err := store.LoadKeyring(cfg.DataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Keyring: keys, Logger: log})
	if err != nil {
		return nil, err
	}
	localBackend := local.New(local.Config{
		DataDir: filepath.Join(cfg.DataDir, "local"), Nodes: st, BootDelay: cfg.BootDelay, PowerDelay: cfg.PowerDelay, Logger: log,
	})
	sshBackend := sshvm.New(sshvm.Config{
		Credentials: sshvm.StoreCredentials(st), Targets: st.GetTarget, Logger: log,
		StagingDir: filepath.Join(cfg.DataDir, "ssh-staging"),
	})
	slurmBackend := slurm.New(slurm.Config{Credentials: slurm.StoreCredentials(st), Logger: log})
	backends := compute.MustRegistry(localBackend.Registration(), sshBackend.Registration(), slurmBackend.Registration())
	// Attached Slurm clusters' nodes, partitions and version, read every few
	// seconds: the store's node table feeds the lists' counts, the rest the
	// API's show and the details page.
	nodes := compute.NewNodeRefresher(compute.NodeRefresherConfig{
		Targets: st, Nodes: st, Backends: backends, Logger: log, History: st,
	})
	if err := compute.EnsureLocalTarget(ctx, st, time.Now()); err != nil {
		st.Close()
		return nil, err
	}
	// The dispatcher runs submitted runs; it feeds the controller the demand
	// of queued and running runs (clusters scale to it) and wakes it when
	// runs wait for nodes.
	var ctrl *compute.Controller
	disp := compute.NewDispatcher(compute.DispatcherConfig{
		Runs: st, Targets: st, Sweeps: st, Backends: backends, TrackingURI: cfg.PublicURL, Interval: cfg.Interval, Logger: log,
		KickTargets: func() { ctrl.Kick() },
		UntrustedHostKey: func(ctx context.Context, target string, hk compute.UntrustedHostKey) {
			if err := ctrl.RefuseHostKey(ctx, target, hk); err != nil {
				log.Error("recording a refused host key", "target", target, "err", err)
			}
		},
	})
	ctrl = compute.NewController(compute.ControllerConfig{Store: st, Backends: backends, Interval: cfg.Interval, Logger: log, Demand: disp.Demand})
	// A run that lost its VM marks the target Unusable and has it probed now.
	sshBackend.NotifyUnreachable(func(target string, err error) {
		ctrl.ReportUnreachable(context.WithoutCancel(ctx), target, err)
	})
	assets, err := static.New()
	if err != nil {
		st.Close()
		return nil, err
	}
	secure := strings.HasPrefix(cfg.PublicURL, "https://")
	var provider *handlers.OIDC
	if cfg.OIDC.Issuer != "" {
		if provider, err = handlers.NewOIDC(ctx, cfg.OIDC); err != nil {
			st.Close()
			return nil, err
		}
		// Sessions started with the login token must not outlive the switch
		// to the identity provider (their tokens are refused too).
		if _, err := st.RevokeUserSessions(ctx, handlers.LocalUser().ID); err != nil {
			st.Close()
			return nil, err
		}
		log.Info("sign-in with OpenID Connect", "issuer", cfg.OIDC.Issuer, "client_id", cfg.OIDC.ClientID, "redirect_url", cfg.OIDC.RedirectURL, "tenants", strings.Join(cfg.OIDC.Tenants, ","))
	}
	h := handlers.New(handlers.Config{
		Store: st, Sessions: st, Identity: st, OIDC: provider, Controller: ctrl, Backends: backends, Assets: assets, Logger: log,
		LoginToken: cfg.Token, SecureCookies: secure, SessionTTL: cfg.SessionMax,
		Runs: handlers.RunDeps{Store: st, Dispatcher: disp}, Clusters: nodes,
	})
	handler := web.NewServer(web.Config{
		Handlers: h, Sessions: st, Static: assets.Handler(), Logger: log, Secure: secure, SessionIdle: cfg.SessionIdle, LoginRate: cfg.LoginRate,
		Tokens: []web.TokenResolver{web.TokenResolverFunc(h.ResolveAccessToken), web.TokenResolverFunc(st.ResolveRunToken)},
	})
	return &app{Store: st, Controller: ctrl, Dispatcher: disp, Nodes: nodes, Handler: handler, Local: localBackend, SSH: sshBackend}, nil
}

// runLoops runs the controller, the dispatcher and the node refresher until
// ctx ends, and returns when all three have stopped.
func (a *app) runLoops(ctx context.Context) {
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){a.Dispatcher.Run, a.Nodes.Run, a.Controller.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	wg.Wait()
}

// Close closes the SSH connections and releases the store.
func (a *app) Close() error {
	_ = a.SSH.Close()
	return a.Store.Close()
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secretKeys are log attribute keys whose values are never written.
var secretKeys = []string{"password", "token", "secret", "private_key", "privatekey", "authorization", "cookie", "passphrase", "code_verifier", "id_token"}

// newLogger is the server's logger: text to w, with any attribute whose key
// looks like a credential replaced by REDACTED (callers never log secrets;
// this is the net under them).
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		k := strings.ToLower(a.Key)
		if k == "secret_key" { // the store's key ID, not the key
			return a
		}
		for _, s := range secretKeys {
			if strings.Contains(k, s) {
				return slog.String(a.Key, "REDACTED")
			}
		}
		return a
	}}))
}
