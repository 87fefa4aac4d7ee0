package hyperdrive

import (
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute/runconfig"
)

// TestMergeArgsTemplate: a v2 trial command's ${{search_space.x}} is
// replaced in place (inside a word too) and nothing is appended; without a
// placeholder the v1 rule (append --name value) holds.
func TestMergeArgsTemplate(t *testing.T) {
	p := Params{{"lr", Num(0.05)}, {"batch", Num(32)}, {"opt", Str("adam w")}}
	tests := []struct {
		name       string
		base, want []string
	}{
		{"in place", []string{"--learning-rate", "${{search_space.lr}}", "--bs", "${{ search_space.batch }}"}, []string{"--learning-rate", "0.05", "--bs", "32"}},
		{"inside a word", []string{"--lr=${{search_space.lr}}", "--tag", "b${{search_space.batch}}-${{search_space.opt}}"}, []string{"--lr=0.05", "--tag", "b32-adam w"}},
		{"unused param not passed", []string{"--x", "${{search_space.lr}}", "--data", "/d"}, []string{"--x", "0.05", "--data", "/d"}},
		{"unknown kept", []string{"${{search_space.lr}}", "${{search_space.nope}}"}, []string{"0.05", "${{search_space.nope}}"}},
		{"v1 without placeholders", []string{"--data", "/d"}, []string{"--data", "/d", "--lr", "0.05", "--batch", "32", "--opt", "adam w"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MergeArgs(tc.base, p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestCheckSweepJobRules: runconfig.Check (trainyard validate) applies the
// sweep's own rules (those of POST /api/v1/sweeps) to a v2 sweep job, with
// file, line and v2 field, and passes on the warnings.
func TestCheckSweepJobRules(t *testing.T) {
	base := `type: sweep
trial:
  command: python train.py --x ${{search_space.x}}
  environment: azureml:e@latest
sampling_algorithm: bayesian
search_space:
  x: {type: uniform, min_value: 0, max_value: 1}
  y: {type: quniform, min_value: 0, max_value: 10, q: 1}
objective: {primary_metric: loss, goal: minimize}
limits: {max_total_trials: 10, max_concurrent_trials: 2}
`
	tests := []struct {
		name, from, to string
		wantErr        string
		wantWarn       string
	}{
		{"valid with warning", "", "", "", "Bayesian sampling works best with max_total_runs at least 20 × the number of hyperparameters (40)"},
		{"bayes loguniform", "x: {type: uniform", "x: {type: loguniform", "j.yml:7: search_space.x.type: This sampling method expects only the following distributions: [choice, uniform, quniform]", ""},
		{"quniform float", "q: 1}", "q: 0.5}", "j.yml:8: search_space.y", ""},
		{"sobol dims ok", "sampling_algorithm: bayesian", "sampling_algorithm: {type: random, rule: sobol}", "", ""},
		{"bandit zero slack", "limits:", "early_termination: {type: bandit, slack_amount: 0}\nlimits:", "j.yml:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(base, tc.from, tc.to, 1)
			if tc.name == "bandit zero slack" {
				text = strings.Replace(text, "bayesian", "random", 1)
			}
			res, err := runconfig.Check("j.yml", []byte(text))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, tc.wantWarn) || (tc.wantWarn == "" && w != "") {
				t.Errorf("warnings %q, want %q", w, tc.wantWarn)
			}
		})
	}
}
