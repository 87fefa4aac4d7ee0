package orchestrate_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/store"
)

// dispatchBench is one dispatcher over a store holding a 4-node local
// cluster whose nodes are all busy, 2,000 runs queued on it and history
// finished runs.
type dispatchBench struct {
	st *store.Store
	d  *orchestrate.Dispatcher
}

func newDispatchBench(b *testing.B, history int) *dispatchBench {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st := openStoreTB(b, dir)
	b.Cleanup(func() { st.Close() })
	if err := compute.EnsureLocalTarget(ctx, st, time.Now()); err != nil {
		b.Fatal(err)
	}
	req := clusterRequest("gpu", 0, 4)
	tg := &compute.Target{Name: req.Name, Kind: req.Kind, Location: "local", ProvisioningState: compute.ProvisioningSucceeded,
		CreatedBy: "bench", Cluster: req.Cluster, LastOperation: compute.Operation{Name: "Create", Status: "Succeeded", Time: time.Now()}}
	tg.Cluster.TargetNodeCount = 4
	if err := st.CreateTarget(ctx, tg, nil); err != nil {
		b.Fatal(err)
	}
	nodes := make([]compute.Node, 4)
	for i := range nodes {
		nodes[i] = compute.Node{ID: fmt.Sprintf("node-%d", i), State: compute.NodeRunning, RunID: fmt.Sprintf("elsewhere-%d", i), Since: time.Now()}
	}
	if err := st.SaveNodes(ctx, "gpu", nodes); err != nil {
		b.Fatal(err)
	}
	// History first (older runs), as it accumulates: finished script runs
	// on the cluster and on the local target, and finished sweeps.
	start := time.Now().Add(-time.Duration(history) * time.Second)
	statuses := []compute.RunStatus{compute.RunCompleted, compute.RunCompleted, compute.RunFailed, compute.RunCanceled}
	const batch = 5000
	for i := 0; i < history; i += batch {
		var runs []*compute.Run
		for j := i; j < min(i+batch, history); j++ {
			at := start.Add(time.Duration(j) * time.Second)
			runs = append(runs, &compute.Run{ID: fmt.Sprintf("old_%08d", j), ExperimentName: fmt.Sprintf("exp%02d", j%20),
				Status: statuses[j%len(statuses)], Target: []string{"gpu", "local"}[j%2], Script: "train.py",
				CreatedAt: at, StartedAt: at, EndedAt: at.Add(time.Second), ParentID: fmt.Sprintf("sweep_%d", j/100)})
		}
		if err := st.CreateRuns(ctx, runs); err != nil {
			b.Fatal(err)
		}
	}
	var queued []*compute.Run
	for j := range 2000 {
		queued = append(queued, &compute.Run{ID: fmt.Sprintf("queued_%04d", j), ExperimentName: "waiting", Status: compute.RunQueued,
			Target: "gpu", Script: "train.py"})
	}
	if err := st.CreateRuns(ctx, queued); err != nil {
		b.Fatal(err)
	}
	be := newLocal(dir, st)
	d := orchestrate.NewDispatcher(orchestrate.DispatcherConfig{Runs: st, Targets: st, Sweeps: st,
		Backends: compute.MustRegistry(be.Registration()), Logger: slog.New(slog.DiscardHandler)})
	// The first pass writes every queued run's reason ("waiting for a
	// node: 4/4 busy"); the passes measured are the steady ones after it,
	// as while a queue waits.
	if err := d.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	waitReasons(b, st)
	return &dispatchBench{st: st, d: d}
}

// waitReasons waits for the first pass's steps to have written the reasons.
func waitReasons(b *testing.B, st *store.Store) {
	ctx := context.Background()
	for {
		runs, err := st.ActiveRuns(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !slices.ContainsFunc(runs, func(r *compute.Run) bool { return r.StatusReason == "" }) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openStoreTB(b *testing.B, dir string) *store.Store {
	b.Helper()
	k, err := store.LoadKeyring(dir, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), dir, store.Options{Keyring: k})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkDispatchPass (issue 16): one dispatcher pass (the sweep
// driver's tick, the work list, the queue's admissions on a 4-node local
// cluster) with 2,000 runs queued, against an empty history and against
// 100,000 finished runs. The two are timed in alternation in the same run,
// so load on a shared machine falls on both; the figure is their ratio,
// which should be 1.
func BenchmarkDispatchPass(b *testing.B) {
	ctx := context.Background()
	empty, full := newDispatchBench(b, 0), newDispatchBench(b, 100_000)
	var te, tf []time.Duration
	pass := func(db *dispatchBench, into *[]time.Duration) {
		t0 := time.Now()
		if err := db.d.Reconcile(ctx); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(t0))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			pass(empty, &te)
			pass(full, &tf)
		} else {
			pass(full, &tf)
			pass(empty, &te)
		}
	}
	b.StopTimer()
	med := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	me, mf := med(te), med(tf)
	b.ReportMetric(me, "empty-ms/pass")
	b.ReportMetric(mf, "100k-ms/pass")
	b.ReportMetric(mf/me, "ratio")
}
