package compute

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Partition is one partition (queue) of a scheduler-backed target such as a
// Slurm cluster, as its backend reports it.
type Partition struct {
	Name       string
	State      string // UP, DOWN, DRAIN, INACTIVE
	Nodes      []string
	TotalNodes int
	TotalCPUs  int
	Default    bool
	MaxTime    string // as the scheduler writes it, e.g. "UNLIMITED" or "1-00:00:00"
}

// ClusterInfo is what Trainyard last read from a scheduler-backed target: its
// nodes, partitions and version. Err is the last read's error when it failed;
// the rest is then from the last read that worked.
type ClusterInfo struct {
	Version    string
	Partitions []Partition
	Nodes      []Node
	At         time.Time // when Nodes and Partitions were read
	Err        string
}

// NodeRefresherConfig wires a NodeRefresher.
type NodeRefresherConfig struct {
	// Targets lists the targets to refresh (store.Store has it).
	Targets interface {
		ListTargets(ctx context.Context, f TargetFilter) ([]*Target, int, error)
	}
	// Nodes keeps the node table the list page counts and the API reads.
	Nodes NodeStore
	// Backends are asked for the kinds to refresh: those whose backend
	// declares Describe (schedulers whose nodes Trainyard does not manage).
	Backends *Registry
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
	History NodeHistory
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
	info map[string]ClusterInfo
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
	return &NodeRefresher{cfg: cfg, kick: make(chan struct{}, 1), info: map[string]ClusterInfo{}}
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
func (r *NodeRefresher) Info(name string) (ClusterInfo, bool) {
	if r == nil {
		return ClusterInfo{}, false
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
	kinds := r.cfg.Backends.KindsWith(func(c Capabilities) bool { return c.Describe != nil })
	if len(kinds) == 0 {
		return nil
	}
	targets, _, err := r.cfg.Targets.ListTargets(ctx, TargetFilter{Kinds: kinds})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, t := range targets {
		seen[t.Name] = true
		if t.ProvisioningState != ProvisioningSucceeded {
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

func (r *NodeRefresher) refreshOne(ctx context.Context, t *Target, reg Registration) error {
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
		if !errors.Is(err, ErrNotFound) {
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
func (r *NodeRefresher) record(ctx context.Context, t *Target, sampler NodeSampler, nodes []Node) {
	if r.cfg.History == nil {
		return
	}
	smp := SampleOf(time.Now(), nodes, 0)
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
	if err != nil && !errors.Is(err, ErrNotFound) {
		r.cfg.Logger.Warn("recording node history", "target", t.Name, "err", err)
	}
	if saved {
		r.cfg.OnChange(t.Name)
	}
}

func (r *NodeRefresher) store(name string, ci ClusterInfo) {
	r.mu.Lock()
	r.info[name] = ci
	r.mu.Unlock()
}

// sameNodes reports whether two node lists say the same, ignoring Since.
func sameNodes(a, b []Node) bool {
	return slices.EqualFunc(a, b, func(x, y Node) bool {
		x.Since, y.Since = time.Time{}, time.Time{}
		return x == y
	})
}
