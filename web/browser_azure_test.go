package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserAzureWorkspace is what a Studio user does with a registered
// workspace, in real Chromium: switch to it, see its computes and when they
// were read, create a cluster with the wizard and watch it go Creating →
// Succeeded, see a quota failure verbatim, stop and start an instance,
// delete a cluster. Azure Resource Manager is the replay of its published
// 2025-12-01 examples (compute/azure/armreplay) over HTTPS.
func TestBrowserAzureWorkspace(t *testing.T) {
	replay := armreplay.New(t)
	const quota = "Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota. Additional details - Location: eastus, Current Limit: 24, Current Usage: 2, Additional Required: 32."
	replay.ExceedQuota("Standard_DS5_v2", quota)
	replay.SetPolls(8)
	opts := replay.ServiceOptions()
	opts.PollEvery = 250 * time.Millisecond // a few seconds of Creating, as a person sees it
	env := webtest.New(t, webtest.Options{Azure: replay.Config(), AzureOptions: opts})
	body := `{"subscriptionId":"` + armreplay.Subscription + `","resourceGroup":"` + armreplay.ResourceGroup + `","workspaceName":"` + armreplay.WorkspaceName + `"}`
	req, _ := http.NewRequest(http.MethodPut, env.URL+"/api/v1/workspaces/replay", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("registering the workspace: %d", res.StatusCode)
	}

	ctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitFor := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	liveText := `((document.querySelector('#compute-live') || {}).textContent || '')`
	// hx-confirm asks with window.confirm; the person says yes.
	acceptConfirms := chromedp.Action[chromedp.Void](func(c context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(c, tg)
		return chromedp.Void{}, err
	})

	step("sign in", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.WaitVisible(chromedp.ID("tab-clusters")))
	step("switch to the workspace",
		chromedp.Click(chromedp.CSS(`nav[aria-label=Workspaces] a[href="/computes?workspace=replay"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name=cpu-cluster]`)))
	asOf, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=as-of]`)))
	if !strings.HasPrefix(strings.TrimSpace(asOf), "as of ") {
		t.Errorf("the list says %q; want when it was read from Azure", asOf)
	}
	shot(t, ctx, "azure-compute-list")

	step("open the wizard in the workspace",
		chromedp.Click(chromedp.CSS(`a[href="/computes/new/cluster?workspace=replay"]`)),
		chromedp.WaitVisible(chromedp.ID("size-Standard_D2_v2")))
	step("pick a size", chromedp.Click(chromedp.ID("size-Standard_D2_v2")), chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.ID("name")))
	step("name it", chromedp.SendKeys(chromedp.ID("name"), "web-azure"))
	pollText(t, ctx, "#err-name", "")
	step("review and create",
		chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=review]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=create]`)), chromedp.WaitVisible(chromedp.ID("compute-live")))
	waitFor("Creating while ARM's operation runs", liveText+`.includes('Creating')`)
	shot(t, ctx, "azure-creating")
	waitFor("Succeeded when it ends, without a reload", liveText+`.includes('Succeeded')`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/computes/web-azure?workspace=replay") {
		t.Fatalf("ended on %s", loc)
	}

	step("a create over quota",
		chromedp.Navigate(env.URL+"/computes/new/cluster?workspace=replay"), chromedp.WaitVisible(chromedp.ID("size-Standard_DS5_v2")),
		chromedp.Click(chromedp.ID("size-Standard_DS5_v2")), chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "too-big"))
	pollText(t, ctx, "#err-name", "")
	step("create it", chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=review]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=create]`)), chromedp.WaitVisible(chromedp.ID("compute-live")))
	waitFor("ARM's quota error, verbatim", liveText+`.includes(`+quoteJS(quota)+`)`)
	shot(t, ctx, "azure-quota-error")

	step("open the instance", chromedp.Navigate(env.URL+"/computes/ci-replay?workspace=replay"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Stop ci-replay"]`)), acceptConfirms)
	step("stop it", chromedp.Click(chromedp.CSS(`button[aria-label="Stop ci-replay"]`)))
	waitFor("Stopping, then Stopped", liveText+`.includes('Stopped')`)
	step("start it", chromedp.Navigate(env.URL+"/computes/ci-replay?workspace=replay"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Start ci-replay"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Start ci-replay"]`)))
	waitFor("Running again", liveText+`.includes('Running')`)

	step("delete the cluster", chromedp.Navigate(env.URL+"/computes?workspace=replay&tab=clusters"), chromedp.WaitVisible(chromedp.CSS(`tr[data-name=web-azure]`)), acceptConfirms,
		chromedp.Click(chromedp.CSS(`button[aria-label="Delete web-azure"]`)))
	waitFor("the row to go once ARM's delete ends", `document.querySelector('tr[data-name=web-azure]') === null`)
	if _, ok := replay.Compute("web-azure"); ok {
		t.Error("ARM still holds web-azure")
	}
}
