package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestRunTrainScript runs the acceptance check's training script for real:
// a snapshot uploaded like the CLI does, the local backend, Debian's
// python3 posting to the tracking API over HTTP with its run token.
func TestRunTrainScript(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"train.py": trainPy, "data/readme.txt": "x"})
	run := submit(t, env, "acceptance", snap, "train.py", []string{"--lr", "0.1"}, map[string]any{"tags": map[string]string{"team": "vision"}})
	// The answer is the run as submitted, whatever the dispatcher has done
	// with it since: one NotStarted event, and the tags given.
	if run.Status != "NotStarted" || len(run.StatusHistory) != 1 || run.StatusHistory[0].Status != "NotStarted" || run.Tags["team"] != "vision" {
		t.Fatalf("submit answered status %q, history %+v, tags %v; want the run as submitted", run.Status, run.StatusHistory, run.Tags)
	}
	if !strings.HasPrefix(run.RunID, "acceptance_") || len(strings.Split(run.RunID, "_")) != 3 {
		t.Fatalf("run ID %q is not <experiment>_<unix>_<hex>", run.RunID)
	}
	log := readLog(t, env, run.RunID)
	got := getRun(t, env, run.RunID)
	if got.Status != "Completed" {
		t.Fatalf("run ended %s (%s); log:\n%s", got.Status, got.Error, log)
	}
	if !strings.Contains(log, "epoch 2 accuracy 0.93") || !strings.Contains(log, "done training") {
		t.Fatalf("log lacks the script's output:\n%s", log)
	}
	if a := got.Metrics["accuracy"]; a == nil || *a != 0.93 {
		t.Fatalf("latest accuracy %v, want 0.93 (metrics %v)", a, got.Metrics)
	}
	if l := got.Metrics["loss"]; l == nil || *l != 0.2 {
		t.Fatalf("log-batch metric loss missing: %v", got.Metrics)
	}
	if got.Params["lr"] != "0.01" {
		t.Fatalf("params %v", got.Params)
	}
	if got.StartTimeUtc == "" || got.EndTimeUtc == "" || got.Error != "" || got.Attempt != 1 {
		t.Fatalf("times/error/attempt: %+v", got)
	}
	var seen []string
	for _, ev := range got.StatusHistory {
		seen = append(seen, ev.Status)
	}
	want := []string{"NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", "Completed"}
	if !slices.Equal(seen, want) {
		t.Fatalf("status history %v, want %v", seen, want)
	}

	// The metric history, through both APIs.
	var hist struct {
		Metrics []struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
			Step  int64   `json:"step"`
		} `json:"metrics"`
	}
	apiJSON(t, env, "GET", "/api/2.0/mlflow/metrics/get-history?run_id="+run.RunID+"&metric_key=accuracy", nil, 200, &hist)
	if len(hist.Metrics) != 3 || hist.Metrics[0].Value != 0.81 || hist.Metrics[2].Step != 2 {
		t.Fatalf("mlflow history %+v", hist)
	}
	var points struct {
		Value []struct {
			Step  int64   `json:"step"`
			Value float64 `json:"value"`
		} `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs/"+run.RunID+"/metrics/accuracy", nil, 200, &points)
	if len(points.Value) != 3 || points.Value[1].Value != 0.88 {
		t.Fatalf("api history %+v", points)
	}

	// Outputs: the script's file and the collected log.
	var outs struct {
		Value []struct {
			Path string `json:"path"`
			Size int64  `json:"size"`
		} `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs", nil, 200, &outs)
	var paths []string
	for _, o := range outs.Value {
		paths = append(paths, o.Path)
	}
	if !slices.Contains(paths, "outputs/argv.json") || !slices.Contains(paths, "user_logs/std_log.txt") {
		t.Fatalf("outputs %v", paths)
	}
	status, b, h := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs/outputs/argv.json", "", nil)
	if status != 200 || string(b) != `["--lr", "0.1"]` || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("argv.json: %d %q %s", status, b, h.Get("Content-Type"))
	}
	for _, bad := range []string{"outputs/../work/train.py", "work/train.py", "outputs", "../../trainyard.db"} {
		if status, _, _ := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs/"+bad, "", nil); status != 404 {
			t.Errorf("output %q: status %d, want 404", bad, status)
		}
	}
	// The working folder is gone once collected; the snapshot keeps the source.
	if _, err := os.Stat(env.Store.RunWorkDir(run.RunID)); !os.IsNotExist(err) {
		t.Errorf("work dir left behind: %v", err)
	}

	// The run's token ended with the run.
	var list struct {
		Value    []runJSON `json:"value"`
		NextLink string    `json:"nextLink"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs?experiment=acceptance", nil, 200, &list)
	if len(list.Value) != 1 || list.Value[0].RunID != run.RunID || list.Value[0].Metrics["accuracy"] == nil {
		t.Fatalf("list %+v", list)
	}
	var exps struct {
		Value []struct {
			Name     string `json:"name"`
			ID       string `json:"id"`
			RunCount int    `json:"runCount"`
		} `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/experiments", nil, 200, &exps)
	if exps.Value[0].Name != "acceptance" || exps.Value[0].RunCount != 1 {
		t.Fatalf("experiments %+v", exps)
	}
}

// TestRunArgumentsReachScriptLiterally sends shell metacharacters, quotes and
// a newline as arguments: the script must see them unchanged, and nothing
// may be executed by a shell.
func TestRunArgumentsReachScriptLiterally(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	marker := filepath.Join(t.TempDir(), "pwned")
	args := []string{"--msg", "$(touch " + marker + ")", "; rm -rf / ;", "`touch " + marker + "`", "it's \"x\"", "line1\nline2", "&& echo hi > " + marker, "*", "-c", ""}
	script := `import json, sys, os
os.makedirs("outputs", exist_ok=True)
json.dump(sys.argv[1:], open("outputs/argv.json", "w"))
`
	snap := uploadFolder(t, env, map[string]string{"echo.py": script})
	run := submit(t, env, "args", snap, "echo.py", args, nil)
	got := waitStatus(t, env, run.RunID, 30*time.Second, "to end", terminal)
	if got.Status != "Completed" {
		t.Fatalf("run %s: %s", got.Status, got.Error)
	}
	_, b, _ := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs/outputs/argv.json", "", nil)
	var seen []string
	if err := json.Unmarshal(b, &seen); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if !slices.Equal(seen, args) {
		t.Fatalf("the script saw %q, want %q", seen, args)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an argument was executed by a shell")
	}
	if !slices.Equal(got.Arguments, args) {
		t.Fatalf("run shows arguments %q", got.Arguments)
	}
}

// TestRunFailsWithReason: a script that exits 3 fails with the exit code as
// the error; a max duration ends a sleeping script as Failed.
func TestRunFailsWithReason(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{
		"fail.py":  "import sys\nprint('about to fail', flush=True)\nsys.exit(3)\n",
		"sleep.py": "import time\ntime.sleep(30)\n",
	})
	run := submit(t, env, "fails", snap, "fail.py", nil, nil)
	got := waitStatus(t, env, run.RunID, 30*time.Second, "to end", terminal)
	if got.Status != "Failed" || got.Error != "exit code 3" {
		t.Fatalf("run %s error %q, want Failed / exit code 3", got.Status, got.Error)
	}
	if log := readLog(t, env, run.RunID); !strings.Contains(log, "about to fail") {
		t.Fatalf("log %q", log)
	}
	run = submit(t, env, "fails", snap, "sleep.py", nil, map[string]any{"maxRunDurationSeconds": 1})
	got = waitStatus(t, env, run.RunID, 30*time.Second, "to end", terminal)
	if got.Status != "Failed" || !strings.Contains(got.Error, "maximum run duration") {
		t.Fatalf("run %s error %q, want Failed for the max duration", got.Status, got.Error)
	}
}

// TestRunCancel cancels a running script: the whole process group goes and
// the run ends Canceled; cancelling again is a 409; a reader cannot cancel.
func TestRunCancel(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"sleep.py": "import subprocess, time\nsubprocess.Popen(['sleep', '61.25'])\nprint('started', flush=True)\ntime.sleep(60)\n"})
	run := submit(t, env, "cancel", snap, "sleep.py", nil, nil)
	webtest.WaitFor(t, 30*time.Second, "the script to start its child", func() bool {
		_, b, _ := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/logs", "", nil)
		return strings.Contains(string(b), "started") && len(processesWith("sleep\x0061.25")) > 0
	})
	var canceled runJSON
	apiJSON(t, env, "POST", "/api/v1/runs/"+run.RunID+"/cancel", nil, 202, &canceled)
	if canceled.Status != "CancelRequested" && canceled.Status != "Canceled" {
		t.Fatalf("cancel answered %s", canceled.Status)
	}
	got := waitStatus(t, env, run.RunID, 20*time.Second, "Canceled", terminal)
	if got.Status != "Canceled" {
		t.Fatalf("run %s (%s)", got.Status, got.Error)
	}
	if pids := processesWith("sleep\x0061.25"); len(pids) > 0 {
		t.Fatalf("the script's child survived the cancel: pids %v", pids)
	}
	apiJSON(t, env, "POST", "/api/v1/runs/"+run.RunID+"/cancel", nil, http.StatusConflict, nil)

	// Cancel right after the submit, wherever the run is by then.
	run2 := submit(t, env, "cancel", snap, "sleep.py", nil, nil)
	apiJSON(t, env, "POST", "/api/v1/runs/"+run2.RunID+"/cancel", nil, 202, nil)
	got = waitStatus(t, env, run2.RunID, 20*time.Second, "Canceled", terminal)
	if got.Status != "Canceled" {
		t.Fatalf("early cancel: %s", got.Status)
	}
}

// TestSubmitValidation: each bad request gets its clear error and creates
// nothing.
func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	snap := uploadFolder(t, env, map[string]string{"train.py": "print(1)\n"})
	base := func() map[string]any {
		return map[string]any{"experimentName": "exp", "snapshotId": snap, "script": "train.py", "target": "local"}
	}
	cases := []struct {
		name   string
		edit   func(m map[string]any)
		status int
		target string
	}{
		{"unknown target", func(m map[string]any) { m["target"] = "nope" }, 404, "target"},
		{"script not in snapshot", func(m map[string]any) { m["script"] = "other.py" }, 422, "script"},
		{"script escapes", func(m map[string]any) { m["script"] = "../train.py" }, 422, "script"},
		{"bad experiment", func(m map[string]any) { m["experimentName"] = "-x y" }, 422, "experimentName"},
		{"unknown snapshot", func(m map[string]any) { m["snapshotId"] = "abc" }, 422, "snapshotId"},
		{"node count", func(m map[string]any) { m["nodeCount"] = 0 }, 422, "nodeCount"},
		{"reserved env", func(m map[string]any) {
			m["environment"] = map[string]any{"environmentVariables": map[string]string{"MLFLOW_RUN_ID": "x"}}
		}, 422, "environment.environmentVariables"},
		{"bad env name", func(m map[string]any) {
			m["environment"] = map[string]any{"environmentVariables": map[string]string{"A=B": "x"}}
		}, 422, "environment.environmentVariables"},
	}
	for _, c := range cases {
		body := base()
		c.edit(body)
		b, _ := json.Marshal(body)
		status, resp, _ := apiDo(t, env, "POST", "/api/v1/runs", "application/json", b)
		var e struct {
			Error struct {
				Code   string `json:"code"`
				Target string `json:"target"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp, &e)
		if status != c.status || e.Error.Target != c.target {
			t.Errorf("%s: %d %s, want %d target %s", c.name, status, resp, c.status, c.target)
		}
	}
	var list struct {
		Value []runJSON `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs", nil, 200, &list)
	if len(list.Value) != 0 {
		t.Fatalf("rejected submits left runs: %+v", list.Value)
	}
}

// processesWith lists the pids whose command line (NUL-separated) contains s.
func processesWith(s string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestRunQueuesOnBusyCluster: on a one-node cluster the controller scales up
// for the first run (the dispatcher's demand); a second run waits Queued
// with the reason, then runs when the node is free.
func TestRunQueuesOnBusyCluster(t *testing.T) {
	needPython(t)
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	const body = `{"location":"local","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2",
		"scaleSettings":{"minNodeCount":0,"maxNodeCount":1,"nodeIdleTimeBeforeScaleDown":"PT30S"}}}}`
	if status, b := api(t, env, "PUT", "/api/v1/computes/one-node", body); status != 201 {
		t.Fatalf("create cluster: %d %s", status, b)
	}
	snap := uploadFolder(t, env, map[string]string{"nap.py": "import time\ntime.sleep(1.5)\n"})
	on := map[string]any{"target": "one-node"}
	first := submit(t, env, "queue", snap, "nap.py", nil, on)
	second := submit(t, env, "queue", snap, "nap.py", nil, on)
	waitStatus(t, env, first.RunID, 20*time.Second, "Running", func(s string) bool { return s == "Running" })
	queued := waitStatus(t, env, second.RunID, 10*time.Second, "to wait for the node", func(string) bool {
		r := getRun(t, env, second.RunID)
		return r.Status == "Queued" && r.StatusReason == "waiting for a node: 1/1 busy"
	})
	if queued.Target != "one-node" {
		t.Fatalf("target %q", queued.Target)
	}
	for _, id := range []string{first.RunID, second.RunID} {
		if got := waitStatus(t, env, id, 30*time.Second, "to end", terminal); got.Status != "Completed" {
			t.Fatalf("%s: %s (%s)", id, got.Status, got.Error)
		}
	}
	// The waiting reason is in the second run's history.
	got := getRun(t, env, second.RunID)
	var reasons []string
	for _, ev := range got.StatusHistory {
		reasons = append(reasons, ev.Status+":"+ev.Reason)
	}
	waited := slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, "Queued:waiting for a node: ") })
	if !waited || got.StartTimeUtc <= getRun(t, env, first.RunID).StartTimeUtc {
		t.Fatalf("history %v", reasons)
	}
}

// TestRunRoles: DataScientists submit and cancel their own runs, not
// others'; Readers only read; Admins cancel anyone's; the tracking API
// follows the same rights for users' own tokens.
func TestRunRoles(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	ctx := context.Background()
	tokenFor := func(id string, role compute.Role) string {
		tok, _, err := env.Store.CreateAccessToken(ctx, compute.User{ID: id, Name: id, Role: role}, "test", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, bob, carol := tokenFor("alice", compute.RoleDataScientist), tokenFor("bob", compute.RoleDataScientist), tokenFor("carol", compute.RoleReader)
	as := func(tok, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, env.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	snap := uploadFolder(t, env, map[string]string{"train.py": "print(1)\n"})
	body := `{"experimentName":"roles","snapshotId":"` + snap + `","script":"train.py"}`
	status, b := as(alice, "POST", "/api/v1/runs", body)
	if status != 201 {
		t.Fatalf("alice submits: %d %s", status, b)
	}
	var run runJSON
	_ = json.Unmarshal([]byte(b), &run)
	if status, b := as(carol, "POST", "/api/v1/runs", body); status != 403 {
		t.Fatalf("a Reader submits: %d %s", status, b)
	}
	if status, _ := as(carol, "GET", "/api/v1/runs/"+run.RunID, ""); status != 200 {
		t.Fatalf("a Reader reads: %d", status)
	}
	metric := `{"run_id":"` + run.RunID + `","key":"m","value":1,"timestamp":1,"step":0}`
	if status, b := as(bob, "POST", "/api/2.0/mlflow/runs/log-metric", metric); status != 403 || !strings.Contains(b, "PERMISSION_DENIED") {
		t.Fatalf("bob logs to alice's run: %d %s", status, b)
	}
	if status, b := as(alice, "POST", "/api/2.0/mlflow/runs/log-metric", metric); status != 200 {
		t.Fatalf("alice logs to her run: %d %s", status, b)
	}
	if status, b := as(bob, "POST", "/api/v1/runs/"+run.RunID+"/cancel", ""); status != 403 {
		t.Fatalf("bob cancels alice's run: %d %s", status, b)
	}
	if status, b := as(alice, "POST", "/api/v1/runs/"+run.RunID+"/cancel", ""); status != 202 {
		t.Fatalf("alice cancels her run: %d %s", status, b)
	}
	status, b = as(bob, "POST", "/api/v1/runs", body)
	_ = json.Unmarshal([]byte(b), &run)
	if status != 201 {
		t.Fatalf("bob submits: %d %s", status, b)
	}
	if status, b := as(webtest.Token, "POST", "/api/v1/runs/"+run.RunID+"/cancel", ""); status != 202 {
		t.Fatalf("the Admin cancels bob's run: %d %s", status, b)
	}
}
