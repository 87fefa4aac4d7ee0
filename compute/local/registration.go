package local

import "github.com/trainyard/trainyard/compute"

// What the local backend implements beyond compute.Backend.
var (
	_ compute.Backend         = (*Backend)(nil)
	_ compute.PowerController = (*Backend)(nil)
	_ compute.Scaler          = (*Backend)(nil)
	_ compute.SessionOpener   = (*Backend)(nil)
	_ compute.JobWatcher      = (*Backend)(nil)
)

// Registration declares the kinds the local backend serves (the built-in
// target, compute clusters and compute instances on this machine) and what
// it can do: power instances, scale clusters' node pools, open sessions
// (terminal, SSH, Jupyter) on instances, and tell when the jobs it started
// end.
func (b *Backend) Registration() compute.Registration {
	return compute.Registration{
		Backend: b,
		Kinds:   []compute.Kind{compute.KindLocal, compute.KindCluster, compute.KindInstance},
		Capabilities: compute.Capabilities{
			Power:    b,
			Scale:    b,
			Sessions: b,
			Watcher:  b,
		},
	}
}
