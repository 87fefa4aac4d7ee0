package compute

import (
	"context"
	"time"
)

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
