package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// TestUpdateRunVia: a run moved through intermediate statuses in one write
// has the same timeline as one moved a status at a time, and a step the
// state machine forbids writes nothing.
func TestUpdateRunVia(t *testing.T) {
	type S = compute.RunStatus
	for _, tc := range []struct {
		name     string
		via      []S
		to       S
		wantErr  bool
		timeline []S // the run's history after the update
	}{
		{"through Queued to Preparing", []S{compute.RunQueued}, compute.RunPreparing, false,
			[]S{compute.RunNotStarted, compute.RunQueued, compute.RunPreparing}},
		{"no via is UpdateRun", nil, compute.RunQueued, false,
			[]S{compute.RunNotStarted, compute.RunQueued}},
		{"a last step the state machine forbids", []S{compute.RunQueued, compute.RunPreparing}, compute.RunRunning, true,
			[]S{compute.RunNotStarted}},
		{"a forbidden first step", []S{compute.RunFinalizing}, compute.RunCompleted, true,
			[]S{compute.RunNotStarted}},
		{"Running sets the start: not a step", []S{compute.RunQueued, compute.RunPreparing, compute.RunStarting, compute.RunRunning}, compute.RunFinalizing, true,
			[]S{compute.RunNotStarted}},
		{"via is ignored when the status stays", []S{compute.RunQueued}, compute.RunNotStarted, false,
			[]S{compute.RunNotStarted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpen(t)
			ctx := context.Background()
			r := mustRun(t, s, &compute.Run{ExperimentName: "exp", Target: "local", Script: "train.py"})
			got, err := s.UpdateRunVia(ctx, r.ID, tc.via, func(r *compute.Run) error {
				r.Status, r.StatusReason = tc.to, "why"
				return nil
			})
			if tc.wantErr != (err != nil) {
				t.Fatalf("UpdateRunVia: %v, want an error: %v", err, tc.wantErr)
			}
			if err == nil && got.Status != tc.to {
				t.Errorf("returned status %s, want %s", got.Status, tc.to)
			}
			stored, err := s.GetRun(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			var timeline []S
			for _, e := range stored.History {
				timeline = append(timeline, e.Status)
			}
			if !slices.Equal(timeline, tc.timeline) {
				t.Errorf("timeline %v, want %v", timeline, tc.timeline)
			}
			if want := tc.timeline[len(tc.timeline)-1]; stored.Status != want {
				t.Errorf("stored status %s, want %s", stored.Status, want)
			}
		})
	}
}

// TestUpdateRunViaConflictIsAConflict: a forbidden step is the same
// compute.ErrConflict a forbidden UpdateRun gives.
func TestUpdateRunViaConflictIsAConflict(t *testing.T) {
	s := MustOpen(t)
	r := mustRun(t, s, &compute.Run{ExperimentName: "exp", Target: "local", Script: "train.py"})
	_, err := s.UpdateRunVia(context.Background(), r.ID, []compute.RunStatus{compute.RunStarting}, func(r *compute.Run) error {
		r.Status = compute.RunRunning
		return nil
	})
	if !errors.Is(err, compute.ErrConflict) {
		t.Errorf("NotStarted → Starting: %v, want ErrConflict", err)
	}
}
