package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// seed fills the store with n targets: clusters, instances and attached VMs.
func seed(b *testing.B, env *webtest.Env, n int) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		t := &compute.Target{Name: fmt.Sprintf("c%04d-bench", i), ProvisioningState: compute.ProvisioningSucceeded, CreatedBy: "bench", CreatedAt: time.Now()}
		switch i % 3 {
		case 0:
			t.Kind, t.Cluster = compute.KindCluster, &compute.ClusterSpec{VMSize: "Standard_D2_v2", VMPriority: compute.Dedicated, MaxNodes: 4, IdleSecondsBeforeScaleDown: 120}
		case 1:
			t.Kind, t.Instance = compute.KindInstance, &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning}
		default:
			t.Kind, t.Attach = compute.KindVirtualMachine, &compute.AttachSpec{Address: "10.0.0.4", SSHPort: 22, UserName: "azureuser"}
		}
		if err := env.Store.CreateTarget(ctx, t, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// loadTest sends b.N requests from 8 concurrent clients over loopback and
// reports the latency percentiles a user would feel.
func loadTest(b *testing.B, env *webtest.Env, client *http.Client, path string, header map[string]string) {
	b.Helper()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(4) // × GOMAXPROCS (2 here) = 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", env.URL+path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			for k, v := range header {
				req.Header.Set(k, v)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

func BenchmarkComputeListPage1000(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true})
	seed(b, env, 1000)
	c := env.Browser(b)
	loadTest(b, env, c, "/computes?tab=clusters", nil)
}

func BenchmarkComputeListJSON1000(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true})
	seed(b, env, 1000)
	loadTest(b, env, http.DefaultClient, "/api/v1/computes", map[string]string{"Authorization": "Bearer " + webtest.Token})
}

// BenchmarkPageWeight reports what the compute page costs a browser on the
// wire: HTML + CSS + JS, gzipped as the server sends them.
func BenchmarkPageWeight(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true})
	seed(b, env, 1000)
	c := env.Browser(b)
	var total int
	for i := 0; i < b.N; i++ {
		total = 0
		_, body, _ := webtest.Do(b, c, "GET", env.URL+"/computes?tab=clusters", nil, nil)
		total += gzipLen(body)
		d := docB(b, body)
		for _, sel := range []string{`link[rel=stylesheet]`, `script[src]`} {
			attr := map[string]string{`link[rel=stylesheet]`: "href", `script[src]`: "src"}[sel]
			href, _ := d.Find(sel).Attr(attr)
			_, asset, _ := webtest.Do(b, c, "GET", env.URL+href, nil, nil)
			total += gzipLen(asset)
		}
	}
	b.ReportMetric(float64(total)/1024, "page-KiB-gzip")
}

func gzipLen(s string) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, 5)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return buf.Len()
}
