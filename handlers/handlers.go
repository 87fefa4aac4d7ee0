// Package handlers holds the actions behind every route: each parses the
// request, calls the store or the controller, builds a view model and renders
// it. No SQL and no backend protocol code lives here.
package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/static"
	"github.com/trainyard/trainyard/store"
)

// Config is everything the handlers are built with.
type Config struct {
	// Store is the one SQLite store: targets, runs, snapshots, sessions,
	// users, tokens, the audit log.
	Store *store.Store
	// Controller and Dispatcher are woken after a change that gives them
	// work (a create, an action, a submit, a cancel).
	Controller *orchestrate.Controller
	Dispatcher *orchestrate.Dispatcher
	// Backends says which backend serves a kind and what it can do.
	Backends *compute.Registry
	Assets   *static.Assets
	Logger   *slog.Logger
	Now      func() time.Time
	// LoginToken is the embedded default's secret for /login?token= and bearer auth.
	LoginToken string
	// SecureCookies is true when the public URL is https.
	SecureCookies bool
	// SessionTTL is the absolute lifetime of a browser session.
	SessionTTL time.Duration
	// OIDC, when set, signs people in with an OpenID provider instead of
	// the login token (auth_config.go).
	OIDC *OIDC
	// Unsandboxed puts a warning on every page: local runs are not
	// sandboxed (serve --unsafe-no-sandbox).
	Unsandboxed bool
	// Clusters tells what was last read from attached Slurm clusters
	// (orchestrate.NodeRefresher): nodes, partitions, version. Optional.
	Clusters ClusterInfoSource
	// ARMPrefix is the ID prefix of compute resources in API bodies.
	ARMPrefix string
	Location  string
	// AttachNetworks are the networks attached machines and slurmrestd may
	// be in; an attach naming another address is refused (nil =
	// compute.DefaultNetPolicy). The backends check every connection too.
	AttachNetworks *compute.NetPolicy
	// Azure reaches registered Azure ML workspaces (nil: none can be used).
	Azure *azure.Service
	// AzureCredential returns the credential ARM is called with for a
	// user: their delegated one, or nil for the service principal.
	AzureCredential func(ctx context.Context, u *compute.User) azcore.TokenCredential
	// PublicURL is where users reach this server (the applications'
	// addresses in the API are absolute).
	PublicURL string
	// Apps is what this server offers compute instances besides a
	// terminal: Jupyter, the SSH server's address.
	Apps compute.AppHost
	// Jupyter serves instances' Jupyter (nil: not installed).
	Jupyter JupyterProxy
}

// Handlers carries the dependencies of every handler.
type Handlers struct {
	cfg    Config
	drafts *drafts
}

// New builds the handlers.
func New(cfg Config) *Handlers {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.ARMPrefix == "" {
		cfg.ARMPrefix = arm.DefaultIDPrefix
	}
	if cfg.Location == "" {
		cfg.Location = "local"
	}
	return &Handlers{cfg: cfg, drafts: newDrafts(cfg.Now)}
}
