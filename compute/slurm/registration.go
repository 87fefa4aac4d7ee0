package slurm

import "github.com/trainyard/trainyard/compute"

// What the Slurm backend implements beyond compute.Backend.
var (
	_ compute.Backend       = (*Backend)(nil)
	_ compute.OutputFetcher = (*Backend)(nil)
	_ compute.PowerManager  = (*Backend)(nil)
	_ compute.Describer     = (*Backend)(nil)
	_ compute.NodeSampler   = (*Backend)(nil)
)

// Registration declares the kind the Slurm backend serves (attached Slurm
// partitions) and what it can do: bring outputs back from the shared
// directory, read and edit power-saving scale settings, describe the
// cluster (version, partitions) and sample its nodes for the node refresher.
func (b *Backend) Registration() compute.Registration {
	return compute.Registration{
		Backend: b,
		Kinds:   []compute.Kind{compute.KindSlurm},
		Capabilities: compute.Capabilities{
			Outputs:       b,
			ScaleSettings: b,
			Describe:      b,
			NodeSampling:  b,
		},
	}
}
