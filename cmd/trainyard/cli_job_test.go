package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// TestJobCreateSweepEndToEnd: `trainyard job create -f sweep.yml` against a
// real server with the local backend: the code folder is snapshotted, the
// trials run trial.command with ${{search_space.x}} substituted in place,
// and the parent ends Completed with the best trial marked.
func TestJobCreateSweepEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	cliEnv := map[string]string{"TRAINYARD_URL": env.URL, "TRAINYARD_TOKEN": webtest.Token}
	dir := t.TempDir()
	for p, content := range map[string]string{
		"src/train.py": hdTrainPy,
		"sweep.yml": `$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
experiment_name: job-sweep
trial:
  code: ./src
  command: >-
    python3 train.py --x ${{search_space.x}} --tag ${{inputs.tag}}
  environment: azureml:AzureML-sklearn-1.0@latest
inputs:
  tag: hello
compute: azureml:local
sampling_algorithm: grid
search_space:
  x: {type: choice, values: [0, 0.5, 2]}
objective: {primary_metric: loss, goal: minimize}
limits: {max_total_trials: 5, max_concurrent_trials: 2, timeout: 600}
`,
		"command.yml": "type: command\ncode: src\ncommand: python train.py --x 0.5\nenvironment: azureml:e@latest\nexperiment_name: job-cmd\n",
		"bad.yml": "type: sweep\ntrial:\n  command: python train.py --x ${{search_space.y}}\n  environment: azureml:e@latest\nsampling_algorithm: random\n" +
			"search_space:\n  x: {type: uniform, min_value: 0, max_value: 1}\nobjective: {primary_metric: loss, goal: minimize}\n",
		"shell.yml": "type: command\ncommand: python train.py | tee log\nenvironment: azureml:e@latest\n",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLIEnv(t, cliEnv, "", "job", "create", "-f", filepath.Join(dir, "sweep.yml"), "-o", "json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	id, _ := field(t, []byte(res.stdout), "runId").(string)
	if id == "" || field(t, []byte(res.stdout), "status") != "Running" || field(t, []byte(res.stdout), "runType") != "hyperdrive" ||
		field(t, []byte(res.stdout), "experimentName") != "job-sweep" {
		t.Fatalf("parent JSON:\n%s", res.stdout)
	}
	var show string
	webtest.WaitFor(t, 60*time.Second, "the sweep to complete", func() bool {
		show = runCLIEnv(t, cliEnv, "", "job", "show", "-n", id, "-o", "json").stdout
		return strings.Contains(show, `"status": "Completed"`)
	})
	list := runCLIEnv(t, cliEnv, "", "job", "list", "--parent", id, "-o", "json")
	var kids struct {
		Value []struct {
			RunID           string             `json:"runId"`
			Status          string             `json:"status"`
			Arguments       []string           `json:"arguments"`
			Metrics         map[string]float64 `json:"metrics"`
			Hyperparameters map[string]string  `json:"hyperparameters"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &kids); err != nil {
		t.Fatalf("%v: %s", err, list.stdout)
	}
	if len(kids.Value) != 3 {
		t.Fatalf("%d children: %s", len(kids.Value), list.stdout)
	}
	best := ""
	for _, k := range kids.Value {
		x := k.Hyperparameters["x"]
		if k.Status != "Completed" || k.Metrics["loss"] == 0 || !reflect.DeepEqual(k.Arguments, []string{"--x", x, "--tag", "hello"}) {
			t.Fatalf("child %+v", k)
		}
		if x == "0.5" {
			best = k.RunID
		}
	}
	if got := field(t, []byte(show), "bestChildRunId"); got != best || best == "" {
		t.Fatalf("bestChildRunId %v, want %s", got, best)
	}

	// A command job is a script run; --stream waits for it and prints its log.
	res = runCLIEnv(t, cliEnv, "", "job", "create", "-f", filepath.Join(dir, "command.yml"), "--stream", "-o", "json")
	if res.code != 0 || field(t, []byte(res.stdout), "status") != "Completed" || field(t, []byte(res.stdout), "experimentName") != "job-cmd" {
		t.Fatalf("command job: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}

	// Problems name the file, line and field; nothing is submitted.
	for _, tc := range []struct{ file, want string }{
		{"bad.yml", "bad.yml:3: trial.command: ${{search_space.y}} is not in search_space"},
		{"shell.yml", "shell.yml:2: command: \"|\" at character 17: the command runs as an argv, not through a shell"},
	} {
		res := runCLIEnv(t, cliEnv, "", "job", "create", "-f", filepath.Join(dir, tc.file))
		if res.code != 1 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: exit %d: %s", tc.file, res.code, res.stderr)
		}
	}
	// validate reads sweep jobs with the same rules.
	if res := runCLIEnv(t, cliEnv, "", "validate", filepath.Join(dir, "sweep.yml")); res.code != 0 || !strings.Contains(res.stdout, "sweep job, sampling grid") {
		t.Errorf("validate: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
}

// TestJobCreatePreviewForms: a command job written for the az CLI's preview
// (code: {local_path: …}, an input's data: azureml:<name>:<version>) is
// submitted, with a warning naming file:line for each preview form; the
// data reference reaches the script's arguments as written.
func TestJobCreatePreviewForms(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true, NoController: true})
	cliEnv := map[string]string{"TRAINYARD_URL": env.URL, "TRAINYARD_TOKEN": webtest.Token}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yml")
	for p, content := range map[string]string{
		"src/train.py": "print('hi')\n",
		"job.yml": "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\ncode:\n  local_path: src\n" +
			"command: python train.py --data ${{inputs.iris}}\ninputs:\n  iris:\n    data: azureml:iris-csv:1\n    mode: mount\n" +
			"environment: azureml:AzureML-Minimal:1\ncompute: azureml:local\nexperiment_name: preview\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLIEnv(t, cliEnv, "", "job", "create", "-f", job, "-o", "json")
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{
		job + ":3: warning: code.local_path: {local_path: …} is the az CLI preview form of code",
		job + ":7: warning: inputs.iris.data: data: is the az CLI preview form of a data input; Trainyard reads it as path: azureml:iris-csv:1",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	var run struct {
		RunID     string   `json:"runId"`
		Arguments []string `json:"arguments"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &run); err != nil {
		t.Fatalf("%v: %s", err, res.stdout)
	}
	if !reflect.DeepEqual(run.Arguments, []string{"--data", "azureml:iris-csv:1"}) {
		t.Errorf("run %s arguments %q", run.RunID, run.Arguments)
	}
}
