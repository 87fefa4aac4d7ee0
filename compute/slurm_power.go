package compute

import (
	"context"
	"time"
)

// ScaleSettings are a cluster's autoscale bounds, as Azure ML names them
// (scaleSettings: minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown).
type ScaleSettings struct {
	MinNodes    int
	MaxNodes    int
	IdleSeconds int
}

// PowerStatus is what a scheduler-backed target says about its power-saving
// nodes: the settings in force and how many nodes are in each power state.
type PowerStatus struct {
	// CloudNodes is how many power-saving nodes the partition defines (the
	// most MaxNodes can be); 0 means the partition has none and nothing
	// below applies.
	CloudNodes int
	Settings   ScaleSettings
	// Editable is true when this server can change Settings; Why says why
	// not otherwise (e.g. no slurm.conf given at attach time).
	Editable bool
	Why      string
	// The nodes by power state. Busy nodes are powered up and have a job;
	// Excluded are the nodes held back because they are above MaxNodes.
	PoweredUp, PoweringUp, PoweredDown, PoweringDown, Busy, Excluded int
}

// NodeSample is one point of a target's node history: how many of its nodes
// were in each state at At.
type NodeSample struct {
	At          time.Time
	PoweredDown int
	Preparing   int // powering up, booting, or being set up
	Idle        int
	Busy        int // running a job (or finishing one)
	Unusable    int
	Preempted   int
}

// SameCounts reports whether two samples count the same nodes alike.
func (s NodeSample) SameCounts(o NodeSample) bool {
	s.At, o.At = time.Time{}, time.Time{}
	return s == o
}

// SampleOf counts nodes by state; poweredDown comes from the backend (nodes
// that are powered down are not listed as nodes).
func SampleOf(at time.Time, nodes []Node, poweredDown int) NodeSample {
	s := NodeSample{At: at, PoweredDown: poweredDown}
	for _, n := range nodes {
		switch n.State {
		case NodePreparing:
			s.Preparing++
		case NodeIdle:
			s.Idle++
		case NodeRunning, NodeLeaving:
			s.Busy++
		case NodeUnusable:
			s.Unusable++
		case NodePreempted:
			s.Preempted++
		}
	}
	return s
}

// NodeHistory keeps node samples per target (store.Store implements it).
type NodeHistory interface {
	// RecordNodeSample saves s for target when it differs from the last
	// sample or that one is older than the sampling interval, and drops
	// samples older than the retention; it reports whether it saved.
	RecordNodeSample(ctx context.Context, target string, s NodeSample) (bool, error)
	// NodeSamples returns the target's samples since the time, oldest first,
	// plus the last one before it (so a chart starts with the state then).
	NodeSamples(ctx context.Context, target string, since time.Time) ([]NodeSample, error)
}

// FieldScaleSettings names the scale settings as a whole in errors that are
// about none of their fields (e.g. a partition without CLOUD nodes).
const FieldScaleSettings = "scaleSettings"

// MinSlurmIdleSeconds is the least idle time for Slurm power saving: 22.05
// accepts SuspendTime=0, but then a node powers down the moment its job
// ends and never serves two jobs in a row.
const MinSlurmIdleSeconds = 1

// Validate checks settings for a partition of cloudNodes power-saving
// nodes; field names are FieldMinNodes, FieldMaxNodes, FieldIdleSeconds.
func (s ScaleSettings) Validate(cloudNodes int) *ValidationError {
	v := &ValidationError{}
	if s.MaxNodes < 1 {
		v.Add(FieldMaxNodes, "The maximum number of nodes must be at least 1.")
	} else if s.MaxNodes > cloudNodes {
		v.Add(FieldMaxNodes, "The maximum number of nodes (%d) cannot be more than the %d power-saving nodes the partition defines: add NodeName lines to slurm.conf and restart slurmctld for more.", s.MaxNodes, cloudNodes)
	}
	switch {
	case s.MinNodes < 0:
		v.Add(FieldMinNodes, "The minimum number of nodes cannot be negative.")
	case s.MinNodes > s.MaxNodes && s.MaxNodes >= 1:
		v.Add(FieldMinNodes, "The minimum number of nodes (%d) cannot be more than the maximum (%d).", s.MinNodes, s.MaxNodes)
	}
	if s.IdleSeconds < MinSlurmIdleSeconds || s.IdleSeconds > MaxIdleSecondsScaleDown {
		v.Add(FieldIdleSeconds, "Idle seconds before scale down must be between %d and %d (7 days).", MinSlurmIdleSeconds, MaxIdleSecondsScaleDown)
	}
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}
