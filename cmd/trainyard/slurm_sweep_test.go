package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

// sweepJobPy logs the primary metric acc once a step: its --quality, ten
// steps half a second apart, then says it is done.
const sweepJobPy = `import json, os, sys, time, urllib.request
a = sys.argv[1:]
q = float(a[a.index("--quality") + 1])
url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]}
for step in range(10):
    body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "acc", "value": q, "timestamp": int(time.time()*1000), "step": step}
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers), timeout=10).read()
    print("step", step, "acc", q, flush=True)
    time.sleep(0.5)
print("done", q, flush=True)
`

// TestSlurmSweepMaxConcurrentAndEarlyTermination: a grid sweep of 8
// children with max_concurrent_runs 2 on a 3-node Slurm cluster (so Slurm
// could run 3 at once: the limit is the sweep's). Sampling squeue all along
// never shows more than 2 of the sweep's jobs. A Bandit policy (slack
// factor 0.1, every interval) on acc cancels the four poor children
// (quality 0.1–0.4) while the good ones (0.90–0.96) run on: their Slurm jobs
// leave the queue and they end Canceled with the policy's reason; the good
// ones Complete with their whole log, and the sweep Completes. The grid
// starts with two good children, so every poor one starts after a good one
// has logged all its intervals: Bandit always has a best to compare with,
// however the machine's load staggers the jobs.
func TestSlurmSweepMaxConcurrentAndEarlyTermination(t *testing.T) {
	t.Parallel() // its own server, data folder and ports: nothing shared with other tests
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	start := time.Now()
	cluster := slurmtest.Start(t, slurmtest.Options{Nodes: 3})
	srv := startSlurmServer(t, t.TempDir(), freeLoopback(t), 200*time.Millisecond)
	cli := map[string]string{"TRAINYARD_URL": srv.url, "TRAINYARD_TOKEN": testToken}
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLIEnv(t, cli, "", args...)
	}
	if res := run("computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", cluster.RESTURL, "--jwt-key-file", cluster.JWTKeyFile,
		"--user", cluster.User, "--shared-dir", cluster.SharedDir); res.code != 0 {
		t.Fatalf("attach: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	good := []string{"0.9", "0.92", "0.94", "0.96"}
	poor := []string{"0.1", "0.2", "0.3", "0.4"}
	hd := "sampling:\n  type: grid\n  parameter_space:\n  - name: --quality\n    expression: choice\n" +
		"    values: [0.9, 0.92, 0.1, 0.94, 0.2, 0.96, 0.3, 0.4]\n" +
		"policy:\n  type: BanditPolicy\n  slack_factor: 0.1\n  evaluation_interval: 1\n" +
		"primary_metric_name: acc\nprimary_metric_goal: Maximize\nmax_total_runs: 8\nmax_concurrent_runs: 2\n"
	src := writeSource(t, map[string]string{"job.py": sweepJobPy, ".azureml/hpc.runconfig": slurmRunConfig, ".azureml/hd.yml": hd})
	res := run("run", "submit-hyperdrive", "-e", "slurm-sweep", "-c", "hpc", "--hyperdrive-configuration-name", "hd", "-d", src, "-o", "json", "job.py")
	parent, _ := field(t, []byte(res.stdout), "runId").(string)
	if res.code != 0 || parent == "" {
		t.Fatalf("submit-hyperdrive: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}

	type kid struct {
		RunID, Status, Error, PolicyCancelReason string
		Hyperparameters                          map[string]string  `json:"hyperparameters"`
		Metrics                                  map[string]float64 `json:"metrics"`
	}
	children := func() []kid {
		var list struct{ Value []kid }
		out := run("run", "list", "--parent", parent, "-o", "json")
		if err := json.Unmarshal([]byte(out.stdout), &list); err != nil {
			t.Fatalf("run list: %v: %s%s", err, out.stdout, out.stderr)
		}
		return list.Value
	}
	// The sweep's jobs in Slurm's queue (pending, running, completing), by
	// their names: trainyard-<run id>.
	sweepJobs := func() map[string]string {
		out, err := slurmCommand(cluster, "/usr/bin/squeue", "-h", "-t", "PD,R,CG,CF,S", "-o", "%i %j")
		if err != nil {
			t.Fatalf("squeue: %v: %s", err, out)
		}
		jobs := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if id, name, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "trainyard-"+parent+"_") {
				jobs[strings.TrimPrefix(name, "trainyard-")] = id
			}
		}
		return jobs
	}
	most, samples, seen := 0, 0, map[string]bool{}
	deadline := time.Now().Add(180 * time.Second)
	for {
		jobs := sweepJobs()
		samples++
		most = max(most, len(jobs))
		for r := range jobs {
			seen[r] = true
		}
		s, _ := field(t, []byte(run("run", "show", "-r", parent, "-o", "json").stdout), "status").(string)
		if s == "Completed" || s == "Failed" || s == "Canceled" {
			if s != "Completed" {
				t.Fatalf("the sweep ended %s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep did not end in 180 s; children: %+v", children())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("sweep completed %s after the start; squeue sampled %d times, at most %d of its jobs at once, %d children seen in Slurm",
		time.Since(start).Round(time.Millisecond), samples, most, len(seen))
	if most > 2 {
		t.Errorf("squeue showed %d of the sweep's jobs at once, want at most max_concurrent_runs 2", most)
	}
	if most < 2 {
		t.Errorf("squeue never showed 2 of the sweep's jobs at once (at most %d): the sweep ran serially", most)
	}
	if len(seen) < 6 {
		t.Errorf("only %d children were seen in Slurm's queue", len(seen))
	}

	kids := children()
	if len(kids) != 8 {
		t.Fatalf("%d children, want 8: %+v", len(kids), kids)
	}
	canceled := 0
	for _, k := range kids {
		q := k.Hyperparameters["--quality"]
		switch {
		case slices.Contains(good, q):
			if k.Status != "Completed" || k.Metrics["acc"] != mustFloat(t, q) {
				t.Errorf("good child %s (quality %s) ended %s %q, acc %v", k.RunID, q, k.Status, k.Error, k.Metrics["acc"])
			}
			logs := run("run", "monitor-logs", "-r", k.RunID)
			if !strings.Contains(logs.stdout, "step 9 acc "+q) || !strings.Contains(logs.stdout, "done "+q) {
				t.Errorf("log of good child %s:\n%s%s", k.RunID, logs.stdout, logs.stderr)
			}
		case slices.Contains(poor, q):
			if k.Status != "Canceled" || !strings.Contains(k.PolicyCancelReason, "Bandit") {
				t.Errorf("poor child %s (quality %s) ended %s (error %q, policy %q), want Canceled by the Bandit policy", k.RunID, q, k.Status, k.Error, k.PolicyCancelReason)
				continue
			}
			canceled++
			// Its Slurm job left the queue and Slurm says it was cancelled.
			jobs := slurmJobsOfRun(t, cluster, k.RunID)
			if len(jobs) != 1 {
				t.Errorf("Slurm has jobs %v for the cancelled child %s, want one", jobs, k.RunID)
				continue
			}
			if _, queued := sweepJobs()[k.RunID]; queued {
				t.Errorf("the cancelled child's job %s is still in squeue", jobs[0])
			}
			if state := cluster.Scontrol(t, "show", "job", jobs[0], "-o"); !strings.Contains(state, "JobState=CANCELLED") {
				t.Errorf("the cancelled child's job %s: %s", jobs[0], state)
			}
			if logs := run("run", "monitor-logs", "-r", k.RunID); strings.Contains(logs.stdout, "step 9") {
				t.Errorf("the cancelled child %s ran to its end:\n%s", k.RunID, logs.stdout)
			}
		default:
			t.Errorf("child %s has quality %q", k.RunID, q)
		}
	}
	if canceled == 0 {
		t.Fatal("the policy cancelled no child's Slurm job")
	}
	t.Logf("%d poor children cancelled by the policy in Slurm", canceled)
	if jobs := sweepJobs(); len(jobs) != 0 {
		t.Errorf("jobs left in Slurm after the sweep: %v", jobs)
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatal(err)
	}
	return f
}
