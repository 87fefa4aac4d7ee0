package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

// BenchmarkSlurmSweepBurst (issue "Throughput at scale", Slurm bursts):
// one sweep of BENCH_BURST_RUNS (500) no-op children at max_concurrent_runs
// 64 on an attached Slurm test cluster (3 nodes), against `sbatch` of the
// same script in a shell-like loop, one after the other, on the same
// cluster just before. Submission rate is jobs that reached Slurm per
// second, read from `scontrol show job -o` (ended jobs stay listed) every
// 100 ms: for the sweep, over its first 64 submissions (the burst, while
// every slot is free) and over all of them (paced by the cluster, whose 3
// nodes run the children as fast as slurmctld starts them); for raw
// sbatch, over the whole loop. Goal: the sweep's burst rate at least half
// of raw sbatch's.
func BenchmarkSlurmSweepBurst(b *testing.B) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		b.Skip("no /usr/bin/python3")
	}
	n := envIntBench("BENCH_BURST_RUNS", 500)
	const burst = 64
	cluster := slurmtest.Start(b, slurmtest.Options{Nodes: 3})
	srv := startSlurmServer(b, b.TempDir(), freeLoopback(b), 500*time.Millisecond)
	ctx := context.Background()
	cli := func(args ...string) string {
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			return map[string]string{"TRAINYARD_URL": srv.url, "TRAINYARD_TOKEN": testToken}[k]
		}
		if code := runMain(ctx, args, getenv, strings.NewReader(""), &out, &errb); code != 0 {
			b.Fatalf("trainyard %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	cli("computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", cluster.RESTURL,
		"--jwt-key-file", cluster.JWTKeyFile, "--user", cluster.User, "--shared-dir", cluster.SharedDir)

	// jobsNamed counts the jobs Slurm knows whose name starts with prefix.
	jobsNamed := func(prefix string) int {
		out, err := slurmCommand(cluster, "/usr/bin/scontrol", "show", "job", "-o")
		if err != nil && !strings.Contains(out, "No jobs") {
			b.Fatalf("scontrol: %v: %s", err, out)
		}
		c := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " JobName="+prefix) {
				c++
			}
		}
		return c
	}
	rawDir := filepath.Join(cluster.SharedDir, "raw-burst")
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rawDir, "noop.py"), []byte("import sys\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	hd := fmt.Sprintf("sampling:\n  type: random\n  parameter_space:\n  - name: --p\n    expression: uniform\n    values: [0, 1]\n"+
		"policy:\n  type: NoTerminationPolicy\nprimary_metric_name: value\nprimary_metric_goal: Minimize\nmax_total_runs: %d\nmax_concurrent_runs: %d\n", n, burst)
	rc := strings.Replace(slurmRunConfig, "script: job.py", "script: noop.py", 1)
	src := writeSource(b, map[string]string{"noop.py": "import sys\n", ".azureml/hpc.runconfig": rc, ".azureml/hd.yml": hd})

	for i := range b.N {
		cluster.WaitIdle(b, 5*time.Minute)
		// Raw: sbatch in a loop, one after the other, as a shell would.
		name := fmt.Sprintf("raw-burst-%d", i)
		start := time.Now()
		for range n {
			if out, err := slurmCommand(cluster, "/usr/bin/sbatch", "--parsable", "--output=/dev/null", "--chdir="+rawDir,
				"-N1", "--job-name", name, "--wrap", "/usr/bin/python3 noop.py"); err != nil {
				b.Fatalf("sbatch: %v: %s", err, out)
			}
		}
		raw := time.Since(start)
		if out, err := slurmCommand(cluster, "/usr/bin/scancel", "-n", name); err != nil {
			b.Fatalf("scancel: %v: %s", err, out)
		}
		cluster.WaitIdle(b, 5*time.Minute)

		// The sweep: the times its jobs reached Slurm.
		start = time.Now()
		out := cli("run", "submit-hyperdrive", "-e", "slurm-burst", "-c", "hpc", "--hyperdrive-configuration-name", "hd", "-d", src, "-o", "json", "noop.py")
		var parent struct{ RunID string }
		if err := json.Unmarshal([]byte(out), &parent); err != nil || parent.RunID == "" {
			b.Fatalf("submit-hyperdrive: %v: %s", err, out)
		}
		prefix := "trainyard-" + parent.RunID + "_"
		var tBurst, tAll time.Duration
		deadline := time.Now().Add(30 * time.Minute)
		for tAll == 0 {
			c := jobsNamed(prefix)
			if c >= burst && tBurst == 0 {
				tBurst = time.Since(start)
			}
			if c >= n {
				tAll = time.Since(start)
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d children reached Slurm in 30 minutes", c, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rawRate, burstRate, allRate := float64(n)/raw.Seconds(), float64(burst)/tBurst.Seconds(), float64(n)/tAll.Seconds()
		b.ReportMetric(rawRate, "raw-sbatch/s")
		b.ReportMetric(burstRate, "sweep-burst/s")
		b.ReportMetric(allRate, "sweep-all/s")
		b.ReportMetric(burstRate/rawRate, "burst/raw")
		b.Logf("raw sbatch: %d in %v (%.1f/s); sweep: first %d in %v (%.1f/s), all %d in %v (%.1f/s)",
			n, raw.Round(time.Millisecond), rawRate, burst, tBurst.Round(time.Millisecond), burstRate, n, tAll.Round(time.Millisecond), allRate)
		cli("run", "cancel", "-r", parent.RunID)
	}
}
