package handlers_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/hyperdrive/hdbench"
	"github.com/trainyard/trainyard/web/webtest"
)

// The HyperDrive benchmark's real-run half (issue 5, docs/BENCHMARKS.md):
// sweeps of real child runs on the local target, and the throughput of a
// sweep of no-op children. The regret table against Optuna is
// compute/hyperdrive's BenchmarkSweepRegret.
//
// Knobs (environment):
//
//	BENCH_REAL_SEEDS   seeds per function run as real child runs (20)
//	BENCH_REAL_TRIALS  trials of each real-run sweep (200)
//	BENCH_REAL_SEED0   the first seed (0): seeds are SEED0 … SEED0+SEEDS-1
//	BENCH_REAL_PARALLEL  real-run sweeps at a time (2)
//	BENCH_REAL_SAMPLERS  samplers run as real child runs, comma-separated: bayesian, random, sobol (bayesian)
//	BENCH_REAL_FUNCS   only these functions (comma-separated; default all four)
//	BENCH_THROUGHPUT   children in the throughput sweep (1000)
//	BENCH_PYTHON       the interpreter for children and Optuna (/usr/bin/python3)
//	BENCH_MD           where the markdown tables are written (bench-sweep.md in the temp dir)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchPython() string {
	if p := os.Getenv("BENCH_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

func writeBenchMD(tb testing.TB, text string) {
	p := os.Getenv("BENCH_MD")
	if p == "" {
		p = filepath.Join(os.TempDir(), "bench-sweep.md")
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\n", text)
	tb.Logf("tables appended to %s", p)
	fmt.Println(text)
}

// sweepEnv starts the application and uploads the objective script.
func sweepEnv(tb testing.TB) (*webtest.Env, string) {
	if _, err := os.Stat(benchPython()); err != nil {
		tb.Skipf("%s: %v", benchPython(), err)
	}
	env := webtest.New(tb, webtest.Options{})
	src, err := os.ReadFile("testdata/sweep_objective.py")
	if err != nil {
		tb.Fatal(err)
	}
	return env, uploadFolder(tb, env, map[string]string{"objective.py": string(src)})
}

// startSweep posts a sweep of objective.py and returns the parent's ID.
func startSweep(tb testing.TB, env *webtest.Env, snap string, args []string, sweep map[string]any, seed uint64) string {
	body := map[string]any{"experimentName": "bench-sweep", "snapshotId": snap, "script": "objective.py", "arguments": args, "target": "local",
		"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true, "interpreterPath": benchPython()}},
		"sweep":       sweep, "seed": seed}
	var run runJSON
	apiJSON(tb, env, "POST", "/api/v1/sweeps", body, 201, &run)
	return run.RunID
}

// waitBenchSweep waits for the parent to end and returns its children by index.
func waitBenchSweep(tb testing.TB, env *webtest.Env, id string, timeout time.Duration) []*compute.Run {
	ctx := context.Background()
	webtest.WaitFor(tb, timeout, "the sweep to end", func() bool {
		r, err := env.Store.GetRun(ctx, id)
		return err == nil && r.Status.Terminal()
	})
	if r, _ := env.Store.GetRun(ctx, id); r.Status != compute.RunCompleted {
		tb.Fatalf("sweep %s ended %s: %s %s", id, r.Status, r.StatusReason, r.Error)
	}
	page, err := env.Store.ListRuns(ctx, compute.RunFilter{Parent: id, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	kids := page.Runs
	slices.SortFunc(kids, func(a, b *compute.Run) int { return a.ChildIndex - b.ChildIndex })
	return kids
}

// BenchmarkSweepRealRuns runs sweeps of the objective script as real child
// runs on the local target: for each sampler in BENCH_REAL_SAMPLERS, each
// function and seed, a sweep of BENCH_REAL_TRIALS children (Bayesian one
// at a time, as the in-process table; random and Sobol, whose suggestions
// do not depend on results, 8 at a time), BENCH_REAL_PARALLEL sweeps at
// once. It reports median regret over the seeds, and checks each sweep's
// best-so-far curve against hdbench.InProcess with the same seed: equal
// curves mean the in-process table measures exactly what the real
// machinery does.
func BenchmarkSweepRealRuns(b *testing.B) {
	seeds, trials, parallel := envInt("BENCH_REAL_SEEDS", 20), envInt("BENCH_REAL_TRIALS", 200), envInt("BENCH_REAL_PARALLEL", 2)
	seed0 := uint64(envInt("BENCH_REAL_SEED0", 0)) // first seed (to split a long run)
	samplers := strings.Split(os.Getenv("BENCH_REAL_SAMPLERS"), ",")
	if samplers[0] == "" {
		samplers = []string{"bayesian"}
	}
	env, snap := sweepEnv(b)
	ctx := context.Background()
	var sb strings.Builder
	fmt.Fprintf(&sb, "Real child runs: %d seed(s) from %d × %d trials per sampler and function, `%s objective.py` on the local target, %d sweeps at a time.\n\n",
		seeds, seed0, trials, benchPython(), parallel)
	sb.WriteString("| function | sampler | max_concurrent_runs | regret @25 | @50 | @100 | @200 | seeds equal to in-process | children | wall time | wall per child |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	kinds := map[string]hyperdrive.SamplingKind{"bayesian": hyperdrive.SamplingBayesian, "random": hyperdrive.SamplingRandom, "sobol": hyperdrive.SamplingSobol}
	for range b.N {
		for _, name := range samplers {
			kind, ok := kinds[strings.TrimSpace(name)]
			if !ok {
				b.Fatalf("BENCH_REAL_SAMPLERS: %q is not bayesian, random or sobol", name)
			}
			conc := 1
			if kind != hyperdrive.SamplingBayesian {
				conc = 8
			}
			for _, fn := range hdbench.Funcs {
				if f := os.Getenv("BENCH_REAL_FUNCS"); f != "" && !slices.Contains(strings.Split(f, ","), fn.Name) {
					continue
				}
				curves := make([][]float64, seeds)
				equal := make([]bool, seeds)
				start := time.Now()
				var wg sync.WaitGroup
				sem := make(chan struct{}, parallel)
				for s := range seeds {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						var space []map[string]any
						for i, bx := range fn.Box {
							space = append(space, map[string]any{"name": fmt.Sprintf("--x%d", i+1), "expression": "uniform", "values": []float64{bx[0], bx[1]}})
						}
						sweep := map[string]any{"sampling": map[string]any{"type": string(kind), "parameterSpace": space}, "primaryMetricName": "value",
							"primaryMetricGoal": "minimize", "maxTotalRuns": trials, "maxConcurrentRuns": conc}
						id := startSweep(b, env, snap, []string{"--fn", fn.Name}, sweep, seed0+uint64(s))
						kids := waitBenchSweep(b, env, id, time.Duration(trials)*10*time.Second)
						var best []float64
						for _, k := range kids {
							h, err := env.Store.MetricHistory(ctx, k.ID, "value")
							if err != nil || len(h) == 0 {
								b.Errorf("child %s (%s): no value: %v %s", k.ID, k.Status, err, k.Error)
								return
							}
							y := h[len(h)-1].Value
							if len(best) > 0 {
								y = min(y, best[len(best)-1])
							}
							best = append(best, y)
						}
						ref, err := hdbench.InProcess(fn, kind, seed0+uint64(s), trials)
						if err != nil {
							b.Error(err)
							return
						}
						same := len(ref) == len(best)
						for i := range min(len(ref), len(best)) {
							if math.Abs(ref[i]-best[i]) > 1e-9*max(1, math.Abs(ref[i])) {
								same = false
							}
						}
						curves[s], equal[s] = best, same
					}()
				}
				wg.Wait()
				wall := time.Since(start)
				nEqual, children := 0, 0
				for s := range seeds {
					if equal[s] {
						nEqual++
					}
					children += len(curves[s])
				}
				at := func(c int) string {
					if c > trials {
						return "—"
					}
					var r []float64
					for _, cv := range curves {
						if len(cv) >= c {
							r = append(r, cv[c-1]-fn.Opt)
						}
					}
					return fmt.Sprintf("%.3g", hdbench.Median(r))
				}
				row := fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %d of %d | %d | %.0f s | %.0f ms |\n", fn.Name, name, conc, at(25), at(50), at(100), at(200),
					nEqual, seeds, children, wall.Seconds(), float64(wall.Milliseconds())/float64(max(children, 1)))
				sb.WriteString(row)
				fmt.Fprint(os.Stderr, "bench row: "+row) // progress, for long runs
				b.Logf("%s %s: %d seeds, %d children in %.0f s, %d of %d equal to in-process; median regret @25 %s @50 %s @100 %s @200 %s",
					name, fn.Name, seeds, children, wall.Seconds(), nEqual, seeds, at(25), at(50), at(100), at(200))
			}
		}
	}
	writeBenchMD(b, "## Real child runs\n\n"+sb.String())
}
