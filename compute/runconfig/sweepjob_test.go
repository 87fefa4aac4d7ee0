package runconfig

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseSweepJobSeed(t *testing.T) {
	data, err := os.ReadFile("testdata/sweep-job.yml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseSweepJob("sweep-job.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	if j.Compute != "cpu-cluster" || j.Sampling.Type != "random" || j.PrimaryMetric != "accuracy" || j.Goal != "maximize" ||
		j.TrialCommand != "python train.py --lr ${{search_space.lr}}" || j.TrialEnvironment == "" {
		t.Errorf("%+v", j)
	}
	if want := []SearchParam{{Name: "lr", Type: "uniform", Values: []any{0.01, 0.1}}}; !reflect.DeepEqual(j.SearchSpace, want) {
		t.Errorf("search space %+v", j.SearchSpace)
	}
}

func TestParseSweepJobFull(t *testing.T) {
	text := `type: Sweep
trial: {command: "python t.py --b ${{search_space.batch}}", environment: {image: python:3.11}}
sampling_algorithm: {type: Random, seed: 42, rule: Sobol}
search_space:
  lr: {type: loguniform, min_value: -7, max_value: -1}
  batch: {type: choice, values: [16, 32, big]}
  layers: {type: qnormal, mu: 4, sigma: 1, q: 1}
  seed: {type: randint, upper: 100}
objective: {primary_metric: loss, goal: minimize}
early_termination: {type: truncation_selection, evaluation_interval: 2, delay_evaluation: 4, truncation_percentage: 25, exclude_finished_jobs: true}
limits: {max_total_trials: 40, max_concurrent_trials: 4, timeout: 3600, trial_timeout: 600}
`
	j, err := ParseSweepJob("s.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if j.Sampling.Type != "random" || j.Sampling.Rule != "sobol" || *j.Sampling.Seed != 42 || j.TrialEnvironment != "(inline)" {
		t.Errorf("sampling %+v env %q", j.Sampling, j.TrialEnvironment)
	}
	var names []string
	for _, p := range j.SearchSpace {
		names = append(names, p.Name+":"+p.Type)
	}
	if strings.Join(names, " ") != "lr:loguniform batch:choice layers:qnormal seed:randint" {
		t.Errorf("order %v", names)
	}
	if !reflect.DeepEqual(j.SearchSpace[1].Values, []any{16.0, 32.0, "big"}) || !reflect.DeepEqual(j.SearchSpace[2].Values, []any{4.0, 1.0, 1.0}) {
		t.Errorf("values %+v", j.SearchSpace)
	}
	p := j.EarlyTermination
	if p.Type != "TruncationSelectionPolicy" || *p.EvaluationInterval != 2 || *p.DelayEvaluation != 4 || *p.TruncationPercentage != 25 || !*p.ExcludeFinishedJobs {
		t.Errorf("policy %+v", p)
	}
	if *j.Limits.MaxTotalTrials != 40 || *j.Limits.MaxConcurrentTrials != 4 || *j.Limits.Timeout != 3600 || *j.Limits.TrialTimeout != 600 {
		t.Errorf("limits %+v", j.Limits)
	}
}

func TestParseSweepJobRejections(t *testing.T) {
	const trial = "trial: {command: python t.py, environment: azureml:e:1}\n"
	const rest = "search_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\nobjective: {primary_metric: acc, goal: maximize}\n"
	tests := []struct{ name, text, want string }{
		{"not sweep", "type: command\n" + trial + "sampling_algorithm: random\n" + rest, "s.yml:1: type: must be sweep, not \"command\""},
		{"no trial", "type: sweep\nsampling_algorithm: random\n" + rest, "trial: required"},
		{"no command", "type: sweep\ntrial: {environment: azureml:e:1}\nsampling_algorithm: random\n" + rest, "trial.command: required"},
		{"no environment", "type: sweep\ntrial: {command: python t.py}\nsampling_algorithm: random\n" + rest, "trial.environment: required"},
		{"no sampling", "type: sweep\n" + trial + rest, "sampling_algorithm: required"},
		{"bad sampling", "type: sweep\n" + trial + "sampling_algorithm: hyperband\n" + rest, `sampling_algorithm: "hyperband" is not one of random, grid, bayesian`},
		{"seed on grid", "type: sweep\n" + trial + "sampling_algorithm: {type: grid, seed: 1}\n" + rest, "seed and rule belong to random sampling, not grid"},
		{"no search space", "type: sweep\n" + trial + "sampling_algorithm: random\nobjective: {primary_metric: acc, goal: maximize}\n", "search_space: required"},
		{"missing argument", "type: sweep\n" + trial + "sampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 0}\n", "s.yml:5: search_space.lr.max_value: required: uniform takes min_value, max_value"},
		{"bad type", "type: sweep\n" + trial + "sampling_algorithm: random\nsearch_space:\n  lr: {type: gauss}\n", `search_space.lr.type: "gauss" is not one of choice`},
		{"choice without list", "type: sweep\n" + trial + "sampling_algorithm: random\nsearch_space:\n  lr: {type: choice, values: 3}\n", "search_space.lr.values: choice expects a non-empty list of values"},
		{"not a number", "type: sweep\n" + trial + "sampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: a, max_value: 1}\n", `search_space.lr.min_value: must be a number, not "a"`},
		{"no objective", "type: sweep\n" + trial + "sampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\n", "objective: required"},
		{"bad policy", "type: sweep\n" + trial + "sampling_algorithm: random\n" + rest + "early_termination: {type: hyperband}\n", `early_termination.type: "hyperband" is not one of bandit, median_stopping, truncation_selection`},
		{"bad limit", "type: sweep\n" + trial + "sampling_algorithm: random\n" + rest + "limits: {max_total_trials: many}\n", `limits.max_total_trials: must be a whole number, not "many"`},
	}
	for _, tc := range tests {
		_, err := ParseSweepJob("s.yml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", tc.name, err, tc.want)
		}
	}
}
