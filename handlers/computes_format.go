package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
)

// displayState is the state word a list row or header shows for a target.
func displayState(t *compute.Target) string { return compute.DisplayState(t) }

// since says how long a transitional state has lasted ("" when settled).
func (h *Handlers) since(t *compute.Target) string {
	transitional := t.ProvisioningState.Transitional() || (t.Instance != nil && t.Instance.State.Transitional())
	if !transitional || t.StateSince.IsZero() {
		return ""
	}
	return components.FormatDuration(h.cfg.Now().Sub(t.StateSince))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func nodesText(t *compute.Target) string {
	if t.Kind == compute.KindSlurm {
		return slurmNodesText(t)
	}
	if t.Cluster == nil {
		return ""
	}
	return fmt.Sprintf("%d / %d / %d", t.Nodes.Current, t.Cluster.MinNodes, t.Cluster.MaxNodes)
}

// countsText lists the node states that have nodes, e.g. "2 idle · 1 running".
func countsText(c compute.NodeCounts) string {
	var parts []string
	for _, s := range []struct {
		n    int
		word string
	}{{c.Idle, "idle"}, {c.Running, "running"}, {c.Preparing, "preparing"}, {c.Leaving, "leaving"}, {c.Unusable, "unusable"}, {c.Preempted, "preempted"}} {
		if s.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s.n, s.word))
		}
	}
	if len(parts) == 0 {
		return "no nodes"
	}
	return strings.Join(parts, " · ")
}

func tierText(t *compute.Target) string {
	if t.Cluster == nil {
		return ""
	}
	if t.Cluster.VMPriority == compute.LowPriority {
		return "Low priority"
	}
	return "Dedicated"
}

func addressText(t *compute.Target) string {
	a := t.Attach
	switch {
	case a == nil:
		return ""
	case a.RESTURL != "":
		return a.RESTURL
	case a.Address != "":
		return fmt.Sprintf("%s:%d", a.Address, a.SSHPort)
	case a.Workspace != "":
		return a.Workspace + " (" + a.ResourceGroup + ")"
	case a.AccountName != "":
		return a.AccountName + " (" + a.ResourceGroup + ")"
	}
	return t.ResourceID
}

func lastOpText(op compute.Operation) string {
	if op.Name == "" {
		return ""
	}
	return fmt.Sprintf("%s %s, %s", op.Name, op.Status, formatTime(op.Time))
}
