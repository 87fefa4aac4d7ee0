package orchestrate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/store"
)

// putSnapshot stores files (path → content) as a snapshot and returns its ID.
func putSnapshot(t *testing.T, st *store.Store, files map[string]string) string {
	t.Helper()
	ctx := context.Background()
	var fs []compute.SnapshotFile
	for p, body := range files {
		sum := sha256.Sum256([]byte(body))
		h := hex.EncodeToString(sum[:])
		if _, err := st.PutBlob(ctx, h, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, compute.SnapshotFile{Path: p, SHA256: h, Size: int64(len(body)), Mode: 0o644})
	}
	snap, err := st.CreateSnapshot(ctx, fs, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	return snap.ID
}

// TestDispatchWakesOnJobEnd: with an Interval that never comes round, a
// sweep of local children still runs to its end. Only the wake-ups move it:
// the local backend tells the dispatcher when a job's processes end (the
// run is finalized then, not polled), and a child that ends kicks the pass
// in which its sweep starts the next one. Without either, the sweep would
// stop after its first children. The sweeps are read only on the passes
// that can move them (a kick, a child's end): not on those that only
// finalize a run whose job ended.
func TestDispatchWakesOnJobEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	snap := putSnapshot(t, e.st, map[string]string{"noop.sh": "exit 0\n"})
	sweeps := &countingSweeps{SweepStore: e.st}
	d := runWakeOnly(t, e, orchestrate.DispatcherConfig{Runs: e.st, Sweeps: sweeps})

	x, err := hyperdrive.NewExpression("--x", hyperdrive.Choice, []any{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	const total = 6
	sw := &hyperdrive.Sweep{Space: hyperdrive.Space{{Name: "--x", Expr: x}}, Sampling: hyperdrive.SamplingGrid,
		PrimaryMetric: "loss", Goal: hyperdrive.Minimize, MaxTotalRuns: total, MaxConcurrentRuns: 2, MaxDurationMinutes: 60}
	p := &compute.Run{Kind: compute.RunKindHyperdrive, ExperimentName: "wake", Status: compute.RunRunning, StartedAt: time.Now(),
		Target: "local", Script: "noop.sh", SnapshotID: snap, Sweep: sw,
		Environment: compute.RunEnvironment{UserManagedDependencies: true, InterpreterPath: "/bin/sh"}}
	if err := e.st.CreateRun(ctx, p); err != nil {
		t.Fatal(err)
	}
	d.Kick() // the only pass not woken by a run
	waitFor(t, "the sweep to end by wake-ups alone", func() (bool, string) {
		got, err := e.st.GetRun(ctx, p.ID)
		if err != nil {
			return false, err.Error()
		}
		kids := children(t, e.st, p.ID)
		var states []string
		for _, k := range kids {
			states = append(states, string(k.Status))
		}
		return got.Status.Terminal(), fmt.Sprintf("parent %s, children %v", got.Status, states)
	})
	if got, _ := e.st.GetRun(ctx, p.ID); got.Status != compute.RunCompleted {
		t.Fatalf("parent %s: %s", got.Status, got.StatusReason)
	}
	kids := children(t, e.st, p.ID)
	if len(kids) != total {
		t.Fatalf("%d children, want %d", len(kids), total)
	}
	for _, k := range kids {
		if k.Status != compute.RunCompleted {
			t.Errorf("child %s %s: %s %s", k.ID, k.Status, k.StatusReason, k.Error)
		}
	}
	// The first pass, the kick's and at most one per child's end; a job's
	// end wakes a pass of its own too, which must leave the sweeps alone.
	if n := sweeps.ticks.Load(); n > total+2 {
		t.Errorf("the sweeps were read on %d passes, want at most %d (the first, the kick's, one per child's end)", n, total+2)
	}
}

// runWakeOnly runs a dispatcher over e's local target, with cfg's stores,
// until the test ends. Its interval never comes round: only kicks and the
// ends of jobs wake it.
func runWakeOnly(t *testing.T, e *env, cfg orchestrate.DispatcherConfig) *orchestrate.Dispatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := compute.EnsureLocalTarget(ctx, e.st, time.Now()); err != nil {
		cancel()
		t.Fatal(err)
	}
	cfg.Targets, cfg.Backends, cfg.Interval = e.st, e.backends(), time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := orchestrate.NewDispatcher(cfg)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// countingSweeps counts the passes that read the active sweeps.
type countingSweeps struct {
	orchestrate.SweepStore
	ticks atomic.Int64
}

func (c *countingSweeps) ListRuns(ctx context.Context, f compute.RunFilter) (compute.RunPage, error) {
	if f.Kind == compute.RunKindHyperdrive {
		c.ticks.Add(1)
	}
	return c.SweepStore.ListRuns(ctx, f)
}
