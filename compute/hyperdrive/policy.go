package hyperdrive

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Goal is the primary metric's goal.
type Goal int

// The two goals.
const (
	Maximize Goal = iota
	Minimize
)

// ParseGoal reads "maximize" or "minimize" in any case, as the SDK's
// PrimaryMetricGoal.from_str does (docs/design/hyperdrive.md §4.1).
func ParseGoal(s string) (Goal, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "maximize":
		return Maximize, nil
	case "minimize":
		return Minimize, nil
	}
	return 0, errGoal
}

// errGoal is the SDK's sentence, capitalised and punctuated as it is.
//
//lint:ignore ST1005 the SDK's exact wording, which docs/design/hyperdrive.md promises
var errGoal = errors.New("The primary metric goal expects either 'maximize' or 'minimize'.")

// String is the lower-case form the SDK serialises.
func (g Goal) String() string {
	if g == Minimize {
		return "minimize"
	}
	return "maximize"
}

// Better reports whether a is strictly better than b.
func (g Goal) Better(a, b float64) bool {
	if g == Minimize {
		return a < b
	}
	return a > b
}

// Best returns the best of vs (NaN for none).
func (g Goal) Best(vs []float64) float64 {
	b := math.NaN()
	for _, v := range vs {
		if math.IsNaN(b) || g.Better(v, b) {
			b = v
		}
	}
	return b
}

// PolicyKind names an early-termination policy (hdconfig spelling).
type PolicyKind string

// The four policies.
const (
	NoTermination       PolicyKind = "NoTerminationPolicy"
	Bandit              PolicyKind = "BanditPolicy"
	MedianStopping      PolicyKind = "MedianStoppingPolicy"
	TruncationSelection PolicyKind = "TruncationSelectionPolicy"
)

// Policy is an early-termination policy (docs/design/hyperdrive.md §3). The zero value
// is NoTermination. A zero SlackFactor or SlackAmount means unset.
type Policy struct {
	Kind                 PolicyKind
	EvaluationInterval   int // default 1
	DelayEvaluation      int // default 0
	SlackFactor          float64
	SlackAmount          float64
	TruncationPercentage int
	ExcludeFinishedJobs  bool
}

// PolicyError is a rejected policy field.
type PolicyError struct {
	Field   string // e.g. policy.slack_factor
	Message string
}

// Error renders "field: message".
func (e *PolicyError) Error() string { return e.Field + ": " + e.Message }

// Validate applies the SDK's rules plus Trainyard's: evaluation_interval
// at least 1 (0, the v2 Python default, is undefined — docs/design/hyperdrive.md §8.4 — and is read
// as 1 by the v2 constructors, never here), delay_evaluation not negative,
// exactly one positive slack for Bandit, truncation 1..99.
func (p Policy) Validate() error {
	switch p.Kind {
	case "", NoTermination:
		return nil
	case Bandit:
		if (p.SlackFactor == 0) == (p.SlackAmount == 0) {
			return &PolicyError{"policy", "Bandit termination policy expects exactly one of slack factor or slack amount to be set."}
		}
		if p.SlackFactor < 0 || math.IsNaN(p.SlackFactor) || math.IsInf(p.SlackFactor, 0) {
			return &PolicyError{"policy.slack_factor", "must be more than 0"}
		}
		if p.SlackAmount < 0 || math.IsNaN(p.SlackAmount) || math.IsInf(p.SlackAmount, 0) {
			return &PolicyError{"policy.slack_amount", "must be more than 0"}
		}
	case MedianStopping:
	case TruncationSelection:
		if p.TruncationPercentage < 1 || p.TruncationPercentage > 99 {
			return &PolicyError{"policy.truncation_percentage", "truncation_percentage expects value to be between 1 and 99."}
		}
	default:
		return &PolicyError{"policy.type", fmt.Sprintf("unknown policy %q: use BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy or NoTerminationPolicy", string(p.Kind))}
	}
	if p.EvaluationInterval < 1 {
		return &PolicyError{"policy.evaluation_interval", fmt.Sprintf("must be at least 1, not %d", p.EvaluationInterval)}
	}
	if p.DelayEvaluation < 0 {
		return &PolicyError{"policy.delay_evaluation", "must not be negative"}
	}
	return nil
}

// Active reports whether the policy can ever cancel a run.
func (p Policy) Active() bool { return p.Kind != "" && p.Kind != NoTermination }

// Applies reports whether the policy is evaluated at interval k (the k-th
// logging of the primary metric): k is a multiple of evaluation_interval
// and k ≥ delay_evaluation (docs/design/hyperdrive.md §3.1).
func (p Policy) Applies(k int) bool {
	ev := max(p.EvaluationInterval, 1)
	return p.Active() && k >= 1 && k%ev == 0 && k >= p.DelayEvaluation
}

// RunMetrics is one child as a policy sees it: the primary metric values it
// logged, in order (value i is interval i+1), and whether it has ended.
type RunMetrics struct {
	ID     string
	Values []float64
	Ended  bool
}

// Decision is a policy's verdict on one run at one interval. Threshold is
// the value the run's performance was compared with (NaN when none was).
type Decision struct {
	Terminate bool
	Interval  int
	Threshold float64
	Reason    string
}

// Evaluate judges runs[r] at interval n (1-based; runs[r] must have logged
// at least n values). Fairness (docs/design/hyperdrive.md §3.4): every run is looked at
// only up to interval n, and runs that logged fewer than n values take no
// part. The run under evaluation is part of the population. Evaluate does
// not check Applies: the caller decides when to ask.
//
// Decisions where the sources are silent (docs/DECISIONS.md, HyperDrive):
//   - Bandit: B is the best value reported *at* interval n by any run (as
//     TH1's example reads); Y is the run's best up to n. Maximize cancels
//     when Y < B/(1+s) (factor) or Y < B−a (amount); minimize, mirrored,
//     when Y > B·(1+s) or Y > B+a. When B ≤ 0 the ratio would flip, so
//     the factor is taken of |B|: maximize Y < B − |B|·s/(1+s), minimize
//     Y > B + |B|·s (identical to the formulas for B > 0).
//   - Median: running averages of every run with ≥ n values, including the
//     one judged and runs still in progress; an even count's median is the
//     mean of the middle two; the run is cancelled when its best up to n is
//     strictly worse than the median.
//   - Truncation: performance is the best up to n; with m comparable runs
//     the bottom floor(m·pct/100) are cancelled (never more than pct %);
//     a run is cancelled only if it and every run tied with it fit in that
//     bottom group, so ties are kept together. exclude_finished_jobs drops
//     ended runs (other than the one judged) from the population.
func (p Policy) Evaluate(goal Goal, runs []RunMetrics, r, n int) Decision {
	d := Decision{Interval: n, Threshold: math.NaN()}
	if !p.Active() || r < 0 || r >= len(runs) || n < 1 || len(runs[r].Values) < n {
		return d
	}
	me := goal.Best(runs[r].Values[:n])
	worse := func(a, b float64) bool { return goal.Better(b, a) }
	// Thresholds are computed in binary floating point, where 0.8 − 0.2 is
	// 0.6000000000000001: a run exactly at a threshold written in decimal
	// must not be cancelled, so a run is worse only beyond a 1e-12 relative
	// tolerance.
	worseBeyond := func(a, t float64) bool {
		tol := 1e-12 * max(1, math.Abs(t))
		if goal == Minimize {
			return a > t+tol
		}
		return a < t-tol
	}
	switch p.Kind {
	case Bandit:
		var at []float64
		for _, x := range runs {
			if len(x.Values) >= n {
				at = append(at, x.Values[n-1])
			}
		}
		B := goal.Best(at)
		var t float64
		var how string
		switch {
		case p.SlackAmount != 0 && goal == Maximize:
			t, how = B-p.SlackAmount, fmt.Sprintf("%s − %s", g(B), g(p.SlackAmount))
		case p.SlackAmount != 0:
			t, how = B+p.SlackAmount, fmt.Sprintf("%s + %s", g(B), g(p.SlackAmount))
		case goal == Maximize && B > 0:
			t, how = B/(1+p.SlackFactor), fmt.Sprintf("%s / (1 + %s)", g(B), g(p.SlackFactor))
		case goal == Maximize:
			t, how = B-math.Abs(B)*p.SlackFactor/(1+p.SlackFactor), fmt.Sprintf("%s − |%s|·%s/(1 + %s)", g(B), g(B), g(p.SlackFactor), g(p.SlackFactor))
		case B > 0:
			t, how = B*(1+p.SlackFactor), fmt.Sprintf("%s × (1 + %s)", g(B), g(p.SlackFactor))
		default:
			t, how = B+math.Abs(B)*p.SlackFactor, fmt.Sprintf("%s + |%s|·%s", g(B), g(B), g(p.SlackFactor))
		}
		d.Threshold = t
		if worseBeyond(me, t) {
			d.Terminate = true
			d.Reason = fmt.Sprintf("Canceled by BanditPolicy at interval %d: its best primary metric %s is %s than %s = %s (best run's value at interval %d, slack %s)",
				n, g(me), worseWord(goal), how, round4(t), n, slackText(p))
		}
	case MedianStopping:
		var avgs []float64
		for _, x := range runs {
			if len(x.Values) >= n {
				var s float64
				for _, v := range x.Values[:n] {
					s += v
				}
				avgs = append(avgs, s/float64(n))
			}
		}
		med := median(avgs)
		d.Threshold = med
		if worseBeyond(me, med) {
			d.Terminate = true
			d.Reason = fmt.Sprintf("Canceled by MedianStoppingPolicy at interval %d: its best primary metric %s is %s than %s, the median of %d runs' running averages over intervals 1–%d",
				n, g(me), worseWord(goal), round4(med), len(avgs), n)
		}
	case TruncationSelection:
		var pop []float64
		for i, x := range runs {
			if len(x.Values) < n || (i != r && p.ExcludeFinishedJobs && x.Ended) {
				continue
			}
			pop = append(pop, goal.Best(x.Values[:n]))
		}
		k := len(pop) * p.TruncationPercentage / 100
		atOrBelow := 0
		for _, v := range pop {
			if !goal.Better(v, me) {
				atOrBelow++ // worse than or tied with the judged run (itself included)
			}
		}
		slices.SortFunc(pop, func(a, b float64) int {
			switch {
			case worse(a, b):
				return -1
			case worse(b, a):
				return 1
			}
			return 0
		})
		if k > 0 {
			d.Threshold = pop[k-1]
		}
		if k > 0 && atOrBelow <= k {
			d.Terminate = true
			d.Reason = fmt.Sprintf("Canceled by TruncationSelectionPolicy at interval %d: its best primary metric %s is in the lowest %d%% (%d of %d runs) at interval %d",
				n, g(me), p.TruncationPercentage, k, len(pop), n)
		}
	}
	return d
}

func worseWord(goal Goal) string {
	if goal == Minimize {
		return "higher"
	}
	return "lower"
}

func slackText(p Policy) string {
	if p.SlackAmount != 0 {
		return "amount " + g(p.SlackAmount)
	}
	return "factor " + g(p.SlackFactor)
}

func g(x float64) string { return fmt.Sprintf("%g", x) }

// round4 prints a threshold to 4 significant digits, as a person reads it
// (0.8/1.2 → 0.6667).
func round4(x float64) string { return fmt.Sprintf("%.4g", x) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
