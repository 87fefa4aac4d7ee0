package hyperdrive

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPolicyApplies reproduces docs/design/hyperdrive.md §3.1's table of intervals.
func TestPolicyApplies(t *testing.T) {
	tests := []struct {
		interval, delay int
		upTo            int
		want            []int
	}{
		{1, 5, 8, []int{5, 6, 7, 8}},          // TH1: every interval from 5
		{2, 5, 10, []int{6, 8, 10}},           // inferred from the rule
		{100, 200, 400, []int{200, 300, 400}}, // POL: first at 200
		{100, 200, 199, nil},                  // POL: nothing before 200
		{1, 0, 3, []int{1, 2, 3}},             // v1 defaults
		{3, 0, 9, []int{3, 6, 9}},             // no delay
		{5, 5, 15, []int{5, 10, 15}},          // delay equal to the interval
		{4, 7, 20, []int{8, 12, 16, 20}},      // first multiple at or after the delay
		{10, 11, 30, []int{20, 30}},           // delay just past a multiple
		{10, 0, 9, nil},                       // interval not reached
		{1, 5, 4, nil},                        // delay not reached
		{2, 5, 5, nil},                        // 5 is not a multiple of 2
		{1, 0, 0, nil},                        // no log yet: interval 0 never applies
		{9, 1, 27, []int{9, 18, 27}},          // delay below the interval
	}
	for _, tc := range tests {
		p := Policy{Kind: MedianStopping, EvaluationInterval: tc.interval, DelayEvaluation: tc.delay}
		var got []int
		for k := 0; k <= tc.upTo; k++ {
			if p.Applies(k) {
				got = append(got, k)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("interval %d delay %d: applied at %v, want %v", tc.interval, tc.delay, got, tc.want)
		}
	}
	if (Policy{}).Applies(5) || (Policy{Kind: NoTermination, EvaluationInterval: 1}).Applies(5) {
		t.Error("NoTermination must never apply")
	}
}

// run is a RunMetrics whose every logged value before the last is filler
// worse than any value used (so "best up to n" is the last value given).
func runAt(id string, n int, v float64, goal Goal) RunMetrics {
	vals := make([]float64, n)
	for i := range vals {
		if goal == Maximize {
			vals[i] = -1e9
		} else {
			vals[i] = 1e9
		}
	}
	vals[n-1] = v
	return RunMetrics{ID: id, Values: vals}
}

// TestBanditWorkedExamples reproduces docs/design/hyperdrive.md §3.2 to the digit.
func TestBanditWorkedExamples(t *testing.T) {
	// TH1: B = 0.8 at interval 10, slack_factor 0.2: cancel if Y < 0.8/1.2 = 0.6667.
	pf := Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.2}
	tests := []struct {
		name      string
		p         Policy
		goal      Goal
		n         int
		best, y   float64
		threshold string
		terminate bool
	}{
		{"TH1 factor 0.2, Y 0.66", pf, Maximize, 10, 0.8, 0.66, "0.6667", true},
		{"TH1 factor 0.2, Y 0.6666", pf, Maximize, 10, 0.8, 0.6666, "0.6667", true},
		{"TH1 factor 0.2, Y 0.6667", pf, Maximize, 10, 0.8, 0.6667, "0.6667", false},
		{"TH1 factor 0.2, Y 0.7", pf, Maximize, 10, 0.8, 0.7, "0.6667", false},
		// TH1: s = 0.1 → B/1.1 ≈ 91 % of B.
		{"TH1 factor 0.1, Y 0.72", Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1}, Maximize, 10, 0.8, 0.72, "0.7273", true},
		{"TH1 factor 0.1, Y 0.73", Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1}, Maximize, 10, 0.8, 0.73, "0.7273", false},
		// POL / RSDK: B = 0.8 after 100 intervals, slack_amount 0.2 → cancel if Y < 0.6.
		{"POL amount 0.2, Y 0.59", Policy{Kind: Bandit, EvaluationInterval: 100, SlackAmount: 0.2}, Maximize, 100, 0.8, 0.59, "0.6", true},
		{"POL amount 0.2, Y 0.6", Policy{Kind: Bandit, EvaluationInterval: 100, SlackAmount: 0.2}, Maximize, 100, 0.8, 0.6, "0.6", false},
		{"POL amount 0.2, Y 0.61", Policy{Kind: Bandit, EvaluationInterval: 100, SlackAmount: 0.2}, Maximize, 100, 0.8, 0.61, "0.6", false},
		// Minimize, mirrored (decision): Y > B·(1+s), Y > B + a.
		{"min factor 0.2, Y 0.97", pf, Minimize, 10, 0.8, 0.97, "0.96", true},
		{"min factor 0.2, Y 0.96", pf, Minimize, 10, 0.8, 0.96, "0.96", false},
		{"min amount 0.2, Y 1.01", Policy{Kind: Bandit, EvaluationInterval: 1, SlackAmount: 0.2}, Minimize, 5, 0.8, 1.01, "1", true},
		{"min amount 0.2, Y 0.95", Policy{Kind: Bandit, EvaluationInterval: 1, SlackAmount: 0.2}, Minimize, 5, 0.8, 0.95, "1", false},
		// Negative metrics (decision): the factor is of |B|.
		{"max negative B", pf, Maximize, 3, -1, -1.2, "-1.167", true},
		{"max negative B kept", pf, Maximize, 3, -1, -1.1, "-1.167", false},
		{"min negative B", pf, Minimize, 3, -1, -0.7, "-0.8", true},
		{"min negative B kept", pf, Minimize, 3, -1, -0.9, "-0.8", false},
	}
	for _, tc := range tests {
		runs := []RunMetrics{runAt("best", tc.n, tc.best, tc.goal), runAt("me", tc.n, tc.y, tc.goal)}
		d := tc.p.Evaluate(tc.goal, runs, 1, tc.n)
		if got := round4(d.Threshold); got != tc.threshold {
			t.Errorf("%s: threshold %s (%v), want %s", tc.name, got, d.Threshold, tc.threshold)
		}
		if d.Terminate != tc.terminate {
			t.Errorf("%s: terminate %v, want %v (%s)", tc.name, d.Terminate, tc.terminate, d.Reason)
		}
		if d.Terminate && (!strings.Contains(d.Reason, "BanditPolicy") || !strings.Contains(d.Reason, tc.threshold)) {
			t.Errorf("%s: reason %q", tc.name, d.Reason)
		}
		// The best run is never cancelled by its own value.
		if d := tc.p.Evaluate(tc.goal, runs, 0, tc.n); d.Terminate {
			t.Errorf("%s: the best run was cancelled: %s", tc.name, d.Reason)
		}
	}
	// The exact TH1 figure.
	d := pf.Evaluate(Maximize, []RunMetrics{runAt("b", 10, 0.8, Maximize), runAt("y", 10, 0.66, Maximize)}, 1, 10)
	if b, s := 0.8, 0.2; d.Threshold != b/(1+s) || d.Reason != "Canceled by BanditPolicy at interval 10: its best primary metric 0.66 is lower than 0.8 / (1 + 0.2) = 0.6667 (best run's value at interval 10, slack factor 0.2)" {
		t.Errorf("TH1: %v %q", d.Threshold, d.Reason)
	}
}

// TestBanditUsesValueAtInterval: B is the value the best run reported at
// interval n, and Y the judged run's best up to n; later logs are not seen.
func TestBanditUsesValueAtInterval(t *testing.T) {
	p := Policy{Kind: Bandit, EvaluationInterval: 1, SlackAmount: 0.1}
	runs := []RunMetrics{
		{ID: "a", Values: []float64{0.9, 0.5, 0.99}}, // 0.5 at interval 2; its 0.9 and 0.99 are not "at 2"
		{ID: "b", Values: []float64{0.7, 0.6}},
		{ID: "c", Values: []float64{0.45, 0.3}}, // best up to 2 is 0.45
	}
	d := p.Evaluate(Maximize, runs, 2, 2) // B = max(0.5, 0.6, 0.3) = 0.6; 0.45 < 0.5
	if !d.Terminate || round4(d.Threshold) != "0.5" {
		t.Errorf("c: %+v", d)
	}
	if d := p.Evaluate(Maximize, runs, 1, 2); d.Terminate {
		t.Errorf("b: %+v", d)
	}
	if d := p.Evaluate(Maximize, runs, 1, 3); d.Terminate || !math.IsNaN(d.Threshold) {
		t.Errorf("b has no interval 3: %+v", d)
	}
}

// TestMedianStoppingWorkedExample reproduces the docs/design/hyperdrive.md §3.3 illustration.
func TestMedianStoppingWorkedExample(t *testing.T) {
	p := Policy{Kind: MedianStopping, EvaluationInterval: 1, DelayEvaluation: 0}
	runs := []RunMetrics{
		{ID: "A", Values: []float64{.50, .60, .70}},
		{ID: "B", Values: []float64{.40, .45, .50}},
		{ID: "C", Values: []float64{.30, .35, .38}},
	}
	wantAvg := []string{"0.600", "0.450", "0.343"}
	for i, r := range runs {
		s := 0.0
		for _, v := range r.Values {
			s += v
		}
		if got := fmt.Sprintf("%.3f", s/3); got != wantAvg[i] {
			t.Errorf("running average %s = %s, want %s", r.ID, got, wantAvg[i])
		}
	}
	want := []bool{false, false, true}
	for i := range runs {
		d := p.Evaluate(Maximize, runs, i, 3)
		if fmt.Sprintf("%.3f", d.Threshold) != "0.450" {
			t.Errorf("median %v, want .450", d.Threshold)
		}
		if d.Terminate != want[i] {
			t.Errorf("%s: terminate %v, want %v", runs[i].ID, d.Terminate, want[i])
		}
	}
	d := p.Evaluate(Maximize, runs, 2, 3)
	if d.Reason != "Canceled by MedianStoppingPolicy at interval 3: its best primary metric 0.38 is lower than 0.45, the median of 3 runs' running averages over intervals 1–3" {
		t.Errorf("reason %q", d.Reason)
	}
	// Minimize: the same table with the signs flipped cancels the same run.
	neg := make([]RunMetrics, len(runs))
	for i, r := range runs {
		neg[i] = RunMetrics{ID: r.ID}
		for _, v := range r.Values {
			neg[i].Values = append(neg[i].Values, -v)
		}
	}
	for i := range neg {
		if d := p.Evaluate(Minimize, neg, i, 3); d.Terminate != want[i] {
			t.Errorf("minimize %s: terminate %v, want %v", neg[i].ID, d.Terminate, want[i])
		}
	}
	// Even count: the median is the mean of the middle two; runs short of n are left out.
	runs = append(runs, RunMetrics{ID: "D", Values: []float64{.2, .2, .2}}, RunMetrics{ID: "E", Values: []float64{.9}})
	d = p.Evaluate(Maximize, runs, 1, 3) // avgs .6 .45 .343 .2 → (.45+.343)/2 = .3967; B's .50 is above
	if d.Terminate || fmt.Sprintf("%.4f", d.Threshold) != "0.3967" {
		t.Errorf("even median: %+v", d)
	}
}

// TestTruncationWorkedExample reproduces docs/design/hyperdrive.md §3.4: interval 1, 20 %, delay 5:
// a run in the lowest 20 % at interval 5 is cancelled there.
func TestTruncationWorkedExample(t *testing.T) {
	p := Policy{Kind: TruncationSelection, EvaluationInterval: 1, TruncationPercentage: 20, DelayEvaluation: 5}
	mk := func(vals ...float64) RunMetrics { return RunMetrics{Values: vals} }
	runs := []RunMetrics{
		mk(.1, .2, .3, .4, .50, .9),
		mk(.1, .2, .3, .4, .45),
		mk(.1, .2, .3, .4, .60),
		mk(.1, .2, .3, .4, .55),
		mk(.1, .2, .3, .4, .41, .99), // lowest at 5; its later .99 must not count
	}
	if p.Applies(4) || !p.Applies(5) {
		t.Fatal("applies")
	}
	for i := range runs {
		d := p.Evaluate(Maximize, runs, i, 5)
		if d.Terminate != (i == 4) {
			t.Errorf("run %d: terminate %v (%s)", i, d.Terminate, d.Reason)
		}
	}
	if d := p.Evaluate(Maximize, runs, 4, 5); d.Reason != "Canceled by TruncationSelectionPolicy at interval 5: its best primary metric 0.41 is in the lowest 20% (1 of 5 runs) at interval 5" {
		t.Errorf("reason %q", d.Reason)
	}
	tests := []struct {
		name  string
		pct   int
		goal  Goal
		perf  []float64 // best up to n of each run
		judge int
		want  bool
	}{
		{"4 runs at 20% cancels none (floor)", 20, Maximize, []float64{1, 2, 3, 4}, 0, false},
		{"5 runs at 20% cancels the lowest", 20, Maximize, []float64{1, 2, 3, 4, 5}, 0, true},
		{"5 runs at 20% keeps the second", 20, Maximize, []float64{1, 2, 3, 4, 5}, 1, false},
		{"10 runs at 25% cancels 2", 25, Maximize, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 1, true},
		{"10 runs at 25% keeps the third", 25, Maximize, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, false},
		{"minimize cancels the highest", 20, Minimize, []float64{1, 2, 3, 4, 5}, 4, true},
		{"minimize keeps the lowest", 20, Minimize, []float64{1, 2, 3, 4, 5}, 0, false},
		{"ties straddling the cut are kept", 20, Maximize, []float64{1, 1, 3, 4, 5}, 0, false},
		{"ties inside the cut are cancelled", 40, Maximize, []float64{1, 1, 3, 4, 5}, 1, true},
		{"99% of 2 cancels the worse", 99, Maximize, []float64{1, 2}, 0, true},
		{"one run is never cancelled", 99, Maximize, []float64{1}, 0, false},
	}
	for _, tc := range tests {
		var rs []RunMetrics
		for _, v := range tc.perf {
			rs = append(rs, runAt("", 5, v, tc.goal))
		}
		if d := p.withPct(tc.pct).Evaluate(tc.goal, rs, tc.judge, 5); d.Terminate != tc.want {
			t.Errorf("%s: terminate %v, want %v", tc.name, d.Terminate, tc.want)
		}
	}
	// exclude_finished_jobs: ended runs leave the population.
	rs := []RunMetrics{runAt("", 5, 1, Maximize), runAt("", 5, 2, Maximize), runAt("", 5, 3, Maximize), runAt("", 5, 4, Maximize), runAt("", 5, 5, Maximize)}
	for i := 2; i < 5; i++ {
		rs[i].Ended = true
	}
	if d := p.Evaluate(Maximize, rs, 0, 5); !d.Terminate {
		t.Error("finished runs count by default")
	}
	q := p
	q.ExcludeFinishedJobs = true
	if d := q.Evaluate(Maximize, rs, 0, 5); d.Terminate {
		t.Error("exclude_finished_jobs: 2 runs at 20% cancel none")
	}
}

func (p Policy) withPct(pct int) Policy { p.TruncationPercentage = pct; return p }

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{}, ""},
		{Policy{Kind: NoTermination}, ""},
		{Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1}, ""},
		{Policy{Kind: Bandit, EvaluationInterval: 1, SlackAmount: 0.1}, ""},
		{Policy{Kind: Bandit, EvaluationInterval: 1}, "policy: Bandit termination policy expects exactly one of slack factor or slack amount to be set."},
		{Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1, SlackAmount: 0.1}, "policy: Bandit termination policy expects exactly one of slack factor or slack amount to be set."},
		{Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: -0.1}, "policy.slack_factor: must be more than 0"},
		{Policy{Kind: Bandit, EvaluationInterval: 0, SlackFactor: 0.1}, "policy.evaluation_interval: must be at least 1, not 0"},
		{Policy{Kind: MedianStopping, EvaluationInterval: 1, DelayEvaluation: -1}, "policy.delay_evaluation: must not be negative"},
		{Policy{Kind: TruncationSelection, EvaluationInterval: 1, TruncationPercentage: 0}, "policy.truncation_percentage: truncation_percentage expects value to be between 1 and 99."},
		{Policy{Kind: TruncationSelection, EvaluationInterval: 1, TruncationPercentage: 100}, "policy.truncation_percentage: truncation_percentage expects value to be between 1 and 99."},
		{Policy{Kind: TruncationSelection, EvaluationInterval: 1, TruncationPercentage: 99}, ""},
		{Policy{Kind: "Hyperband"}, `policy.type: unknown policy "Hyperband": use BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy or NoTerminationPolicy`},
	}
	for _, tc := range tests {
		got := ""
		if err := tc.p.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.p, got, tc.want)
		}
	}
}

func TestGoal(t *testing.T) {
	for _, s := range []string{"maximize", "Maximize", " MAXIMIZE "} {
		if g, err := ParseGoal(s); err != nil || g != Maximize {
			t.Errorf("%q: %v %v", s, g, err)
		}
	}
	if g, err := ParseGoal("Minimize"); err != nil || g != Minimize || g.String() != "minimize" {
		t.Errorf("minimize: %v %v", g, err)
	}
	if _, err := ParseGoal("best"); err == nil || err.Error() != "The primary metric goal expects either 'maximize' or 'minimize'." {
		t.Errorf("best: %v", err)
	}
	if Maximize.Best([]float64{1, 3, 2}) != 3 || Minimize.Best([]float64{1, 3, 2}) != 1 || !math.IsNaN(Maximize.Best(nil)) {
		t.Error("Best")
	}
}

// TestPolicyProperties checks invariants on random populations: Bandit
// never cancels the run that reported B, Median never cancels the run with
// the best running average, Truncation never cancels the best run, and no
// policy cancels more than its share.
func TestPolicyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := range 2000 {
		goal := Goal(trial % 2)
		n := 1 + r.IntN(6)
		runs := make([]RunMetrics, 1+r.IntN(8))
		for i := range runs {
			vals := make([]float64, n+r.IntN(3))
			for k := range vals {
				vals[k] = math.Round(r.NormFloat64()*100) / 100 // ties happen
			}
			runs[i] = RunMetrics{Values: vals}
		}
		pols := []Policy{
			{Kind: Bandit, EvaluationInterval: 1, SlackFactor: r.Float64()},
			{Kind: Bandit, EvaluationInterval: 1, SlackAmount: r.Float64()},
			{Kind: MedianStopping, EvaluationInterval: 1},
			{Kind: TruncationSelection, EvaluationInterval: 1, TruncationPercentage: 1 + r.IntN(99)},
		}
		for _, p := range pols {
			cancelled := 0
			bestAt, bestAvg, bestRun := 0, 0, 0
			avg := func(i int) float64 {
				s := 0.0
				for _, v := range runs[i].Values[:n] {
					s += v
				}
				return s / float64(n)
			}
			for i := range runs {
				if goal.Better(runs[i].Values[n-1], runs[bestAt].Values[n-1]) {
					bestAt = i
				}
				if goal.Better(avg(i), avg(bestAvg)) {
					bestAvg = i
				}
				if goal.Better(goal.Best(runs[i].Values[:n]), goal.Best(runs[bestRun].Values[:n])) {
					bestRun = i
				}
				if p.Evaluate(goal, runs, i, n).Terminate {
					cancelled++
				}
			}
			protected := map[PolicyKind]int{Bandit: bestAt, MedianStopping: bestAvg, TruncationSelection: bestRun}[p.Kind]
			if d := p.Evaluate(goal, runs, protected, n); d.Terminate {
				t.Fatalf("%+v %v: protected run %d cancelled: %s\n%v", p, goal, protected, d.Reason, runs)
			}
			if p.Kind == TruncationSelection && cancelled > len(runs)*p.TruncationPercentage/100 {
				t.Fatalf("truncation %d%% cancelled %d of %d", p.TruncationPercentage, cancelled, len(runs))
			}
			if p.Kind == MedianStopping && cancelled > len(runs)/2 {
				t.Fatalf("median cancelled %d of %d", cancelled, len(runs))
			}
		}
	}
}
