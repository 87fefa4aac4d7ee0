package slurm

import "github.com/trainyard/trainyard/compute"

// minIdleSeconds is the least idle time for Slurm power saving: 22.05
// accepts SuspendTime=0, but then a node powers down the moment its job
// ends and never serves two jobs in a row.
const minIdleSeconds = 1

// validateScaleSettings checks settings for a partition of cloudNodes
// power-saving nodes; errors name compute.FieldMinNodes, FieldMaxNodes and
// FieldIdleSeconds.
func validateScaleSettings(s compute.ScaleSettings, cloudNodes int) *compute.ValidationError {
	v := &compute.ValidationError{}
	if s.MaxNodes < 1 {
		v.Add(compute.FieldMaxNodes, "The maximum number of nodes must be at least 1.")
	} else if s.MaxNodes > cloudNodes {
		v.Add(compute.FieldMaxNodes, "The maximum number of nodes (%d) cannot be more than the %d power-saving nodes the partition defines: add NodeName lines to slurm.conf and restart slurmctld for more.", s.MaxNodes, cloudNodes)
	}
	switch {
	case s.MinNodes < 0:
		v.Add(compute.FieldMinNodes, "The minimum number of nodes cannot be negative.")
	case s.MinNodes > s.MaxNodes && s.MaxNodes >= 1:
		v.Add(compute.FieldMinNodes, "The minimum number of nodes (%d) cannot be more than the maximum (%d).", s.MinNodes, s.MaxNodes)
	}
	if s.IdleSeconds < minIdleSeconds || s.IdleSeconds > compute.MaxIdleSecondsScaleDown {
		v.Add(compute.FieldIdleSeconds, "Idle seconds before scale down must be between %d and %d (7 days).", minIdleSeconds, compute.MaxIdleSecondsScaleDown)
	}
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}
