package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// seedRuns stores n finished runs over 20 experiments, 4 targets and 5
// submitters, one a second, in batches; the newest 500 get two metrics each
// (the runs on the first pages show their latest values).
func seedRuns(b *testing.B, env *webtest.Env, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now().Add(-time.Duration(n) * time.Second)
	statuses := []compute.RunStatus{compute.RunCompleted, compute.RunCompleted, compute.RunCompleted, compute.RunFailed, compute.RunCanceled}
	const batch = 5000
	for i := 0; i < n; i += batch {
		var runs []*compute.Run
		for j := i; j < min(i+batch, n); j++ {
			at := start.Add(time.Duration(j) * time.Second)
			runs = append(runs, &compute.Run{
				ID: fmt.Sprintf("exp%02d_%d_%08x", j%20, at.Unix(), j), ExperimentName: fmt.Sprintf("exp%02d", j%20),
				Status: statuses[j%len(statuses)], Target: fmt.Sprintf("target-%d", j%4), SubmittedBy: fmt.Sprintf("user%d", j%5),
				Script: "train.py", Arguments: []string{"--lr", "0.01", "--epochs", "10"}, CreatedAt: at, StartedAt: at, EndedAt: at.Add(time.Second),
				Error: map[bool]string{true: "exit code 1"}[statuses[j%len(statuses)] == compute.RunFailed],
			})
		}
		if err := env.Store.CreateRuns(ctx, runs); err != nil {
			b.Fatal(err)
		}
		if i+batch >= n {
			for _, r := range runs[max(0, len(runs)-500):] {
				m := []compute.Metric{{Key: "accuracy", Value: 0.9, Step: 9, Time: time.Now()}, {Key: "loss", Value: 0.1, Step: 9, Time: time.Now()}}
				if err := env.Store.LogBatch(ctx, r.ID, m, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkRunsList100k measures GET /api/v1/runs with 100,000 runs stored,
// from 8 concurrent clients: the first page, filtered pages, a deep page
// reached through nextLink (keyset) and one through $skip (offset).
func BenchmarkRunsList100k(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true, NoDispatcher: true})
	seedRuns(b, env, 100_000)
	auth := map[string]string{"Authorization": "Bearer " + webtest.Token}
	// A nextLink from about 50,000 runs deep.
	deep := "/api/v1/runs?$top=1000"
	for range 50 {
		req, _ := http.NewRequest("GET", env.URL+deep, nil)
		req.Header.Set("Authorization", "Bearer "+webtest.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			NextLink string `json:"nextLink"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		deep = page.NextLink
	}
	u, _ := url.Parse(deep)
	q := u.Query()
	q.Set("$top", "100")
	deep = "/api/v1/runs?" + q.Encode()
	for _, c := range []struct{ name, path string }{
		{"first-page", "/api/v1/runs"},
		{"experiment", "/api/v1/runs?experiment=exp07"},
		{"status-failed", "/api/v1/runs?status=Failed"},
		{"target+submitter", "/api/v1/runs?target=target-2&submittedBy=user2"},
		{"since-1h", "/api/v1/runs?since=" + url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))},
		{"nextLink-50k-deep", deep},
		{"skip-50k", "/api/v1/runs?$skip=50000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			loadTest(b, env, http.DefaultClient, c.path, auth)
		})
	}
}

// BenchmarkSubmitToRunning measures, on the local target, the time from
// POST /api/v1/runs until the run is Running (as the store records it),
// against a bare fork/exec of the same command (python3 noop.py) started
// with os/exec. added-ms-p50 is the difference of the medians.
func BenchmarkSubmitToRunning(b *testing.B) { benchSubmitToRunning(b, webtest.Options{}) }

// BenchmarkSubmitToRunningUnsandboxed is the same with --unsafe-no-sandbox:
// beside BenchmarkSubmitToRunning it shows what the sandbox (bubblewrap,
// setpriv, the run's cgroup) adds to submit → Running.
func BenchmarkSubmitToRunningUnsandboxed(b *testing.B) {
	benchSubmitToRunning(b, webtest.Options{UnsafeNoSandbox: true})
}

func benchSubmitToRunning(b *testing.B, opts webtest.Options) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 is not installed")
	}
	env := webtest.New(b, opts)
	snap := uploadFolder(b, env, map[string]string{"noop.py": "pass\n"})
	body, _ := json.Marshal(map[string]any{"experimentName": "bench", "snapshotId": snap, "script": "noop.py", "target": "local",
		"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true}}})
	ctx := context.Background()

	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "noop.py"), []byte("pass\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	var submit, bare []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		status, resp, _ := apiDo(b, env, "POST", "/api/v1/runs", "application/json", body)
		if status != 201 {
			b.Fatalf("submit: %d %s", status, resp)
		}
		var run runJSON
		_ = json.Unmarshal(resp, &run)
		for {
			r, err := env.Store.GetRun(ctx, run.RunID)
			if err != nil {
				b.Fatal(err)
			}
			if !r.StartedAt.IsZero() || r.Status.Terminal() {
				if r.Status == compute.RunFailed {
					b.Fatalf("run failed: %s", r.Error)
				}
				submit = append(submit, time.Since(start))
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		webtest.WaitFor(b, 30*time.Second, "the run to end", func() bool {
			r, _ := env.Store.GetRun(ctx, run.RunID)
			return r.Status.Terminal()
		})
		cmd := exec.Command("python3", "noop.py")
		cmd.Dir = dir
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(t0))
		_ = cmd.Wait()
		b.StartTimer()
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	s, f := p50(submit), p50(bare)
	b.ReportMetric(s, "submit-to-running-p50-ms")
	b.ReportMetric(f, "bare-start-p50-ms")
	b.ReportMetric(s-f, "added-ms-p50")
}
