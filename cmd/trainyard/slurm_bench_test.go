package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

// benchSlurmJob is the job both sides run: one python3 process that sleeps
// a second (long enough that a 50 ms poll cannot miss its RUNNING).
const benchSlurmJob = "import time\ntime.sleep(1)\n"

// benchPoll is how often both sides look at the job's state.
const benchPoll = 50 * time.Millisecond

// BenchmarkSlurmSubmitToRunning compares, on one real Slurm 22.05 test
// cluster (3 nodes), the time from submit to RUNNING of the same job
// (python3 job.py, sleeping a second, on one whole node):
//
//   - raw: `sbatch --parsable --exclusive -N1 --wrap "python3 job.py"`,
//     then `scontrol show job -o ID` every 50 ms until JobState=RUNNING;
//   - trainyard: POST /api/v1/runs (snapshot uploaded beforehand) for
//     python3 job.py on the attached Slurm target, then GET
//     /api/v1/runs/{id} every 50 ms until the status is Running (the
//     dispatcher's pass: Queued → Preparing, the snapshot copied into the
//     working folder, Starting: staged on the shared directory, submitted
//     through slurmrestd, the job's state read back until Slurm says
//     RUNNING).
//
// Slurm itself starts a submitted job at slurmctld's next background pass,
// about once a second, so submit → RUNNING is anywhere in 0–1 s whoever
// submits. Each iteration therefore submits both at the same moment (3
// nodes: both fit), after a random pause so that moment falls anywhere in
// slurmctld's second; both jobs are started by the same pass and the
// paired difference is what Trainyard adds. The server runs with `trainyard
// serve`'s default --reconcile-interval (500 ms; BENCH_SLURM_INTERVAL
// overrides). Metrics: p50/p90 of both in ms, the difference of the
// medians in ms and % of raw, the paired difference's p50/p90, and the
// added % of the means. BENCH_SLURM_DEBUG=1 logs every run's timeline.
func BenchmarkSlurmSubmitToRunning(b *testing.B) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		b.Skip("no /usr/bin/python3")
	}
	interval := 500 * time.Millisecond
	if v := os.Getenv("BENCH_SLURM_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		interval = d
	}
	cluster := slurmtest.Start(b, slurmtest.Options{Nodes: 3})
	srv := startSlurmServer(b, b.TempDir(), freeLoopback(b), interval)
	b.Logf("trainyard dispatcher interval %s, polling every %s on both sides", interval, benchPoll)
	ctx := context.Background()

	var out, errb bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"TRAINYARD_URL": srv.url, "TRAINYARD_TOKEN": testToken}[k]
	}
	if code := runMain(ctx, []string{"computetarget", "attach", "slurm", "--name", "hpc", "--rest-url", cluster.RESTURL,
		"--jwt-key-file", cluster.JWTKeyFile, "--user", cluster.User, "--shared-dir", cluster.SharedDir}, getenv, strings.NewReader(""), &out, &errb); code != 0 {
		b.Fatalf("attach: exit %d: %s%s", code, out.String(), errb.String())
	}
	api := func(method, path string, body any, want int, into any) error {
		var rd io.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
		req, _ := http.NewRequest(method, srv.url+path, rd)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		if into != nil {
			return json.Unmarshal(data, into)
		}
		return nil
	}
	// The attached target must be usable before the clock starts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var c struct {
			Properties struct {
				ProvisioningState string `json:"provisioningState"`
			} `json:"properties"`
		}
		if err := api("GET", "/api/v1/computes/hpc", nil, 200, &c); err != nil {
			b.Fatal(err)
		}
		if c.Properties.ProvisioningState == "Succeeded" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the Slurm target is %s", c.Properties.ProvisioningState)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The snapshot, uploaded once as the CLI does.
	sum := sha256.Sum256([]byte(benchSlurmJob))
	entry := map[string]any{"path": "job.py", "sha256": hex.EncodeToString(sum[:]), "size": len(benchSlurmJob), "mode": 0o644}
	req, _ := http.NewRequest("PUT", srv.url+"/api/v1/blobs/"+hex.EncodeToString(sum[:]), strings.NewReader(benchSlurmJob))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || (resp.StatusCode != 200 && resp.StatusCode != 201) {
		b.Fatalf("PUT blob: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	var snap struct{ ID string }
	if err := api("POST", "/api/v1/snapshots", map[string]any{"files": []any{entry}}, 201, &snap); err != nil {
		b.Fatal(err)
	}
	runBody := map[string]any{"experimentName": "bench-slurm", "snapshotId": snap.ID, "script": "job.py", "target": "hpc",
		"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true, "interpreterPath": "/usr/bin/python3"}}}

	// The raw job's folder on the shared directory.
	rawDir := filepath.Join(cluster.SharedDir, "raw")
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rawDir, "job.py"), []byte(benchSlurmJob), 0o644); err != nil {
		b.Fatal(err)
	}
	jobState := func(id string) (string, error) {
		out, err := slurmCommand(cluster, "/usr/bin/scontrol", "show", "job", "-o", id)
		if err != nil {
			return "", fmt.Errorf("scontrol show job %s: %v: %s", id, err, out)
		}
		for _, f := range strings.Fields(out) {
			if v, ok := strings.CutPrefix(f, "JobState="); ok {
				return v, nil
			}
		}
		return "", nil
	}
	runStatus := func(id string) (string, error) {
		var r struct{ Status, Error string }
		if err := api("GET", "/api/v1/runs/"+id, nil, 200, &r); err != nil {
			return "", err
		}
		if r.Status == "Failed" {
			return r.Status, fmt.Errorf("run %s failed: %s", id, r.Error)
		}
		return r.Status, nil
	}
	waitUntil := func(what string, ok func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				b.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(benchPoll)
		}
	}

	// rawRun submits the job with sbatch and polls until Slurm says RUNNING.
	rawRun := func(i int) (string, time.Duration, error) {
		t0 := time.Now()
		out, err := slurmCommand(cluster, "/usr/bin/sbatch", "--parsable", "--output=/dev/null", "--chdir="+rawDir,
			"--exclusive", "-N1", "--job-name", fmt.Sprintf("raw-%d", i), "--wrap", "/usr/bin/python3 job.py")
		if err != nil {
			return "", 0, fmt.Errorf("sbatch: %v: %s", err, out)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
		for {
			st, err := jobState(id)
			if err != nil {
				return id, 0, err
			}
			if st == "RUNNING" {
				return id, time.Since(t0), nil
			}
			if st != "PENDING" && st != "CONFIGURING" {
				return id, 0, fmt.Errorf("raw job %s is %s before RUNNING", id, st)
			}
			time.Sleep(benchPoll)
		}
	}
	// tyRun submits the job as a run and polls the API until it is Running.
	tyRun := func() (string, time.Duration, error) {
		t0 := time.Now()
		var r struct{ RunID string }
		if err := api("POST", "/api/v1/runs", runBody, 201, &r); err != nil {
			return "", 0, err
		}
		for {
			st, err := runStatus(r.RunID)
			if err != nil {
				return r.RunID, 0, err
			}
			if st == "Running" {
				return r.RunID, time.Since(t0), nil
			}
			if st == "Completed" || st == "Finalizing" || st == "Canceled" || st == "Failed" {
				return r.RunID, 0, fmt.Errorf("run %s is %s before Running", r.RunID, st)
			}
			time.Sleep(benchPoll)
		}
	}
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}

	// Slurm starts submitted jobs on slurmctld's background pass, about once
	// a second: submit → RUNNING is 0–1 s whatever submits. So each
	// iteration submits both at the same moment (both fit: 3 nodes, one
	// each), after a random pause so the moments fall anywhere in
	// slurmctld's second; both see the same pass, and the difference is
	// what Trainyard adds.
	var raw, ty, diff []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		cluster.WaitIdle(b, 30*time.Second)
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		b.StartTimer()
		var (
			wg            sync.WaitGroup
			rawID, runID  string
			dRaw, dTy     time.Duration
			errRaw, errTy error
		)
		wg.Go(func() { rawID, dRaw, errRaw = rawRun(i) })
		wg.Go(func() { runID, dTy, errTy = tyRun() })
		wg.Wait()
		b.StopTimer()
		must(errRaw)
		must(errTy)
		raw, ty, diff = append(raw, dRaw), append(ty, dTy), append(diff, dTy-dRaw)
		if os.Getenv("BENCH_SLURM_DEBUG") != "" {
			var full struct {
				StatusHistory []struct{ Status, TimeUtc string } `json:"statusHistory"`
			}
			must(api("GET", "/api/v1/runs/"+runID, nil, 200, &full))
			b.Logf("raw %v trainyard %v history %+v", dRaw, dTy, full.StatusHistory)
		}
		waitUntil("the raw job to end", func() bool { st, err := jobState(rawID); must(err); return st == "COMPLETED" })
		waitUntil("the run to end", func() bool { st, err := runStatus(runID); must(err); return st == "Completed" })
		b.StartTimer()
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	r50, r90, t50, t90 := pct(raw, 0.5), pct(raw, 0.9), pct(ty, 0.5), pct(ty, 0.9)
	b.ReportMetric(r50, "raw-p50-ms")
	b.ReportMetric(r90, "raw-p90-ms")
	b.ReportMetric(t50, "trainyard-p50-ms")
	b.ReportMetric(t90, "trainyard-p90-ms")
	b.ReportMetric(t50-r50, "added-p50-ms")
	b.ReportMetric((t50-r50)/r50*100, "added-p50-%")
	b.ReportMetric(pct(diff, 0.5), "paired-added-p50-ms")
	b.ReportMetric(pct(diff, 0.9), "paired-added-p90-ms")
	var sumR, sumT time.Duration
	for i := range raw {
		sumR, sumT = sumR+raw[i], sumT+ty[i]
	}
	b.ReportMetric(float64((sumT-sumR).Microseconds())/float64(sumR.Microseconds())*100, "added-mean-%")
}
