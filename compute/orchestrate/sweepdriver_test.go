package orchestrate_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// TestSweepDriverMaxDuration: at max_duration_minutes the driver cancels the
// active children with the reason (not as the policy's), and ends the parent
// Canceled only once every child has ended. The clock is fake; no dispatcher
// runs, so the test moves the children itself.
func TestSweepDriverMaxDuration(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, err := hyperdrive.NewExpression("--x", hyperdrive.Uniform, []any{0.0, 1.0})
	if err != nil {
		t.Fatal(err)
	}
	sw := &hyperdrive.Sweep{Space: hyperdrive.Space{{Name: "--x", Expr: e}}, Sampling: hyperdrive.SamplingRandom, Seed: 3,
		PrimaryMetric: "loss", Goal: hyperdrive.Minimize, MaxTotalRuns: 5, MaxConcurrentRuns: 2, MaxDurationMinutes: 1}
	p := &compute.Run{Kind: compute.RunKindHyperdrive, ExperimentName: "dur", Status: compute.RunRunning, StartedAt: now,
		Target: "local", Script: "train.py", Arguments: []string{"--x", "9", "--epochs", "2"}, Sweep: sw}
	if err := st.CreateRun(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := &orchestrate.SweepDriver{Store: st, Logger: slog.New(slog.DiscardHandler), Now: clock}
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	kids := children(t, st, p.ID)
	if len(kids) != 2 {
		t.Fatalf("%d children, want 2 (max_concurrent_runs)", len(kids))
	}
	for _, k := range kids {
		if len(k.Arguments) != 4 || k.Arguments[0] != "--epochs" || k.Arguments[2] != "--x" || k.Hyperparameters == nil {
			t.Fatalf("child %s arguments %q hyperparameters %v", k.ID, k.Arguments, k.Hyperparameters)
		}
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range children(t, st, p.ID) {
		if k.Status != compute.RunCancelRequested || !strings.Contains(k.Error, "max_duration_minutes") || k.PolicyCancelReason != "" {
			t.Fatalf("child %s: %s %q policy %q", k.ID, k.Status, k.Error, k.PolicyCancelReason)
		}
	}
	if got, _ := st.GetRun(ctx, p.ID); got.Status != compute.RunRunning {
		t.Fatalf("parent %s before its children ended", got.Status)
	}
	for _, k := range children(t, st, p.ID) {
		if _, err := st.UpdateRun(ctx, k.ID, func(r *compute.Run) error { r.Status = compute.RunCanceled; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetRun(ctx, p.ID)
	if got.Status != compute.RunCanceled || !strings.Contains(got.StatusReason, "max_duration_minutes") {
		t.Fatalf("parent %s %q", got.Status, got.StatusReason)
	}
	if n := len(children(t, st, p.ID)); n != 2 {
		t.Fatalf("%d children after the time limit, want 2", n)
	}
}

func children(t *testing.T, st interface {
	ListRuns(context.Context, compute.RunFilter) (compute.RunPage, error)
}, parent string) []*compute.Run {
	t.Helper()
	page, err := st.ListRuns(context.Background(), compute.RunFilter{Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	return page.Runs
}
