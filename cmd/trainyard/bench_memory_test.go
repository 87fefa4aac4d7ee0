package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/store"
)

// BenchmarkServerMemory (issue "Throughput at scale": memory stays flat)
// measures the resident memory of a real `trainyard serve` process with
// 1,000 targets and 100,000 runs stored (20 metrics each, 1,000 steps of
// them for 100 runs, and a sweep of 100 children) while the compute list,
// the runs list, a run page with 20,000 metric points, the sweep's page and
// the JSON compute list are served to 32 connections. Baseline beside it:
// the same process on an empty data folder under the same load. Goal: RSS
// under 100 MB. Knob: BENCH_MEMORY_RUNS (100,000).
func BenchmarkServerMemory(b *testing.B) {
	runs := envIntBench("BENCH_MEMORY_RUNS", 100_000)
	bin := filepath.Join(b.TempDir(), "trainyard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	full := b.TempDir()
	seedStart := time.Now()
	paths := seedMemoryStore(b, full, runs)
	b.Logf("seeded %d runs in %v", runs, time.Since(seedStart).Round(time.Second))
	for range b.N {
		emptyPeak, emptyEnd := serveUnderLoad(b, bin, b.TempDir(), []string{"/computes?tab=clusters", "/runs", "/api/v1/computes"})
		peak, end := serveUnderLoad(b, bin, full, paths)
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(end)/(1<<20), "end-RSS-MiB")
		b.ReportMetric(float64(emptyPeak)/(1<<20), "empty-peak-RSS-MiB")
		b.ReportMetric(float64(emptyEnd)/(1<<20), "empty-end-RSS-MiB")
	}
}

func envIntBench(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// seedMemoryStore fills dir's store and returns the pages to load.
func seedMemoryStore(b *testing.B, dir string, n int) []string {
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := range 1000 {
		t := &compute.Target{Name: fmt.Sprintf("c%04d-mem", i), Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded,
			CreatedBy: "bench", CreatedAt: time.Now(), Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", VMPriority: compute.Dedicated, MaxNodes: 4, IdleSecondsBeforeScaleDown: 120}}
		if err := st.CreateTarget(ctx, t, nil); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now().Add(-time.Duration(n) * time.Second)
	metricsOf := func(step int64, at time.Time) []compute.Metric {
		m := make([]compute.Metric, 20)
		for k := range m {
			m[k] = compute.Metric{Key: fmt.Sprintf("metric_%02d", k), Value: float64(k) / float64(step+1), Step: step, Time: at}
		}
		return m
	}
	var longRun string
	const batch = 2000
	for i := 0; i < n; i += batch {
		var rs []*compute.Run
		for j := i; j < min(i+batch, n); j++ {
			at := start.Add(time.Duration(j) * time.Second)
			rs = append(rs, &compute.Run{ID: fmt.Sprintf("mem%02d_%d_%08x", j%20, at.Unix(), j), ExperimentName: fmt.Sprintf("mem%02d", j%20),
				Status: compute.RunCompleted, Target: "local", SubmittedBy: "bench", Script: "train.py", CreatedAt: at, StartedAt: at, EndedAt: at.Add(time.Second)})
		}
		if err := st.CreateRuns(ctx, rs); err != nil {
			b.Fatal(err)
		}
		for k, r := range rs {
			if err := st.LogBatch(ctx, r.ID, metricsOf(0, r.EndedAt), nil, nil); err != nil {
				b.Fatal(err)
			}
			if i+k >= n-100 { // the newest 100: 1,000 steps of the 20 metrics
				longRun = r.ID
				for step := int64(1); step < 1000; step += 50 {
					var ms []compute.Metric
					for s := step; s < min(step+50, 1000); s++ {
						ms = append(ms, metricsOf(s, r.EndedAt)...)
					}
					if err := st.LogBatch(ctx, r.ID, ms, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	// A finished sweep of 100 children.
	space := hyperdrive.Space{}
	e, err := hyperdrive.NewExpression("--lr", hyperdrive.Uniform, []any{0.0, 1.0})
	if err != nil {
		b.Fatal(err)
	}
	space = append(space, hyperdrive.ParamSpec{Name: "--lr", Expr: e})
	now := time.Now()
	parent := &compute.Run{ID: fmt.Sprintf("sweep_%d_memparent", now.Unix()), ExperimentName: "mem-sweep", Status: compute.RunCompleted, Target: "local",
		SubmittedBy: "bench", Script: "train.py", CreatedAt: now, StartedAt: now, EndedAt: now,
		Sweep: &hyperdrive.Sweep{Space: space, Sampling: hyperdrive.SamplingRandom, PrimaryMetric: "metric_00", Goal: hyperdrive.Minimize, MaxTotalRuns: 100, MaxConcurrentRuns: 8}}
	kids := []*compute.Run{parent}
	for i := range 100 {
		kids = append(kids, &compute.Run{ID: fmt.Sprintf("%s_%d", parent.ID, i), ExperimentName: "mem-sweep", ParentID: parent.ID, ChildIndex: i,
			Status: compute.RunCompleted, Target: "local", SubmittedBy: "bench", Script: "train.py", CreatedAt: now, StartedAt: now, EndedAt: now})
	}
	if err := st.CreateRuns(ctx, kids); err != nil {
		b.Fatal(err)
	}
	for _, k := range kids[1:] {
		if err := st.LogBatch(ctx, k.ID, metricsOf(0, now), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	return []string{"/computes?tab=clusters", "/runs", "/runs/" + longRun, "/runs/" + parent.ID, "/api/v1/computes"}
}

// serveUnderLoad starts the server on dir, sends the pages round robin
// from 32 connections for 10 s while sampling its RSS every 50 ms, and
// returns the peak (VmHWM) and the RSS at the end.
func serveUnderLoad(b *testing.B, bin, dir string, paths []string) (peak, end int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "memory-bench-token-0123456789abcdef"
	srv := exec.Command(bin, "serve", "--addr", addr, "--data", dir)
	srv.Env = append(os.Environ(), "TRAINYARD_TOKEN="+token, "TRAINYARD_LOG_LEVEL=warn")
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	if p := os.Getenv("BENCH_SERVER_LOG"); p != "" { // e.g. with GODEBUG=gctrace=1
		if f, err := os.Create(p + "-" + filepath.Base(dir)); err == nil {
			defer f.Close()
			srv.Stderr = f
		}
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	base := "http://" + addr
	for { // up when /healthz answers
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 32, MaxConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Jar: jar}
	if resp, err := client.Get(base + "/login?token=" + token); err != nil {
		b.Fatal(err)
	} else {
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+paths[i%len(paths)], nil)
				req.Header.Set("Accept-Encoding", "gzip")
				if strings.HasPrefix(paths[i%len(paths)], "/api/") {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("%s: %d", paths[i%len(paths)], resp.StatusCode)
					return
				}
			}
		}()
	}
	for ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	hwm, rss := procStatus(b, srv.Process.Pid)
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(line, "Rss") {
				b.Logf("%s: %s", dir, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return hwm, rss
}

// procStatus reads VmHWM (the peak resident set) and VmRSS of pid.
func procStatus(b *testing.B, pid int) (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = kb << 10
		case "VmRSS":
			rss = kb << 10
		}
	}
	return hwm, rss
}
