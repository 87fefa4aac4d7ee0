// Package handlers holds the actions behind every route: each parses the
// request, calls the store or the controller, builds a view model and renders
// it. No SQL and no backend protocol code lives here.
package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/static"
)

// Store is what the handlers need from storage (store.Store has it).
type Store interface {
	orchestrate.TargetStore
	CreateTarget(ctx context.Context, t *compute.Target, secrets map[string]string) error
}

// Sessions is the server-side browser session store.
type Sessions interface {
	CreateSession(ctx context.Context, u compute.User, ttl time.Duration) (string, error)
	RevokeSession(ctx context.Context, token string) error
}

// Controller is the part of orchestrate.Controller the handlers use.
type Controller interface {
	Kick()
}

// Config is everything the handlers are built with.
type Config struct {
	Store      Store
	Sessions   Sessions
	Controller Controller
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
	// Identity stores users, sessions, access tokens, sign-ins and the audit
	// log (store.Store has it); OIDC, when set, signs people in with an
	// OpenID provider instead of the login token (auth_config.go).
	Identity IdentityStore
	OIDC     *OIDC
	// Runs serves experiments, runs, snapshots and the MLflow tracking API
	// (api_runs.go).
	Runs RunDeps
	// Clusters tells what was last read from attached Slurm clusters
	// (orchestrate.NodeRefresher): nodes, partitions, version. Optional.
	Clusters ClusterInfoSource
	// ARMPrefix is the ID prefix of compute resources in API bodies.
	ARMPrefix string
	Location  string
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
