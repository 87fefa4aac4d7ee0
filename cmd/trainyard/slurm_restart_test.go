package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/slurm"
	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
	"github.com/trainyard/trainyard/web/app"
)

// slurmServer is one real server (newApp, as `trainyard serve` wires it) on
// a given data folder and address; kill stops it the way kill -9 would:
// the listener closes and the loops stop where they are, nothing is
// finalised, and Slurm jobs keep running.
type slurmServer struct {
	url  string
	app  *app.App
	kill func()
}

// startSlurmServer starts the real server on dir and addr (so a restarted
// one is reached at the address its runs report to) with the dispatcher and
// controller passing every interval. The server is killed when the test
// ends if it was not before.
func startSlurmServer(tb testing.TB, dir, addr string, interval time.Duration) *slurmServer {
	tb.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the previous server's port may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{"TRAINYARD_TOKEN": testToken, "TRAINYARD_SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseServeFlags([]string{"--addr", addr, "--data", dir, "--reconcile-interval", interval.String()}, getenv, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	loops := make(chan struct{})
	go func() { a.Run(ctx); close(loops) }()
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	s := &slurmServer{url: cfg.PublicURL, app: a}
	s.kill = func() {
		once.Do(func() {
			_ = srv.Close()
			cancel()
			<-loops
			a.Close()
		})
	}
	tb.Cleanup(s.kill)
	return s
}

// freeLoopback returns a loopback address reserved for the test: its
// server restarts there, and no other test may take the port in between.
func freeLoopback(tb testing.TB) string {
	tb.Helper()
	return "127.0.0.1:" + strconv.Itoa(computetest.ReservePortsT(tb, 1)[0])
}

// writeSource writes files (slash paths → content) under a new folder.
func writeSource(tb testing.TB, files map[string]string) string {
	tb.Helper()
	src := tb.TempDir()
	for p, content := range files {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return src
}

// slurmRunConfig is a run configuration for the Slurm target "hpc".
const slurmRunConfig = "script: job.py\ntarget: hpc\nnodeCount: 1\nframework: Python\nenvironment:\n  python:\n" +
	"    userManagedDependencies: true\n    interpreterPath: /usr/bin/python3\n"

// restartJobPy logs a metric, says so, sleeps past a server restart, logs
// another and says so.
const restartJobPy = `import json, os, sys, time, urllib.request
def post(key, value, step):
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": key, "value": value, "timestamp": int(time.time()*1000), "step": step}
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    for i in range(60):  # the server may be down for a moment: retry
        try:
            urllib.request.urlopen(req, timeout=10).read()
            return
        except Exception as e:
            time.sleep(0.5)
    raise SystemExit("could not log " + key)
post("before", 1.5, 0)
print("before the restart", flush=True)
time.sleep(float(sys.argv[1]))
post("after", 2.5, 1)
print("after the restart", flush=True)
`

// slurmCommand runs a Slurm CLI against the test cluster (its SLURM_CONF,
// no SLURM_JWT) and returns its combined output.
func slurmCommand(c *slurmtest.Cluster, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SLURM_CONF="+c.Conf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// slurmJobsOfRun lists the Slurm job ids named for a run, from `scontrol
// show job -o` (ended jobs stay listed: MinJobAge is an hour).
func slurmJobsOfRun(t testing.TB, c *slurmtest.Cluster, runID string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(c.Scontrol(t, "show", "job", "-o"), "\n") {
		if !strings.Contains(line, " JobName=trainyard-"+runID+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "JobId="); ok {
				ids = append(ids, v)
			}
		}
	}
	return ids
}

// TestSlurmRunSurvivesServerRestart: the server stops hard (as kill -9)
// while a run's Slurm job RUNs; a new server on the same data folder and
// address re-adopts the job by the id it recorded, and the run Completes
// with its whole log and both metrics. Slurm saw exactly one job for it.
func TestSlurmRunSurvivesServerRestart(t *testing.T) {
	t.Parallel() // its own server, data folder and ports: nothing shared with other tests
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	start := time.Now()
	cluster := slurmtest.Start(t, slurmtest.Options{Nodes: 1})
	dir, addr := t.TempDir(), freeLoopback(t)
	first := startSlurmServer(t, dir, addr, 200*time.Millisecond)
	cli := map[string]string{"TRAINYARD_URL": first.url, "TRAINYARD_TOKEN": testToken}
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLIEnv(t, cli, "", args...)
	}
	if res := run("computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", cluster.RESTURL, "--jwt-key-file", cluster.JWTKeyFile,
		"--user", cluster.User, "--shared-dir", cluster.SharedDir); res.code != 0 {
		t.Fatalf("attach: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	src := writeSource(t, map[string]string{"job.py": restartJobPy, ".azureml/hpc.runconfig": slurmRunConfig})
	res := run("run", "submit-script", "-e", "slurm-restart", "-c", "hpc", "-d", src, "-o", "json", "job.py", "6")
	id, _ := field(t, []byte(res.stdout), "runId").(string)
	if res.code != 0 || id == "" {
		t.Fatalf("submit: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	show := func() []byte { return []byte(run("run", "show", "-r", id, "-o", "json").stdout) }
	e2eWait(t, 60*time.Second, "the run to be Running with its first metric", func() bool {
		out := show()
		return field(t, out, "status") == "Running" && field(t, out, "metrics.before") == 1.5
	})
	before, err := first.app.Store.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	job, err := slurm.JobID(before.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if state := cluster.Scontrol(t, "show", "job", job, "-o"); !strings.Contains(state, "JobState=RUNNING") {
		t.Fatalf("job %s is not running in Slurm before the restart:\n%s", job, state)
	}
	first.kill()
	t.Logf("server killed %s after the start, job %s running", time.Since(start).Round(time.Millisecond), job)
	time.Sleep(time.Second) // down a moment: the job's next metric waits for the new server

	second := startSlurmServer(t, dir, addr, 200*time.Millisecond)
	cli["TRAINYARD_URL"] = second.url
	e2eWait(t, 60*time.Second, "the run to end after the restart", func() bool {
		s, _ := field(t, show(), "status").(string)
		return s == "Completed" || s == "Failed" || s == "Canceled"
	})
	out := show()
	if field(t, out, "status") != "Completed" || field(t, out, "metrics.before") != 1.5 || field(t, out, "metrics.after") != 2.5 {
		t.Fatalf("after the restart:\n%s", out)
	}
	if field(t, out, "attempt") != 1.0 {
		t.Errorf("attempt %v, want 1", field(t, out, "attempt"))
	}
	after, err := second.app.Store.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := slurm.JobID(after.Handle); got != job {
		t.Errorf("the run's handle names job %q after the restart, want the recorded %s", got, job)
	}
	logs := run("run", "monitor-logs", "-r", id)
	if !strings.Contains(logs.stdout, "before the restart") || !strings.Contains(logs.stdout, "after the restart") {
		t.Errorf("log after the restart:\n%s%s", logs.stdout, logs.stderr)
	}
	if jobs := slurmJobsOfRun(t, cluster, id); len(jobs) != 1 || jobs[0] != job {
		t.Errorf("Slurm has jobs %v for the run, want only %s", jobs, job)
	}
	var hist struct {
		StatusHistory []struct{ Status string } `json:"statusHistory"`
	}
	if err := json.Unmarshal(out, &hist); err != nil || len(hist.StatusHistory) == 0 {
		t.Errorf("no status history (%v):\n%s", err, out)
	} else {
		starting := 0
		for _, e := range hist.StatusHistory {
			if e.Status == "Starting" {
				starting++
			}
		}
		if starting != 1 {
			t.Errorf("the run went through Starting %d times, want once: %s", starting, out)
		}
	}
	t.Logf("completed %s after the start", time.Since(start).Round(time.Millisecond))
}
