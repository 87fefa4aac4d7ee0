package sshvm

import "github.com/trainyard/trainyard/compute"

// What the SSH backend implements beyond compute.Backend.
var (
	_ compute.Backend             = (*Backend)(nil)
	_ compute.HealthChecker       = (*Backend)(nil)
	_ compute.UnreachableNotifier = (*Backend)(nil)
	_ compute.OutputFetcher       = (*Backend)(nil)
	_ compute.HostKeyApprover     = (*Backend)(nil)
	_ compute.ConnectionResetter  = (*Backend)(nil)
)

// Registration declares the kinds the SSH backend serves (attached Linux VMs
// and HDInsight head nodes) and what it can do: probe their health, report a
// VM lost mid-run, bring outputs back, pin host keys, take new credentials,
// and close its pooled connections when the server stops.
func (b *Backend) Registration() compute.Registration {
	return compute.Registration{
		Backend: b,
		Kinds:   []compute.Kind{compute.KindVirtualMachine, compute.KindHDInsight},
		Capabilities: compute.Capabilities{
			Health:         b,
			Unreachable:    b,
			Outputs:        b,
			HostKeys:       b,
			SecretRotation: b,
			Close:          b,
		},
	}
}
