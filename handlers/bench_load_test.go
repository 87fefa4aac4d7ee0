package handlers_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// loadConns is how many connections hammer the server at once (issue
// "Throughput at scale": 32).
const loadConns = 32

// hammer sends requests for path over loadConns keep-alive connections for
// the given time and returns the rate served and the 99th percentile
// latency as the clients saw it.
func hammer(b *testing.B, url string, header map[string]string, jar http.CookieJar, d time.Duration) (rps float64, p99 time.Duration) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: loadConns, MaxConnsPerHost: loadConns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Jar: jar}
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	for range loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				for k, v := range header {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("%s: status %d", url, resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatalf("%s: no request answered", url)
	}
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)*99/100]
}

// BenchmarkPagesUnderLoad serves the pages people keep open, with 1,000
// targets and 100,000 runs stored, to 32 concurrent connections, each for a
// few seconds, beside the server's own /healthz measured the same way in the
// same run: the goal is at least half of /healthz's rate with p99 under
// 50 ms. Client and server share the machine's cores, as they would under
// a load generator on the same host.
func BenchmarkPagesUnderLoad(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true, NoDispatcher: true})
	seed(b, env, 1000)
	seedRuns(b, env, 100_000)
	browser := env.Browser(b)
	page, err := env.Store.RunsPage(context.Background(), store.RunPageQuery{Sort: "created", Desc: true, Limit: 1})
	if err != nil || len(page.Runs) == 0 {
		b.Fatalf("the newest run: %v", err)
	}
	runID := page.Runs[0].ID
	bearer := map[string]string{"Authorization": "Bearer " + webtest.Token}
	per := 4 * time.Second
	b.ResetTimer()
	for range b.N {
		base, _ := hammer(b, env.URL+"/healthz", nil, nil, per)
		b.ReportMetric(base, "healthz-rps")
		for _, p := range []struct {
			name, path string
			header     map[string]string
			browser    bool
		}{
			{"computes", "/computes?tab=clusters", nil, true},
			{"computes-json", "/api/v1/computes", bearer, false},
			{"runs", "/runs", nil, true},
			{"run", "/runs/" + runID, nil, true},
		} {
			var jar http.CookieJar
			if p.browser {
				jar = browser.Jar
			}
			rps, p99 := hammer(b, env.URL+p.path, p.header, jar, per)
			b.ReportMetric(rps, p.name+"-rps")
			b.ReportMetric(rps/base, p.name+"/healthz")
			b.ReportMetric(float64(p99.Microseconds())/1000, p.name+"-p99-ms")
		}
	}
}
