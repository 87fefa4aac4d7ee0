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
