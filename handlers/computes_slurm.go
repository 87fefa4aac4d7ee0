package handlers

import (
	"context"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/views/pages"
)

// ClusterInfoSource tells what was last read from a scheduler-backed target
// and reads it again on Kick (orchestrate.NodeRefresher has it; tests stand in
// for a cluster with a fixed answer).
type ClusterInfoSource interface {
	Info(name string) (compute.ClusterInfo, bool)
	Kick()
}

// clusterInfo is what is known of a Slurm target's cluster: the refresher's
// last read, else (after a restart, before the first read) the nodes the
// store kept. ok is false for other kinds and when nothing is known.
func (h *Handlers) clusterInfo(ctx context.Context, t *compute.Target) (compute.ClusterInfo, bool) {
	if t.Kind != compute.KindSlurm {
		return compute.ClusterInfo{}, false
	}
	if h.cfg.Clusters != nil {
		if ci, ok := h.cfg.Clusters.Info(t.Name); ok {
			return ci, true
		}
	}
	nodes, err := h.cfg.Store.ListNodes(ctx, t.Name)
	if err != nil || len(nodes) == 0 {
		return compute.ClusterInfo{}, false
	}
	return compute.ClusterInfo{Nodes: nodes}, true
}

// withClusterInfo adds a Slurm target's version, partitions and nodes to its
// API resource.
func (h *Handlers) withClusterInfo(ctx context.Context, t *compute.Target, c *arm.Compute) {
	ci, ok := h.clusterInfo(ctx, t)
	if !ok {
		return
	}
	if err := arm.SetClusterInfo(c, ci); err != nil {
		h.cfg.Logger.WarnContext(ctx, "rendering a Slurm cluster", "target", t.Name, "err", err)
	}
}

// partitionsVM is the Partitions section of a Slurm target's details page;
// nil for other kinds.
func (h *Handlers) partitionsVM(ctx context.Context, t *compute.Target) *pages.PartitionsVM {
	if t.Kind != compute.KindSlurm {
		return nil
	}
	vm := &pages.PartitionsVM{}
	if t.Attach != nil {
		vm.Chosen = t.Attach.SlurmPartition
	}
	ci, ok := h.clusterInfo(ctx, t)
	switch {
	case !ok && t.ProvisioningState == compute.ProvisioningSucceeded:
		vm.Note = "Not read yet: Trainyard reads the cluster's partitions every few seconds."
	case !ok:
		vm.Note = "Read once Trainyard has reached slurmrestd."
	case ci.Err != "":
		vm.Note = "The last read failed: " + ci.Err
	}
	vm.Version = ci.Version
	for _, p := range ci.Partitions {
		row := pages.PartitionRowVM{Name: p.Name, State: orDash(p.State), Nodes: orDash(strings.Join(p.Nodes, ", ")),
			NodeCount: strconv.Itoa(p.TotalNodes), CPUs: strconv.Itoa(p.TotalCPUs), MaxTime: orDash(p.MaxTime), Default: p.Default,
			Chosen: p.Name == vm.Chosen || (vm.Chosen == "" && p.Default)}
		vm.Rows = append(vm.Rows, row)
	}
	return vm
}

// slurmNodesText is a Slurm cluster's node count as the lists show it: the
// nodes last read from it ("" until they were).
func slurmNodesText(t *compute.Target) string {
	if t.Nodes.Current == 0 {
		return ""
	}
	return strconv.Itoa(t.Nodes.Current)
}
