package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/brotli"

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

// BenchmarkPageWeight reports what the compute page costs a browser on its
// first visit, in bytes on the wire: the page and every stylesheet and script
// it references, requested over HTTP with Chromium's Accept-Encoding and
// counted as received (still encoded; headers not counted). Each resource is
// also reported on its own (B-<name>), with its encoding in the log.
func BenchmarkPageWeight(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true})
	seed(b, env, 1000)
	c := env.Browser(b)
	var total int
	var sizes map[string]int
	for i := 0; i < b.N; i++ {
		total, sizes = 0, map[string]int{}
		n, _, body := received(b, c, env.URL+"/computes?tab=clusters")
		sizes["html"] = n
		total += n
		d := docB(b, body)
		var refs []string
		d.Find(`link[rel=stylesheet]`).Each(func(_ int, s *goquery.Selection) { refs = append(refs, s.AttrOr("href", "")) })
		d.Find(`script[src]`).Each(func(_ int, s *goquery.Selection) { refs = append(refs, s.AttrOr("src", "")) })
		if len(refs) == 0 {
			b.Fatal("the compute page references no stylesheet or script")
		}
		for _, ref := range refs {
			n, enc, _ := received(b, c, env.URL+ref)
			name := path.Base(strings.SplitN(ref, "?", 2)[0])
			sizes[name] = n
			total += n
			if i == 0 {
				b.Logf("%s: %d bytes on the wire (Content-Encoding %q)", ref, n, enc)
			}
		}
	}
	for name, n := range sizes {
		b.ReportMetric(float64(n), "B-"+name)
	}
	b.ReportMetric(float64(total), "page-B-wire")
	b.ReportMetric(float64(total)/1024, "page-KiB-wire")
}

// received GETs url as Chromium would (Accept-Encoding: br, gzip) and returns
// the body's length as it came over the wire (not decoded: setting
// Accept-Encoding by hand turns off the transport's transparent gzip), its
// Content-Encoding and the decoded body (for HTML pages).
func received(b *testing.B, c *http.Client, url string) (int, string, string) {
	b.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	enc := resp.Header.Get("Content-Encoding")
	var r io.Reader = bytes.NewReader(raw)
	switch enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		if r, err = gzip.NewReader(r); err != nil {
			b.Fatal(err)
		}
	case "":
	default:
		b.Fatalf("GET %s: unexpected Content-Encoding %q", url, enc)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		b.Fatalf("GET %s: decoding %s: %v", url, enc, err)
	}
	return len(raw), enc, string(body)
}
