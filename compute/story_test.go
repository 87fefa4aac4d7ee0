package compute

import (
	"strings"
	"testing"
)

func TestStoryOf(t *testing.T) {
	tests := []struct {
		name                  string
		t                     Target
		state, health, alloc  string
		problem, nextContains string
	}{
		{"failed Slurm attach (machine away)", Target{Kind: KindSlurm, ProvisioningState: ProvisioningFailed,
			ProvisioningErrors: []string{"slurmrestd did not answer"}, Attach: &AttachSpec{Unreachable: true, StatusMessage: "dial tcp: refused"}},
			"Failed", "", "", "slurmrestd did not answer", "completes the attach by itself"},
		{"failed VM attach (bad key)", Target{Kind: KindVirtualMachine, ProvisioningState: ProvisioningFailed,
			ProvisioningErrors: []string{"ssh: unable to authenticate"}, Attach: &AttachSpec{}},
			"Failed", "", "", "ssh: unable to authenticate", "delete this compute and create it again"},
		{"VM not reached yet", Target{Kind: KindVirtualMachine, ProvisioningState: ProvisioningSucceeded, Attach: &AttachSpec{}},
			"Succeeded", HealthUnchecked, "", "", "has not connected"},
		{"VM that stopped answering", Target{Kind: KindVirtualMachine, ProvisioningState: ProvisioningSucceeded,
			Attach: &AttachSpec{Checked: true, Unreachable: true, StatusMessage: "i/o timeout"}},
			StateUnusable, HealthUnusable, "", "i/o timeout", "usable by itself"},
		{"healthy VM", Target{Kind: KindVirtualMachine, ProvisioningState: ProvisioningSucceeded, Attach: &AttachSpec{Checked: true}},
			"Succeeded", HealthUsable, "", "", ""},
		{"host key to approve", Target{Kind: KindVirtualMachine, ProvisioningState: ProvisioningSucceeded,
			Attach: &AttachSpec{Checked: true, PendingHostKeyFingerprint: "SHA256:abc"}},
			"Succeeded", HealthUnusable, "", "SHA256:abc", "approving it"},
		{"cluster resizing", Target{Kind: KindCluster, ProvisioningState: ProvisioningSucceeded, Cluster: &ClusterSpec{AllocationState: "Resizing"}},
			"Succeeded", HealthUsable, "Resizing", "", ""},
		{"cluster being created", Target{Kind: KindCluster, ProvisioningState: ProvisioningCreating, Cluster: &ClusterSpec{}},
			"Creating", "", "Steady", "", "follows it by itself"},
		{"stopped instance", Target{Kind: KindInstance, ProvisioningState: ProvisioningSucceeded, Instance: &InstanceSpec{State: InstanceStopped}},
			"Stopped", "", "", "", "Start it"},
		{"failed instance", Target{Kind: KindInstance, ProvisioningState: ProvisioningFailed, ProvisioningErrors: []string{"OutOfQuota: no"},
			Instance: &InstanceSpec{State: InstanceRunning}}, "Failed", "", "", "OutOfQuota: no", "create it again"},
	}
	for _, tt := range tests {
		s := StoryOf(&tt.t)
		if s.State != tt.state || s.Health != tt.health || s.Allocation != tt.alloc || !strings.Contains(s.Problem, tt.problem) ||
			!strings.Contains(s.NextStep, tt.nextContains) || (tt.nextContains == "" && s.NextStep != "") {
			t.Errorf("%s: %+v", tt.name, s)
		}
	}
}
