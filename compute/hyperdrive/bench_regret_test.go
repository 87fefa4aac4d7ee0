package hyperdrive_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/hyperdrive/hdbench"
)

// BenchmarkSweepRegret is the regret half of the HyperDrive benchmark
// (issue 5, docs/BENCHMARKS.md; the real-run and throughput half is in
// handlers/bench_sweep_test.go). Knobs (environment); the defaults are the
// issue's figures:
//
//	BENCH_SEEDS        seeds per sampler and function (20)
//	BENCH_MAX_TRIALS   trials per seed (200); regret is reported at 25/50/100/200 up to it
//	BENCH_PYTHON       the interpreter with Optuna (/usr/bin/python3, Debian's python3-optuna)
//	BENCH_MD           the file the markdown tables are appended to (bench-sweep.md in the temp dir)

var benchCheckpoints = []int{25, 50, 100, 200}

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

// regretRow is one sampler on one function: median regret per checkpoint.
type regretRow struct {
	sampler, fn string
	at          map[int]float64
	seconds     float64
}

// BenchmarkSweepRegret: Trainyard's Bayesian, random and Sobol samplers
// (in-process through hyperdrive.Loop) against Optuna 3.1's TPE and
// random (the same functions, boxes, budgets and seeds count), median
// regret at 25/50/100/200 trials.
func BenchmarkSweepRegret(b *testing.B) {
	seeds, trials := envInt("BENCH_SEEDS", 20), envInt("BENCH_MAX_TRIALS", 200)
	cps := []int{}
	for _, c := range benchCheckpoints {
		if c <= trials {
			cps = append(cps, c)
		}
	}
	var rows []regretRow
	for range b.N {
		rows = rows[:0]
		// Optuna first, in its own process, while Go waits.
		opt, err := runOptuna(b, seeds, trials, cps)
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, opt...)
		for _, kind := range []hyperdrive.SamplingKind{hyperdrive.SamplingBayesian, hyperdrive.SamplingRandom, hyperdrive.SamplingSobol} {
			for _, fn := range hdbench.Funcs {
				start := time.Now()
				bests := make([][]float64, seeds)
				var wg sync.WaitGroup
				sem := make(chan struct{}, runtime.GOMAXPROCS(0))
				for s := range seeds {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer wg.Done()
						bs, err := hdbench.InProcess(fn, kind, uint64(s), trials)
						if err != nil {
							b.Error(err)
							bs = make([]float64, trials)
						}
						bests[s] = bs
						<-sem
					}()
				}
				wg.Wait()
				row := regretRow{sampler: "trainyard " + strings.ToLower(string(kind)), fn: fn.Name, at: map[int]float64{}, seconds: time.Since(start).Seconds()}
				for _, c := range cps {
					var r []float64
					for _, bs := range bests {
						r = append(r, bs[c-1]-fn.Opt)
					}
					row.at[c] = hdbench.Median(r)
				}
				rows = append(rows, row)
				b.Logf("%-26s %-17s %v (%.1f s)", row.sampler, fn.Name, fmtAt(row.at, cps), row.seconds)
			}
		}
	}
	md := regretTable(rows, cps, seeds, trials)
	writeBenchMD(b, "## Regret\n\n"+md)
	// The target: Bayesian at 100 trials at or below TPE on every function.
	for _, fn := range hdbench.Funcs {
		var bay, tpe float64
		for _, r := range rows {
			switch r.sampler {
			case "trainyard bayesian":
				if r.fn == fn.Name {
					bay = r.at[100]
				}
			case "optuna tpe":
				if r.fn == fn.Name {
					tpe = r.at[100]
				}
			}
		}
		if trials >= 100 {
			b.ReportMetric(bay, fn.Name+"-bayes-regret@100")
			b.ReportMetric(tpe, fn.Name+"-tpe-regret@100")
			if bay > tpe {
				b.Logf("MISSED: %s Bayesian %.4g > TPE %.4g at 100 trials", fn.Name, bay, tpe)
			}
		}
	}
}

func fmtAt(at map[int]float64, cps []int) string {
	var parts []string
	for _, c := range cps {
		parts = append(parts, fmt.Sprintf("@%d %.4g", c, at[c]))
	}
	return strings.Join(parts, " ")
}

func regretTable(rows []regretRow, cps []int, seeds, trials int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Median regret (best found − known minimum) over %d seeds, %d trials each.\n\n", seeds, trials)
	sb.WriteString("| function | sampler |")
	for _, c := range cps {
		fmt.Fprintf(&sb, " @%d |", c)
	}
	sb.WriteString(" time |\n|---|---|")
	for range cps {
		sb.WriteString("---|")
	}
	sb.WriteString("---|\n")
	for _, fn := range hdbench.Funcs {
		for _, r := range rows {
			if r.fn != fn.Name {
				continue
			}
			fmt.Fprintf(&sb, "| %s | %s |", fn.Name, r.sampler)
			for _, c := range cps {
				v := r.at[c]
				if r.sampler == "trainyard bayesian" && c == 100 {
					fmt.Fprintf(&sb, " **%.3g** |", v)
				} else {
					fmt.Fprintf(&sb, " %.3g |", v)
				}
			}
			fmt.Fprintf(&sb, " %.0f s |\n", r.seconds)
		}
	}
	return sb.String()
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

// runOptuna runs testdata/optuna_regret.py (Optuna's TPESampler and
// RandomSampler with their defaults, seeds 0..seeds-1).
func runOptuna(tb testing.TB, seeds, trials int, cps []int) ([]regretRow, error) {
	var names []string
	for _, fn := range hdbench.Funcs {
		names = append(names, fn.Name)
	}
	cfg, _ := json.Marshal(map[string]any{"functions": names, "samplers": []string{"tpe", "random"}, "seeds": seeds, "trials": trials, "checkpoints": cps})
	cmd := exec.Command(benchPython(), "testdata/optuna_regret.py")
	cmd.Stdin = bytes.NewReader(cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("optuna (make optuna installs python3-optuna): %w: %s", err, stderr.String())
	}
	var res struct {
		Optuna  string                                     `json:"optuna"`
		Results map[string]map[string]map[string][]float64 `json:"results"`
		Seconds map[string]map[string]float64              `json:"seconds"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("optuna output: %w", err)
	}
	var rows []regretRow
	for _, s := range []string{"tpe", "random"} {
		for _, fn := range hdbench.Funcs {
			row := regretRow{sampler: "optuna " + s, fn: fn.Name, at: map[int]float64{}, seconds: res.Seconds[s][fn.Name]}
			for _, c := range cps {
				var r []float64
				for _, v := range res.Results[s][fn.Name][strconv.Itoa(c)] {
					r = append(r, v-fn.Opt)
				}
				row.at[c] = hdbench.Median(r)
			}
			rows = append(rows, row)
			tb.Logf("%-26s %-17s %v (%.1f s, Optuna %s)", row.sampler, fn.Name, fmtAt(row.at, cps), row.seconds, res.Optuna)
		}
	}
	return rows, nil
}
