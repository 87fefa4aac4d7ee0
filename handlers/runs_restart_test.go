package handlers_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/webtest"
)

// freeAddr returns a loopback address reserved for the test: its server
// restarts there, and no other test may take the port in between.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(computetest.ReservePortsT(t, 1)[0])
}

// slowPy logs a metric, sleeps past a server restart, logs another and
// writes an output.
const slowPy = `import json, os, sys, time, urllib.request
def post(path, body):
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/" + path,
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    urllib.request.urlopen(req, timeout=10).read()
rid = os.environ["MLFLOW_RUN_ID"]
post("runs/log-metric", {"run_id": rid, "key": "before", "value": 1.5, "timestamp": int(time.time() * 1000), "step": 0})
print("before the restart", flush=True)
time.sleep(float(sys.argv[1]))
post("runs/log-metric", {"run_id": rid, "key": "after", "value": 2.5, "timestamp": int(time.time() * 1000), "step": 1})
os.makedirs("outputs", exist_ok=True)
open("outputs/done.txt", "w").write("done")
print("after the restart", flush=True)
`

// TestRunSurvivesServerRestart: the server stops mid-run as under kill -9
// (nothing finalised); a new server on the same data folder and address
// adopts the live process, which finishes normally with every metric.
func TestRunSurvivesServerRestart(t *testing.T) {
	needPython(t)
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	env := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	snap := uploadFolder(t, env, map[string]string{"slow.py": slowPy})
	run := submit(t, env, "restart", snap, "slow.py", []string{"3"}, nil)
	webtest.WaitFor(t, 20*time.Second, "the first metric", func() bool {
		r := getRun(t, env, run.RunID)
		return r.Status == "Running" && r.Metrics["before"] != nil
	})
	env.Kill()

	env2 := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	got := waitStatus(t, env2, run.RunID, 30*time.Second, "to end after the restart", terminal)
	if got.Status != "Completed" {
		t.Fatalf("run ended %s: %s", got.Status, got.Error)
	}
	if got.Metrics["before"] == nil || *got.Metrics["before"] != 1.5 || got.Metrics["after"] == nil || *got.Metrics["after"] != 2.5 {
		t.Fatalf("metrics after the restart: %v", got.Metrics)
	}
	log := readLog(t, env2, run.RunID)
	if !strings.Contains(log, "before the restart") || !strings.Contains(log, "after the restart") {
		t.Fatalf("log: %q", log)
	}
	if status, b, _ := apiDo(t, env2, "GET", "/api/v1/runs/"+run.RunID+"/outputs/outputs/done.txt", "", nil); status != 200 || string(b) != "done" {
		t.Fatalf("output: %d %q", status, b)
	}
}

// TestRunKilledWhileServerDown: the process dies while no server runs; the
// next server marks the run Failed with the reason, not Running forever.
func TestRunKilledWhileServerDown(t *testing.T) {
	needPython(t)
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	env := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	snap := uploadFolder(t, env, map[string]string{"slow.py": slowPy})
	run := submit(t, env, "restart", snap, "slow.py", []string{"30"}, nil)
	webtest.WaitFor(t, 20*time.Second, "the first metric", func() bool {
		r := getRun(t, env, run.RunID)
		return r.Status == "Running" && r.Metrics["before"] != nil
	})
	r, err := env.Store.GetRun(context.Background(), run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	env.Kill()
	// The handle is "<pid>.<start>:<run-id>"; the pid leads the job's session.
	pid, err := strconv.Atoi(strings.SplitN(r.Handle.ID, ".", 2)[0])
	if err != nil {
		t.Fatalf("handle %q: %v", r.Handle.ID, err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	env2 := webtest.New(t, webtest.Options{DataDir: dir, Addr: addr})
	got := waitStatus(t, env2, run.RunID, 30*time.Second, "to end", terminal)
	if got.Status != "Failed" || !strings.Contains(got.Error, "without an exit status") {
		t.Fatalf("run %s, error %q; want Failed with the reason", got.Status, got.Error)
	}
	if got.Metrics["before"] == nil {
		t.Fatalf("the acknowledged metric is gone: %v", got.Metrics)
	}
}

// TestDispatcherResumesInterruptedStates: runs left in Preparing and in
// Starting without a handle (a crash before Submit, or between Submit and
// persisting the handle) are prepared and submitted again and complete.
func TestDispatcherResumesInterruptedStates(t *testing.T) {
	needPython(t)
	t.Parallel()
	dir := t.TempDir()
	env := webtest.New(t, webtest.Options{DataDir: dir, NoDispatcher: true})
	snap := uploadFolder(t, env, map[string]string{"ok.py": "import os\nos.makedirs('outputs', exist_ok=True)\nopen('outputs/ok.txt','w').write('ok')\n"})
	ctx := context.Background()
	var ids []string
	for _, st := range []compute.RunStatus{compute.RunPreparing, compute.RunStarting, compute.RunQueued} {
		r := &compute.Run{ExperimentName: "resume", Status: st, Target: "local", Script: "ok.py", SnapshotID: snap,
			Environment: compute.RunEnvironment{UserManagedDependencies: true}}
		if err := env.Store.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// A half-written working folder, as a crash during preparation leaves it.
	if err := os.MkdirAll(env.Store.RunWorkDir(ids[0])+"/junk", 0o755); err != nil {
		t.Fatal(err)
	}
	env.Kill()

	env2 := webtest.New(t, webtest.Options{DataDir: dir})
	for _, id := range ids {
		got := waitStatus(t, env2, id, 30*time.Second, "to end", terminal)
		if got.Status != "Completed" {
			t.Fatalf("%s: %s (%s)", id, got.Status, got.Error)
		}
	}
}
