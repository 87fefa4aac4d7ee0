package hyperdrive

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute/runconfig"
)

func TestFromHDConfigSeedExample(t *testing.T) {
	data, err := os.ReadFile("../runconfig/testdata/hdconfig.yml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := runconfig.ParseHDConfig("hdconfig.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	s, warn, err := FromHDConfig(h, 17)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 0 {
		t.Errorf("warnings %q", warn)
	}
	if s.Sampling != SamplingRandom || s.Goal != Maximize || s.PrimaryMetric != "Accuracy" || s.MaxTotalRuns != 8 ||
		s.ConcurrentRuns() != 2 || s.DurationMinutes() != 100 || s.Seed != 17 {
		t.Errorf("%+v", s)
	}
	if p := s.Policy; p.Kind != Bandit || p.SlackFactor != 0.2 || p.EvaluationInterval != 1 || p.DelayEvaluation != 0 {
		t.Errorf("policy %+v", p)
	}
	if len(s.Space) != 1 || s.Space[0].Name != "--penalty" || s.Space[0].Expr.Kind != Choice || len(s.Space[0].Expr.Options) != 3 {
		t.Errorf("space %+v", s.Space)
	}
	smp, err := s.Sampler()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := smp.Next(nil)
	if a := p.Args(); len(a) != 2 || a[0] != "--penalty" || (a[1] != "0.5" && a[1] != "1" && a[1] != "1.5") {
		t.Errorf("args %q", a)
	}
}

func TestFromHDConfigRejections(t *testing.T) {
	const tail = "primary_metric_name: acc\nprimary_metric_goal: minimize\nmax_total_runs: 4\n"
	tests := []struct{ name, text, want string }{
		{"hdconfig's own rule keeps file and line", "sampling:\n  type: random\n  parameter_space:\n  - {name: --x, expression: uniform, values: [1, 1]}\n" + tail,
			"h.yml:4: sampling.parameter_space[0].values: uniform expects min_value to be less than max_value"},
		{"loguniform exponent overflow", "sampling:\n  type: random\n  parameter_space:\n  - {name: --x, expression: loguniform, values: [0, 1000]}\n" + tail,
			"sampling.parameter_space[0].values: loguniform expects max_value (an exponent: the value is exp(max_value)) to be at most 709"},
		{"bayesian policy", "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\npolicy: {type: MedianStoppingPolicy}\n" + tail,
			"policy.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
	}
	for _, tc := range tests {
		h, err := runconfig.ParseHDConfig("h.yml", []byte(tc.text))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, _, err = FromHDConfig(h, 0)
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s", tc.name, err, tc.want)
		}
	}
}

func TestFromHDConfigWarnings(t *testing.T) {
	text := "sampling:\n  type: Bayesian\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\n  - {name: --b, expression: choice, values: [1, 2]}\n" +
		"primary_metric_name: loss\nprimary_metric_goal: Minimize\nmax_total_runs: 30\nmax_concurrent_runs: 25\nmax_duration_minutes: 20000\n"
	h, err := runconfig.ParseHDConfig("h.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s, warn, err := FromHDConfig(h, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"max_duration_minutes 20000 is above the service limit; the sweep stops after 10080 minutes",
		"Bayesian sampling works best with max_total_runs at least 20 × the number of hyperparameters (40); this sweep has 30",
		"Bayesian sampling converges better with max_concurrent_runs at most 20; this sweep runs 25 at a time",
	}
	if strings.Join(warn, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(warn, "\n"), strings.Join(want, "\n"))
	}
	if s.DurationMinutes() != 10080 || s.Goal != Minimize {
		t.Errorf("%+v", s)
	}
	if _, err := s.Sampler(); err != nil {
		t.Error(err)
	}
}

func TestSweepValidate(t *testing.T) {
	u := mustExpr(t, Uniform, 0.0, 1.0)
	c := mustExpr(t, Choice, 1.0, 2.0, 3.0)
	ok := func() Sweep {
		return Sweep{Space: Space{{"--a", u}}, Sampling: SamplingRandom, PrimaryMetric: "acc", Goal: Maximize, MaxTotalRuns: 10}
	}
	tests := []struct {
		name   string
		modify func(*Sweep)
		want   string
		warn   string
	}{
		{"valid", func(*Sweep) {}, "", ""},
		{"no sampling", func(s *Sweep) { s.Sampling = "" }, "sampling.type: required: Random, Grid or Bayesian", ""},
		{"bad sampling", func(s *Sweep) { s.Sampling = "hyperband" }, `sampling.type: "hyperband" is not one of Random, Sobol, Grid, Bayesian`, ""},
		{"empty space", func(s *Sweep) { s.Space = nil }, "sampling.parameter_space: required: at least one {name, expression, values}", ""},
		{"unnamed", func(s *Sweep) { s.Space[0].Name = " " }, "sampling.parameter_space[0].name: required: the script argument to set, e.g. --lr", ""},
		{"duplicate", func(s *Sweep) { s.Space = append(s.Space, ParamSpec{"--a", c}) }, "sampling.parameter_space[1].name: --a is in the parameter space twice", ""},
		{"grid uniform", func(s *Sweep) { s.Sampling = SamplingGrid }, "sampling.parameter_space[0].expression: This sampling method expects only the following distributions: [choice]", ""},
		{"grid mixed", func(s *Sweep) {
			s.Sampling = SamplingGrid
			s.Space[0].Expr = mustExpr(t, Choice, 1.0, "x")
		}, "sampling.parameter_space[0].values: Either all or none of the 'choice' values should be 'str' type.", ""},
		{"grid small", func(s *Sweep) { s.Sampling = SamplingGrid; s.Space[0].Expr = c }, "", "the grid has 3 combinations: the sweep ends after 3 runs, not max_total_runs 10"},
		{"grid big", func(s *Sweep) { s.Sampling = SamplingGrid; s.Space[0].Expr = c; s.MaxTotalRuns = 2 }, "", "the grid has 3 combinations: only the first 2 (in grid order) will run"},
		{"bayesian normal", func(s *Sweep) { s.Sampling = SamplingBayesian; s.Space[0].Expr = mustExpr(t, Normal, 0.0, 1.0) },
			"sampling.parameter_space[0].expression: This sampling method expects only the following distributions: [choice, uniform, quniform]", ""},
		{"bayesian quniform float", func(s *Sweep) { s.Sampling = SamplingBayesian; s.Space[0].Expr = mustExpr(t, QUniform, 0.5, 10.0, 1.0) },
			"sampling.parameter_space[0].values: Expected quniform arguments to be int.", ""},
		{"bayesian quniform points", func(s *Sweep) { s.Sampling = SamplingBayesian; s.Space[0].Expr = mustExpr(t, QUniform, 0.0, 1e6, 1.0) },
			"sampling.parameter_space[0].values: Too many discrete points for quniform distribution. Use larger q or uniform instead.", ""},
		{"bayesian few runs", func(s *Sweep) { s.Sampling = SamplingBayesian }, "", "Bayesian sampling works best with max_total_runs at least 20 × the number of hyperparameters (20); this sweep has 10"},
		{"bayesian bandit", func(s *Sweep) {
			s.Sampling = SamplingBayesian
			s.MaxTotalRuns = 20
			s.Policy = Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1}
		}, "policy.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run", ""},
		{"bayesian bandit, opted in", func(s *Sweep) {
			s.Sampling = SamplingBayesian
			s.MaxTotalRuns = 20
			s.Policy = Policy{Kind: Bandit, EvaluationInterval: 1, SlackFactor: 0.1}
			s.BayesianEarlyTermination = true
		}, "", ""},
		{"bayesian no termination", func(s *Sweep) {
			s.Sampling = SamplingBayesian
			s.MaxTotalRuns = 20
			s.Policy = Policy{Kind: NoTermination}
		}, "", ""},
		{"policy", func(s *Sweep) { s.Policy = Policy{Kind: Bandit, EvaluationInterval: 1} },
			"policy: Bandit termination policy expects exactly one of slack factor or slack amount to be set.", ""},
		{"metric", func(s *Sweep) { s.PrimaryMetric = "" }, "primary_metric_name: required: the metric the script logs, e.g. accuracy", ""},
		{"goal", func(s *Sweep) { s.Goal = 7 }, "primary_metric_goal: The primary metric goal expects either 'maximize' or 'minimize'.", ""},
		{"runs 0", func(s *Sweep) { s.MaxTotalRuns = 0 }, "max_total_runs: must be an integer between 1 and 1000", ""},
		{"runs 1001", func(s *Sweep) { s.MaxTotalRuns = 1001 }, "max_total_runs: must be an integer between 1 and 1000", ""},
		{"concurrent 101", func(s *Sweep) { s.MaxConcurrentRuns = 101 }, "max_concurrent_runs: must be an integer between 1 and 100", ""},
		{"duration", func(s *Sweep) { s.MaxDurationMinutes = -1 }, "max_duration_minutes: must be at least 1", ""},
		{"sobol too many", func(s *Sweep) {
			s.Sampling = SamplingSobol
			for i := range 33 {
				s.Space = append(s.Space, ParamSpec{string(rune('b' + i)), u})
			}
		}, "sampling.parameter_space: Sobol sampling supports at most 32 parameters, not 34", ""},
	}
	for _, tc := range tests {
		s := ok()
		tc.modify(&s)
		warn, err := s.Validate()
		got := ""
		if err != nil {
			got = err.Error()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%s: %T is not a *FieldError", tc.name, err)
			}
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if w := strings.Join(warn, "|"); w != tc.warn {
			t.Errorf("%s: warnings %q, want %q", tc.name, w, tc.warn)
		}
	}
}

// bayesian_early_termination (a Trainyard key) lets a policy run with
// Bayesian sampling; without it the hdconfig is refused as Azure refuses it.
func TestFromHDConfigBayesianEarlyTermination(t *testing.T) {
	base := "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\n" +
		"policy:\n  type: BanditPolicy\n  slack_factor: 0.1\nprimary_metric_name: acc\nprimary_metric_goal: maximize\nmax_total_runs: 20\n"
	for _, c := range []struct {
		name, extra, err string
	}{
		{"refused as in Azure", "", "policy.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
		{"opted out", "bayesian_early_termination: false\n", "policy.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
		{"opted in", "bayesian_early_termination: true\n", ""},
		{"not a boolean", "bayesian_early_termination: sometimes\n", "bayesian_early_termination"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := runconfig.ParseHDConfig("h.yml", []byte(base+c.extra))
			var s *Sweep
			if err == nil {
				s, _, err = FromHDConfig(h, 1)
			}
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one containing %q", err, c.err)
			case c.err == "" && (!s.BayesianEarlyTermination || s.Policy.Kind != Bandit):
				t.Errorf("sweep %+v: want the Bandit policy with BayesianEarlyTermination", s)
			}
		})
	}
}
