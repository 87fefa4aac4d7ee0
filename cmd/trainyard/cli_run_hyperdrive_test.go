package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// hdTrainPy logs loss = (x - 0.5)² + 1 three times through the tracking API.
const hdTrainPy = `import json, os, sys, time, urllib.request
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
x = float(a.get("--x", 0))
for step in range(3):
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "loss", "value": (x - 0.5) ** 2 + 1 + (2 - step) * 0.1,
            "timestamp": int(time.time() * 1000), "step": step}
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    urllib.request.urlopen(req, timeout=10).read()
`

// TestSubmitHyperdriveEndToEnd runs the verb against a real server with
// the local backend: the parent's JSON, the children's metrics and
// hyperparameters, and the best child, through the CLI.
func TestSubmitHyperdriveEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	cliEnv := map[string]string{"TRAINYARD_URL": env.URL, "TRAINYARD_TOKEN": webtest.Token}
	dir := t.TempDir()
	for p, content := range map[string]string{
		"train.py":                 hdTrainPy,
		".azureml/local.runconfig": "script: train.py\ntarget: local\nframework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n",
		".azureml/hd.yml": "sampling:\n  type: grid\n  parameter_space:\n  - name: --x\n    expression: choice\n    values: [0, 0.5, 2]\n" +
			"primary_metric_name: loss\nprimary_metric_goal: Minimize\nmax_total_runs: 5\nmax_concurrent_runs: 2\n",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLIEnv(t, cliEnv, "", "run", "submit-hyperdrive", "-e", "hd-cli", "-c", "local", "--hyperdrive-configuration-name", "hd",
		"-d", dir, "-o", "json", "train.py")
	if res.code != 0 {
		t.Fatalf("exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	id, _ := field(t, []byte(res.stdout), "runId").(string)
	if id == "" || field(t, []byte(res.stdout), "status") != "Running" || field(t, []byte(res.stdout), "runType") != "hyperdrive" {
		t.Fatalf("parent JSON:\n%s", res.stdout)
	}
	var show string
	webtest.WaitFor(t, 60*time.Second, "the sweep to complete", func() bool {
		show = runCLIEnv(t, cliEnv, "", "run", "show", "-r", id, "-o", "json").stdout
		return strings.Contains(show, `"status": "Completed"`)
	})
	list := runCLIEnv(t, cliEnv, "", "run", "list", "--parent", id, "-o", "json")
	var kids struct {
		Value []struct {
			RunID           string             `json:"runId"`
			Status          string             `json:"status"`
			Metrics         map[string]float64 `json:"metrics"`
			Hyperparameters map[string]string  `json:"hyperparameters"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &kids); err != nil {
		t.Fatalf("%v: %s", err, list.stdout)
	}
	if len(kids.Value) != 3 { // the grid's 3 points, under max_total_runs 5
		t.Fatalf("%d children: %s", len(kids.Value), list.stdout)
	}
	best := ""
	for _, k := range kids.Value {
		if k.Status != "Completed" || k.Metrics["loss"] == 0 {
			t.Fatalf("child %+v", k)
		}
		if k.Hyperparameters["--x"] == "0.5" {
			best = k.RunID
		}
	}
	if got := field(t, []byte(show), "bestChildRunId"); got != best || best == "" {
		t.Fatalf("bestChildRunId %v, want %s", got, best)
	}

	// A path works too; a missing name says where it looked.
	if res := runCLIEnv(t, cliEnv, "", "run", "submit-hyperdrive", "-e", "hd-cli", "-c", "local", "--hyperdrive-configuration-name",
		filepath.Join(dir, ".azureml", "hd.yml"), "-d", dir, "train.py"); res.code != 0 {
		t.Fatalf("path form: exit %d: %s", res.code, res.stderr)
	}
	if res := runCLIEnv(t, cliEnv, "", "run", "submit-hyperdrive", "-e", "hd-cli", "-c", "local", "--hyperdrive-configuration-name", "nope",
		"-d", dir, "train.py"); res.code == 0 || !strings.Contains(res.stderr, "nope.yml") {
		t.Fatalf("missing hdconfig: exit %d: %s", res.code, res.stderr)
	}
}
