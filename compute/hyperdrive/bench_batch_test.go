package hyperdrive_test

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/hyperdrive/hdbench"
)

// parallelSeeds runs one configuration over seeds, GOMAXPROCS at a time.
func parallelSeeds(b *testing.B, fn hdbench.Func, seeds, trials int, tr hdbench.Training) []hdbench.Run {
	runs := make([]hdbench.Run, seeds)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for s := range seeds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := hdbench.Parallel(fn, hyperdrive.SamplingBayesian, uint64(s), trials, tr)
			if err != nil {
				b.Error(err)
			}
			runs[s] = r
		}()
	}
	wg.Wait()
	return runs
}

// medianRegret is the median over runs of the best value at index i of
// pick(run) minus the function's minimum (+Inf where a run has none yet).
func medianRegret(fn hdbench.Func, runs []hdbench.Run, i int, pick func(hdbench.Run) []float64) float64 {
	var r []float64
	for _, run := range runs {
		v := pick(run)
		switch {
		case len(v) == 0:
			r = append(r, math.Inf(1))
		case i < len(v):
			r = append(r, v[i]-fn.Opt)
		default:
			r = append(r, v[len(v)-1]-fn.Opt)
		}
	}
	return hdbench.Median(r)
}

func byTrial(r hdbench.Run) []float64   { return r.BestByTrial }
func byCompute(r hdbench.Run) []float64 { return r.BestByCompute }

// BenchmarkBayesianBatch (issue "Throughput at scale", parallel Bayesian
// search): the Bayesian sampler with 8 children running at once against
// the same sampler one child at a time, both through hyperdrive.Loop with
// children that finish out of step (hdbench.Parallel), median regret at
// 100 finished trials over BENCH_SEEDS seeds (20). Goal: batch within 1.5×
// of one at a time on every function.
func BenchmarkBayesianBatch(b *testing.B) {
	seeds, trials := envInt("BENCH_SEEDS", 20), 100
	var sb strings.Builder
	for range b.N {
		sb.Reset()
		sb.WriteString("| function | one at a time: regret @100 | 8 at a time: regret @100 | ratio | goal ≤ 1.5 |\n|---|---|---|---|---|\n")
		for _, fn := range hdbench.Funcs {
			one := medianRegret(fn, parallelSeeds(b, fn, seeds, trials, hdbench.Training{Concurrency: 1, Intervals: 1}), trials-1, byTrial)
			eight := medianRegret(fn, parallelSeeds(b, fn, seeds, trials, hdbench.Training{Concurrency: 8, Intervals: 1}), trials-1, byTrial)
			ratio := eight / one
			met := "met"
			if ratio > 1.5 {
				met = "not met"
			}
			fmt.Fprintf(&sb, "| %s | %.4g | %.4g | %.2f | %s |\n", fn.Name, one, eight, ratio, met)
			b.ReportMetric(ratio, fn.Name+"-batch/one")
			b.Logf("%s: one at a time %.4g, 8 at a time %.4g (×%.2f)", fn.Name, one, eight, ratio)
		}
	}
	writeBenchMD(b, fmt.Sprintf("## Bayesian sampler, 8 at a time (%d seeds, 100 trials)\n\n%s", seeds, sb.String()))
}

// BenchmarkBayesianEarlyTermination: with 8 children at a time that log
// their metric 10 times, what an early-termination policy (Bandit, slack
// 0.2, from the 3rd interval) buys the Bayesian sampler per unit of
// compute (one interval of one child), with the stopped children told to
// the model as censored, against the same policy with them told as
// results, and against no policy (100 children). Median regret over
// BENCH_SEEDS_ET seeds (10) at 250, 500 and 1,000 child-intervals (1,000
// is what 100 children cost without the policy).
func BenchmarkBayesianEarlyTermination(b *testing.B) {
	seeds := envInt("BENCH_SEEDS_ET", 10)
	policy := hyperdrive.Policy{Kind: hyperdrive.Bandit, EvaluationInterval: 1, DelayEvaluation: 3, SlackFactor: 0.2}
	budgets := []int{250, 500, 1000}
	configs := []struct {
		name   string
		trials int
		tr     hdbench.Training
	}{
		{"no policy", 100, hdbench.Training{Concurrency: 8, Intervals: 10}},
		{"Bandit, stopped children told as results", 250, hdbench.Training{Concurrency: 8, Intervals: 10, Policy: policy}},
		{"Bandit, stopped children censored", 250, hdbench.Training{Concurrency: 8, Intervals: 10, Policy: policy, Censored: true}},
	}
	var sb strings.Builder
	for range b.N {
		sb.Reset()
		sb.WriteString("| function | configuration | regret @250 | @500 | @1,000 child-intervals | children finished |\n|---|---|---|---|---|---|\n")
		for _, fn := range []hdbench.Func{hdbench.Funcs[0], hdbench.Funcs[1]} {
			for _, c := range configs {
				runs := parallelSeeds(b, fn, seeds, c.trials, c.tr)
				var cells []string
				for _, at := range budgets {
					cells = append(cells, fmt.Sprintf("%.4g", medianRegret(fn, runs, at-1, byCompute)))
				}
				var done []float64
				for _, r := range runs {
					done = append(done, float64(len(r.BestByTrial)))
				}
				fmt.Fprintf(&sb, "| %s | %s | %s | %.0f |\n", fn.Name, c.name, strings.Join(cells, " | "), hdbench.Median(done))
				b.Logf("%s, %s: %s", fn.Name, c.name, strings.Join(cells, " "))
			}
		}
	}
	writeBenchMD(b, fmt.Sprintf("## Bayesian sampler with early termination (%d seeds, 8 at a time, 10 intervals a child)\n\n%s", seeds, sb.String()))
}
