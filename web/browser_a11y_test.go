package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// axeSource is axe-core (npm, a dev dependency in package.json; `make test`
// installs it with npm ci), read from node_modules at the repository root.
func axeSource(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed (%v); `make test` installs it with npm ci", err)
		}
		t.Skipf("axe-core not installed: %v (npm ci)", err)
	}
	return string(b)
}

// axeRun runs axe on the page and returns its serious and critical
// violations, one line each with the first offending element.
const axeRun = `(async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v =>
    v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.length + ' element(s), e.g. ' + v.nodes[0].target.join(' ') + ': ' + (v.nodes[0].failureSummary || '').split('\n').slice(1, 3).join(' ')));
})()`

// TestBrowserAccessibility runs axe-core on every page a signed-in user
// meets, in light and in dark mode: no serious or critical violation. It
// also checks that every link and button of the compute list is reachable
// with Tab and shows a focus ring.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "cpu-cluster", Kind: compute.KindCluster, CreatedBy: "local",
		ProvisioningState: compute.ProvisioningSucceeded,
		Cluster:           &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 2, AllocationState: "Steady"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "my-instance", Kind: compute.KindInstance, CreatedBy: "local",
		ProvisioningState: compute.ProvisioningSucceeded,
		Instance:          &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceStopped}}, nil); err != nil {
		t.Fatal(err)
	}
	run := &compute.Run{ExperimentName: "a11y", Target: "local", Status: compute.RunCompleted}
	if err := env.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.LogBatch(ctx, run.ID, []compute.Metric{{Key: "loss", Value: 0.5, Step: 0}, {Key: "loss", Value: 0.25, Step: 1}},
		[]compute.KeyValue{{Key: "lr", Value: "0.1"}}, nil); err != nil {
		t.Fatal(err)
	}
	pages := []string{
		"/computes?tab=instances", "/computes?tab=clusters", "/computes?tab=slurm", "/computes?tab=attached",
		"/computes/cpu-cluster", "/computes/cpu-cluster?tab=nodes", "/computes/cpu-cluster?tab=runs",
		"/computes/my-instance", "/computes/new/cluster", "/computes/new/instance", "/computes/attach",
		"/runs", "/runs/" + run.ID, "/runs/new", "/runs/new/hyperdrive", "/experiments", "/experiments/a11y",
		"/profile", "/audit",
	}
	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+"/login?token="+webtest.Token)); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, page := range pages {
			if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+page), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
				t.Fatalf("%s: %v", page, err)
			}
			actx, cancel := context.WithTimeout(bctx, 30*time.Second)
			_, err := chromedp.Run(actx, chromedp.Evaluate[bool](axe+";true"))
			var out string
			if err == nil {
				out, err = chromedp.Run(actx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
			}
			cancel()
			if err != nil {
				t.Fatalf("%s (%s): axe: %v", page, scheme, err)
			}
			var violations []string
			if err := json.Unmarshal([]byte(out), &violations); err != nil {
				t.Fatalf("%s: %v", page, err)
			}
			if len(violations) > 0 {
				shot(t, bctx, fmt.Sprintf("a11y-%s-%s", scheme, strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(page)))
				t.Errorf("%s in %s mode:\n  %s", page, scheme, strings.Join(violations, "\n  "))
			}
		}
	}
	for _, page := range []string{"/computes?tab=clusters", "/computes/cpu-cluster", "/runs"} {
		keyboardReachesEverything(t, bctx, env.URL+page)
	}
}

// focusState says which element has focus and whether it shows a ring
// (an outline or a box shadow: Tailwind's focus-visible:ring).
const focusState = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return JSON.stringify({key: ''});
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow && cs.boxShadow !== 'none');
  const at = [...document.querySelectorAll('*')].indexOf(el);
  return JSON.stringify({key: at + ': ' + el.tagName + ' ' + (el.id || el.getAttribute('href') || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)), ring: ring, inMain: !!el.closest('main')});
})()`

// keyboardReachesEverything presses Tab through the page and checks that
// every link and button of its main part gets focus, each with a visible
// focus ring.
func keyboardReachesEverything(t *testing.T, bctx context.Context, u string) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
		t.Fatal(err)
	}
	want, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll('main a[href], main button:not([disabled])')].filter(e => e.offsetParent !== null).length`))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	reached := 0
	for range 400 {
		if err := chromedp.Do(bctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](focusState))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Key          string
			Ring, InMain bool
		}
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			t.Fatal(err)
		}
		if f.Key == "" || seen[f.Key] {
			if len(seen) > 0 && f.Key != "" {
				break // came round again
			}
			continue
		}
		seen[f.Key] = true
		if !f.Ring {
			t.Errorf("%s: %s has focus without a visible focus ring", u, f.Key)
		}
		if f.InMain {
			reached++
		}
	}
	if reached < want {
		t.Errorf("%s: Tab reached %d of the %d links and buttons in the page's main part", u, reached, want)
	}
}
