package compute

import "fmt"

// ProvisioningState is Azure's provisioningState of a compute resource.
type ProvisioningState string

// The provisioning states (docs/design/studio-compute.md §2.2).
const (
	ProvisioningUnknown   ProvisioningState = "Unknown"
	ProvisioningCreating  ProvisioningState = "Creating"  // being created or attached
	ProvisioningUpdating  ProvisioningState = "Updating"  // scale settings being applied
	ProvisioningSucceeded ProvisioningState = "Succeeded" // ready
	ProvisioningFailed    ProvisioningState = "Failed"    // see ProvisioningErrors
	ProvisioningDeleting  ProvisioningState = "Deleting"  // being deleted or detached
	ProvisioningCanceled  ProvisioningState = "Canceled"
)

// Transitional reports whether the state is on its way to another one.
func (s ProvisioningState) Transitional() bool {
	return s == ProvisioningCreating || s == ProvisioningUpdating || s == ProvisioningDeleting
}

// provisioningMoves is the state machine of docs/design/studio-compute.md §4.1/§4.3,
// with the two moves the controller adds: Creating → Unknown for an attached
// target no backend can check yet, and Deleting → Failed when the backend
// could not delete (the user sees why and can delete again).
var provisioningMoves = map[ProvisioningState][]ProvisioningState{
	ProvisioningCreating:  {ProvisioningSucceeded, ProvisioningFailed, ProvisioningUnknown, ProvisioningDeleting},
	ProvisioningUpdating:  {ProvisioningSucceeded, ProvisioningFailed, ProvisioningDeleting},
	ProvisioningSucceeded: {ProvisioningUpdating, ProvisioningDeleting, ProvisioningFailed},
	ProvisioningFailed:    {ProvisioningDeleting, ProvisioningCreating},
	ProvisioningCanceled:  {ProvisioningDeleting},
	ProvisioningUnknown:   {ProvisioningDeleting, ProvisioningCreating},
	ProvisioningDeleting:  {ProvisioningFailed},
}

// CanMoveTo reports whether the provisioning state machine allows from → to.
func (s ProvisioningState) CanMoveTo(to ProvisioningState) bool {
	for _, ok := range provisioningMoves[s] {
		if ok == to {
			return true
		}
	}
	return false
}

// InstanceState is a compute instance's power state (properties.properties.state).
type InstanceState string

// The compute instance states (docs/design/studio-compute.md §2.4, §4.2).
const (
	InstanceCreating     InstanceState = "Creating"
	InstanceCreateFailed InstanceState = "CreateFailed"
	InstanceRunning      InstanceState = "Running"
	InstanceJobRunning   InstanceState = "JobRunning"
	InstanceStopping     InstanceState = "Stopping"
	InstanceStopped      InstanceState = "Stopped"
	InstanceStarting     InstanceState = "Starting"
	InstanceRestarting   InstanceState = "Restarting"
	InstanceDeleting     InstanceState = "Deleting"
	InstanceUnusable     InstanceState = "Unusable"
	InstanceUnknown      InstanceState = "Unknown"
)

// Transitional reports whether the instance is on its way to another state.
func (s InstanceState) Transitional() bool {
	switch s {
	case InstanceCreating, InstanceStopping, InstanceStarting, InstanceRestarting, InstanceDeleting:
		return true
	}
	return false
}

// PowerAction is a user's start/stop/restart request on an instance.
type PowerAction string

// The power actions of a compute instance.
const (
	ActionStart   PowerAction = "start"
	ActionStop    PowerAction = "stop"
	ActionRestart PowerAction = "restart"
)

// BeginPower returns the transitional state an action leads to from the
// current state, or a conflict error with Azure's wording when the action is
// not allowed there (e.g. StartComputeInstanceOnlyAllowedInStoppedState).
func BeginPower(from InstanceState, a PowerAction) (InstanceState, error) {
	switch a {
	case ActionStart:
		if from != InstanceStopped {
			return from, Conflictf("StartComputeInstanceOnlyAllowedInStoppedState", "state",
				"StartComputeInstanceOnlyAllowedInStoppedState: the instance is %s; it can only be started when Stopped", from)
		}
		return InstanceStarting, nil
	case ActionStop:
		if from != InstanceRunning && from != InstanceJobRunning {
			return from, Conflictf("StopComputeInstanceOnlyAllowedInRunningState", "state",
				"StopComputeInstanceOnlyAllowedInRunningState: the instance is %s; it can only be stopped when Running", from)
		}
		return InstanceStopping, nil
	case ActionRestart:
		if from != InstanceRunning && from != InstanceJobRunning {
			return from, Conflictf("RestartComputeInstanceOnlyAllowedInRunningState", "state",
				"RestartComputeInstanceOnlyAllowedInRunningState: the instance is %s; it can only be restarted when Running", from)
		}
		return InstanceRestarting, nil
	}
	return from, Invalid("action", "unknown action %q (want start, stop or restart)", string(a))
}

// EndPower returns the state a transitional instance state settles in.
func EndPower(from InstanceState) (InstanceState, string, error) {
	switch from {
	case InstanceCreating, InstanceStarting, InstanceRestarting:
		return InstanceRunning, operationFor(from), nil
	case InstanceStopping:
		return InstanceStopped, "Stop", nil
	}
	return from, "", fmt.Errorf("instance state %s is not transitional: %w", from, ErrConflict)
}

func operationFor(s InstanceState) string {
	switch s {
	case InstanceCreating:
		return "Create"
	case InstanceStarting:
		return "Start"
	case InstanceRestarting:
		return "Restart"
	}
	return ""
}

// NodeState is the state of one node of a cluster (Azure's nodeState).
type NodeState string

// The node states (docs/design/studio-compute.md §4.1).
const (
	NodePreparing NodeState = "preparing" // being set up, not yet usable
	NodeIdle      NodeState = "idle"      // ready, no job
	NodeRunning   NodeState = "running"   // running a job
	NodeLeaving   NodeState = "leaving"   // just finished a job, or being removed
	NodeUnusable  NodeState = "unusable"  // broken
	NodePreempted NodeState = "preempted" // low-priority node taken away
)

// NodeCounts is Azure's nodeStateCounts plus current/target counts.
type NodeCounts struct {
	Current, Target                                        int
	Idle, Running, Preparing, Unusable, Leaving, Preempted int
}

// Add counts one node in its state.
func (c *NodeCounts) Add(s NodeState) {
	c.Current++
	switch s {
	case NodeIdle:
		c.Idle++
	case NodeRunning:
		c.Running++
	case NodePreparing:
		c.Preparing++
	case NodeUnusable:
		c.Unusable++
	case NodeLeaving:
		c.Leaving++
	case NodePreempted:
		c.Preempted++
	}
}

// StateUnusable is the state an attached target shows while its machine
// does not answer (AttachSpec.Unreachable). It is Studio's word for a broken
// compute (an instance's Unusable, a node's unusable); it is not a
// provisioning state: the target stays Succeeded underneath, so queued runs
// wait for the machine instead of failing, and it shows its provisioning
// state again as soon as a probe reaches the machine.
const StateUnusable = "Unusable"

// DisplayState is the one state word the UI and CLI show for a target
// (StoryOf's State): an instance's power state while it is provisioned,
// Unusable for an attached machine that stops answering, else the
// provisioning state.
func DisplayState(t *Target) string { return StoryOf(t).State }
