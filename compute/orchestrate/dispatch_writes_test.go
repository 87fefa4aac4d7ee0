package orchestrate_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// countingRuns counts the run writes the dispatcher makes.
type countingRuns struct {
	orchestrate.RunStore
	writes atomic.Int64
}

func (c *countingRuns) UpdateRun(ctx context.Context, id string, fn func(*compute.Run) error) (*compute.Run, error) {
	c.writes.Add(1)
	return c.RunStore.UpdateRun(ctx, id, fn)
}

func (c *countingRuns) UpdateRunVia(ctx context.Context, id string, via []compute.RunStatus, fn func(*compute.Run) error) (*compute.Run, error) {
	c.writes.Add(1)
	return c.RunStore.UpdateRunVia(ctx, id, via, fn)
}

// TestAdmittedRunGoesThroughQueuedInOneWrite: a run its target admits at
// once shows every status of its life, Queued among them, and reaches
// Preparing in the same write as Queued: six writes from NotStarted to
// Completed (Queued and Preparing, Starting, the handle, Running,
// Finalizing, Completed), where a write per status made seven.
func TestAdmittedRunGoesThroughQueuedInOneWrite(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The job runs until the test has seen it Running, so that its
	// timeline shows Running however slowly the machine polls.
	snap := putSnapshot(t, e.st, map[string]string{"wait.sh": "while [ ! -e go ]; do sleep 0.02; done\n"})
	runs := &countingRuns{RunStore: e.st}
	d := runWakeOnly(t, e, orchestrate.DispatcherConfig{Runs: runs})

	r := &compute.Run{ExperimentName: "writes", Target: "local", Script: "wait.sh", SnapshotID: snap,
		Environment: compute.RunEnvironment{UserManagedDependencies: true, InterpreterPath: "/bin/sh"}}
	if err := e.st.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	d.Kick()
	waitFor(t, "the run to run", func() (bool, string) {
		got, err := e.st.GetRun(ctx, r.ID)
		if err != nil {
			return false, err.Error()
		}
		return got.Status == compute.RunRunning || got.Status.Terminal(), string(got.Status)
	})
	if err := os.WriteFile(filepath.Join(e.st.RunWorkDir(r.ID), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to end", func() (bool, string) {
		got, err := e.st.GetRun(ctx, r.ID)
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Terminal(), string(got.Status)
	})
	got, err := e.st.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var timeline []compute.RunStatus
	for _, ev := range got.History {
		timeline = append(timeline, ev.Status)
	}
	want := []compute.RunStatus{compute.RunNotStarted, compute.RunQueued, compute.RunPreparing, compute.RunStarting,
		compute.RunRunning, compute.RunFinalizing, compute.RunCompleted}
	if !slices.Equal(timeline, want) {
		t.Fatalf("timeline %v, want %v", timeline, want)
	}
	if n := runs.writes.Load(); n > 6 {
		t.Errorf("%d writes of the run, want at most 6", n)
	}
}
