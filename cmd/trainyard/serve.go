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
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/web"
	"github.com/trainyard/trainyard/web/app"
)

// defaultMemoryLimit keeps the server's resident memory under 100 MB with
// 100,000 runs under load (docs/BENCHMARKS.md, "Server memory"): without
// it the heap, about 20 MB live while pages are served, grows to twice
// that between collections.
const defaultMemoryLimit = "40MiB"

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
	// AttachNetworks are the networks attached machines and slurmrestd may
	// be in (--attach-networks).
	AttachNetworks *compute.NetPolicy
	// UnsafeNoSandbox runs local jobs unsandboxed; LocalCPUs,
	// LocalMemoryBytes and PidsLimit bound local jobs (see app.Config).
	UnsafeNoSandbox  bool
	LocalCPUs        float64
	LocalMemoryBytes int64
	PidsLimit        int64
	// MemoryLimit is the Go runtime's soft memory limit for the server
	// (--memory-limit; 0: none): past it the collector runs more often
	// instead of letting the heap grow to twice what is live.
	MemoryLimit int64
	// Azure is how Azure ML workspaces are reached: ARM's endpoint, the
	// authority, and the service principal (secret from the environment only).
	Azure azure.Config
	// SSHAddr is where the embedded SSH server for compute instances
	// listens ("" = off).
	SSHAddr string
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
	fs.StringVar(&cfg.Azure.Endpoint, "arm-endpoint", envOr(getenv, "TRAINYARD_ARM_ENDPOINT", azure.DefaultEndpoint), "Azure Resource Manager's `URL` (env TRAINYARD_ARM_ENDPOINT; Azure Government, Azure China or Azure Stack have their own)")
	fs.StringVar(&cfg.Azure.AuthorityHost, "azure-authority-host", envOr(getenv, "TRAINYARD_AZURE_AUTHORITY_HOST", azure.DefaultAuthorityHost), "the Microsoft Entra ID authority `URL` (env TRAINYARD_AZURE_AUTHORITY_HOST)")
	fs.StringVar(&cfg.Azure.TenantID, "azure-tenant-id", getenv("TRAINYARD_AZURE_TENANT_ID"), "the service principal's tenant `ID` (env TRAINYARD_AZURE_TENANT_ID)")
	fs.StringVar(&cfg.Azure.ClientID, "azure-client-id", getenv("TRAINYARD_AZURE_CLIENT_ID"), "the service principal's client `ID` (env TRAINYARD_AZURE_CLIENT_ID; its secret only from TRAINYARD_AZURE_CLIENT_SECRET)")
	attachNets := fs.String("attach-networks", envOr(getenv, "TRAINYARD_ATTACH_NETWORKS", compute.DefaultAttachNetworks),
		"comma-separated `CIDRs` attached VMs, HDInsight and slurmrestd may be in; link-local and cloud metadata addresses are refused whatever this says (env TRAINYARD_ATTACH_NETWORKS)")
	fs.BoolVar(&cfg.UnsafeNoSandbox, "unsafe-no-sandbox", false, "run jobs on this machine as the server's own user, able to read its database and secrets (never on a shared server)")
	localCPUs := fs.String("local-cpus", getenv("TRAINYARD_LOCAL_CPUS"), "CPU cores each job on the built-in local target may use, e.g. 2 or 0.5 (env TRAINYARD_LOCAL_CPUS; default: no limit)")
	localMemory := fs.String("local-memory", getenv("TRAINYARD_LOCAL_MEMORY"), "memory each job on the built-in local target may use, e.g. 8GiB (env TRAINYARD_LOCAL_MEMORY; default: no limit)")
	fs.Int64Var(&cfg.PidsLimit, "pids-limit", local.DefaultPidsLimit, "processes and threads each rank of a job may have on this machine")
	memLimit := fs.String("memory-limit", envOr(getenv, "TRAINYARD_MEMORY_LIMIT", defaultMemoryLimit),
		"soft `size` limit of the server's Go heap, e.g. 40MiB; the collector works harder near it (env TRAINYARD_MEMORY_LIMIT; 0 for none; GOMEMLIMIT, when set, wins)")
	fs.StringVar(&cfg.SSHAddr, "ssh-addr", getenv("TRAINYARD_SSH_ADDR"), "listen `host:port` of the SSH server for compute instances (ssh -p PORT INSTANCE@HOST with the instance's key); off when empty (env TRAINYARD_SSH_ADDR)")
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
	if cfg.AttachNetworks, err = compute.ParseNetPolicy(*attachNets); err != nil {
		return cfg, fmt.Errorf("--attach-networks: %w", err)
	}
	if *localCPUs != "" {
		if cfg.LocalCPUs, err = strconv.ParseFloat(*localCPUs, 64); err != nil || cfg.LocalCPUs <= 0 {
			return cfg, fmt.Errorf("--local-cpus %q: want a positive number of cores such as 2 or 0.5", *localCPUs)
		}
	}
	if *localMemory != "" {
		if cfg.LocalMemoryBytes, err = units.RAMInBytes(*localMemory); err != nil || cfg.LocalMemoryBytes < 16<<20 {
			return cfg, fmt.Errorf("--local-memory %q: want a size of at least 16MiB such as 8GiB or 512MiB", *localMemory)
		}
	}
	if *memLimit == "0" {
		cfg.MemoryLimit = 0
	} else if cfg.MemoryLimit, err = units.RAMInBytes(*memLimit); err != nil || cfg.MemoryLimit < 16<<20 {
		return cfg, fmt.Errorf("--memory-limit %q: want 0 or a size of at least 16MiB such as 40MiB", *memLimit)
	}
	if cfg.PidsLimit < 16 {
		return cfg, fmt.Errorf("--pids-limit %d: want at least 16 (a Python job alone runs a dozen threads)", cfg.PidsLimit)
	}
	cfg.Token = getenv("TRAINYARD_TOKEN")
	cfg.Azure.ClientSecret = getenv("TRAINYARD_AZURE_CLIENT_SECRET")
	if err := cfg.Azure.Check(); err != nil {
		return cfg, err
	}
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
	if cfg.MemoryLimit > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if cfg.OIDC.Issuer != "" {
		if cfg.Token != "" {
			log.Warn("TRAINYARD_TOKEN is ignored: people sign in with the OpenID provider", "issuer", cfg.OIDC.Issuer)
		}
		cfg.Token = ""
	} else if cfg.Token == "" {
		cfg.Token = randomToken()
	}
	a, err := newApp(ctx, cfg, getenv, log)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // uploads; no WriteTimeout: it would cut live streams
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { a.Run(runCtx); close(done) }()

	if cfg.UnsafeNoSandbox {
		fmt.Fprintln(stdout, "WARNING: --unsafe-no-sandbox: runs on this machine are NOT sandboxed. They run as the server's own user and can read its database, secrets key and environment. Never use this on a server other people submit to.")
	}
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

// newApp builds the application from serve's settings (web/app does the
// wiring; tests use this to run the real program).
func newApp(ctx context.Context, cfg serveConfig, getenv func(string) string, log *slog.Logger) (*app.App, error) {
	ac := app.Config{
		DataDir: cfg.DataDir, Getenv: getenv, PublicURL: cfg.PublicURL, LoginToken: cfg.Token,
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, LoginRate: cfg.LoginRate,
		Interval: cfg.Interval, BootDelay: cfg.BootDelay, PowerDelay: cfg.PowerDelay, Logger: log, AttachNetworks: cfg.AttachNetworks,
		UnsafeNoSandbox: cfg.UnsafeNoSandbox, LocalCPUs: cfg.LocalCPUs, LocalMemoryBytes: cfg.LocalMemoryBytes, PidsLimit: cfg.PidsLimit,
		Azure:   cfg.Azure,
		SSHAddr: cfg.SSHAddr,
	}
	if cfg.OIDC.Issuer != "" {
		oc := cfg.OIDC
		ac.OIDC = &oc
	}
	return app.New(ctx, ac)
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
