package hdbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// Training is how Parallel's children train.
type Training struct {
	// Concurrency is max_concurrent_runs.
	Concurrency int
	// Intervals is how many times a child logs its primary metric; 1 is a
	// child that only reports its result.
	Intervals int
	// Policy is the early-termination policy (the zero Policy: none).
	Policy hyperdrive.Policy
	// Censored tells the sampler the children the policy stopped as
	// censored (the sweep opts in to Bayesian early termination); false
	// tells it their last value as if it were their result, as a sampler
	// that knows nothing of censoring would take it.
	Censored bool
}

// Run is what Parallel found: the best final value after each finished
// child, and after each unit of compute (one interval of one child).
type Run struct {
	BestByTrial   []float64
	BestByCompute []float64
}

// Parallel runs one sweep (goal minimize) through hyperdrive.Loop with
// children that train side by side, as on a cluster: each round, every
// running child advances by its own speed (between a half and one interval
// a round, drawn per child, so children finish out of step, as real ones
// do) and logs its metric at each interval it reaches, along a learning
// curve that ends at the function's value at its params:
//
//	y(k) = f(x) + A·exp(−r·k/Intervals) for k < Intervals, y(Intervals) = f(x)
//
// with A the spread of f over the box and r ∈ [1, 4] per child (slow and
// fast learners). The policy stops children at their intervals; a stopped
// child is not a result. Compute is counted in child-intervals.
func Parallel(fn Func, kind hyperdrive.SamplingKind, seed uint64, trials int, tr Training) (Run, error) {
	sp, err := fn.Space()
	if err != nil {
		return Run{}, err
	}
	sw := &hyperdrive.Sweep{Space: sp, Sampling: kind, Seed: seed, PrimaryMetric: "value", Goal: hyperdrive.Minimize,
		MaxTotalRuns: trials, MaxConcurrentRuns: tr.Concurrency, Policy: tr.Policy, BayesianEarlyTermination: true}
	intervals := max(tr.Intervals, 1)
	spread := fn.spread()
	rng := rand.New(rand.NewPCG(seed, 0x9a11e1))
	type child struct {
		hyperdrive.Child
		x        []float64
		speed    float64 // intervals a round
		rate     float64 // learning rate r
		progress float64
	}
	var kids []*child
	var run Run
	best := math.Inf(1)
	cb := hyperdrive.Callbacks{
		Submit: func(i int, p hyperdrive.Params) (string, error) {
			x := make([]float64, len(p))
			for j := range p {
				x[j] = p[j].Value.Num
			}
			id := strconv.Itoa(i)
			kids = append(kids, &child{Child: hyperdrive.Child{ID: id, Index: i, Params: p, State: hyperdrive.ChildActive},
				x: x, speed: 0.5 + 0.5*rng.Float64(), rate: 1 + 3*rng.Float64()})
			return id, nil
		},
		Cancel: func(id, _ string) error {
			i, _ := strconv.Atoi(id)
			kids[i].State, kids[i].PolicyCanceled = hyperdrive.ChildCanceled, true
			return nil
		},
		List: func() ([]hyperdrive.Child, error) {
			out := make([]hyperdrive.Child, len(kids))
			for i, k := range kids {
				out[i] = k.Child
				out[i].Metrics = slices.Clone(k.Metrics)
				if k.State == hyperdrive.ChildCanceled && !tr.Censored {
					out[i].PolicyCanceled = false // told as a result
				}
			}
			return out, nil
		},
	}
	l, err := hyperdrive.NewLoop(sw, time.Now(), time.Now, cb)
	if err != nil {
		return Run{}, err
	}
	for {
		pr, err := l.Tick()
		if err != nil {
			return Run{}, fmt.Errorf("sweep %s %s seed %d: %w", fn.Name, kind, seed, err)
		}
		if pr.Done {
			return run, nil
		}
		// One round of training for every running child, in proposal order.
		for _, k := range kids {
			if k.State != hyperdrive.ChildActive {
				continue
			}
			k.progress += k.speed
			for len(k.Metrics) < intervals && float64(len(k.Metrics)+1) <= k.progress {
				n := len(k.Metrics) + 1
				y := fn.F(k.x)
				if n < intervals {
					y += spread * math.Exp(-k.rate*float64(n)/float64(intervals))
				}
				k.Metrics = append(k.Metrics, y)
				run.BestByCompute = append(run.BestByCompute, best)
				if n == intervals {
					k.State = hyperdrive.ChildCompleted
					best = min(best, y)
					run.BestByTrial = append(run.BestByTrial, best)
					run.BestByCompute[len(run.BestByCompute)-1] = best
				}
			}
		}
	}
}

// spread is the function's range over its box, estimated from 256 Sobol
// points: the height of the learning curves.
func (fn Func) spread() float64 {
	sq, err := hyperdrive.NewSobol(len(fn.Box), true, 7)
	if err != nil {
		return 1
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	x := make([]float64, len(fn.Box))
	for i := range 256 {
		u := sq.Point(uint64(i))
		for j, b := range fn.Box {
			x[j] = b[0] + u[j]*(b[1]-b[0])
		}
		y := fn.F(x)
		lo, hi = min(lo, y), max(hi, y)
	}
	return hi - lo
}
