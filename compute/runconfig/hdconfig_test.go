package runconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestHDConfigSeedExample(t *testing.T) {
	res, err := CheckFile("testdata/hdconfig.yml")
	if err != nil {
		t.Fatal(err)
	}
	h := res.HDConfig
	if h.Sampling.Type != "Random" || h.Policy.Type != "BanditPolicy" || *h.Policy.SlackFactor != 0.2 || *h.Policy.EvaluationInterval != 1 {
		t.Errorf("%+v %+v", h.Sampling, h.Policy)
	}
	if p := h.Sampling.ParameterSpace[0]; p.Name != "--penalty" || p.Expression != "choice" || !reflect.DeepEqual(p.Values, []any{0.5, 1.0, 1.5}) {
		t.Errorf("parameter %+v", p)
	}
	want := "hdconfig, random sampling of 1 parameter (--penalty choice), BanditPolicy, maximize Accuracy, 8 runs, 2 at a time, max 100 min"
	if res.Summary != want {
		t.Errorf("summary\n%s\nwant\n%s", res.Summary, want)
	}
}

func TestHDConfigRules(t *testing.T) {
	const tail = "primary_metric_name: acc\nprimary_metric_goal: maximize\nmax_total_runs: 4\n"
	space := func(expr, values string) string {
		return "sampling:\n  type: random\n  parameter_space:\n  - name: --x\n    expression: " + expr + "\n    values: " + values + "\n"
	}
	tests := []struct{ name, text, want string }{
		{"valid uniform", space("uniform", "[0.05, 0.1]") + tail, ""},
		{"valid qnormal", space("qnormal", "[1, 0.5, 2]") + tail, ""},
		{"valid choice of strings", space("choice", "[adam, sgd]") + tail, ""},
		{"case-insensitive names", "sampling:\n  type: GRID\n  parameter_space:\n  - {name: --a, expression: Choice, values: [1, 2]}\npolicy: {type: medianstoppingpolicy, evaluation_interval: 1, delay_evaluation: 5}\n" + "primary_metric_name: acc\nprimary_metric_goal: Minimize\nmax_total_runs: 4\n", ""},
		{"uniform min >= max", space("uniform", "[1, 1]") + tail, "h.yml:6: sampling.parameter_space[0].values: uniform expects min_value to be less than max_value"},
		{"loguniform equal ok", space("loguniform", "[1, 1]") + tail, ""},
		{"too few values", space("quniform", "[1, 2]") + tail, "quniform expects 3 values (min_value, max_value, q), not 2"},
		{"q not integral", space("quniform", "[1, 2, 0.5]") + tail, "quniform expects q to be an int of at least 1"},
		{"randint", space("randint", "[0]") + tail, "randint expects a positive number as input"},
		{"sigma", space("normal", "[0, -1]") + tail, "normal expects sigma to be non negative"},
		{"not numbers", space("uniform", "[a, b]") + tail, `uniform expects numbers (min_value, max_value), not "a"`},
		{"empty choice", space("choice", "[]") + tail, "choice expects non-empty single list"},
		{"unknown expression", space("gauss", "[1]") + tail, `h.yml:5: sampling.parameter_space[0].expression: "gauss" is not one of choice, randint`},
		{"grid needs choice", "sampling:\n  type: grid\n  parameter_space:\n  - {name: --a, expression: uniform, values: [1, 2]}\n" + tail, "This sampling method expects only the following distributions: [choice]"},
		{"grid mixed types", "sampling:\n  type: grid\n  parameter_space:\n  - {name: --a, expression: choice, values: [1, b]}\n" + tail, "Either all or none of the 'choice' values should be 'str' type."},
		{"bayesian expressions", "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: normal, values: [1, 2]}\n" + tail, "[choice, uniform, quniform]"},
		{"bayesian quniform ints", "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: quniform, values: [0.5, 2, 1]}\n" + tail, "Expected quniform arguments to be int."},
		{"bayesian quniform points", "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: quniform, values: [0, 1000000, 1]}\n" + tail, "Too many discrete points"},
		{"bayesian with a policy", "sampling:\n  type: bayesian\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\npolicy:\n  type: BanditPolicy\n  slack_factor: 0.1\n" + tail, "h.yml:6: policy.type: Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
		{"bandit both slacks", space("uniform", "[0, 1]") + "policy: {type: BanditPolicy, slack_factor: 0.1, slack_amount: 0.2}\n" + tail, "h.yml:7: policy: Bandit termination policy expects exactly one of slack factor or slack amount to be set."},
		{"bandit no slack", space("uniform", "[0, 1]") + "policy: {type: BanditPolicy}\n" + tail, "exactly one of slack factor or slack amount"},
		{"bandit zero slack", space("uniform", "[0, 1]") + "policy: {type: BanditPolicy, slack_factor: 0}\n" + tail, "policy.slack_factor: must be more than 0"},
		{"truncation percentage", space("uniform", "[0, 1]") + "policy: {type: TruncationSelectionPolicy, truncation_percentage: 100}\n" + tail, "truncation_percentage expects value to be between 1 and 99."},
		{"evaluation interval zero", space("uniform", "[0, 1]") + "policy: {type: MedianStoppingPolicy, evaluation_interval: 0}\n" + tail, "policy.evaluation_interval: must be at least 1"},
		{"goal", space("uniform", "[0, 1]") + "primary_metric_name: acc\nprimary_metric_goal: best\nmax_total_runs: 4\n", "h.yml:8: primary_metric_goal: The primary metric goal expects either 'maximize' or 'minimize'."},
		{"no metric", space("uniform", "[0, 1]") + "primary_metric_goal: maximize\nmax_total_runs: 4\n", "primary_metric_name: required"},
		{"max total runs", space("uniform", "[0, 1]") + "primary_metric_name: acc\nprimary_metric_goal: maximize\nmax_total_runs: 1001\n", "h.yml:9: max_total_runs: must be an integer between 1 and 1000"},
		{"max total runs missing", space("uniform", "[0, 1]") + "primary_metric_name: acc\nprimary_metric_goal: maximize\n", "max_total_runs: must be an integer between 1 and 1000"},
		{"max concurrent", space("uniform", "[0, 1]") + tail + "max_concurrent_runs: 101\n", "h.yml:10: max_concurrent_runs: must be an integer between 1 and 100"},
		{"duplicate parameter", "sampling:\n  type: random\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\n  - {name: --a, expression: uniform, values: [0, 1]}\n" + tail, "h.yml:5: sampling.parameter_space[1].name: --a is in the parameter space twice"},
		{"no sampling", tail, "sampling.type: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check("h.yml", []byte(tc.text))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Kind != KindHDConfig {
					t.Errorf("kind %q", res.Kind)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %q", err, tc.want)
			}
		})
	}
	long := "sampling:\n  type: random\n  parameter_space:\n  - {name: --a, expression: uniform, values: [0, 1]}\n" + tail + "max_duration_minutes: 20000\n"
	if res, err := Check("h.yml", []byte(long)); err != nil || !strings.HasSuffix(res.Summary, "max 10080 min (capped from 20000)") {
		t.Errorf("%v %+v", err, res)
	}
}
