package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/webtest"
)

// waitJS waits until the JavaScript condition holds in the page.
func waitJS(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	timeout := 15 * time.Second * computetest.Slack
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout))); err != nil {
		shot(t, ctx, "live-"+what)
		t.Fatalf("%s: %v", what, err)
	}
}

// textHas is a JavaScript condition: the element's text contains want.
func textHas(sel, want string) string {
	return `((document.querySelector(` + quoteJS(sel) + `) || {}).textContent || '').includes(` + quoteJS(want) + `)`
}

// TestBrowserLivePages: what the server records reaches an open page by
// itself, through the page's event stream — the details page's state, its
// attributes (Allocation state) and its commands; a run's late params — and,
// while the stream is down, through the fallback poll, until the stream is
// back. Nothing here moves states but the test (no controller, no
// dispatcher), so each change on screen is the one the test made.
func TestBrowserLivePages(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "live-cpu", Kind: compute.KindCluster,
		ProvisioningState: compute.ProvisioningCreating,
		Cluster:           &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 2, AllocationState: "Resizing", TargetNodeCount: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	run := &compute.Run{ExperimentName: "live", Target: "local", Status: compute.RunRunning}
	if err := env.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			shot(t, bctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("sign in and open the cluster", chromedp.Navigate(env.URL+"/login?token="+webtest.Token),
		chromedp.Navigate(env.URL+"/computes/live-cpu"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=attributes]`)))
	waitJS(t, bctx, "stream open", `document.body.dataset.liveState === 'streaming'`)
	if _, err := env.Store.UpdateTarget(ctx, "live-cpu", func(t *compute.Target) error {
		t.ProvisioningState = compute.ProvisioningSucceeded
		t.Cluster.AllocationState = "Steady"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "state reaches the page", textHas(`[data-testid=provisioning-state]`, "Succeeded"))
	waitJS(t, bctx, "allocation state reaches the page", textHas(`[data-testid=attributes]`, "Steady"))
	waitJS(t, bctx, "commands follow the state", `!!document.querySelector('#compute-actions button')`)

	step("open the run", chromedp.Navigate(env.URL+"/runs/"+run.ID), chromedp.WaitVisible(chromedp.ID("run-params")))
	waitJS(t, bctx, "run stream open", `document.body.dataset.liveState === 'streaming'`)
	if err := env.Store.LogBatch(ctx, run.ID, nil, []compute.KeyValue{{Key: "lr", Value: "0.25"}}, nil); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "a param logged while the page is open shows", textHas(`[data-testid=params]`, "0.25"))

	// The stream drops and cannot come back: the page polls instead.
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	block := func(on bool) {
		var patterns []*network.BlockPattern
		if on {
			patterns = []*network.BlockPattern{{URLPattern: "*://*:*/events*", Block: true}}
		}
		if _, err := chromedp.Call(bctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns}); err != nil {
			t.Fatal(err)
		}
	}
	block(true)
	env.Server.CloseClientConnections()
	waitJS(t, bctx, "the page falls back to polling", `document.body.dataset.liveState === 'polling'`)
	if err := env.Store.LogBatch(ctx, run.ID, nil, nil, []compute.KeyValue{{Key: "phase", Value: "polled-in"}}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "a change while the stream is down shows by polling", textHas(`[data-testid=tags]`, "polled-in"))
	block(false)
	waitJS(t, bctx, "the stream comes back", `document.body.dataset.liveState === 'streaming'`)
	if _, err := env.Store.UpdateRun(ctx, run.ID, func(r *compute.Run) error { r.Status = compute.RunCompleted; return nil }); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "the run's end reaches the page", textHas(`[data-testid=run-status]`, "Completed"))
}
