package hyperdrive

import (
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute/runconfig"
)

func parseV2(t *testing.T, text string) *runconfig.SweepJob {
	t.Helper()
	j, err := runconfig.ParseSweepJob("s.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestFromSweepJob(t *testing.T) {
	j := parseV2(t, `type: sweep
trial: {command: "python t.py --lr ${{search_space.lr}} --opt ${{ search_space.opt }}", environment: azureml:e:1}
sampling_algorithm: {type: random, seed: 42, rule: sobol}
search_space:
  lr: {type: loguniform, min_value: -7, max_value: -1}
  opt: {type: choice, values: [adam, "sgd momentum"]}
objective: {primary_metric: loss, goal: Minimize}
early_termination: {type: bandit, slack_amount: 0.5, delay_evaluation: 3}
limits: {max_total_trials: 40, max_concurrent_trials: 4, timeout: 3601}
`)
	s, warn, err := FromSweepJob(j, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 0 || s.Sampling != SamplingSobol || s.Seed != 42 || s.Goal != Minimize || s.MaxTotalRuns != 40 ||
		s.ConcurrentRuns() != 4 || s.DurationMinutes() != 61 || s.Policy.Kind != Bandit || s.Policy.EvaluationInterval != 1 ||
		s.Policy.DelayEvaluation != 3 || s.Policy.SlackAmount != 0.5 {
		t.Errorf("%+v %v", s, warn)
	}
	smp, _ := s.Sampler()
	p, _ := smp.Next(nil)
	// The trial command reaches a child as argv words with each value in
	// place (MergeArgs): "sgd momentum" stays one word, unquoted.
	words, err := runconfig.SplitCommand(j.TrialCommand)
	if err != nil {
		t.Fatal(err)
	}
	lr, _ := p.Get("lr")
	opt, _ := p.Get("opt")
	want := []string{"python", "t.py", "--lr", lr.String(), "--opt", opt.Str}
	if got := MergeArgs(words, p); !slices.Equal(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
	// Defaults: 1000 trials, all concurrent, no timeout → 10080 minutes.
	s, _, err = FromSweepJob(parseV2(t, "type: sweep\ntrial: {command: python t.py, environment: azureml:e:1}\nsampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\nobjective: {primary_metric: acc, goal: maximize}\n"), 5)
	if err != nil || s.MaxTotalRuns != 1000 || s.ConcurrentRuns() != 1000 || s.DurationMinutes() != 10080 || s.Seed != 5 || s.Sampling != SamplingRandom {
		t.Errorf("defaults %+v %v", s, err)
	}
}

func TestFromSweepJobRejections(t *testing.T) {
	head := "type: sweep\ntrial: {command: \"python t.py --x ${{search_space.x}}\", environment: azureml:e:1}\n"
	obj := "objective: {primary_metric: acc, goal: maximize}\n"
	tests := []struct{ name, text, want string }{
		{"min >= max", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 1, max_value: 0}\n" + obj,
			"search_space.x.max_value: uniform expects min_value to be less than max_value"},
		{"q", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: quniform, min_value: 0, max_value: 9, q: 0.5}\n" + obj,
			"search_space.x.q: quniform expects q to be an int of at least 1"},
		{"grid", head + "sampling_algorithm: grid\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj,
			"search_space.x.type: This sampling method expects only the following distributions: [choice]"},
		{"grid mixed", head + "sampling_algorithm: grid\nsearch_space:\n  x: {type: choice, values: [1, a]}\n" + obj,
			"search_space.x.values: Either all or none of the 'choice' values should be 'str' type."},
		{"bayesian policy", head + "sampling_algorithm: bayesian\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "early_termination: {type: median_stopping}\n",
			"early_termination.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
		{"bandit slack", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "early_termination: {type: bandit}\n",
			"early_termination: Bandit termination policy expects exactly one of slack factor or slack amount to be set."},
		{"zero slack", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "early_termination: {type: bandit, slack_factor: 0}\n",
			"early_termination: a slack of 0 is not allowed"},
		{"interval 0", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "early_termination: {type: median_stopping, evaluation_interval: 0}\n",
			"early_termination.evaluation_interval: must be at least 1, not 0"},
		{"goal", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\nobjective: {primary_metric: acc, goal: best}\n",
			"objective.goal: The primary metric goal expects either 'maximize' or 'minimize'."},
		{"metric", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\nobjective: {goal: maximize}\n",
			"objective.primary_metric: required"},
		{"trials", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "limits: {max_total_trials: 5000}\n",
			"limits.max_total_trials: must be an integer between 1 and 1000"},
		{"concurrent", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "limits: {max_concurrent_trials: 0}\n",
			"limits.max_concurrent_trials: must be an integer between 1 and 100"},
		{"timeout", head + "sampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj + "limits: {timeout: 0}\n",
			"limits.timeout: must be at least 1 second"},
		{"unknown reference", "type: sweep\ntrial: {command: \"python t.py --y ${{search_space.y}}\", environment: azureml:e:1}\nsampling_algorithm: random\nsearch_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\n" + obj,
			"trial.command: ${{search_space.y}} is not in search_space"},
	}
	for _, tc := range tests {
		_, _, err := FromSweepJob(parseV2(t, tc.text), 0)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s…", tc.name, err, tc.want)
		}
	}
}

// FuzzSweepJob: any YAML either is rejected with an error or yields a sweep
// whose sampler produces params that fill every placeholder of the trial
// command, without panics.
func FuzzSweepJob(f *testing.F) {
	f.Add("type: sweep\ntrial: {command: \"python t.py ${{search_space.x}}\", environment: azureml:e:1}\nsampling_algorithm: bayesian\nsearch_space:\n  x: {type: quniform, min_value: 0, max_value: 10, q: 2}\nobjective: {primary_metric: acc, goal: maximize}\n")
	f.Add("type: sweep\ntrial: {command: python t.py, environment: azureml:e:1}\nsampling_algorithm: grid\nsearch_space:\n  x: {type: choice, values: [1, 2]}\n  y: {type: choice, values: [a, b]}\nobjective: {primary_metric: acc, goal: minimize}\nlimits: {max_total_trials: 3}\n")
	f.Add("type: sweep\ntrial: {command: python t.py, environment: azureml:e:1}\nsampling_algorithm: {type: random, rule: sobol}\nsearch_space:\n  x: {type: qlognormal, mu: 1, sigma: 2, q: 3}\nobjective: {primary_metric: acc, goal: maximize}\nearly_termination: {type: bandit, slack_factor: 0.1}\n")
	f.Fuzz(func(t *testing.T, text string) {
		j, err := runconfig.ParseSweepJob("f.yml", []byte(text))
		if err != nil {
			return
		}
		s, _, err := FromSweepJob(j, 1)
		if err != nil {
			return
		}
		smp, err := s.Sampler()
		if err != nil {
			t.Fatalf("valid sweep without a sampler: %v", err)
		}
		var h []Trial
		for range 3 {
			p, err := smp.Next(h)
			if err != nil {
				return
			}
			if len(p) != len(s.Space) {
				t.Fatalf("params %v for %d parameters", p, len(s.Space))
			}
			if words, err := runconfig.SplitCommand(j.TrialCommand); err == nil {
				for _, w := range MergeArgs(words, p) {
					for _, m := range searchRef.FindAllStringSubmatch(w, -1) {
						if _, ok := p.Get(m[1]); ok {
							t.Fatalf("%s left in %q", m[0], w)
						}
					}
				}
			}
			h = append(h, Trial{Params: p})
		}
	})
}
