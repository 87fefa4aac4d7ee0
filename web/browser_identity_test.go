package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserSignInShowsOnlyAllowedActions: a real Chromium signs in through
// the test OpenID provider — the app's /login, the provider's authorize
// endpoint, the callback — first as a Reader, who sees the compute list
// without "+ New" or Delete, then signs out (a form POST that leaves for the
// provider's end-session endpoint under the CSP's form-action), and signs in
// as a ComputeOperator, who sees both.
func TestBrowserSignInShowsOnlyAllowedActions(t *testing.T) {
	p := webtest.NewProvider(t)
	env := webtest.New(t, webtest.Options{Provider: p, NoController: true})
	now := time.Now()
	if err := env.Store.CreateTarget(context.Background(), &compute.Target{Name: "cpu-cluster", Kind: compute.KindCluster,
		ProvisioningState: compute.ProvisioningSucceeded, CreatedBy: "seed", CreatedAt: now, ModifiedAt: now, StateSince: now,
		Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", VMPriority: compute.Dedicated, MaxNodes: 2, IdleSecondsBeforeScaleDown: 120}}, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+quoteJS(sel)+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	newButton := `a[href="/computes/new/cluster"]`
	deleteButton := `tr[data-name="cpu-cluster"] button[aria-label="Delete cpu-cluster"]`

	p.Next(webtest.Login{OID: "66666666-6666-6666-6666-666666666666", Name: "Rita Reader", Roles: []string{"Reader"}})
	step("reader signs in", chromedp.Navigate(env.URL+"/computes?tab=clusters"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="cpu-cluster"]`)))
	user, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=user]`)))
	if !strings.Contains(user, "Rita Reader") || !strings.Contains(user, "Reader") {
		t.Fatalf("user menu %q", user)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/computes?tab=clusters") {
		t.Fatalf("after sign-in the reader is at %s, not the page they asked for", loc)
	}
	if n := count(newButton); n != 0 {
		shot(t, ctx, "reader")
		t.Fatalf("the Reader sees %d '+ New' buttons", n)
	}
	if n := count(deleteButton); n != 0 {
		t.Fatalf("the Reader sees %d Delete buttons", n)
	}
	if n := count(`a[href="/audit"]`); n != 0 {
		t.Fatal("the Reader sees the Audit log link")
	}
	shot(t, ctx, "reader-computes")

	step("sign out", chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=signin]`)))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/signed-out") {
		t.Fatalf("after sign-out at %s", loc)
	}
	if got := p.Logouts(); len(got) != 1 || got[0].Get("post_logout_redirect_uri") != env.URL+"/signed-out" {
		t.Fatalf("the provider's end-session endpoint saw %v", got)
	}

	p.Next(webtest.Login{OID: "77777777-7777-7777-7777-777777777777", Name: "Otto Operator", Roles: []string{"ComputeOperator"}})
	step("operator signs in", chromedp.Click(chromedp.CSS(`a[href="/login"]`)), chromedp.WaitVisible(chromedp.ID("tab-clusters")),
		chromedp.Click(chromedp.ID("tab-clusters")), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="cpu-cluster"]`)))
	user, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=user]`)))
	if !strings.Contains(user, "Otto Operator") || !strings.Contains(user, "ComputeOperator") {
		t.Fatalf("user menu %q", user)
	}
	if n := count(newButton); n != 1 {
		shot(t, ctx, "operator")
		t.Fatalf("the Operator sees %d '+ New' buttons, want 1", n)
	}
	if n := count(deleteButton); n != 1 {
		t.Fatalf("the Operator sees %d Delete buttons, want 1", n)
	}
	shot(t, ctx, "operator-computes")
}
