package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserCommandBar: a user checks two clusters, a change elsewhere
// refreshes the list without losing the checks, Delete asks once naming
// both, and confirmed, both rows go to Deleting while the third stays.
func TestBrowserCommandBar(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	for _, name := range []string{"bulk-a", "bulk-b", "bulk-c"} {
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded,
			Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 1}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	bctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			shot(t, bctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("open the clusters", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.Navigate(env.URL+"/computes?tab=clusters"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=sel][value=bulk-a]`)))
	waitJS(t, bctx, "stream open", `document.body.dataset.liveState === 'streaming'`)
	step("check two", chromedp.Click(chromedp.CSS(`input[name=sel][value=bulk-a]`)), chromedp.Click(chromedp.CSS(`input[name=sel][value=bulk-b]`)))
	// Another cluster changes: the list refreshes itself and keeps the checks.
	if _, err := env.Store.UpdateTarget(ctx, "bulk-c", func(t *compute.Target) error { t.Description = "touched"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "bulk-d", Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded,
		Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "the list refreshed", `!!document.querySelector('tr[data-name=bulk-d]')`)
	waitJS(t, bctx, "the checks survived", `document.querySelector('input[name=sel][value=bulk-a]').checked && document.querySelector('input[name=sel][value=bulk-b]').checked && !document.querySelector('input[name=sel][value=bulk-c]').checked`)
	step("delete the selection", chromedp.Click(chromedp.CSS(`[data-testid=bulk-delete]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=bulk-confirm]`)))
	waitJS(t, bctx, "one confirmation naming both", textHas(`[data-testid=bulk-confirm]`, "bulk-a, bulk-b"))
	step("confirm", chromedp.Click(chromedp.CSS(`[data-testid=bulk-confirm-button]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=bulk-results]`)))
	waitJS(t, bctx, "both rows say Deleting", `['bulk-a','bulk-b'].every(n => document.querySelector('tr[data-name='+n+']').textContent.includes('Deleting')) && !document.querySelector('tr[data-name=bulk-c]').textContent.includes('Deleting')`)
}
