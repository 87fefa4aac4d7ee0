package orchestrate

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// NodeRefresherConfig wires a NodeRefresher.
type NodeRefresherConfig struct {
	// Targets lists the targets to refresh (store.Store has it).
	Targets interface {
		ListTargets(ctx context.Context, f compute.TargetFilter) ([]*compute.Target, int, error)
	}
	// Nodes keeps the node table the list page counts and the API reads.
	Nodes compute.NodeStore
	// Backends are asked for the kinds to refresh: those whose backend
	// declares Describe (schedulers whose nodes Trainyard does not manage).
	Backends *compute.Registry
	// Interval between passes (default 3 s); Timeout bounds one target's
	// reads (default 5 s).
	Interval time.Duration
	Timeout  time.Duration
	Logger   *slog.Logger
	// OnChange is called after a target's nodes changed (to wake live pages).
	OnChange func(name string)
	// History, when set, records each target's node counts by state on
	// every pass (the store thins them: a row per change or per 30 s) for
	// the Monitoring tab.
	History compute.NodeHistory
}

// NodeRefresher keeps the nodes of targets whose machines Trainyard does not
// manage itself (attached Slurm clusters) in the store, as their backend
// sees them, and remembers their partitions and version. Compute clusters
// need none of this: their backend saves its own nodes as it scales. The
// store's node table makes node counts show in lists and in the API without
// a call to the cluster on every page view; after a restart the first pass
// fills the rest in.
type NodeRefresher struct {
	cfg  NodeRefresherConfig
	kick chan struct{}
	mu   sync.Mutex
	info map[string]compute.ClusterInfo
}

// NewNodeRefresher returns a refresher; call Run to start it.
func NewNodeRefresher(cfg NodeRefresherConfig) *NodeRefresher {
	if cfg.Interval <= 0 {
		cfg.Interval = 3 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(string) {}
	}
	return &NodeRefresher{cfg: cfg, kick: make(chan struct{}, 1), info: map[string]compute.ClusterInfo{}}
}

// Kick asks for a pass now (after an attach).
func (r *NodeRefresher) Kick() {
	if r == nil {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run refreshes until ctx ends.
func (r *NodeRefresher) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Error("refreshing nodes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// Info returns what was last read from a target, if anything.
func (r *NodeRefresher) Info(name string) (compute.ClusterInfo, bool) {
	if r == nil {
		return compute.ClusterInfo{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ci, ok := r.info[name]
	return ci, ok
}

// Refresh makes one pass: every usable target of the configured kinds is
// read (one at a time, each within Timeout) and its nodes saved when they
// changed. Targets that are gone are forgotten.
func (r *NodeRefresher) Refresh(ctx context.Context) error {
	kinds := r.cfg.Backends.KindsWith(func(c compute.Capabilities) bool { return c.Describe != nil })
	if len(kinds) == 0 {
		return nil
	}
	targets, _, err := r.cfg.Targets.ListTargets(ctx, compute.TargetFilter{Kinds: kinds})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, t := range targets {
		seen[t.Name] = true
		if t.ProvisioningState != compute.ProvisioningSucceeded {
			continue
		}
		reg, ok := r.cfg.Backends.For(t.Kind)
		if !ok {
			continue
		}
		if err := r.refreshOne(ctx, t, reg); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.mu.Lock()
	for name := range r.info {
		if !seen[name] {
			delete(r.info, name)
		}
	}
	r.mu.Unlock()
	return nil
}

func (r *NodeRefresher) refreshOne(ctx context.Context, t *compute.Target, reg compute.Registration) error {
	b := reg.Backend
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	prev, _ := r.Info(t.Name)
	next := prev
	nodes, err := b.Nodes(ctx, t)
	if err != nil {
		next.Err = err.Error()
		r.store(t.Name, next)
		r.cfg.Logger.Debug("reading a cluster's nodes", "target", t.Name, "err", err)
		return err
	}
	next.Nodes, next.At, next.Err = nodes, time.Now(), ""
	if d := reg.Capabilities.Describe; d != nil {
		v, ps, err := d.Describe(ctx, t)
		if err != nil {
			next.Err = err.Error()
		} else {
			next.Version, next.Partitions = v, ps
		}
	}
	r.store(t.Name, next)
	r.record(ctx, t, reg.Capabilities.NodeSampling, nodes)
	if sameNodes(prev.Nodes, nodes) && !prev.At.IsZero() {
		return nil
	}
	if err := r.cfg.Nodes.SaveNodes(ctx, t.Name, nodes); err != nil {
		if !errors.Is(err, compute.ErrNotFound) {
			r.cfg.Logger.Warn("saving a cluster's nodes", "target", t.Name, "err", err)
		}
		return err
	}
	r.cfg.OnChange(t.Name)
	return nil
}

// record adds a node-history sample: the backend's own when it has one
// (NodeSampler), else nodes counted by state. Failures only log: history
// is a picture, not state.
func (r *NodeRefresher) record(ctx context.Context, t *compute.Target, sampler compute.NodeSampler, nodes []compute.Node) {
	if r.cfg.History == nil {
		return
	}
	smp := compute.SampleOf(time.Now(), nodes, 0)
	if sampler != nil {
		s, err := sampler.NodeSample(ctx, t)
		if err != nil {
			r.cfg.Logger.Debug("sampling node states", "target", t.Name, "err", err)
			return
		}
		s.At = smp.At
		smp = s
	}
	saved, err := r.cfg.History.RecordNodeSample(ctx, t.Name, smp)
	if err != nil && !errors.Is(err, compute.ErrNotFound) {
		r.cfg.Logger.Warn("recording node history", "target", t.Name, "err", err)
	}
	if saved {
		r.cfg.OnChange(t.Name)
	}
}

func (r *NodeRefresher) store(name string, ci compute.ClusterInfo) {
	r.mu.Lock()
	r.info[name] = ci
	r.mu.Unlock()
}

// sameNodes reports whether two node lists say the same, ignoring Since.
func sameNodes(a, b []compute.Node) bool {
	return slices.EqualFunc(a, b, func(x, y compute.Node) bool {
		x.Since, y.Since = time.Time{}, time.Time{}
		return x == y
	})
}
