package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

// slurmJobPy is the acceptance check's job: every rank writes
// outputs/rank-N.txt, rank 0 logs a metric over the tracking API, and it
// sleeps --sleep seconds before it prints its rank.
const slurmJobPy = `import json, os, sys, time, urllib.request
rank = os.environ.get("RANK", "0")
os.makedirs("outputs", exist_ok=True)
open("outputs/rank-%s.txt" % rank, "w").write(os.environ.get("WORLD_SIZE", "?"))
if rank == "0":
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "acc", "value": 0.75, "timestamp": int(time.time()*1000), "step": 0}
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("MLFLOW_TRACKING_TOKEN", "")})
    urllib.request.urlopen(req, timeout=10).read()
a = sys.argv[1:]
time.sleep(float(a[a.index("--sleep") + 1]) if "--sleep" in a else 0)
print("RANK", rank, "OF", os.environ.get("WORLD_SIZE"), flush=True)
`

// realServer runs the real wiring (newApp: store, backends including Slurm,
// controller, dispatcher, node refresher) on a loopback port, as
// `trainyard serve` does, and returns its URL.
func realServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRAINYARD_TOKEN": testToken, "TRAINYARD_SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseServeFlags([]string{"--addr", ln.Addr().String(), "--data", t.TempDir(), "--reconcile-interval", "200ms"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	loops := make(chan struct{})
	go func() { a.Run(ctx); close(loops) }()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		cancel()
		<-loops
		a.Close()
	})
	return cfg.PublicURL
}

// TestSlurmEndToEnd drives a real Slurm cluster through the CLI and the real
// server: attach with the JWT key and a shared directory, nodes in show, a
// run with its log and metric, a 3-node run whose ranks write outputs, a run
// queued behind it that says why, and a cancel that leaves nothing in Slurm.
func TestSlurmEndToEnd(t *testing.T) {
	t.Parallel() // its own server, data folder and ports: nothing shared with other tests
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	cluster := slurmtest.Start(t, slurmtest.Options{Nodes: 3})
	url := realServer(t)
	cli := map[string]string{"TRAINYARD_URL": url, "TRAINYARD_TOKEN": testToken}
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLIEnv(t, cli, "", args...)
	}

	res := run("computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", cluster.RESTURL, "--jwt-key-file", cluster.JWTKeyFile,
		"--user", cluster.User, "--shared-dir", cluster.SharedDir)
	if res.code != 0 {
		t.Fatalf("attach: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, cluster.JWTKey()) || strings.Contains(res.stdout, base64.StdEncoding.EncodeToString([]byte(cluster.JWTKey()))) {
		t.Fatal("attach printed the JWT key")
	}
	e2eWait(t, 30*time.Second, "show to list node1..node3", func() bool {
		out := run("computetarget", "show", "-n", "hpc", "-o", "json").stdout
		for _, n := range cluster.Nodes {
			if !strings.Contains(out, `"nodeId": "`+n+`"`) {
				return false
			}
		}
		return strings.Contains(out, `"nodeState": "idle"`) && strings.Contains(out, `"isDefault": true`)
	})
	if out := run("computetarget", "show", "-n", "hpc").stdout; !strings.Contains(out, "PARTITION") || !strings.Contains(out, "debug") || !strings.Contains(out, "node3") {
		t.Errorf("show -o table:\n%s", out)
	}

	src := t.TempDir()
	files := map[string]string{"job.py": slurmJobPy}
	for _, n := range []string{"1", "3"} {
		files[".azureml/hpc"+n+".runconfig"] = "script: job.py\ntarget: hpc\nnodeCount: " + n +
			"\nframework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n    interpreterPath: /usr/bin/python3\n"
	}
	for p, content := range files {
		full := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	submit := func(config string, args ...string) string {
		t.Helper()
		res := run(append([]string{"run", "submit-script", "-e", "slurm-e2e", "-c", config, "-d", src, "-o", "json", "job.py"}, args...)...)
		id, _ := field(t, []byte(res.stdout), "runId").(string)
		if res.code != 0 || id == "" {
			t.Fatalf("submit: exit %d: %s%s", res.code, res.stdout, res.stderr)
		}
		return id
	}
	show := func(id string) []byte { return []byte(run("run", "show", "-r", id, "-o", "json").stdout) }
	status := func(id string) string { s, _ := field(t, show(id), "status").(string); return s }
	waitStatus := func(id string, d time.Duration, want ...string) string {
		t.Helper()
		var s string
		e2eWait(t, d, id+" to be "+strings.Join(want, " or "), func() bool { s = status(id); return slices.Contains(want, s) })
		return s
	}

	one := submit("hpc1")
	waitStatus(one, 90*time.Second, "Completed", "Failed", "Canceled")
	out := show(one)
	if field(t, out, "status") != "Completed" || field(t, out, "metrics.acc") != 0.75 {
		t.Fatalf("1-node run:\n%s", out)
	}
	if logs := run("run", "monitor-logs", "-r", one); !strings.Contains(logs.stdout, "RANK 0 OF 1") {
		t.Errorf("log of the 1-node run:\n%s%s", logs.stdout, logs.stderr)
	}

	three := submit("hpc3")
	if s := waitStatus(three, 120*time.Second, "Completed", "Failed", "Canceled"); s != "Completed" {
		t.Fatalf("3-node run ended %s:\n%s", s, show(three))
	}
	browser := e2eSignIn(t, url)
	page := e2eGet(t, browser, url+"/runs/"+three)
	for _, rank := range []string{"rank-0.txt", "rank-1.txt", "rank-2.txt"} {
		if !strings.Contains(page, rank) {
			t.Errorf("the 3-node run's page lists no %s", rank)
		}
	}

	// A 3-node run holds the nodes; a job that wants every node whole
	// (not Trainyard's) waits behind it, and a 1-node run behind both: it
	// must say why, from Slurm. The 3-node run's cancel reaches Slurm.
	long := submit("hpc3", "--sleep", "120")
	waitStatus(long, 60*time.Second, "Running")
	blocker := cluster.Sbatch(t, "-N3", "--exclusive", "--wrap", "sleep 300")
	queued := submit("hpc1", "--sleep", "1")
	e2eWait(t, 30*time.Second, "the second run to say why it waits", func() bool {
		if status(queued) != "Queued" {
			return false
		}
		page := e2eGet(t, browser, url+"/runs/"+queued)
		return strings.Contains(page, "Resources") || strings.Contains(page, "Priority")
	})
	if res := run("run", "cancel", "-r", long); res.code != 0 {
		t.Fatalf("cancel: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	waitStatus(long, 30*time.Second, "Canceled")
	cluster.Scancel(t, blocker)
	if s := waitStatus(queued, 60*time.Second, "Completed", "Failed", "Canceled"); s != "Completed" {
		t.Fatalf("the queued run ended %s:\n%s", s, show(queued))
	}
	if page := e2eGet(t, browser, url+"/runs/"+queued); !strings.Contains(page, "Resources") && !strings.Contains(page, "Priority") {
		t.Errorf("the queued run's timeline lost Slurm's reason")
	}
	e2eWait(t, 30*time.Second, "no job left in Slurm", func() bool { return len(cluster.Squeue(t)) == 0 })

	t.Run("requeued when its node goes down", func(t *testing.T) {
		id := submit("hpc1", "--sleep", "15")
		waitStatus(id, 60*time.Second, "Running")
		node := ""
		e2eWait(t, 30*time.Second, "the run to show on a node", func() bool {
			var c struct {
				Properties struct {
					Properties struct {
						Nodes []struct{ NodeID, RunID string } `json:"nodes"`
					} `json:"properties"`
				} `json:"properties"`
			}
			if err := json.Unmarshal([]byte(run("computetarget", "show", "-n", "hpc", "-o", "json").stdout), &c); err != nil {
				return false
			}
			for _, n := range c.Properties.Properties.Nodes {
				if n.RunID == id {
					node = n.NodeID
				}
			}
			return node != ""
		})
		cluster.SetNodeState(t, node, "DOWN", "e2e-node-failure")
		e2eWait(t, 60*time.Second, "attempt 2 in the run's history", func() bool {
			return strings.Contains(string(show(id)), "attempt 2")
		})
		cluster.SetNodeState(t, node, "RESUME", "")
		if s := waitStatus(id, 120*time.Second, "Completed", "Failed", "Canceled"); s != "Completed" {
			t.Fatalf("the requeued run ended %s:\n%s", s, show(id))
		}
		out := show(id)
		if field(t, out, "attempt") != 2.0 {
			t.Errorf("attempt %v, want 2:\n%s", field(t, out, "attempt"), out)
		}
		if page := e2eGet(t, browser, url+"/runs/"+id); !strings.Contains(page, "attempt 2") {
			t.Errorf("the run's page does not show attempt 2")
		}
	})

	t.Run("sweep", func(t *testing.T) {
		hd := "sampling:\n  type: grid\n  parameter_space:\n  - name: --sleep\n    expression: choice\n    values: [1, 1.5, 2, 2.5]\n" +
			"primary_metric_name: acc\nprimary_metric_goal: Maximize\nmax_total_runs: 4\nmax_concurrent_runs: 2\n"
		if err := os.WriteFile(filepath.Join(src, ".azureml", "hd.yml"), []byte(hd), 0o644); err != nil {
			t.Fatal(err)
		}
		res := run("run", "submit-hyperdrive", "-e", "slurm-e2e", "-c", "hpc1", "--hyperdrive-configuration-name", "hd", "-d", src, "-o", "json", "job.py")
		parent, _ := field(t, []byte(res.stdout), "runId").(string)
		if res.code != 0 || parent == "" {
			t.Fatalf("submit-hyperdrive: exit %d: %s%s", res.code, res.stdout, res.stderr)
		}
		type kid struct {
			RunID, Status string
			Metrics       map[string]float64 `json:"metrics"`
		}
		most := 0
		e2eWait(t, 120*time.Second, "the sweep to complete", func() bool {
			var list struct{ Value []kid }
			if err := json.Unmarshal([]byte(run("run", "list", "--parent", parent, "-o", "json").stdout), &list); err != nil {
				return false
			}
			active := 0
			for _, k := range list.Value {
				if k.Status != "Completed" && k.Status != "Failed" && k.Status != "Canceled" {
					active++
				}
			}
			most = max(most, active, len(cluster.Squeue(t)))
			return status(parent) == "Completed"
		})
		if most > 2 {
			t.Errorf("%d children ran at once, want at most max_concurrent_runs 2", most)
		}
		var list struct{ Value []kid }
		if err := json.Unmarshal([]byte(run("run", "list", "--parent", parent, "-o", "json").stdout), &list); err != nil {
			t.Fatal(err)
		}
		kids := list.Value
		if len(kids) != 4 {
			t.Fatalf("%d children, want 4", len(kids))
		}
		for _, k := range kids {
			if k.Status != "Completed" || k.Metrics["acc"] != 0.75 {
				t.Errorf("child %+v", k)
			}
		}
	})
}

func e2eWait(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// e2eSignIn returns a browser-like client signed in with the login token.
func e2eSignIn(t *testing.T, url string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(url + "/login?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

func e2eGet(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
