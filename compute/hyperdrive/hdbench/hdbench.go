// Package hdbench holds what the HyperDrive benchmarks share (make bench,
// docs/BENCHMARKS.md): the test functions with their boxes and known
// minima, and a sweep driven in-process through hyperdrive.Loop.
package hdbench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// Func is a test function on a box with its known minimum.
type Func struct {
	Name string
	Box  [][2]float64
	Opt  float64
	F    func(x []float64) float64
}

// Funcs are the benchmark's functions. testdata/optuna_regret.py and
// testdata/sweep_objective.py (in compute/hyperdrive and handlers) have
// the same formulas.
var Funcs = []Func{
	{"branin", [][2]float64{{-5, 10}, {0, 15}}, 0.397887357729739, func(x []float64) float64 {
		b, c, t := 5.1/(4*math.Pi*math.Pi), 5/math.Pi, 1/(8*math.Pi)
		return math.Pow(x[1]-b*x[0]*x[0]+c*x[0]-6, 2) + 10*(1-t)*math.Cos(x[0]) + 10
	}},
	{"hartmann6", [][2]float64{{0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}}, -3.32236801141551, func(x []float64) float64 {
		alpha := []float64{1.0, 1.2, 3.0, 3.2}
		A := [][]float64{{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}}
		P := [][]float64{{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991}, {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}}
		s := 0.0
		for i := range 4 {
			in := 0.0
			for j := range 6 {
				in += A[i][j] * math.Pow(x[j]-P[i][j]*1e-4, 2)
			}
			s += alpha[i] * math.Exp(-in)
		}
		return -s
	}},
	{"camel", [][2]float64{{-3, 3}, {-2, 2}}, -1.031628453489877, func(x []float64) float64 {
		a, b := x[0], x[1]
		return (4-2.1*a*a+a*a*a*a/3)*a*a + a*b + (-4+4*b*b)*b*b
	}},
	{"styblinski_tang4", [][2]float64{{-5, 5}, {-5, 5}, {-5, 5}, {-5, 5}}, 4 * -39.16616570377142, func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v*v*v*v - 16*v*v + 5*v
		}
		return s / 2
	}},
}

// Space is the function's box as uniform parameters --x1 … --xn.
func (fn Func) Space() (hyperdrive.Space, error) {
	var sp hyperdrive.Space
	for i, b := range fn.Box {
		name := fmt.Sprintf("--x%d", i+1)
		e, err := hyperdrive.NewExpression(name, hyperdrive.Uniform, []any{b[0], b[1]})
		if err != nil {
			return nil, err
		}
		sp = append(sp, hyperdrive.ParamSpec{Name: name, Expr: e})
	}
	return sp, nil
}

// InProcess runs one sweep (goal minimize, one child at a time, the given
// sampler and seed) through hyperdrive.Loop, the sweep driver's loop, with
// each child evaluated in-process as it is submitted, and returns the best
// value after each trial.
func InProcess(fn Func, kind hyperdrive.SamplingKind, seed uint64, trials int) ([]float64, error) {
	sp, err := fn.Space()
	if err != nil {
		return nil, err
	}
	sw := &hyperdrive.Sweep{Space: sp, Sampling: kind, Seed: seed, PrimaryMetric: "value", Goal: hyperdrive.Minimize,
		MaxTotalRuns: trials, MaxConcurrentRuns: 1}
	var kids []hyperdrive.Child
	var best []float64
	cb := hyperdrive.Callbacks{
		Submit: func(i int, p hyperdrive.Params) (string, error) {
			x := make([]float64, len(p))
			for j := range p {
				x[j] = p[j].Value.Num
			}
			y := fn.F(x)
			if len(best) > 0 {
				y = min(y, best[len(best)-1])
			}
			best = append(best, y)
			id := strconv.Itoa(i)
			kids = append(kids, hyperdrive.Child{ID: id, Index: i, Params: p, State: hyperdrive.ChildCompleted, Metrics: []float64{fn.F(x)}})
			return id, nil
		},
		Cancel: func(string, string) error { return nil },
		List:   func() ([]hyperdrive.Child, error) { return slices.Clone(kids), nil },
	}
	l, err := hyperdrive.NewLoop(sw, time.Now(), time.Now, cb)
	if err != nil {
		return nil, err
	}
	for {
		pr, err := l.Tick()
		if err != nil {
			return nil, fmt.Errorf("sweep %s %s seed %d: %w", fn.Name, kind, seed, err)
		}
		if pr.Done {
			return best, nil
		}
	}
}

// Median is the median of v (the mean of the middle two for an even count).
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	switch {
	case len(s) == 0:
		return math.NaN()
	case len(s)%2 == 1:
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
