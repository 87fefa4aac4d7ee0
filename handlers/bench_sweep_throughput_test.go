package handlers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// noopScript is the no-op child of the throughput benchmark, as in the
// sweep-throughput acceptance check: all it costs is Python's own start, so
// what the sweep adds is the orchestration.
const noopScript = "import sys\n"

// bareLaunches runs n launches of `python3 noop.py --x1 0.5` in dir, par at
// a time, straight from Go: the physical limit a sweep is measured against.
// It returns the wall time and the p50 of one launch.
func bareLaunches(tb testing.TB, dir string, n, par int) (wall, p50 time.Duration) {
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	var mu sync.Mutex
	var own []time.Duration
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cmd := exec.Command(benchPython(), "noop.py", "--x1", "0.5")
			cmd.Dir = dir
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				tb.Error(err)
			}
			mu.Lock()
			own = append(own, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall = time.Since(start)
	slices.Sort(own)
	return wall, own[len(own)/2]
}

// BenchmarkSweepThroughput: a Random sweep of BENCH_THROUGHPUT (1,000)
// no-op children at max_concurrent_runs 8 on the local target (sandboxed,
// as in production, and serve's 500 ms interval), against the same launches of the script done directly,
// 8 at a time, just before and just after the sweep (their mean is the
// baseline, so a change of load on a shared machine shows in both). Rate:
// children from the POST to the parent Completed.
func BenchmarkSweepThroughput(b *testing.B) {
	n := envInt("BENCH_THROUGHPUT", 1000)
	if _, err := os.Stat(benchPython()); err != nil {
		b.Skipf("%s: %v", benchPython(), err)
	}
	// serve's own interval: what a pass that nothing woke costs a sweep is
	// part of what is measured.
	env := webtest.New(b, webtest.Options{Interval: 500 * time.Millisecond})
	snap := uploadFolder(b, env, map[string]string{"noop.py": noopScript})
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "noop.py"), []byte(noopScript), 0o644); err != nil {
		b.Fatal(err)
	}
	var sb, phases strings.Builder
	for range b.N {
		before, p50 := bareLaunches(b, dir, n, 8)

		space := []map[string]any{{"name": "--x1", "expression": "uniform", "values": []float64{0, 1}}}
		sweep := map[string]any{"sampling": map[string]any{"type": "Random", "parameterSpace": space}, "primaryMetricName": "value",
			"primaryMetricGoal": "minimize", "maxTotalRuns": n, "maxConcurrentRuns": 8}
		body := map[string]any{"experimentName": "bench-throughput", "snapshotId": snap, "script": "noop.py", "target": "local",
			"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true, "interpreterPath": benchPython()}},
			"sweep":       sweep, "seed": 1}
		start := time.Now()
		var run runJSON
		apiJSON(b, env, "POST", "/api/v1/sweeps", body, 201, &run)
		// Watched twice a second, as the acceptance check does once a
		// second: waitBenchSweep's quick polling would cost the server.
		// The end is the parent's own end, not when it was seen.
		var wall time.Duration
		for wall == 0 {
			time.Sleep(500 * time.Millisecond)
			r, err := env.Store.GetRun(context.Background(), run.RunID)
			if err != nil {
				b.Fatal(err)
			}
			if r.Status.Terminal() {
				wall = r.EndedAt.Sub(start)
			}
		}
		kids := waitBenchSweep(b, env, run.RunID, time.Minute)

		after, _ := bareLaunches(b, dir, n, 8)
		done := 0
		for _, k := range kids {
			if k.Status == compute.RunCompleted {
				done++
			}
		}
		if done != n {
			b.Fatalf("%d of %d children completed", done, n)
		}
		phases.WriteString(sweepPhases(b, env, kids))
		bare := (before + after) / 2
		rate, bareRate := float64(n)/wall.Seconds(), float64(n)/bare.Seconds()
		b.ReportMetric(rate, "children/s")
		b.ReportMetric(bareRate, "bare-execs/s")
		b.ReportMetric(rate/bareRate, "ratio")
		fmt.Fprintf(&sb, "| %d no-op children, max_concurrent_runs 8 | %.1f s | %.1f children/s | bare: %.1f and %.1f execs/s before and after, launch p50 %.0f ms | **%.2f** |\n",
			n, wall.Seconds(), rate, float64(n)/before.Seconds(), float64(n)/after.Seconds(), float64(p50.Microseconds())/1000, rate/bareRate)
	}
	writeBenchMD(b, "## Throughput\n\n| sweep | wall | throughput | the same launches without Trainyard (8 at a time) | ratio to bare |\n|---|---|---|---|---|\n"+
		sb.String()+"\n"+phases.String())
}
