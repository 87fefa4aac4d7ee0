package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Allocation states of a cluster (Azure's allocationState).
const (
	AllocationSteady   = "Steady"
	AllocationResizing = "Resizing"
)

// firstNodePort is the SSH port of a cluster's first node, as Azure numbers them.
const firstNodePort = 50000

// Scale takes one autoscaling step for a cluster toward
// want = clamp(MinNodes, demand, MaxNodes):
//   - nodes preparing for BootDelay become idle;
//   - running nodes whose job has ended become idle (Submit marks them running);
//   - missing nodes are added, all at once, as preparing;
//   - idle nodes beyond want that have been idle for IdleSecondsBeforeScaleDown
//     are removed, longest idle first; running and preparing nodes never are,
//     and the cluster never shrinks below want (so never below MinNodes).
//
// It sets t.Cluster.TargetNodeCount to want and AllocationState to Resizing
// while the node count differs from want or a node is still preparing (a
// scale-up adds every node in one step, so counting alone would never show
// it), else Steady. The caller persists t; the nodes are saved here.
func (b *Backend) Scale(ctx context.Context, t *compute.Target, demand int) ([]compute.Node, error) {
	if t.Kind != compute.KindCluster || t.Cluster == nil {
		return nil, fmt.Errorf("%s is a %s; only compute clusters scale: %w", t.Name, t.Kind.Label(), compute.ErrInvalid)
	}
	if b.cfg.Nodes == nil {
		return nil, fmt.Errorf("the local backend has no node store, so it cannot run compute clusters")
	}
	c := t.Cluster
	want := min(max(demand, c.MinNodes), c.MaxNodes)
	want = max(want, 0)

	b.mu.Lock()
	defer b.mu.Unlock()
	nodes, err := b.cfg.Nodes.ListNodes(ctx, t.Name)
	if err != nil {
		return nil, fmt.Errorf("listing the nodes of %s: %w", t.Name, err)
	}
	now := b.cfg.Now()

	for i := range nodes {
		n := &nodes[i]
		switch n.State {
		case compute.NodePreparing:
			if now.Sub(n.Since) >= b.cfg.BootDelay {
				n.State, n.Since, n.Reason = compute.NodeIdle, now, ""
			}
		case compute.NodeRunning:
			if !b.runLive(n.RunID) {
				n.State, n.Since, n.RunID = compute.NodeIdle, now, ""
			}
		}
	}

	switch {
	case len(nodes) < want:
		nodes, err = b.addNodes(nodes, want-len(nodes), t, now)
		if err != nil {
			return nil, err
		}
	case len(nodes) > want:
		idleFor := time.Duration(c.IdleSecondsBeforeScaleDown) * time.Second
		var expired []int
		for i, n := range nodes {
			if n.State == compute.NodeIdle && now.Sub(n.Since) >= idleFor {
				expired = append(expired, i)
			}
		}
		slices.SortStableFunc(expired, func(a, b int) int { return nodes[a].Since.Compare(nodes[b].Since) })
		if extra := len(nodes) - want; len(expired) > extra {
			expired = expired[:extra]
		}
		if len(expired) > 0 {
			gone := make(map[int]bool, len(expired))
			for _, i := range expired {
				gone[i] = true
			}
			kept := nodes[:0:0]
			for i, n := range nodes {
				if !gone[i] {
					kept = append(kept, n)
				}
			}
			b.log.Info("removing idle nodes", "target", t.Name, "removed", len(expired), "left", len(kept))
			nodes = kept
		}
	}

	c.TargetNodeCount = want
	c.AllocationState = AllocationSteady
	if len(nodes) != want || slices.ContainsFunc(nodes, func(n compute.Node) bool { return n.State == compute.NodePreparing }) {
		c.AllocationState = AllocationResizing
	}
	if err := b.saveNodes(ctx, t.Name, nodes); err != nil {
		return nil, fmt.Errorf("saving the nodes of %s: %w", t.Name, err)
	}
	return nodes, nil
}

// addNodes appends count preparing nodes with fresh IDs and the lowest free ports.
func (b *Backend) addNodes(nodes []compute.Node, count int, t *compute.Target, now time.Time) ([]compute.Node, error) {
	ids := map[string]bool{}
	ports := map[int]bool{}
	for _, n := range nodes {
		ids[n.ID] = true
		ports[n.Port] = true
	}
	size, _ := compute.LookupVMSize(t.Cluster.VMSize)
	port := firstNodePort
	for range count {
		id, err := newNodeID(ids)
		if err != nil {
			return nil, err
		}
		for ports[port] {
			port++
		}
		ports[port] = true
		nodes = append(nodes, compute.Node{
			ID: id, State: compute.NodePreparing, PrivateIP: "127.0.0.1", Port: port,
			Since: now, Reason: "starting up",
			CPUs: size.VCPUs, MemoryMB: int(size.MemoryGB * 1024), GPUs: size.GPUs,
		})
	}
	b.log.Info("adding nodes", "target", t.Name, "added", count, "total", len(nodes))
	return nodes, nil
}

// newNodeID returns an ID like Azure's (tvmps_<hex>) not yet in use.
func newNodeID(used map[string]bool) (string, error) {
	for {
		var buf [4]byte
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("making a node id: %w", err)
		}
		id := "tvmps_" + hex.EncodeToString(buf[:])
		if !used[id] {
			used[id] = true
			return id, nil
		}
	}
}

// runLive reports whether the job of a run still runs. A run id without a
// job (a Submit that failed after claiming nodes) counts as ended.
func (b *Backend) runLive(runID string) bool {
	if !compute.SafeName(runID) {
		return false
	}
	dir := filepath.Join(b.jobsDir(), runID)
	rec, err := readRecord(dir)
	if err != nil {
		return false
	}
	st, err := b.observe(&job{runID: runID, dir: dir, ranks: rec.Ranks})
	if err != nil {
		return true // cannot tell; keep the node rather than kill a job's home
	}
	return !st.Phase.Terminal()
}

// claimNodes marks count idle nodes as running runID, longest idle first.
// Called with b.mu held.
func (b *Backend) claimNodes(ctx context.Context, t *compute.Target, runID string, count int) ([]string, error) {
	if b.cfg.Nodes == nil {
		return nil, fmt.Errorf("the local backend has no node store, so it cannot run compute clusters")
	}
	nodes, err := b.cfg.Nodes.ListNodes(ctx, t.Name)
	if err != nil {
		return nil, fmt.Errorf("listing the nodes of %s: %w", t.Name, err)
	}
	var idle []int
	for i, n := range nodes {
		if n.State == compute.NodeIdle {
			idle = append(idle, i)
		}
	}
	if len(idle) < count {
		return nil, fmt.Errorf("cluster %s has %d idle nodes and the job needs %d: %w",
			t.Name, len(idle), count, compute.ErrUnavailable)
	}
	slices.SortStableFunc(idle, func(a, b int) int {
		return cmp.Or(nodes[a].Since.Compare(nodes[b].Since), cmp.Compare(nodes[a].ID, nodes[b].ID))
	})
	now := b.cfg.Now()
	ids := make([]string, 0, count)
	for _, i := range idle[:count] {
		nodes[i].State, nodes[i].RunID, nodes[i].Since = compute.NodeRunning, runID, now
		ids = append(ids, nodes[i].ID)
	}
	if err := b.saveNodes(ctx, t.Name, nodes); err != nil {
		return nil, fmt.Errorf("saving the nodes of %s: %w", t.Name, err)
	}
	return ids, nil
}

// releaseNodes gives back the nodes a failed Submit claimed. Called with b.mu held.
func (b *Backend) releaseNodes(ctx context.Context, target, runID string) {
	nodes, err := b.cfg.Nodes.ListNodes(ctx, target)
	if err != nil {
		b.log.Warn("releasing nodes", "target", target, "run", runID, "err", err)
		return
	}
	now := b.cfg.Now()
	for i := range nodes {
		if nodes[i].RunID == runID {
			nodes[i].State, nodes[i].RunID, nodes[i].Since = compute.NodeIdle, "", now
		}
	}
	if err := b.saveNodes(ctx, target, nodes); err != nil {
		b.log.Warn("releasing nodes", "target", target, "run", runID, "err", err)
	}
}

// saveNodes saves a cluster's node set and records its counts by state in
// the node history (when the backend has one), so the Monitoring tab of a
// local cluster shows its scale-up and scale-down as a Slurm cluster's does.
// History is a picture, not state: failing to record it only logs.
func (b *Backend) saveNodes(ctx context.Context, target string, nodes []compute.Node) error {
	if err := b.cfg.Nodes.SaveNodes(ctx, target, nodes); err != nil {
		return err
	}
	if b.cfg.History != nil {
		if _, err := b.cfg.History.RecordNodeSample(ctx, target, compute.SampleOf(b.cfg.Now(), nodes, 0)); err != nil {
			b.log.Warn("recording node history", "target", target, "err", err)
		}
	}
	return nil
}
