package runconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sweepBase = `type: sweep
trial:
  code: .
  command: python train.py --lr ${{search_space.lr}} --b ${{search_space.batch}} --data ${{inputs.data}}
  environment: azureml:sklearn@latest
inputs:
  data: {type: uri_folder, path: ./data}
compute: azureml:local
sampling_algorithm: random
search_space:
  lr: {type: uniform, min_value: 0.01, max_value: 0.1}
  batch: {type: choice, values: [16, 32]}
objective: {primary_metric: loss, goal: minimize}
limits: {max_total_trials: 20, max_concurrent_trials: 4, timeout: 600}
`

// TestCheckSweepJob: sweep jobs are read and checked with the hdconfig's
// rules (SweepRules unset here; package hyperdrive's tests cover it set),
// each problem naming the file, line and v2 field.
func TestCheckSweepJob(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, from, to string
		wantErr        string
	}{
		{"valid", "", "", ""},
		{"unknown param", "--b ${{search_space.batch}}", "--b ${{search_space.bs}}", "s.yml:4: trial.command: ${{search_space.bs}} is not in search_space"},
		{"unknown input", "${{inputs.data}}", "${{inputs.other}}", "s.yml:4: trial.command: ${{inputs.other}} names no input"},
		{"bad expression", "${{inputs.data}}", "${{jobs.x}}", "s.yml:4: trial.command: unknown expression ${{jobs.x}}"},
		{"code missing", "code: .", "code: ./nope", `s.yml:3: trial.code: "./nope" is not a folder`},
		{"bounds", "max_value: 0.1", "max_value: 0.001", "s.yml:11: search_space.lr:"},
		{"grid uniform", "sampling_algorithm: random", "sampling_algorithm: grid", "s.yml:11: search_space.lr.type: This sampling method expects only the following distributions: [choice]"},
		{"total", "max_total_trials: 20", "max_total_trials: 2000", "s.yml:14: limits.max_total_trials: must be an integer between 1 and 1000"},
		{"concurrent", "max_concurrent_trials: 4", "max_concurrent_trials: 0", "s.yml:14: limits.max_concurrent_trials: must be an integer between 1 and 100"},
		{"timeout", "timeout: 600", "timeout: 0", "s.yml:14: limits.timeout: must be at least 1 second"},
		{"goal", "goal: minimize", "goal: lowest", "s.yml:13: objective.goal: The primary metric goal expects either 'maximize' or 'minimize'."},
		{"bayes policy", "limits:", "sampling_algorithm: bayesian\nearly_termination: {type: bandit, slack_factor: 0.1}\nlimits:", "s.yml:14: early_termination.type: Early termination policy for Bayesian sampling."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := sweepBase
			if tc.from != "" {
				text = strings.Replace(text, tc.from, tc.to, 1)
			}
			if tc.name == "bayes policy" {
				text = strings.Replace(text, "sampling_algorithm: random\n", "", 1)
			}
			file := filepath.Join(dir, "s.yml")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := CheckFile(file)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.wantErr)) {
					t.Fatalf("err %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindSweepJob || res.Summary != "sweep job, sampling random, 2 parameters, minimize loss, 20 trials, 4 at a time, compute local" {
				t.Errorf("%q %q", res.Kind, res.Summary)
			}
			j := res.Sweep
			if j.TrialCode != "." || j.Inputs["data"].Path != "./data" {
				t.Errorf("%+v", j)
			}
		})
	}
}

func TestSweepJobHDConfig(t *testing.T) {
	j, err := ParseSweepJob("s.yml", []byte(strings.Replace(sweepBase, "sampling_algorithm: random", "sampling_algorithm: {type: random, rule: sobol, seed: 7}", 1)+
		"early_termination: {type: median_stopping, delay_evaluation: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := j.HDConfig()
	ten := 10
	want := &HDConfig{File: "s.yml", Sampling: Sampling{Type: "Sobol", ParameterSpace: []Parameter{
		{Name: "lr", Expression: "uniform", Values: []any{0.01, 0.1}}, {Name: "batch", Expression: "choice", Values: []any{16.0, 32.0}}}},
		Policy: j.EarlyTermination, PrimaryMetricName: "loss", PrimaryMetricGoal: "minimize", MaxTotalRuns: 20, MaxConcurrentRuns: j.Limits.MaxConcurrentTrials, MaxDurationMinutes: &ten}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %+v\nwant %+v", h, want)
	}
	if h.Policy.Type != "MedianStoppingPolicy" || *j.Sampling.Seed != 7 {
		t.Errorf("policy %+v", h.Policy)
	}
}
