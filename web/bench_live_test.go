package web_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// rowObserver records, per cluster name, when its row first shows
// (name+":row") and when its state badge first says Succeeded (name+":ok"),
// as Date.now(): the same clock as the server's.
const rowObserver = `(() => {
  window.__seen = {};
  const check = () => {
    const now = Date.now();
    for (const tr of document.querySelectorAll('tr[data-name]')) {
      const n = tr.getAttribute('data-name');
      if (!window.__seen[n + ':row']) window.__seen[n + ':row'] = now;
      if (!window.__seen[n + ':ok'] && tr.textContent.includes('Succeeded')) window.__seen[n + ':ok'] = now;
    }
  };
  new MutationObserver(check).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
  check();
  return true;
})()`

// fetchSection times, in the browser, one fetch of the compute list's live
// section as htmx makes it: the least a pull-based page could take to show
// a change it already knew of.
const fetchSection = `(async () => {
  const t0 = performance.now();
  const r = await fetch(location.href, {headers: {'HX-Request': 'true', 'HX-Target': 'compute-table'}});
  await r.text();
  return performance.now() - t0;
})()`

// BenchmarkChangeToScreen measures what a user watching the compute list
// waits for: from the moment the server records a change — a new cluster; the
// cluster becoming Succeeded — to the moment real Chromium shows it in the
// cluster's row. The baseline beside it is one fetch of the same section by
// the same page: the least any page could take to show a change it already
// knew of. Figures are medians over b.N clusters. Run with `make bench`
// (needs Debian's chromium).
func BenchmarkChangeToScreen(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	bctx := newBrowser(b)
	if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+"/login?token="+webtest.Token),
		chromedp.Navigate(env.URL+"/computes?tab=clusters"), chromedp.WaitVisible(chromedp.CSS(`#compute-table`))); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.body.dataset.liveState === 'streaming'`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](rowObserver)); err != nil {
		b.Fatal(err)
	}
	seen := func(key string) float64 {
		v, err := chromedp.Run(bctx, chromedp.Poll[float64](`window.__seen[`+quoteJS(key)+`] || 0`,
			chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(2*time.Millisecond)))
		if err != nil {
			b.Fatalf("%s never showed: %v", key, err)
		}
		return v
	}
	ms := func(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }
	var rows, oks, fetches []float64
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("bench-%04d", i)
		// Changes come at any moment, as a user meets them: some right
		// after the last (and wait behind the stream's gap), most later.
		time.Sleep(time.Duration(i*37%250) * time.Millisecond)
		at := time.Now()
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindCluster,
			ProvisioningState: compute.ProvisioningCreating,
			Cluster:           &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 1}}, nil); err != nil {
			b.Fatal(err)
		}
		rows = append(rows, seen(name+":row")-ms(at))
		time.Sleep(time.Duration(i*53%250) * time.Millisecond)
		at = time.Now()
		if _, err := env.Store.UpdateTarget(ctx, name, func(t *compute.Target) error {
			t.ProvisioningState = compute.ProvisioningSucceeded
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		oks = append(oks, seen(name+":ok")-ms(at))
		f, err := chromedp.Run(bctx, chromedp.Evaluate[float64](fetchSection, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		fetches = append(fetches, f)
		if err := env.Store.DeleteTarget(ctx, name); err != nil { // the list keeps one page
			b.Fatal(err)
		}
	}
	b.StopTimer()
	row, ok, fetch := median(rows), median(oks), median(fetches)
	b.ReportMetric(row, "ms-row-appears")
	b.ReportMetric(ok, "ms-state-shown")
	b.ReportMetric(fetch, "ms-section-fetch")
	b.ReportMetric(ok/fetch, "state/fetch")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
