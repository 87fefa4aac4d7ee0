package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/webtest"
)

// killTrainPy logs value = 100·a + b once through the tracking API (MLflow
// REST's log-metric), so every child's metric says which grid point it ran.
// It speaks HTTP over a bare socket: http.client or urllib would triple
// Python's start-up, and the test runs 1,000 of these.
const killTrainPy = `import os, socket, sys, time
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
value = 100 * int(a["--a"]) + int(a["--b"])
host, port = os.environ["MLFLOW_TRACKING_URI"].split("//", 1)[1].rstrip("/").rsplit(":", 1)
body = '{"run_id": "%s", "key": "value", "value": %d, "timestamp": %d, "step": 0}' % (
    os.environ["MLFLOW_RUN_ID"], value, int(time.time() * 1000))
req = ("POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
       "Authorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s") % (
    host, port, os.environ["MLFLOW_TRACKING_TOKEN"], len(body), body)
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(req.encode())
resp = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    resp += chunk
sys.exit(0 if resp.split(b" ", 2)[1:2] == [b"200"] else 3)
`

// serverProcess is `trainyard serve` as a process of its own, so the test
// can kill it with SIGKILL as an operator's kill -9 (or the OOM killer) would.
type serverProcess struct {
	cmd *exec.Cmd
	log *os.File
}

// startServer starts bin on addr with its data in dataDir and waits until
// it answers.
func startServer(t *testing.T, bin, addr, dataDir, logPath string) *serverProcess {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", dataDir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(dataDir), "TRAINYARD_TOKEN=" + webtest.Token}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serverProcess{cmd: cmd, log: logFile}
	t.Cleanup(func() { s.kill() })
	webtest.WaitFor(t, 60*time.Second, "the server to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return s
}

// kill sends SIGKILL and reaps the process; the jobs it started live on.
func (s *serverProcess) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
	s.log.Close()
}

// waitSlowly is webtest.WaitFor asking twice a second: each question is a
// request the server under test serves while it runs the sweep.
func waitSlowly(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout * computetest.Slack)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout*computetest.Slack, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// sweepKid is a child run as `run list -o json` shows it.
type sweepKid struct {
	RunID           string              `json:"runId"`
	Status          string              `json:"status"`
	Error           string              `json:"error"`
	Metrics         map[string]*float64 `json:"metrics"`
	Hyperparameters map[string]string   `json:"hyperparameters"`
}

func listKids(t *testing.T, url, parent string, extra ...string) []sweepKid {
	t.Helper()
	res := runCLI(t, url, "", append([]string{"run", "list", "--parent", parent, "-o", "json"}, extra...)...)
	if res.code != 0 {
		return nil // the server is busy or restarting: asked again
	}
	var out struct{ Value []sweepKid }
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("run list: %v: %s", err, res.stdout)
	}
	return out.Value
}

// TestSweepSurvivesKill9 (issue 16): the real server runs a grid sweep of
// 1,000 no-op children that each log one metric, 8 at a time, on the
// sandboxed local target; it is killed with SIGKILL while children run,
// after some have completed, and started again on the same data folder.
// The sweep then finishes, and every child is accounted for: exactly 1,000,
// all ended, each grid point once (the grid allows no repeat, so a child
// proposed twice or lost across the kill shows), every Completed child with
// the metric it logged, and the parent Completed. Children that were running
// at the kill may fail (their server went away while they logged), but none
// may be lost or left unfinished. It waits on states only; the one time
// bound is a generous overall one.
func TestSweepSurvivesKill9(t *testing.T) {
	t.Parallel() // its own server, data folder and ports: nothing shared with other tests
	if testing.Short() {
		t.Skip("1,000 real child runs: not in -short")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make sandbox)")
	}
	python := ""
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if _, err := os.Stat(p); err == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no system python3 (the sandbox hides others)")
	}
	const total, concurrent, gridB = 1000, 8, 25
	dir := t.TempDir()
	bin := filepath.Join(dir, "trainyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	addr := freeLoopback(t)
	url := "http://" + addr
	data, logPath := filepath.Join(dir, "data"), filepath.Join(dir, "server.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("server log (end):\n%s", b)
		}
	})
	srv := startServer(t, bin, addr, data, logPath)

	src := filepath.Join(dir, "src")
	as := make([]string, total/gridB)
	for i := range as {
		as[i] = strconv.Itoa(i)
	}
	bs := make([]string, gridB)
	for i := range bs {
		bs[i] = strconv.Itoa(i)
	}
	for p, content := range map[string]string{
		"train.py": killTrainPy,
		".azureml/local.runconfig": fmt.Sprintf("script: train.py\ntarget: local\nframework: Python\nenvironment:\n  python:\n"+
			"    userManagedDependencies: true\n    interpreterPath: %s\n", python),
		".azureml/hd.yml": fmt.Sprintf("sampling:\n  type: grid\n  parameter_space:\n  - name: --a\n    expression: choice\n    values: [%s]\n"+
			"  - name: --b\n    expression: choice\n    values: [%s]\n"+
			"primary_metric_name: value\nprimary_metric_goal: Minimize\nmax_total_runs: %d\nmax_concurrent_runs: %d\nmax_duration_minutes: 60\n",
			strings.Join(as, ", "), strings.Join(bs, ", "), total, concurrent),
	} {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := runCLI(t, url, "", "run", "submit-hyperdrive", "-e", "kill9", "-c", "local", "--hyperdrive-configuration-name", "hd",
		"-d", src, "-o", "json", "train.py")
	if res.code != 0 {
		t.Fatalf("submit-hyperdrive: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	parent, _ := field(t, []byte(res.stdout), "runId").(string)
	if parent == "" {
		t.Fatalf("no runId: %s", res.stdout)
	}

	// Mid-sweep: some children completed and some running.
	start := time.Now()
	waitSlowly(t, 5*time.Minute, "100 children completed and one running", func() bool {
		if len(listKids(t, url, parent, "--status", "Completed", "--last", "100")) < 100 {
			return false
		}
		return len(listKids(t, url, parent, "--status", "Running")) > 0
	})
	srv.kill()
	t.Logf("server killed with SIGKILL mid-sweep, %.1f s after the submit", time.Since(start).Seconds())

	startServer(t, bin, addr, data, logPath)
	waitSlowly(t, 10*time.Minute, "the sweep to end after the restart", func() bool {
		r := runCLI(t, url, "", "run", "show", "-r", parent, "-o", "json")
		if r.code != 0 {
			return false
		}
		switch field(t, []byte(r.stdout), "status") {
		case "Completed", "Failed", "Canceled":
			return true
		}
		return false
	})
	t.Logf("sweep ended %.1f s after the submit", time.Since(start).Seconds())
	show := runCLI(t, url, "", "run", "show", "-r", parent, "-o", "json")
	if st := field(t, []byte(show.stdout), "status"); st != "Completed" {
		t.Fatalf("parent %v: %s", st, show.stdout)
	}

	kids := listKids(t, url, parent)
	if len(kids) != total {
		t.Fatalf("%d children, want exactly %d", len(kids), total)
	}
	ids, points := map[string]bool{}, map[string]string{}
	counts := map[string]int{}
	for _, k := range kids {
		counts[k.Status]++
		ids[k.RunID] = true
		switch k.Status {
		case "Completed", "Failed", "Canceled":
		default:
			t.Errorf("child %s is %s, not ended", k.RunID, k.Status)
		}
		point := k.Hyperparameters["--a"] + "," + k.Hyperparameters["--b"]
		if prev, dup := points[point]; dup {
			t.Errorf("grid point %s ran twice: %s and %s", point, prev, k.RunID)
		}
		points[point] = k.RunID
		if k.Status != "Completed" {
			continue
		}
		a, errA := strconv.Atoi(k.Hyperparameters["--a"])
		b, errB := strconv.Atoi(k.Hyperparameters["--b"])
		v := k.Metrics["value"]
		if errA != nil || errB != nil || v == nil || *v != float64(100*a+b) {
			t.Errorf("Completed child %s (%v): metric value %v, want %d", k.RunID, k.Hyperparameters, v, 100*a+b)
		}
	}
	for i := range total {
		if id := fmt.Sprintf("%s_%d", parent, i); !ids[id] {
			t.Errorf("child %s is missing", id)
		}
	}
	t.Logf("children by status: %v", counts)
	if counts["Completed"] < total/2 {
		t.Errorf("only %d of %d children completed", counts["Completed"], total)
	}
}
