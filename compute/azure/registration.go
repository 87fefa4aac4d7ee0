package azure

import "github.com/trainyard/trainyard/compute"

var (
	_ compute.Backend         = (*Backend)(nil)
	_ compute.PowerController = (*Backend)(nil)
)

// Kinds are the compute types of an Azure ML workspace that Trainyard
// knows: created (clusters, instances) or attached.
var Kinds = []compute.Kind{compute.KindCluster, compute.KindInstance, compute.KindVirtualMachine,
	compute.KindHDInsight, compute.KindDatabricks, compute.KindDataLakeAnalytics, compute.KindBatch}

// Registration declares the backend: the kinds of a workspace and Power
// (instances' start, stop and restart). Each registered workspace gets its
// own registry of this one registration (the app's WorkspaceRegistry), since
// its kinds are also the local backend's.
func (b *Backend) Registration() compute.Registration {
	return compute.Registration{Backend: b, Kinds: Kinds, Capabilities: compute.Capabilities{Power: b}}
}
