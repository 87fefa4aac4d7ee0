package compute

import "strings"

// Story is what a target's state means to its user, told once: the list's
// badge, the details page (its header and its one banner), the API
// (properties.trainyardStatus) and the CLI's STATE column all read it from
// StoryOf, so a failed attach cannot read "Unusable" in one place, "Failed"
// in another and "Not checked yet" in a third.
type Story struct {
	// State is the one word shown for the target: the provisioning state,
	// an instance's power state while it is provisioned, or Unusable for an
	// attached machine that does not answer.
	State string `json:"state"`
	// Allocation is a cluster's allocation state (Steady, Resizing); ""
	// for other kinds.
	Allocation string `json:"allocationState,omitempty"`
	// Health says whether work can run there now: Usable, Unusable, or
	// "Not checked yet" for an attached target Trainyard has not reached;
	// "" while the target is not provisioned (creating, failed, deleting).
	Health string `json:"health,omitempty"`
	// Problem is what went wrong, verbatim from the backend ("" when
	// nothing did).
	Problem string `json:"problem,omitempty"`
	// NextStep is the one thing the user should know or do next ("" when
	// there is nothing to do).
	NextStep string `json:"nextStep,omitempty"`
}

// Health values.
const (
	HealthUsable     = "Usable"
	HealthUnusable   = StateUnusable
	HealthUnchecked  = "Not checked yet"
	nextStepRecreate = "Fix the cause, then delete this compute and create it again."
)

// StoryOf tells a target's state, by kind.
func StoryOf(t *Target) Story {
	if s, done := provisioningStory(t); done {
		return s
	}
	switch {
	case t.Instance != nil:
		return instanceStory(t)
	case t.Cluster != nil:
		return clusterStory(t)
	case t.Attach != nil:
		return attachedStory(t)
	}
	return Story{State: string(t.ProvisioningState), Health: HealthUsable}
}

// provisioningStory covers every kind while it is not provisioned: being
// created, updated or deleted, failed, or unknown. Failed wins over
// anything a health probe said: the target cannot be used until it is
// created again, and saying "it becomes usable by itself" would be false.
func provisioningStory(t *Target) (Story, bool) {
	s := Story{State: string(t.ProvisioningState)}
	if t.Cluster != nil {
		s.Allocation = allocationOf(t.Cluster)
	}
	switch t.ProvisioningState {
	case ProvisioningFailed:
		s.Problem = strings.Join(t.ProvisioningErrors, "\n")
		s.NextStep = nextStepRecreate
		switch {
		case t.Attach != nil && t.Attach.PendingHostKeyFingerprint != "":
			s.NextStep = "Check the new host key on the machine, then approve it; until then no work runs here."
		case t.Attach != nil && t.Attach.Unreachable:
			// The controller keeps probing a machine that was away at
			// attach, and attaches it when it answers.
			if s.Problem == "" {
				s.Problem = t.Attach.StatusMessage
			}
			s.NextStep = "Trainyard keeps checking and completes the attach by itself when the machine answers; if the address or credentials are wrong, delete this compute and attach it again."
		}
		return s, true
	case ProvisioningCreating:
		s.NextStep = "Being created: this page follows it by itself."
		return s, true
	case ProvisioningDeleting:
		s.NextStep = "Being deleted."
		return s, true
	case ProvisioningCanceled, ProvisioningUnknown:
		s.NextStep = nextStepRecreate
		return s, true
	}
	return s, false
}

// instanceStory: a provisioned instance shows its power state.
func instanceStory(t *Target) Story {
	s := Story{State: string(t.Instance.State), Health: HealthUsable}
	switch t.Instance.State {
	case InstanceRunning, InstanceJobRunning:
	case InstanceStopped:
		s.Health, s.NextStep = "", "Start it to run work or open its applications."
	default:
		if t.Instance.State.Transitional() {
			s.Health = ""
		}
	}
	return s
}

// clusterStory: a provisioned cluster is usable; its allocation state says
// whether its node count is moving.
func clusterStory(t *Target) Story {
	return Story{State: string(t.ProvisioningState), Allocation: allocationOf(t.Cluster), Health: HealthUsable}
}

// attachedStory: an attached machine (VM, HDInsight, Slurm) is usable once
// Trainyard has reached it, Unusable while it does not answer.
func attachedStory(t *Target) Story {
	a := t.Attach
	s := Story{State: string(t.ProvisioningState), Health: HealthUsable}
	switch {
	case a.PendingHostKeyFingerprint != "":
		s.Health = HealthUnusable
		s.Problem = "The machine presents SSH host key " + a.PendingHostKeyFingerprint + ", which is not the approved one."
		s.NextStep = "Compare it with ssh-keygen -lf on the machine before approving it; until then no work runs here."
	case a.Unreachable:
		s.State, s.Health, s.Problem = StateUnusable, HealthUnusable, a.StatusMessage
		s.NextStep = "Trainyard keeps checking; runs wait in the queue and the target becomes usable by itself when the machine answers."
	case !a.Checked:
		s.Health = HealthUnchecked
		s.NextStep = "Trainyard has not connected to this target yet; it does before the first run."
	}
	return s
}

func allocationOf(c *ClusterSpec) string {
	if c.AllocationState == "" {
		return "Steady"
	}
	return c.AllocationState
}
