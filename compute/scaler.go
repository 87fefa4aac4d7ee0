package compute

import "context"

// NodeStore keeps the node set of targets whose nodes Trainyard itself manages
// (local clusters). The domain declares it so that backends can persist nodes
// without knowing SQL; store.Store implements it.
type NodeStore interface {
	// ListNodes returns the nodes saved for the target (none is not an error).
	ListNodes(ctx context.Context, target string) ([]Node, error)
	// SaveNodes replaces the target's node set with nodes.
	SaveNodes(ctx context.Context, target string, nodes []Node) error
}

// Scaler is implemented by backends that grow and shrink a cluster's nodes.
// Checked with a type assertion, like PowerController.
//
// Scale is called on every controller tick with how many nodes work wants
// now; it takes one step toward clamp(min, demand, max) and returns the nodes
// after that step. It updates t.Cluster's TargetNodeCount and AllocationState;
// the caller persists t.
type Scaler interface {
	Scale(ctx context.Context, t *Target, demand int) ([]Node, error)
}
