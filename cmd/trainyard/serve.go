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
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/local"
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
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("trainyard serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveConfig{}
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "TRAINYARD_ADDR", "127.0.0.1:8080"), "listen address `host:port` (env TRAINYARD_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", envOr(getenv, "TRAINYARD_DATA", "./data"), "data `folder`: SQLite database, secrets key, job files (env TRAINYARD_DATA)")
	fs.StringVar(&cfg.PublicURL, "public-url", getenv("TRAINYARD_PUBLIC_URL"), "the `URL` users reach the server at, if not http://ADDR (env TRAINYARD_PUBLIC_URL)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", getenv("TRAINYARD_ALLOW_REMOTE") == "1", "allow the login-token mode on a non-loopback address (env TRAINYARD_ALLOW_REMOTE=1)")
	level := fs.String("log-level", envOr(getenv, "TRAINYARD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env TRAINYARD_LOG_LEVEL)")
	fs.DurationVar(&cfg.BootDelay, "node-boot-delay", 1500*time.Millisecond, "how long a new local cluster node is preparing")
	fs.DurationVar(&cfg.PowerDelay, "instance-power-delay", 2*time.Second, "how long a local instance takes to start or stop")
	fs.DurationVar(&cfg.Interval, "reconcile-interval", 500*time.Millisecond, "how often the controller moves targets along")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: trainyard serve [--addr HOST:PORT] [--data DIR] [--public-url URL]")
		fmt.Fprintln(stderr, "\nStarts the web app and JSON API. Without TRAINYARD_TOKEN a login token is generated and printed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Token = getenv("TRAINYARD_TOKEN")
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Addr
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("--public-url %q: must be an http:// or https:// URL", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return cfg, fmt.Errorf("--addr %q: %w", cfg.Addr, err)
	}
	if !isLoopback(host) && !cfg.AllowRemote {
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfg.Token == "" {
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
	go func() { app.Controller.Run(runCtx); close(done) }()

	fmt.Fprintf(stdout, "Trainyard is running on %s (data in %s).\nOpen this link to sign in:\n\n    %s/login?token=%s\n\n", cfg.Addr, cfg.DataDir, cfg.PublicURL, cfg.Token)
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
	Handler    http.Handler
	Local      *local.Backend
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
	backendFor := func(k compute.Kind) compute.Backend {
		switch k {
		case compute.KindLocal, compute.KindCluster, compute.KindInstance:
			return localBackend
		}
		return nil
	}
	if err := compute.EnsureLocalTarget(ctx, st, time.Now()); err != nil {
		st.Close()
		return nil, err
	}
	ctrl := compute.NewController(compute.ControllerConfig{Store: st, BackendFor: backendFor, Interval: cfg.Interval, Logger: log})
	assets, err := static.New()
	if err != nil {
		st.Close()
		return nil, err
	}
	secure := strings.HasPrefix(cfg.PublicURL, "https://")
	h := handlers.New(handlers.Config{
		Store: st, Sessions: st, Controller: ctrl, BackendFor: backendFor, Assets: assets, Logger: log,
		LoginToken: cfg.Token, SecureCookies: secure,
	})
	handler := web.NewServer(web.Config{Handlers: h, Sessions: st, Static: assets.Handler(), Logger: log, Secure: secure})
	return &app{Store: st, Controller: ctrl, Handler: handler, Local: localBackend}, nil
}

// Close releases the store.
func (a *app) Close() error { return a.Store.Close() }

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
