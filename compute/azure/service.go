package azure

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/trainyard/trainyard/compute"
)

// Cache keeps what ARM last said about registered workspaces' computes
// (store.Store implements it).
type Cache interface {
	Workspaces(ctx context.Context) ([]compute.Workspace, error)
	ReplaceAzureComputes(ctx context.Context, alias string, computes map[string]json.RawMessage, asOf time.Time, etag string) error
	// AzureListETag and AzureListNotModified serve conditional reads.
	AzureListETag(ctx context.Context, alias string) (string, error)
	AzureListNotModified(ctx context.Context, alias string, asOf time.Time) error
	RefreshFailed(ctx context.Context, alias, reason string) error
	PutAzureCompute(ctx context.Context, alias, name string, body json.RawMessage, opError string) error
	DeleteAzureCompute(ctx context.Context, alias, name string) error
	AzureComputes(ctx context.Context, alias string) (compute.WorkspaceSnapshot, error)
	AzureCompute(ctx context.Context, alias, name string) (compute.CachedCompute, error)
	// AccrueNodes samples a compute's node count for its node hours (cost).
	AccrueNodes(ctx context.Context, workspace, name string, nodes int, now time.Time) error
	// PutAzureOperation, DeleteAzureOperation and AzureOperations keep the
	// operations under way, so a restarted server follows them again.
	PutAzureOperation(ctx context.Context, op compute.PendingOperation) error
	DeleteAzureOperation(ctx context.Context, op compute.PendingOperation) error
	AzureOperations(ctx context.Context) ([]compute.PendingOperation, error)
}

// ServiceOptions tunes a Service; the zero value is the production one.
type ServiceOptions struct {
	ClientOptions
	// StaleAfter is how old a cached list may be before showing it starts
	// a read in the background (default 30 s).
	StaleAfter time.Duration
	// RefreshEvery is how often Run reads every workspace with the service
	// principal (default 60 s; never without one).
	RefreshEvery time.Duration
	// HTTPClient replaces NewHTTPClient (tests trusting their own CA).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Service is the server's way to Azure ML workspaces: pages and the API
// read the cache at once and it refreshes them from ARM in the background;
// changes go to ARM as the caller (a user's delegated credential, else the
// service principal) and their long-running operations are followed to
// the end, the cache updated with what ARM then says.
type Service struct {
	cfg   Config
	hc    *http.Client
	sp    azcore.TokenCredential
	cache Cache
	opts  ServiceOptions
	log   *slog.Logger

	stop   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	refreshing map[string]bool
}

// NewService checks cfg and builds the service principal's credential (if
// configured).
func NewService(cfg Config, cache Cache, o ServiceOptions) (*Service, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 30 * time.Second
	}
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = NewHTTPClient()
	}
	sp, err := ServicePrincipal(cfg, hc)
	if err != nil {
		return nil, err
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, hc: hc, sp: sp, cache: cache, opts: o, log: o.Logger.With("backend", "azure"),
		stop: stop, cancel: cancel, refreshing: map[string]bool{}}, nil
}

// HTTPClient is the client every call to Azure goes through.
func (s *Service) HTTPClient() *http.Client { return s.hc }

// errNoCredential: neither a delegated token nor a service principal.
var errNoCredential = &compute.CodedError{Kind: compute.ErrUnavailable, Code: "NoAzureCredential",
	Message: "Trainyard has no credential for Azure: sign in with Microsoft Entra ID (delegated access to Azure Resource Manager), or start the server with a service principal (TRAINYARD_AZURE_TENANT_ID, TRAINYARD_AZURE_CLIENT_ID, TRAINYARD_AZURE_CLIENT_SECRET)."}

// client is ws's client for cred (nil: the service principal).
func (s *Service) client(ws compute.Workspace, cred azcore.TokenCredential) (*Client, error) {
	if cred == nil {
		cred = s.sp
	}
	if cred == nil {
		return nil, errNoCredential
	}
	return NewClient(s.cfg, ws, cred, s.hc, s.opts.ClientOptions)
}

// Refresh reads ws's whole list from ARM into the cache.
func (s *Service) Refresh(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential) error {
	return s.refresh(ctx, ws, cred, false)
}

// refresh reads ws's list into the cache; conditional (the background
// refresh) sends back the ETag of the cached read as If-None-Match, and a
// 304 keeps the cached rows, only their as-of time moving on
// (Client.ListIfChanged says which contract that stands on).
func (s *Service) refresh(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, conditional bool) error {
	c, err := s.client(ws, cred)
	if err != nil {
		return err
	}
	etag := ""
	if conditional {
		if etag, err = s.cache.AzureListETag(ctx, ws.Alias); err != nil {
			return err
		}
	}
	// The list is as of when it was asked for: a compute read on its own
	// after that (an operation's end) is fresher and the cache keeps it.
	began := time.Now()
	list, err := c.ListIfChanged(ctx, etag)
	if err != nil {
		if ferr := s.cache.RefreshFailed(ctx, ws.Alias, err.Error()); ferr != nil {
			s.log.Warn("recording a refresh error", "workspace", ws.Alias, "err", ferr)
		}
		return err
	}
	if list.NotModified {
		return s.cache.AzureListNotModified(ctx, ws.Alias, began)
	}
	byName := make(map[string]json.RawMessage, len(list.Computes))
	for _, raw := range list.Computes {
		var head struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &head) == nil && head.Name != "" {
			byName[head.Name] = raw
		}
	}
	now := time.Now()
	if err := s.cache.ReplaceAzureComputes(ctx, ws.Alias, byName, began, list.ETag); err != nil {
		return err
	}
	for name, raw := range byName {
		s.accrue(ctx, ws, name, raw, now)
	}
	return nil
}

// accrue samples the nodes ARM says a compute has, for its node hours
// (compute.BilledNodes: a cluster's currentNodeCount, one for a running
// instance, one for a usable attached VM). raw nil: gone.
func (s *Service) accrue(ctx context.Context, ws compute.Workspace, name string, raw json.RawMessage, now time.Time) {
	nodes := 0
	if raw != nil {
		if t, err := ToTarget(raw); err == nil {
			nodes = compute.BilledNodes(t)
		}
	}
	if err := s.cache.AccrueNodes(ctx, ws.Alias, name, nodes, now); err != nil {
		s.log.Warn("recording node hours", "workspace", ws.Alias, "compute", name, "err", err)
	}
}

// Snapshot returns ws's cached list at once. A list never read is read
// now; one older than StaleAfter is read again in the background (one read
// per workspace at a time), so the next look is fresher.
func (s *Service) Snapshot(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential) (compute.WorkspaceSnapshot, error) {
	snap, err := s.cache.AzureComputes(ctx, ws.Alias)
	if err != nil {
		return snap, err
	}
	if snap.AsOf.IsZero() {
		if err := s.Refresh(ctx, ws, cred); err != nil {
			return snap, err
		}
		return s.cache.AzureComputes(ctx, ws.Alias)
	}
	if time.Since(snap.AsOf) > s.opts.StaleAfter {
		s.refreshInBackground(ws, cred)
	}
	return snap, nil
}

// refreshInBackground starts a Refresh of ws unless one is under way.
func (s *Service) refreshInBackground(ws compute.Workspace, cred azcore.TokenCredential) {
	s.mu.Lock()
	if s.refreshing[ws.Alias] {
		s.mu.Unlock()
		return
	}
	s.refreshing[ws.Alias] = true
	s.mu.Unlock()
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.refreshing, ws.Alias)
			s.mu.Unlock()
		}()
		if err := s.refresh(s.stop, ws, cred, true); err != nil {
			s.log.Info("refreshing a workspace's computes", "workspace", ws.Alias, "err", err)
		}
	})
}

// Get returns one compute from the cache, or from ARM when the cache has
// not seen it.
func (s *Service) Get(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name string) (compute.CachedCompute, error) {
	c, err := s.cache.AzureCompute(ctx, ws.Alias, name)
	if !errors.Is(err, compute.ErrNotFound) {
		return c, err
	}
	if err := s.reread(ctx, ws, cred, name, ""); err != nil {
		return compute.CachedCompute{}, err
	}
	return s.cache.AzureCompute(ctx, ws.Alias, name)
}

// reread reads one compute from ARM into the cache (forgets it on 404).
func (s *Service) reread(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name, opError string) error {
	c, err := s.client(ws, cred)
	if err != nil {
		return err
	}
	raw, err := c.Get(ctx, name)
	if errors.Is(err, compute.ErrNotFound) {
		s.accrue(ctx, ws, name, nil, time.Now())
		if derr := s.cache.DeleteAzureCompute(ctx, ws.Alias, name); derr != nil {
			return derr
		}
		return err
	}
	if err != nil {
		return err
	}
	s.accrue(ctx, ws, name, raw, time.Now())
	return s.cache.PutAzureCompute(ctx, ws.Alias, name, raw, opError)
}

// follow waits for op in the background, then caches what ARM says of the
// compute (its error verbatim when the operation failed) and forgets rec,
// its record in the cache (nil: none was kept). A shutdown leaves rec for
// the next start (Resume).
func (s *Service) follow(ws compute.Workspace, cred azcore.TokenCredential, name, what string, op *Operation, rec *compute.PendingOperation) {
	s.wg.Go(func() {
		opErr := ""
		if err := op.Wait(s.stop); err != nil {
			if s.stop.Err() != nil {
				return // shutting down; Resume follows it again at the next start
			}
			opErr = err.Error()
			var coded *compute.CodedError
			if errors.As(err, &coded) && coded.Code != "" {
				opErr = coded.Code + ": " + coded.Message
			}
			s.log.Info("an operation on an Azure compute failed", "workspace", ws.Alias, "compute", name, "operation", what, "err", err)
		}
		if err := s.reread(s.stop, ws, cred, name, opErr); err != nil && !errors.Is(err, compute.ErrNotFound) {
			s.log.Warn("reading a compute after its operation", "workspace", ws.Alias, "compute", name, "err", err)
		}
		s.forget(rec)
	})
}

// forget drops the record of an operation that ended.
func (s *Service) forget(rec *compute.PendingOperation) {
	if rec == nil {
		return
	}
	if err := s.cache.DeleteAzureOperation(s.stop, *rec); err != nil {
		s.log.Warn("forgetting an ended operation", "workspace", rec.Workspace, "compute", rec.Compute, "err", err)
	}
}

// started caches ARM's view right after an operation began (its
// transitional state: Creating, Deleting, Stopping…), records the
// operation's resume token so a restarted server can follow it again, and
// follows it.
func (s *Service) started(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name, what string, op *Operation) {
	var rec *compute.PendingOperation
	if token, err := op.Token(); err != nil {
		// The poller is already done (ARM answered the operation at once):
		// there is nothing to resume.
		s.log.Debug("no resume token", "workspace", ws.Alias, "compute", name, "operation", what, "err", err)
	} else {
		rec = &compute.PendingOperation{Workspace: ws.Alias, Compute: name, Kind: what, ResumeToken: token, StartedAt: time.Now()}
		if u := compute.UserFrom(ctx); u != nil {
			rec.UserID = u.ID
		}
		if err := s.cache.PutAzureOperation(ctx, *rec); err != nil {
			// Followed all the same; only a restart would lose it.
			s.log.Warn("recording an operation under way", "workspace", ws.Alias, "compute", name, "err", err)
			rec = nil
		}
	}
	if err := s.reread(ctx, ws, cred, name, ""); err != nil && !errors.Is(err, compute.ErrNotFound) {
		s.log.Warn("reading a compute after starting an operation", "workspace", ws.Alias, "compute", name, "err", err)
	}
	s.follow(ws, cred, name, what, op, rec)
}

// Resume follows again the operations a previous run of the server left
// under way (recorded by started), each with the credential of the user
// who began it when credFor gives one, else the service principal. An
// operation whose token cannot be read any more is dropped and its compute
// read again; one without any credential stays recorded for a later start.
func (s *Service) Resume(ctx context.Context, credFor func(ctx context.Context, userID string) azcore.TokenCredential) {
	ops, err := s.cache.AzureOperations(ctx)
	if err != nil {
		s.log.Warn("listing operations under way", "err", err)
		return
	}
	if len(ops) == 0 {
		return
	}
	all, err := s.cache.Workspaces(ctx)
	if err != nil {
		s.log.Warn("listing workspaces", "err", err)
		return
	}
	byAlias := map[string]compute.Workspace{}
	for _, ws := range all {
		byAlias[ws.Alias] = ws
	}
	for _, rec := range ops {
		ws, ok := byAlias[rec.Workspace]
		if !ok {
			continue // the workspace's removal deletes its records too
		}
		var cred azcore.TokenCredential
		if credFor != nil && rec.UserID != "" {
			cred = credFor(ctx, rec.UserID)
		}
		c, err := s.client(ws, cred)
		if err != nil {
			s.log.Warn("resuming an operation", "workspace", rec.Workspace, "compute", rec.Compute, "operation", rec.Kind, "err", err)
			continue
		}
		op, err := c.Resume(ctx, rec.Kind, rec.Compute, rec.ResumeToken)
		if err != nil {
			s.log.Warn("an operation cannot be resumed; reading its compute instead", "workspace", rec.Workspace, "compute", rec.Compute,
				"operation", rec.Kind, "err", err)
			s.forget(&rec)
			if err := s.reread(ctx, ws, cred, rec.Compute, ""); err != nil && !errors.Is(err, compute.ErrNotFound) {
				s.log.Warn("reading a compute", "workspace", rec.Workspace, "compute", rec.Compute, "err", err)
			}
			continue
		}
		s.log.Info("following an operation begun before the restart", "workspace", rec.Workspace, "compute", rec.Compute, "operation", rec.Kind)
		s.follow(ws, cred, rec.Compute, rec.Kind, op, &rec)
	}
}

// Create sends a PUT of body (ARM's JSON) and returns the compute as ARM
// then says it is (Creating); the operation is followed in the background.
func (s *Service) Create(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name string, body []byte) (compute.CachedCompute, error) {
	c, err := s.client(ws, cred)
	if err != nil {
		return compute.CachedCompute{}, err
	}
	op, err := c.CreateOrUpdate(ctx, name, body)
	if err != nil {
		return compute.CachedCompute{}, err
	}
	s.started(ctx, ws, cred, name, opCreate, op)
	return s.cache.AzureCompute(ctx, ws.Alias, name)
}

// Delete sends a DELETE with underlyingResourceAction (Delete or Detach).
func (s *Service) Delete(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name, action string) error {
	if action != "Delete" && action != "Detach" {
		return compute.Invalid("underlyingResourceAction", "underlyingResourceAction must be Delete or Detach (got %q).", action)
	}
	c, err := s.client(ws, cred)
	if err != nil {
		return err
	}
	op, err := c.Delete(ctx, name, action)
	if err != nil {
		return err
	}
	s.started(ctx, ws, cred, name, opDelete, op)
	return nil
}

// Power starts, stops or restarts an instance.
func (s *Service) Power(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name string, a compute.PowerAction) error {
	c, err := s.client(ws, cred)
	if err != nil {
		return err
	}
	op, err := c.Power(ctx, name, a)
	if err != nil {
		return err
	}
	s.started(ctx, ws, cred, name, string(a), op)
	return nil
}

// UpdateScale changes a cluster's scale settings (PATCH).
func (s *Service) UpdateScale(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name string, ss compute.ScaleSettings) error {
	c, err := s.client(ws, cred)
	if err != nil {
		return err
	}
	op, err := c.UpdateScale(ctx, name, ss)
	if err != nil {
		return err
	}
	s.started(ctx, ws, cred, name, opUpdate, op)
	return nil
}

// Nodes lists a compute's nodes from ARM.
func (s *Service) Nodes(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, name string) ([]compute.Node, error) {
	c, err := s.client(ws, cred)
	if err != nil {
		return nil, err
	}
	return c.Nodes(ctx, name)
}

// Run reads every registered workspace with the service principal every
// RefreshEvery until ctx ends (nothing without a service principal: users'
// own reads refresh the cache then). It returns when ctx ends and every
// operation being followed has stopped.
func (s *Service) Run(ctx context.Context) {
	defer s.wg.Wait()
	defer s.cancel()
	if s.sp == nil {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(s.opts.RefreshEvery)
	defer tick.Stop()
	for {
		all, err := s.cache.Workspaces(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("listing workspaces", "err", err)
		}
		for _, ws := range all {
			s.refreshInBackground(ws, nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close stops following operations and waits for the goroutines that do.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// Quota reads, as the caller, what creating nodes nodes of vmSize would meet
// in region (see Client.Quota).
func (s *Service) Quota(ctx context.Context, ws compute.Workspace, cred azcore.TokenCredential, region, vmSize string, lowPriority bool, nodes int) (Quota, error) {
	c, err := s.client(ws, cred)
	if err != nil {
		return Quota{}, err
	}
	return c.Quota(ctx, region, vmSize, lowPriority, nodes)
}

// Region is the workspace's region as its computes say it (the most common
// location among them), or "" before any was read.
func (s *Service) Region(ctx context.Context, ws compute.Workspace) string {
	snap, err := s.cache.AzureComputes(ctx, ws.Alias)
	if err != nil {
		return ""
	}
	count := map[string]int{}
	best := ""
	for _, c := range snap.Computes {
		var head struct {
			Location string `json:"location"`
		}
		if json.Unmarshal(c.Body, &head) == nil && head.Location != "" {
			count[head.Location]++
			if count[head.Location] > count[best] || (count[head.Location] == count[best] && head.Location < best) {
				best = head.Location
			}
		}
	}
	return best
}
