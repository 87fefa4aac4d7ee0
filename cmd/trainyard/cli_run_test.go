package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// newRunsServer starts the real application with the targets the run tests
// submit to: the built-in local target and gpu-cluster (max 4 nodes). The
// controller and dispatcher are off, so submitted runs stay NotStarted and
// seeded runs stay as they were stored.
func newRunsServer(t *testing.T) *server {
	t.Helper()
	srv := newServer(t, webtest.Options{NoController: true, NoDispatcher: true})
	if err := srv.env.Store.CreateTarget(context.Background(), &compute.Target{Name: "gpu-cluster", Kind: compute.KindCluster,
		ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: testTime(),
		Cluster: &compute.ClusterSpec{VMSize: "Standard_NC6", VMPriority: compute.Dedicated, MaxNodes: 4}}, nil); err != nil {
		t.Fatal(err)
	}
	return srv
}

// runs returns the runs of experiment exp on the server, newest first.
func (s *server) runs(t *testing.T, exp string) []*compute.Run {
	t.Helper()
	page, err := s.env.Store.ListRuns(context.Background(), compute.RunFilter{Experiment: exp})
	if err != nil {
		t.Fatal(err)
	}
	return page.Runs
}

// srcFolder writes a source folder for submit tests.
func srcFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range map[string]string{
		"train.py":                 "import sys\nprint(sys.argv)\n",
		"lib/util.py":              "X = 1\n",
		"same.py":                  "X = 1\n", // same content as lib/util.py: one blob
		".amlignore":               "data/\n",
		"data/big.csv":             "1,2,3\n",
		".azureml/local.runconfig": "script: train.py\narguments: [--epochs, 3]\ntarget: local\nframework: python\nenvironment:\n  environmentVariables: {SEED: 7}\n  python:\n    userManagedDependencies: true\n",
		".azureml/bad.runconfig":   "script: train.py\nnodeCount: zero\n",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSubmitScript(t *testing.T) {
	srv := newRunsServer(t)
	dir := srcFolder(t)
	// Options come first; everything after the script goes to it as written.
	args := []string{"run", "submit-script", "-e", "exp", "-c", "local", "-d", dir, "-o", "json", "train.py",
		"--lr", "0.1", "--msg", "$(touch /tmp/pwned); echo hi", "--quote", `it's "x"`, "-c", "notaflag", "-o", "table", "--", ""}
	res := runCLI(t, srv.URL, "", args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	runs := srv.runs(t, "exp")
	if len(runs) != 1 || field(t, []byte(res.stdout), "runId") != runs[0].ID || field(t, []byte(res.stdout), "status") != "NotStarted" {
		t.Fatalf("stdout is not the run JSON of the one run submitted:\n%s", res.stdout)
	}
	var order []string
	srv.mu.Lock()
	for _, r := range srv.requests {
		order = append(order, r.Method+" "+strings.Split(r.Path, "/")[3])
	}
	srv.mu.Unlock()
	// 6 files in the snapshot (data/ is ignored), 5 distinct blobs.
	want := []string{"POST snapshots", "PUT blobs", "PUT blobs", "PUT blobs", "PUT blobs", "PUT blobs", "POST snapshots", "POST runs"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("requests %q\nwant %q", order, want)
	}
	for _, put := range srv.sent("PUT", "/api/v1/blobs/") {
		if put.ContentType != "application/octet-stream" || put.Auth != "Bearer "+webtest.Token {
			t.Errorf("blob upload headers: %+v", put)
		}
	}
	sub := srv.sent("POST", "/api/v1/runs")[0].Body
	wantArgs := []any{"--epochs", "3", "--lr", "0.1", "--msg", "$(touch /tmp/pwned); echo hi", "--quote", `it's "x"`, "-c", "notaflag", "-o", "table", "--", ""}
	for path, want := range map[string]any{
		"experimentName":             "exp",
		"snapshotId":                 runs[0].SnapshotID,
		"script":                     "train.py",
		"arguments":                  wantArgs,
		"target":                     "local",
		"nodeCount":                  1.0,
		"environment":                map[string]any{"environmentVariables": map[string]any{"SEED": "7"}, "python": map[string]any{"userManagedDependencies": true, "condaDependencies": nil}, "docker": map[string]any{"enabled": false, "baseImage": ""}},
		"runConfiguration.framework": "Python",
		"runConfiguration.arguments": []any{"--epochs", "3"},
	} {
		if got := field(t, sub, path); !reflect.DeepEqual(got, want) {
			t.Errorf("run body %s = %#v, want %#v", path, got, want)
		}
	}
	if field(t, sub, "maxRunDurationSeconds") != nil {
		t.Errorf("maxRunDurationSeconds sent without being set: %s", sub)
	}
	snap := srv.sent("POST", "/api/v1/snapshots")[1].Body
	var paths []string
	for _, x := range field(t, snap, "files").([]any) {
		paths = append(paths, x.(map[string]any)["path"].(string))
	}
	if !reflect.DeepEqual(paths, []string{".amlignore", ".azureml/bad.runconfig", ".azureml/local.runconfig", "lib/util.py", "same.py", "train.py"}) {
		t.Errorf("snapshot paths %q", paths)
	}

	if stored, err := srv.env.Store.GetSnapshot(context.Background(), runs[0].SnapshotID); err != nil || len(stored.Files) != 6 {
		t.Errorf("the run's snapshot on the server: %v %+v", err, stored)
	}

	// Resubmit after changing one file: only that file is uploaded.
	srv.reset()
	if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte("print('v2')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, srv.URL, "", "run", "submit-script", "-e", "exp", "-d", dir, "train.py")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	puts := srv.sent("PUT", "/api/v1/blobs/")
	sum := sha256.Sum256([]byte("print('v2')\n"))
	if len(puts) != 1 || puts[0].Path != "/api/v1/blobs/"+hex.EncodeToString(sum[:]) {
		t.Errorf("resubmit uploaded %d blobs: %+v", len(puts), puts)
	}
	if runs = srv.runs(t, "exp"); len(runs) != 2 || !strings.Contains(res.stdout, runs[0].ID+"  exp         NotStarted  local") || !strings.Contains(res.stderr, "uploaded 1 (12 B)") {
		t.Errorf("table output:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	// Without -c: user-managed Python on local, no runConfiguration, no script args.
	sub = srv.sent("POST", "/api/v1/runs")[0].Body
	if field(t, sub, "runConfiguration") != nil || !reflect.DeepEqual(field(t, sub, "arguments"), []any{}) || field(t, sub, "environment.python.userManagedDependencies") != true {
		t.Errorf("submit without a runconfig: %s", sub)
	}
	// Nothing changed: nothing uploaded.
	srv.reset()
	if res := runCLI(t, srv.URL, "", "run", "submit-script", "-e", "exp", "-d", dir, "train.py"); res.code != 0 || len(srv.sent("PUT", "/")) != 0 {
		t.Errorf("unchanged resubmit: exit %d, %d uploads", res.code, len(srv.sent("PUT", "/")))
	}
}

func TestSubmitOverrides(t *testing.T) {
	dir := srcFolder(t)
	rcPath := filepath.Join(t.TempDir(), "gpu.runconfig")
	os.WriteFile(rcPath, []byte("script: lib/util.py\narguments: [a]\ntarget: local\nnodeCount: 4\nmaxRunDurationSeconds: 100\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".azureml", "project.json"), []byte(`{"experimentName":"attached"}`), 0o644)
	tests := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"flags override the runconfig", []string{"-e", "exp", "-c", rcPath, "--target", "gpu-cluster", "--node-count", "2", "--max-run-duration-seconds", "60", "train.py", "b"},
			map[string]any{"target": "gpu-cluster", "nodeCount": 2.0, "maxRunDurationSeconds": 60.0, "script": "train.py", "arguments": []any{"a", "b"},
				"runConfiguration.target": "gpu-cluster", "runConfiguration.nodeCount": 2.0, "runConfiguration.script": "train.py"}},
		{"runconfig values and script", []string{"-e", "exp", "-c", rcPath},
			map[string]any{"target": "local", "nodeCount": 4.0, "maxRunDurationSeconds": 100.0, "script": "lib/util.py", "arguments": []any{"a"}}},
		{"--target without runconfig", []string{"-e", "exp", "--target", "gpu-cluster", "lib/util.py"},
			map[string]any{"target": "gpu-cluster", "nodeCount": 1.0, "script": "lib/util.py"}},
		{"experiment from folder attach", []string{"train.py"}, map[string]any{"experimentName": "attached"}},
		{"-c with the .runconfig suffix", []string{"-e", "exp", "-c", "local.runconfig", "train.py"}, map[string]any{"arguments": []any{"--epochs", "3"}}},
		{"script given by path inside the source dir", []string{"-e", "exp", filepath.Join(dir, "lib", "util.py")}, map[string]any{"script": "lib/util.py"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRunsServer(t)
			res := runCLI(t, srv.URL, "", append([]string{"run", "submit-script", "-d", dir}, tc.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			sub := srv.sent("POST", "/api/v1/runs")[0].Body
			for path, want := range tc.want {
				if got := field(t, sub, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v\n%s", path, got, want, sub)
				}
			}
		})
	}
}

func TestSubmitErrors(t *testing.T) {
	dir := srcFolder(t)
	empty := t.TempDir()
	tests := []struct {
		name      string
		args      []string
		code      int
		stderr    string
		noRequest bool
	}{
		{"no experiment", []string{"-d", empty, "train.py"}, 2, "--experiment-name is required", true},
		{"bad experiment name", []string{"-e", "-bad name", "-d", dir, "train.py"}, 2, `experiment name "-bad name" is not valid`, true},
		{"no script", []string{"-e", "exp", "-d", dir}, 2, "give the script to run", true},
		{"runconfig not found", []string{"-e", "exp", "-d", dir, "-c", "nope", "train.py"}, 1, `run configuration "nope" not found: looked for ` + filepath.Join(dir, ".azureml", "nope.runconfig"), true},
		{"bad runconfig", []string{"-e", "exp", "-d", dir, "-c", "bad", "train.py"}, 1, filepath.Join(dir, ".azureml", "bad.runconfig") + `:2: nodeCount: must be a whole number, not "zero"`, true},
		{"script missing", []string{"-e", "exp", "-d", dir, "nothere.py"}, 1, "script nothere.py is not in the snapshot", true},
		{"script ignored", []string{"-e", "exp", "-d", dir, "data/big.csv"}, 1, "script data/big.csv is not in the snapshot", true},
		{"script outside", []string{"-e", "exp", "-d", dir, "../x.py"}, 1, "is not inside the source directory", true},
		{"no such folder", []string{"-e", "exp", "-d", filepath.Join(dir, "nope"), "train.py"}, 1, "--source-directory: ", true},
		{"node count", []string{"-e", "exp", "-d", dir, "--node-count", "0", "train.py"}, 2, "--node-count must be at least 1", true},
		{"unknown flag before the script", []string{"-e", "exp", "--lr", "0.1", "train.py"}, 2, "flag provided but not defined: -lr", true},
		{"unknown target", []string{"-e", "exp", "-d", dir, "--target", "nope", "train.py"}, 1, "trainyard: NotFound: target: Compute target 'nope' was not found.", false},
	}
	// No case submits a run: they share one server.
	srv := newRunsServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.reset()
			res := runCLI(t, srv.URL, "", append([]string{"run", "submit-script"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", res.code, res.stderr, tc.code, tc.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout: %s", res.stdout)
			}
			if tc.noRequest && srv.count() != 0 {
				t.Errorf("%d requests sent", srv.count())
			}
		})
	}
}

// seedRuns stores three runs as the dispatcher would have left them: a
// Completed one with metrics, params, git and snapshot, a Failed child, and
// a Queued one waiting for nodes.
func seedRuns(t *testing.T, srv *server) {
	t.Helper()
	ctx := context.Background()
	at := func(hms string) time.Time {
		tm, err := time.Parse(time.RFC3339, "2026-11-27T"+hms+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	st := srv.env.Store
	for _, r := range []*compute.Run{
		{ID: "exp_1_00000001", ExperimentName: "exp", Status: compute.RunCompleted, Target: "local",
			CreatedAt: at("10:00:00"), StartedAt: at("10:00:01"), EndedAt: at("10:01:03"),
			Script: "train.py", Arguments: []string{"--lr", "0.1", "--msg", "hello world"}, NodeCount: 1, SubmittedBy: "alice", SubmittedByID: "tid/alice",
			Git: &compute.GitInfo{Repository: "https://example.com/r.git", Branch: "main", Commit: "abc123", Dirty: true}, SnapshotID: "snap-9"},
		{ID: "exp_1_00000002", ExperimentName: "exp", Status: compute.RunFailed, Target: "gpu-cluster",
			CreatedAt: at("11:00:00"), StartedAt: at("11:00:00"), EndedAt: at("11:00:05"), Error: "exit code 3", ParentID: "hd_1_00000000"},
		{ID: "other_1_00000003", ExperimentName: "other", Status: compute.RunQueued, StatusReason: "waiting for a node: 4/4 busy",
			Target: "gpu-cluster", CreatedAt: at("12:00:00")},
	} {
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.LogBatch(ctx, "exp_1_00000001", []compute.Metric{{Key: "accuracy", Value: 0.93, Time: at("10:01:00")}, {Key: "loss", Value: 0.2, Time: at("10:01:00")}},
		[]compute.KeyValue{{Key: "lr", Value: "0.01"}}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRunListShowCancel(t *testing.T) {
	srv := newRunsServer(t)
	seedRuns(t, srv)
	tests := []struct {
		name  string
		args  []string
		code  int
		want  string
		query string
	}{
		{"list", []string{"run", "list"}, 0, "" +
			"RUN ID            EXPERIMENT  STATUS     TARGET       CREATED                   DURATION\n" +
			"other_1_00000003  other       Queued     gpu-cluster  2026-11-27T12:00:00.000Z  -\n" +
			"exp_1_00000002    exp         Failed     gpu-cluster  2026-11-27T11:00:00.000Z  5s\n" +
			"exp_1_00000001    exp         Completed  local        2026-11-27T10:00:00.000Z  1m2s\n", ""},
		{"list filters", []string{"run", "list", "-e", "exp", "--parent", "hd_1_00000000", "--status", "Failed", "--target", "gpu-cluster"}, 0, "exp_1_00000002", "experiment=exp&parent=hd_1_00000000&status=Failed&target=gpu-cluster"},
		{"list --last", []string{"run", "list", "--last", "1"}, 0, "other_1_00000003", "%24top=1"},
		{"show", []string{"run", "show", "-r", "exp_1_00000001"}, 0, "" +
			"Run ID:        exp_1_00000001\n" +
			"Experiment:    exp\n" +
			"Status:        Completed\n" +
			"Target:        local\n" +
			"Script:        train.py --lr 0.1 --msg 'hello world'\n" +
			"Submitted by:  alice\n" +
			"Created:       2026-11-27T10:00:00.000Z\n" +
			"Started:       2026-11-27T10:00:01.000Z\n" +
			"Ended:         2026-11-27T10:01:03.000Z\n" +
			"Duration:      1m2s\n" +
			"Snapshot:      snap-9\n" +
			"Git:           https://example.com/r.git main @ abc123 (dirty)\n" +
			"Metrics:\n" +
			"  accuracy  0.93\n" +
			"  loss      0.2\n" +
			"Params:\n" +
			"  lr  0.01\n", ""},
		{"show queued with reason", []string{"run", "show", "--run-id", "other_1_00000003"}, 0, "Status:      Queued (waiting for a node: 4/4 busy)\n", ""},
		{"show failed", []string{"run", "show", "-r", "exp_1_00000002"}, 0, "Parent run:  hd_1_00000000\n", ""},
		{"show wrong experiment", []string{"run", "show", "-r", "exp_1_00000002", "-e", "other"}, 1, "", ""},
		{"show missing", []string{"run", "show", "-r", "nope"}, 1, "", ""},
		{"cancel", []string{"run", "cancel", "-r", "other_1_00000003"}, 0, "Cancel requested for other_1_00000003 (status CancelRequested).\n", ""},
		{"cancel finished", []string{"run", "cancel", "-r", "exp_1_00000001"}, 1, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.reset()
			res := runCLI(t, srv.URL, "", tc.args...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.code, res.stdout, res.stderr)
			}
			if tc.code == 0 && !strings.Contains(res.stdout, tc.want) {
				t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, tc.want)
			}
			if tc.query != "" && srv.sent("GET", "/api/v1/runs")[0].Query != tc.query {
				t.Errorf("query %q, want %q", srv.sent("GET", "/api/v1/runs")[0].Query, tc.query)
			}
		})
	}
	if res := runCLI(t, srv.URL, "", "run", "cancel", "-r", "exp_1_00000001"); !strings.Contains(res.stderr, "trainyard: RunAlreadyEnded: status: Run 'exp_1_00000001' has already ended (Completed); there is nothing to cancel.") {
		t.Errorf("409: %s", res.stderr)
	}
	if res := runCLI(t, srv.URL, "", "run", "show", "-r", "exp_1_00000002", "-e", "other"); !strings.Contains(res.stderr, `belongs to experiment "exp", not "other"`) {
		t.Errorf("experiment check: %s", res.stderr)
	}

	t.Run("show json is the server's run", func(t *testing.T) {
		res := runCLI(t, srv.URL, "", "run", "show", "-r", "exp_1_00000001", "-o", "json")
		for path, want := range map[string]any{"runId": "exp_1_00000001", "status": "Completed", "target": "local", "experimentName": "exp",
			"startTimeUtc": "2026-11-27T10:00:01.000Z", "endTimeUtc": "2026-11-27T10:01:03.000Z", "metrics.accuracy": 0.93} {
			if got := field(t, []byte(res.stdout), path); !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v, want %#v", path, got, want)
			}
		}
		if !strings.Contains(res.stdout, `"accuracy": 0.93`) {
			t.Errorf("not indented raw JSON:\n%s", res.stdout)
		}
	})
	t.Run("list json follows nextLink", func(t *testing.T) {
		// The server answers 100 runs a page: 100 older runs under the
		// three make a second page.
		srv := newRunsServer(t)
		var old []*compute.Run
		for i := range 100 {
			old = append(old, &compute.Run{ID: fmt.Sprintf("old_1_%08d", i), ExperimentName: "old", Status: compute.RunCompleted, Target: "local",
				CreatedAt: time.Date(2026, 11, 26, 0, i, 0, 0, time.UTC)})
		}
		if err := srv.env.Store.CreateRuns(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		seedRuns(t, srv)
		res := runCLI(t, srv.URL, "", "run", "list", "-o", "json")
		var body struct{ Value []runInfo }
		if err := json.Unmarshal([]byte(res.stdout), &body); err != nil || len(body.Value) != 103 || body.Value[2].RunID != "exp_1_00000001" ||
			body.Value[102].RunID != "old_1_00000000" {
			t.Errorf("%v %.300s", err, res.stdout)
		}
		if n := len(srv.sent("GET", "/api/v1/runs")); n != 2 {
			t.Errorf("%d pages fetched", n)
		}
	})
}

// monitorTrainSh writes its log in three parts, each after the test opens
// a gate (a file gate-N in its working folder, the only folder a run
// sees), so the test decides when the log grows while the CLI follows it.
// The second part ends mid-line.
const monitorTrainSh = `gate() { while [ ! -e "gate-$1" ]; do sleep 0.02; done; }
printf 'epoch 0 accuracy 0.81\n'
gate 1
printf 'epoch 1 accuracy 0.88\nepoch 2 acc'
gate 2
printf 'uracy 0.93\ndone training\n'
`

// TestMonitorLogs follows the log of a real run on the local target as it
// grows, and of one that fails. The scripts are shell scripts (the
// runconfig's interpreter is /bin/sh), so no Python is needed.
func TestMonitorLogs(t *testing.T) {
	srv := newServer(t, webtest.Options{})
	dir := t.TempDir()
	for p, content := range map[string]string{
		"train.sh":              monitorTrainSh,
		"fail.sh":               "printf 'Traceback (most recent call last):\\nValueError\\n'\nexit 3\n",
		".azureml/sh.runconfig": "framework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n    interpreterPath: /bin/sh\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	submit := func(args ...string) string {
		t.Helper()
		res := runCLI(t, srv.URL, "", append([]string{"run", "submit-script", "-e", "exp", "-d", dir, "-c", "sh", "-o", "json"}, args...)...)
		id, _ := field(t, []byte(res.stdout), "runId").(string)
		if res.code != 0 || id == "" {
			t.Fatalf("submit: exit %d: %s%s", res.code, res.stdout, res.stderr)
		}
		return id
	}
	id := submit("train.sh")
	// The run sees only its own folder: the test opens its gates there.
	gates := filepath.Join(srv.env.DataDir, "runs", id, "work")
	logsPath := "/api/v1/runs/" + id + "/logs"
	// answered reports whether the server has answered a log read at offset.
	answered := func(offset string) bool {
		for _, r := range srv.sent("GET", logsPath) {
			if r.Query == "offset="+offset {
				return true
			}
		}
		return false
	}
	done := make(chan cliResult, 1)
	go func() { done <- runCLI(t, srv.URL, "", "run", "monitor-logs", "-r", id) }()
	// Once the CLI has the first line and found nothing new after it, the
	// log grows by a line and a half; once it has read that, by the rest.
	webtest.WaitFor(t, 30*time.Second, "a read at offset 22", func() bool { return answered("22") })
	os.WriteFile(filepath.Join(gates, "gate-1"), nil, 0o644)
	webtest.WaitFor(t, 30*time.Second, "a read at offset 55", func() bool { return answered("55") })
	os.WriteFile(filepath.Join(gates, "gate-2"), nil, 0o644)
	res := <-done
	if res.code != 0 || res.stdout != "epoch 0 accuracy 0.81\nepoch 1 accuracy 0.88\nepoch 2 accuracy 0.93\ndone training\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "Run "+id+" Completed.") {
		t.Errorf("stderr %q", res.stderr)
	}
	// Every read starts where the last one ended; the CLI asked again
	// while nothing was new, and read on to the end.
	var offsets []string
	next := "0"
	waited := 0
	for _, r := range srv.sent("GET", logsPath) {
		if r.Query != "offset="+next {
			t.Errorf("read %q after the server said the next one starts at %s", r.Query, next)
		}
		if n := len(offsets); n > 0 && offsets[n-1] == r.Query {
			waited++
		} else {
			offsets = append(offsets, r.Query)
		}
		next = r.Header.Get("X-Log-Offset")
	}
	if !reflect.DeepEqual(offsets, []string{"offset=0", "offset=22", "offset=55", "offset=80"}) || waited == 0 {
		t.Errorf("offsets %q, %d repeated reads", offsets, waited)
	}

	failed := submit("fail.sh")
	res = runCLI(t, srv.URL, "", "run", "monitor-logs", "-r", failed)
	if res.code != 1 || !strings.Contains(res.stdout, "ValueError") || !strings.Contains(res.stderr, "trainyard: run "+failed+" Failed: exit code 3") {
		t.Errorf("failed run: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, srv.URL, "", "run", "monitor-logs", "-r", "nope"); res.code != 1 || !strings.Contains(res.stderr, "NotFound") {
		t.Errorf("unknown run: %d %s", res.code, res.stderr)
	}
}

func TestFolderAttach(t *testing.T) {
	srv := newRunsServer(t)
	dir := t.TempDir()
	res := runCLI(t, srv.URL, "", "folder", "attach", "--path", dir)
	want := "Wrote .azureml/gpu-cluster.runconfig\nWrote .azureml/local.runconfig\nSubmit a run with: trainyard run submit-script -e <experiment> -c local train.py\n"
	if res.code != 0 || res.stdout != want {
		t.Fatalf("exit %d\n%s\nwant\n%s\n%s", res.code, res.stdout, want, res.stderr)
	}
	for _, name := range []string{"gpu-cluster", "local"} {
		p := filepath.Join(dir, ".azureml", name+".runconfig")
		v := runCLI(t, "", "", "validate", p)
		if v.code != 0 || !strings.Contains(v.stdout, "target "+name) {
			t.Errorf("the %s template is not valid: %s%s", name, v.stdout, v.stderr)
		}
	}
	// Existing files are kept, unless --force.
	local := filepath.Join(dir, ".azureml", "local.runconfig")
	os.WriteFile(local, []byte("script: mine.py\n"), 0o644)
	res = runCLI(t, srv.URL, "", "folder", "attach", "-p", dir, "-e", "exp1")
	if res.code != 0 || !strings.Contains(res.stdout, "Kept .azureml/local.runconfig (it exists; --force overwrites it)") || !strings.Contains(res.stdout, "Wrote .azureml/project.json") {
		t.Errorf("second attach:\n%s%s", res.stdout, res.stderr)
	}
	if data, _ := os.ReadFile(local); string(data) != "script: mine.py\n" {
		t.Errorf("overwrote without --force")
	}
	if got := attachedExperiment(dir); got != "exp1" || len(srv.sent("POST", "/api/v1/experiments")) != 1 {
		t.Errorf("attached experiment %q", got)
	}
	res = runCLI(t, srv.URL, "", "folder", "attach", "-p", dir, "-e", "exp2", "--force")
	if data, _ := os.ReadFile(local); res.code != 0 || !strings.Contains(string(data), "target: local") || attachedExperiment(dir) != "exp2" {
		t.Errorf("--force: %s", res.stderr)
	}
	if res := runCLI(t, srv.URL, "", "folder", "attach", "-p", filepath.Join(dir, "nope")); res.code != 1 {
		t.Errorf("missing folder: %d", res.code)
	}
}

func TestExperiments(t *testing.T) {
	srv := newRunsServer(t)
	res := runCLI(t, srv.URL, "", "experiment", "create", "-n", "exp")
	exp, err := srv.env.Store.GetExperimentByName(context.Background(), "exp")
	if err != nil {
		t.Fatalf("the server has no experiment exp: %v (exit %d %s)", err, res.code, res.stderr)
	}
	// The server's time format: RFC 3339, UTC, milliseconds.
	created := exp.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	if res.code != 0 || res.stdout != "NAME  RUNS  LAST RUN  CREATED\nexp   0     -         "+created+"\n" {
		t.Errorf("create: %d %q %s", res.code, res.stdout, res.stderr)
	}
	if got := field(t, srv.sent("POST", "/api/v1/experiments")[0].Body, "name"); got != "exp" {
		t.Errorf("body name %v", got)
	}
	res = runCLI(t, srv.URL, "", "experiment", "create", "-n", "exp", "-o", "json")
	if field(t, []byte(res.stdout), "id") != strconv.FormatInt(exp.ID, 10) {
		t.Errorf("create json: %s", res.stdout)
	}
	runCLI(t, srv.URL, "", "experiment", "create", "--name", "b.2")
	// The list is newest first and ends with MLflow's Default experiment.
	b2, err := srv.env.Store.GetExperimentByName(context.Background(), "b.2")
	if err != nil {
		t.Fatal(err)
	}
	def, err := srv.env.Store.GetExperimentByName(context.Background(), "Default")
	if err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, srv.URL, "", "experiment", "list")
	want := "NAME     RUNS  LAST RUN  CREATED\n" +
		"b.2      0     -         " + b2.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z") + "\n" +
		"exp      0     -         " + created + "\n" +
		"Default  0     -         " + def.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z") + "\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("list:\n%s\nwant:\n%s", res.stdout, want)
	}
	res = runCLI(t, srv.URL, "", "experiment", "list", "-o", "json")
	if field(t, []byte(res.stdout), "value.0.name") != "b.2" || field(t, []byte(res.stdout), "value.1.name") != "exp" || field(t, []byte(res.stdout), "value.1.runCount") != 0.0 {
		t.Errorf("list json: %s", res.stdout)
	}
	if res := runCLI(t, srv.URL, "", "experiment", "create", "-n", "bad name"); res.code != 2 {
		t.Errorf("bad name: %d", res.code)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "local.runconfig")
	os.WriteFile(good, []byte("script: train.py\ntarget: local\nframework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n"), 0o644)
	broken := filepath.Join(dir, "broken.runconfig")
	os.WriteFile(broken, []byte("script: train.py\ntarget: [unclosed\n"), 0o644)
	job := filepath.Join(dir, "job.yml")
	os.WriteFile(job, []byte("type: command\ncommand: python train.py --lr ${{inputs.lr}}\ninputs:\n  lr: 0.1\nenvironment: azureml:sklearn:1\ncompute: azureml:gpu-cluster\n"), 0o644)
	hd := filepath.Join(dir, "hdconfig.yml")
	os.WriteFile(hd, []byte("sampling:\n  type: random\n  parameter_space:\n  - {name: --lr, expression: uniform, values: [0.01, 0.1]}\nprimary_metric_name: Accuracy\nprimary_metric_goal: Maximize\nmax_total_runs: 8\n"), 0o644)
	sweep := filepath.Join(dir, "sweep.yml")
	os.WriteFile(sweep, []byte("$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json\ntype: sweep\n"), 0o644)

	res := runCLIEnv(t, map[string]string{}, "", "validate", good, job, hd)
	want := "OK " + good + ": runconfig, script train.py, target local, framework Python, user-managed Python (the target's python3)\n" +
		"OK " + job + `: command job, command "python train.py --lr ${{inputs.lr}}", compute gpu-cluster, environment azureml:sklearn:1, 1 input` + "\n" +
		"OK " + hd + ": hdconfig, random sampling of 1 parameter (--lr uniform), no early termination, maximize Accuracy, 8 runs\n"
	if res.code != 0 || res.stdout != want || res.stderr != "" {
		t.Errorf("exit %d\n%s\nwant\n%s\nstderr %s", res.code, res.stdout, want, res.stderr)
	}
	res = runCLIEnv(t, map[string]string{}, "", "validate", good, broken, sweep)
	if res.code != 1 || !strings.Contains(res.stderr, broken+":2: sequence end token ']' not found\n") ||
		!strings.Contains(res.stderr, sweep+":1: trial: required: the command each trial runs") ||
		!strings.HasSuffix(res.stderr, "trainyard: 2 of 3 files are not valid\n") || !strings.HasPrefix(res.stdout, "OK ") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	res = runCLIEnv(t, map[string]string{}, "", "validate", "-o", "json", good, broken)
	if res.code != 1 || field(t, []byte(res.stdout), "0.valid") != true || field(t, []byte(res.stdout), "1.error.line") != 2.0 {
		t.Errorf("json: %d %s", res.code, res.stdout)
	}
	// A file written for the az CLI's preview is valid, with a warning at
	// each preview form saying what Trainyard does with it.
	preview := filepath.Join("..", "..", "compute", "runconfig", "testdata", "preview-job.yml")
	res = runCLIEnv(t, map[string]string{}, "", "validate", preview)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "OK "+preview+": command job") ||
		!strings.Contains(res.stderr, preview+":6: warning: code.local_path: {local_path: …} is the az CLI preview form of code; Trainyard uploads the folder \"src\"") ||
		!strings.Contains(res.stderr, preview+":10: warning: inputs.iris.data: data: is the az CLI preview form of a data input; Trainyard reads it as path: azureml:iris-csv:1") {
		t.Errorf("preview file: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	if res := runCLIEnv(t, map[string]string{}, "", "validate"); res.code != 2 {
		t.Errorf("no files: %d", res.code)
	}
	if res := runCLIEnv(t, map[string]string{}, "", "validate", filepath.Join(dir, "nope")); res.code != 1 || !strings.Contains(res.stderr, "no such file") {
		t.Errorf("missing file: %d %s", res.code, res.stderr)
	}
}

func TestRunHelp(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--help"}, "Usage: trainyard run <command>"},
		{[]string{"help", "run"}, "submit-script"},
		{[]string{"run", "submit-script", "--help"}, "-c, --run-configuration-name RUNCONFIG"},
		{[]string{"run", "submit-script", "-e", "x", "-h"}, "Options come before the script."},
		{[]string{"run", "list", "--help"}, "--parent RUN_ID"},
		{[]string{"run", "show", "--help"}, "-r, --run RUN_ID"},
		{[]string{"run", "cancel", "--help"}, "CancelRequested"},
		{[]string{"run", "monitor-logs", "--help"}, "Exits 0 when the run Completed"},
		{[]string{"experiment", "--help"}, "Usage: trainyard experiment <command>"},
		{[]string{"experiment", "create", "--help"}, "-n, --name NAME"},
		{[]string{"experiment", "list", "--help"}, "run counts"},
		{[]string{"folder", "--help"}, "Usage: trainyard folder <command>"},
		{[]string{"folder", "attach", "--help"}, "-f, --force"},
		{[]string{"validate", "--help"}, "Exits 0 only when every file is valid."},
		{[]string{"help"}, "trainyard run <command>"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runCLIEnv(t, map[string]string{}, "", tc.args...)
			if res.code != 0 || !strings.Contains(res.stdout, tc.want) || res.stderr != "" {
				t.Errorf("exit %d, stdout lacks %q:\n%s\nstderr: %s", res.code, tc.want, res.stdout, res.stderr)
			}
		})
	}
	for _, args := range [][]string{{"run"}, {"run", "explode"}, {"experiment"}, {"experiment", "drop"}, {"folder"}, {"folder", "detach"}} {
		if res := runCLIEnv(t, map[string]string{}, "", args...); res.code != 2 {
			t.Errorf("%v: exit %d", args, res.code)
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"train.py": "train.py", "--lr=0.1": "--lr=0.1", "hello world": "'hello world'", "it's": `'it'\''s'`, "": "''", "$(x)": "'$(x)'"} {
		if got := quoteArg(in); got != want {
			t.Errorf("quoteArg(%q) = %s, want %s", in, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KB", 5 << 20: "5.0 MB", 3 << 30: "3.0 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %s, want %s", n, got, want)
		}
	}
	var errb bytes.Buffer
	c := &cli{stderr: &errb}
	var sent, done atomic.Int64
	stop := c.showProgress(&sent, &done, 10<<20, 3)
	sent.Store(5 << 20)
	done.Store(1)
	stop()
	if !strings.HasSuffix(errb.String(), "\rUploading 1/3 files, 5.0 MB of 10.0 MB (50%)   \n") {
		t.Errorf("progress %q", errb.String())
	}
	if checkExperimentName("a.b-c_1") != "" || checkExperimentName("_a") == "" || checkExperimentName(strings.Repeat("a", 256)) == "" {
		t.Error("experiment name rule")
	}
}
