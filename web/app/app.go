// Package app builds the whole Trainyard application from one Config: the
// store, the backend registry, the target controller, the run dispatcher
// (which drives HyperDrive sweeps), the node refresher, the handlers and
// the router. `trainyard serve`, the test harness (web/webtest) and the
// benchmarks all call New; nothing else wires these parts together.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/compute/slurm"
	"github.com/trainyard/trainyard/compute/sshvm"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/static"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web"
	"github.com/trainyard/trainyard/web/jupyter"
	"github.com/trainyard/trainyard/web/sshd"
)

// Config is everything the application is built from. Zero values take the
// defaults `trainyard serve` documents.
type Config struct {
	// DataDir holds the SQLite database, the secrets key and job files.
	DataDir string
	// Getenv reads the secrets key's variables (TRAINYARD_SECRET_KEY…);
	// nil reads nothing.
	Getenv func(string) string
	// PublicURL is where users and runs reach the server (runs' tracking
	// URI, the OpenID redirect URL); https turns on secure cookies and HSTS.
	PublicURL string
	// LoginToken is the login-token mode's secret; ignored with OIDC.
	LoginToken string
	// OIDC, when set, signs people in with that OpenID provider instead of
	// the login token.
	OIDC *handlers.OIDCConfig
	// SessionIdle and SessionMax end browser sessions; LoginRate limits
	// /login and /auth/* per client address and minute.
	SessionIdle time.Duration
	SessionMax  time.Duration
	LoginRate   int
	// Interval is how often the controller and the dispatcher pass over
	// their work when nothing wakes them.
	Interval time.Duration
	// Local backend: how long new cluster nodes boot, instances take to
	// start or stop, and a stopped job has between SIGTERM and SIGKILL.
	BootDelay  time.Duration
	PowerDelay time.Duration
	KillGrace  time.Duration
	// HealthInterval and HealthTimeout set the probes of attached machines.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	// SSHDialTimeout bounds connecting to a VM; SSHRemoteDir is where
	// Trainyard keeps its files on each VM (tests keep them in DataDir).
	SSHDialTimeout time.Duration
	SSHRemoteDir   string
	// SSHLostGrace is how long a run's VM may not answer before the run is
	// Failed (0: sshvm.DefaultLostGrace; tests shorten it).
	SSHLostGrace time.Duration
	// AttachNetworks are the networks attached VMs, HDInsight and
	// slurmrestd may be in: attach refuses other addresses and the backends
	// check every connection (nil = compute.DefaultNetPolicy: loopback and
	// private ranges). Link-local and cloud metadata are always refused.
	AttachNetworks *compute.NetPolicy
	// Clusters, when set, answers for the node refresher on the pages and
	// the API (tests stand in for a Slurm cluster with it).
	Clusters handlers.ClusterInfoSource
	// NoSlurm leaves the Slurm backend out: Slurm targets are then recorded
	// but never contacted (tests whose clusters are stand-ins).
	NoSlurm bool
	// UnsafeNoSandbox runs local jobs as the server's own user, seeing all
	// it sees (serve --unsafe-no-sandbox). Off by default, loudly when on.
	UnsafeNoSandbox bool
	// LocalCPUs and LocalMemoryBytes bound each job on the built-in local
	// target (0: unbounded); PidsLimit bounds every rank's processes and
	// threads (0: local.DefaultPidsLimit).
	LocalCPUs        float64
	LocalMemoryBytes int64
	PidsLimit        int64
	// Azure is how the server reaches Azure ML workspaces (ARM endpoint,
	// authority, service principal); AzureOptions tunes it (tests: a client
	// trusting the replay server, fast polling).
	Azure        azure.Config
	AzureOptions azure.ServiceOptions
	// IdleMinute is how long a minute of instances' idle shutdown lasts
	// (0: a minute; tests shorten it); IdleCheckEvery how often instances
	// are checked for it (0: orchestrate.DefaultIdleCheckEvery).
	IdleMinute     time.Duration
	IdleCheckEvery time.Duration
	// SSHAddr, when set, starts the SSH server of compute instances there
	// (host:port; port 0 picks one). Its host key is DataDir/ssh_host_ed25519_key.
	SSHAddr string
	Logger  *slog.Logger
}

// App is the built application. Run its loops with Run, serve Handler, and
// Close it when done.
type App struct {
	Store      *store.Store
	Backends   *compute.Registry
	Local      *local.Backend
	SSH        *sshvm.Backend
	Slurm      *slurm.Backend // nil with Config.NoSlurm
	Controller *orchestrate.Controller
	Dispatcher *orchestrate.Dispatcher
	// Nodes keeps attached schedulers' nodes and partitions fresh.
	Nodes *orchestrate.NodeRefresher
	// Azure reaches registered Azure ML workspaces and keeps their cache.
	Azure    *azure.Service
	Handlers *handlers.Handlers
	Handler  http.Handler
	// SSHD is the SSH server of compute instances (nil when off).
	SSHD *sshd.Server
	// Jupyter runs instances' Jupyter (nil when jupyter-notebook is not installed).
	Jupyter *jupyter.Manager
	// delegated gives a user's own ARM credential (nil without Entra ID
	// sign-in): operations a user began are resumed as them after a restart.
	delegated *azure.Delegated
}

// New builds the application over cfg.DataDir, creating it (0700) on first
// start. Nothing runs until Run.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	if err := secureDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	keys, err := store.LoadKeyring(cfg.DataDir, cfg.Getenv)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Keyring: keys, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if err := compute.EnsureLocalTarget(ctx, st, time.Now()); err != nil {
		return nil, err
	}
	a := &App{Store: st}
	// Runs on this machine see nothing of the server: its whole data
	// folder (database, secrets key, every run's and instance's files) and
	// its home are hidden from them; only a run's own folder is mounted.
	hide := []string{cfg.DataDir}
	if home, err := os.UserHomeDir(); err == nil {
		hide = append(hide, home)
	}
	a.Local = local.New(local.Config{DataDir: filepath.Join(cfg.DataDir, "local"), Nodes: st, History: st,
		BootDelay: cfg.BootDelay, PowerDelay: cfg.PowerDelay, KillGrace: cfg.KillGrace, Logger: log,
		Sandbox:   local.SandboxConfig{Off: cfg.UnsafeNoSandbox, Hide: hide},
		PidsLimit: cfg.PidsLimit, LocalCPUs: cfg.LocalCPUs, LocalMemoryBytes: cfg.LocalMemoryBytes})
	if cfg.UnsafeNoSandbox {
		log.Warn("UNSAFE: --unsafe-no-sandbox: runs on this machine are not sandboxed; they run as the server's own user and can read its database, secrets key and environment")
	} else if err := a.Local.CheckSandbox(); err != nil {
		return nil, err
	}
	if cfg.AttachNetworks == nil {
		cfg.AttachNetworks = compute.DefaultNetPolicy()
	}
	a.SSH = sshvm.New(sshvm.Config{Credentials: sshvm.StoreCredentials(st), Targets: st.GetTarget, Logger: log, AttachNetworks: cfg.AttachNetworks,
		StagingDir: filepath.Join(cfg.DataDir, "ssh-staging"), DialTimeout: cfg.SSHDialTimeout, RemoteDir: cfg.SSHRemoteDir, LostGrace: cfg.SSHLostGrace})
	regs := []compute.Registration{a.Local.Registration(), a.SSH.Registration()}
	if !cfg.NoSlurm {
		a.Slurm = slurm.New(slurm.Config{Credentials: slurm.StoreCredentials(st), Logger: log, AttachNetworks: cfg.AttachNetworks})
		regs = append(regs, a.Slurm.Registration())
	}
	if a.Backends, err = compute.NewRegistry(regs...); err != nil {
		return nil, err
	}

	// The dispatcher runs submitted runs (and drives sweeps); it feeds the
	// controller the demand of queued and running runs (clusters scale to
	// it) and wakes it when runs wait for nodes.
	a.Dispatcher = orchestrate.NewDispatcher(orchestrate.DispatcherConfig{
		Runs: st, Targets: st, Sweeps: st, Backends: a.Backends, TrackingURI: cfg.PublicURL, Interval: cfg.Interval, Logger: log,
		KickTargets: func() { a.Controller.Kick() },
		UntrustedHostKey: func(ctx context.Context, target string, hk compute.UntrustedHostKey) {
			if err := a.Controller.RefuseHostKey(ctx, target, hk); err != nil {
				log.Error("recording a refused host key", "target", target, "err", err)
			}
		},
	})
	a.Controller = orchestrate.NewController(orchestrate.ControllerConfig{Store: st, Backends: a.Backends, Interval: cfg.Interval, Logger: log,
		Demand: a.Dispatcher.Demand, HealthInterval: cfg.HealthInterval, HealthTimeout: cfg.HealthTimeout,
		IdleMinute: cfg.IdleMinute, IdleCheckEvery: cfg.IdleCheckEvery})
	// A run that lost its machine marks the target Unusable and has it probed now.
	for _, reg := range a.Backends.All() {
		if n := reg.Capabilities.Unreachable; n != nil {
			n.NotifyUnreachable(func(target string, err error) {
				a.Controller.ReportUnreachable(context.WithoutCancel(ctx), target, err)
			})
		}
	}
	// Attached schedulers' nodes, partitions and version, read every few
	// seconds: the store's node table feeds the lists' counts, the rest the
	// API's show and the details page.
	a.Nodes = orchestrate.NewNodeRefresher(orchestrate.NodeRefresherConfig{Targets: st, Nodes: st, Backends: a.Backends, Logger: log, History: st})

	if cfg.AzureOptions.Logger == nil {
		cfg.AzureOptions.Logger = log
	}
	if a.Azure, err = azure.NewService(cfg.Azure, st, cfg.AzureOptions); err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}

	assets, err := static.New()
	if err != nil {
		return nil, err
	}
	secure := strings.HasPrefix(cfg.PublicURL, "https://")
	hcfg := handlers.Config{
		Store: st, Controller: a.Controller, Dispatcher: a.Dispatcher, Backends: a.Backends, Assets: assets, Logger: log,
		LoginToken: cfg.LoginToken, SecureCookies: secure, SessionTTL: cfg.SessionMax, Clusters: a.Nodes, AttachNetworks: cfg.AttachNetworks,
		Unsandboxed: cfg.UnsafeNoSandbox, Azure: a.Azure, PublicURL: cfg.PublicURL,
	}
	if cfg.Clusters != nil {
		hcfg.Clusters = cfg.Clusters
	}
	if jupyter.Installed() {
		a.Jupyter = jupyter.New(log)
		hcfg.Jupyter, hcfg.Apps.Jupyter = a.Jupyter, true
	}
	if cfg.SSHAddr != "" {
		if a.SSHD, err = startSSH(cfg, st, a.Backends, log); err != nil {
			return nil, err
		}
		hcfg.Apps.SSHHost, hcfg.Apps.SSHPort = sshEndpoint(cfg.PublicURL, a.SSHD.Addr())
	}
	if cfg.OIDC != nil {
		// Entra ID sign-in also asks for delegated access to Azure Resource
		// Manager; the refresh token is kept sealed per user, and ARM is
		// called as that user (azure.Delegated).
		oc := *cfg.OIDC
		oc.ExtraScopes = append(slices.Clone(oc.ExtraScopes), cfg.Azure.DelegatedScope(), "offline_access")
		oc.RefreshTokens = st
		if hcfg.OIDC, err = handlers.NewOIDC(ctx, oc); err != nil {
			return nil, err
		}
		delegated := azure.NewDelegated(hcfg.OIDC.TokenURL(), oc.ClientID, oc.ClientSecret, cfg.Azure.DelegatedScope(), a.Azure.HTTPClient(), st)
		a.delegated = delegated
		hcfg.AzureCredential = func(ctx context.Context, u *compute.User) azcore.TokenCredential {
			if u == nil {
				return nil
			}
			return delegated.For(ctx, u.ID)
		}
		hcfg.LoginToken = ""
		// Sessions started with the login token must not outlive the switch
		// to the identity provider (their tokens are refused too).
		if _, err := st.RevokeUserSessions(ctx, handlers.LocalUser().ID); err != nil {
			return nil, err
		}
		log.Info("sign-in with OpenID Connect", "issuer", cfg.OIDC.Issuer, "client_id", cfg.OIDC.ClientID,
			"redirect_url", cfg.OIDC.RedirectURL, "tenants", strings.Join(cfg.OIDC.Tenants, ","))
	}
	a.Handlers = handlers.New(hcfg)
	a.Handler = web.NewServer(web.Config{
		Handlers: a.Handlers, Sessions: st, Static: assets.Handler(), Logger: log, Secure: secure,
		SessionIdle: cfg.SessionIdle, LoginRate: cfg.LoginRate, DataVersion: st.Version,
		Tokens: []web.TokenResolver{web.TokenResolverFunc(a.Handlers.ResolveAccessToken), web.TokenResolverFunc(st.ResolveRunToken)},
	})
	return a, nil
}

// Loop names one of the app's background loops.
type Loop int

// The app's loops: the target controller, the run dispatcher (with the
// sweep driver) and the node refresher of attached schedulers.
const (
	LoopController Loop = iota
	LoopDispatcher
	LoopNodes
	// LoopAzure follows again the operations on registered workspaces'
	// computes that a previous run left under way, and refreshes the
	// workspaces with the service principal.
	LoopAzure
)

// Run runs the given loops (all of them when none is named) until ctx ends,
// and returns when every one has stopped.
func (a *App) Run(ctx context.Context, loops ...Loop) {
	if len(loops) == 0 {
		loops = []Loop{LoopController, LoopDispatcher, LoopNodes, LoopAzure}
	}
	runs := map[Loop]func(context.Context){LoopController: a.Controller.Run, LoopDispatcher: a.Dispatcher.Run, LoopNodes: a.Nodes.Run, LoopAzure: a.runAzure}
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(func() { runs[l](ctx) })
	}
	wg.Wait()
}

// runAzure resumes the operations left under way, then refreshes.
func (a *App) runAzure(ctx context.Context) {
	var credFor func(context.Context, string) azcore.TokenCredential
	if a.delegated != nil {
		credFor = a.delegated.For
	}
	a.Azure.Resume(ctx, credFor)
	a.Azure.Run(ctx)
}

// Close closes the backends' open connections and releases the store.
func (a *App) Close() error {
	a.Azure.Close()
	var sshErr error
	if a.SSHD != nil {
		sshErr = a.SSHD.Close()
	}
	return errors.Join(sshErr, a.Backends.Close(), a.Store.Close())
}

// secureDataDir creates the data folder, or takes the one it is handed,
// and makes it the server's alone: the folder 0700 and the files in it not
// readable by group or others, whatever mode they were given (an operator's
// umask, a copied backup), so that no other account on the machine reads
// the database or the secrets key.
func secureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(filepath.Join(dir, e.Name()), mode&^0o077); err != nil {
				return fmt.Errorf("data folder: %w", err)
			}
		}
	}
	return nil
}
