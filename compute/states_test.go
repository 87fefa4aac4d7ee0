package compute

import (
	"errors"
	"strings"
	"testing"
)

var allInstanceStates = []InstanceState{
	InstanceCreating, InstanceCreateFailed, InstanceRunning, InstanceJobRunning, InstanceStopping,
	InstanceStopped, InstanceStarting, InstanceRestarting, InstanceDeleting, InstanceUnusable, InstanceUnknown,
}

func TestBeginPower(t *testing.T) {
	// docs/design/studio-compute.md §4.2: start only from Stopped; stop and restart only
	// from Running (JobRunning is Running with jobs on it).
	allowed := map[PowerAction]map[InstanceState]InstanceState{
		ActionStart:   {InstanceStopped: InstanceStarting},
		ActionStop:    {InstanceRunning: InstanceStopping, InstanceJobRunning: InstanceStopping},
		ActionRestart: {InstanceRunning: InstanceRestarting, InstanceJobRunning: InstanceRestarting},
	}
	codes := map[PowerAction]string{
		ActionStart:   "StartComputeInstanceOnlyAllowedInStoppedState",
		ActionStop:    "StopComputeInstanceOnlyAllowedInRunningState",
		ActionRestart: "RestartComputeInstanceOnlyAllowedInRunningState",
	}
	for _, a := range []PowerAction{ActionStart, ActionStop, ActionRestart} {
		for _, from := range allInstanceStates {
			got, err := BeginPower(from, a)
			if want, ok := allowed[a][from]; ok {
				if err != nil || got != want {
					t.Errorf("BeginPower(%s, %s) = %s, %v; want %s", from, a, got, err, want)
				}
				if !got.Transitional() {
					t.Errorf("BeginPower(%s, %s) = %s, which is not transitional", from, a, got)
				}
				continue
			}
			if err == nil {
				t.Errorf("BeginPower(%s, %s) = %s, want a conflict", from, a, got)
				continue
			}
			if got != from {
				t.Errorf("BeginPower(%s, %s) moved the instance to %s although it refused", from, a, got)
			}
			if !errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
				t.Errorf("BeginPower(%s, %s) error %v: want ErrConflict (409) only", from, a, err)
			}
			var coded *CodedError
			if !errors.As(err, &coded) {
				t.Errorf("BeginPower(%s, %s) error is %T, want *CodedError", from, a, err)
				continue
			}
			if coded.Code != codes[a] {
				t.Errorf("BeginPower(%s, %s) code = %q, want %q", from, a, coded.Code, codes[a])
			}
			// Azure's message starts with the code and says where the instance is.
			if !strings.HasPrefix(coded.Message, codes[a]+":") || !strings.Contains(coded.Message, "the instance is "+string(from)+";") {
				t.Errorf("BeginPower(%s, %s) message = %q", from, a, coded.Message)
			}
		}
	}
}

func TestBeginPowerUnknownAction(t *testing.T) {
	for _, a := range []PowerAction{"", "reboot", "Start"} {
		got, err := BeginPower(InstanceStopped, a)
		if got != InstanceStopped {
			t.Errorf("BeginPower(Stopped, %q) moved to %s", a, got)
		}
		if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
			t.Errorf("BeginPower(Stopped, %q) error = %v, want ErrInvalid (400), not a conflict", a, err)
		}
		var v *ValidationError
		if !errors.As(err, &v) || !strings.Contains(v.For("action"), "want start, stop or restart") {
			t.Errorf("BeginPower(Stopped, %q) error = %v, want a message on field action", a, err)
		}
	}
}

func TestEndPower(t *testing.T) {
	settles := map[InstanceState]struct {
		to InstanceState
		op string
	}{
		InstanceCreating:   {InstanceRunning, "Create"},
		InstanceStarting:   {InstanceRunning, "Start"},
		InstanceRestarting: {InstanceRunning, "Restart"},
		InstanceStopping:   {InstanceStopped, "Stop"},
	}
	for _, from := range allInstanceStates {
		to, op, err := EndPower(from)
		if want, ok := settles[from]; ok {
			if err != nil || to != want.to || op != want.op {
				t.Errorf("EndPower(%s) = %s, %q, %v; want %s, %q", from, to, op, err, want.to, want.op)
			}
			if to.Transitional() {
				t.Errorf("EndPower(%s) = %s, which is still transitional", from, to)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrConflict) {
			t.Errorf("EndPower(%s) = %s, %q, %v; want an ErrConflict", from, to, op, err)
		}
		if to != from || op != "" {
			t.Errorf("EndPower(%s) = %s, %q; a refused settle must leave the state alone", from, to, op)
		}
	}
	// Every power action that starts settles back where the user expects.
	for from, a := range map[InstanceState]PowerAction{InstanceStopped: ActionStart, InstanceRunning: ActionStop, InstanceJobRunning: ActionRestart} {
		mid, err := BeginPower(from, a)
		if err != nil {
			t.Fatal(err)
		}
		end, _, err := EndPower(mid)
		want := InstanceRunning
		if a == ActionStop {
			want = InstanceStopped
		}
		if err != nil || end != want {
			t.Errorf("%s from %s settles in %s (%v), want %s", a, from, end, err, want)
		}
	}
}

func TestInstanceStateTransitional(t *testing.T) {
	want := map[InstanceState]bool{
		InstanceCreating: true, InstanceStopping: true, InstanceStarting: true, InstanceRestarting: true, InstanceDeleting: true,
	}
	for _, s := range allInstanceStates {
		if got := s.Transitional(); got != want[s] {
			t.Errorf("%s.Transitional() = %v, want %v", s, got, want[s])
		}
	}
}

var allProvisioningStates = []ProvisioningState{
	ProvisioningUnknown, ProvisioningCreating, ProvisioningUpdating, ProvisioningSucceeded,
	ProvisioningFailed, ProvisioningDeleting, ProvisioningCanceled,
}

func TestProvisioningStateCanMoveTo(t *testing.T) {
	// docs/design/studio-compute.md §4.1/§4.3 plus what the controller writes:
	//   create/attach: Creating → Succeeded | Failed, and → Unknown for an
	//     attached target no backend can check yet;
	//   scale settings: Succeeded → Updating → Succeeded | Failed;
	//   delete: any settled state → Deleting → removed, or → Failed when the
	//     backend could not delete (so the user sees why and can retry);
	//   retry: Failed | Unknown → Creating.
	allowed := map[ProvisioningState][]ProvisioningState{
		ProvisioningCreating:  {ProvisioningSucceeded, ProvisioningFailed, ProvisioningUnknown, ProvisioningDeleting},
		ProvisioningUpdating:  {ProvisioningSucceeded, ProvisioningFailed, ProvisioningDeleting},
		ProvisioningSucceeded: {ProvisioningUpdating, ProvisioningDeleting, ProvisioningFailed},
		ProvisioningFailed:    {ProvisioningDeleting, ProvisioningCreating},
		ProvisioningCanceled:  {ProvisioningDeleting},
		ProvisioningUnknown:   {ProvisioningDeleting, ProvisioningCreating},
		ProvisioningDeleting:  {ProvisioningFailed},
	}
	for _, from := range allProvisioningStates {
		for _, to := range allProvisioningStates {
			want := false
			for _, ok := range allowed[from] {
				want = want || ok == to
			}
			if got := from.CanMoveTo(to); got != want {
				t.Errorf("%s.CanMoveTo(%s) = %v, want %v", from, to, got, want)
			}
		}
	}
	// Whatever the state, the user can always get rid of a target, except
	// while it is already going.
	for _, from := range allProvisioningStates {
		if from != ProvisioningDeleting && !from.CanMoveTo(ProvisioningDeleting) {
			t.Errorf("a %s target cannot be deleted", from)
		}
	}
	if ProvisioningState("Bogus").CanMoveTo(ProvisioningSucceeded) {
		t.Error("an unknown state must not move anywhere")
	}
}

func TestProvisioningStateTransitional(t *testing.T) {
	for _, s := range allProvisioningStates {
		want := s == ProvisioningCreating || s == ProvisioningUpdating || s == ProvisioningDeleting
		if got := s.Transitional(); got != want {
			t.Errorf("%s.Transitional() = %v, want %v", s, got, want)
		}
	}
}

func TestNodeCountsAdd(t *testing.T) {
	var c NodeCounts
	c.Target = 9
	for _, s := range []NodeState{
		NodeIdle, NodeIdle, NodeIdle, NodeRunning, NodeRunning, NodePreparing,
		NodeUnusable, NodeLeaving, NodePreempted, NodePreempted, "draining",
	} {
		c.Add(s)
	}
	want := NodeCounts{Current: 11, Target: 9, Idle: 3, Running: 2, Preparing: 1, Unusable: 1, Leaving: 1, Preempted: 2}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
	// A node in a state Azure does not name still counts toward the total
	// (the cluster has it), but in no state column.
	if sum := c.Idle + c.Running + c.Preparing + c.Unusable + c.Leaving + c.Preempted; sum != c.Current-1 {
		t.Errorf("state columns add to %d, want %d", sum, c.Current-1)
	}
}

func TestDisplayState(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"cluster", Target{ProvisioningState: ProvisioningSucceeded}, "Succeeded"},
		{"instance", Target{ProvisioningState: ProvisioningSucceeded, Instance: &InstanceSpec{State: InstanceStopped}}, "Stopped"},
		{"failed instance", Target{ProvisioningState: ProvisioningFailed, Instance: &InstanceSpec{State: InstanceRunning}}, "Failed"},
		{"reachable VM", Target{ProvisioningState: ProvisioningSucceeded, Attach: &AttachSpec{}}, "Succeeded"},
		{"unreachable VM", Target{ProvisioningState: ProvisioningSucceeded, Attach: &AttachSpec{Unreachable: true}}, "Unusable"},
		// One story: the API and CLI say Failed, so the list does too (the
		// next step says the attach completes by itself; StoryOf).
		{"unreachable at attach", Target{ProvisioningState: ProvisioningFailed, Attach: &AttachSpec{Unreachable: true}}, "Failed"},
		{"being detached", Target{ProvisioningState: ProvisioningDeleting, Attach: &AttachSpec{Unreachable: true}}, "Deleting"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DisplayState(&tc.t); got != tc.want {
				t.Fatalf("DisplayState = %q, want %q", got, tc.want)
			}
		})
	}
}
