package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// overflowReport is a JavaScript expression that says what sticks out: the
// page wider than the window, or a row's last cell (its actions) outside the
// visible part of the table's own frame.
const overflowReport = `(() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) out.push('page is ' + doc.scrollWidth + ' px wide in a ' + doc.clientWidth + ' px window');
  for (const table of document.querySelectorAll('main table')) {
    const frame = table.parentElement.getBoundingClientRect();
    const row = table.querySelector('tbody tr');
    if (!row || !row.lastElementChild) continue;
    const last = row.lastElementChild.getBoundingClientRect();
    if (last.right > frame.right + 1 || last.left < frame.left - 1) out.push((table.dataset.testid || table.closest('[id]').id) + ': the last column is outside the frame (' + Math.round(last.left) + '–' + Math.round(last.right) + ' vs ' + Math.round(frame.left) + '–' + Math.round(frame.right) + ')');
    const first = row.firstElementChild.getBoundingClientRect();
    if (first.left < frame.left - 1) out.push('the first column is outside the frame');
  }
  return out.join('; ');
})()`

// TestBrowserListsFitAt1280 fills every list with 50 rows of the longest
// names and values there can be and checks, in real Chromium at 1280 px,
// that no page grows wider than the window and each table keeps its first
// column and its actions in view (a wide table scrolls inside its own frame).
func TestBrowserListsFitAt1280(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	long := "Maximiliana Konstantinopoulou-Wolfeschlegelsteinhausen"
	for i := range 50 {
		name := fmt.Sprintf("cluster-%02d-%s", i, strings.Repeat("x", 13))
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindCluster, CreatedBy: long,
			ProvisioningState: compute.ProvisioningSucceeded,
			Cluster:           &compute.ClusterSpec{VMSize: "Standard_NC24ads_A100_v4", MaxNodes: 100, AllocationState: "Resizing", TargetNodeCount: 99}}, nil); err != nil {
			t.Fatal(err)
		}
		iname := fmt.Sprintf("inst-%02d-%s", i, strings.Repeat("y", 16))
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: iname, Kind: compute.KindInstance, CreatedBy: long,
			ProvisioningState: compute.ProvisioningSucceeded,
			Instance:          &compute.InstanceSpec{VMSize: "Standard_NC24ads_A100_v4", State: compute.InstanceRunning, AssignedUser: long}}, nil); err != nil {
			t.Fatal(err)
		}
		run := &compute.Run{ExperimentName: "an-experiment-with-a-rather-long-name-" + strings.Repeat("z", 30), Target: "local",
			DisplayName: "a display name that goes on and on " + strings.Repeat("w", 40), Status: compute.RunCompleted}
		if err := env.Store.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if err := env.Store.LogBatch(ctx, run.ID, []compute.Metric{
			{Key: "validation_accuracy_top_5_long_name", Value: 0.123456789012345},
			{Key: "train_loss_per_token_smoothed", Value: 1234567.891},
			{Key: "learning_rate_after_warmup", Value: 1e-7},
		}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+"/login?token="+webtest.Token)); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{
		"/computes?tab=clusters", "/computes?tab=instances", "/computes?tab=attached", "/computes?tab=slurm",
		"/runs", "/experiments", "/computes/local?tab=runs",
	} {
		if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+page), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		report, err := chromedp.Run(bctx, chromedp.Evaluate[string](overflowReport))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		if page == "/computes?tab=clusters" {
			// Studio's Allocation state column, from the cluster's record.
			if got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`tr[data-name] [data-testid=allocation-state]`))); err != nil || got != "Resizing" {
				t.Errorf("Allocation state column: %q, %v", got, err)
			}
		}
		if os.Getenv("TRAINYARD_SCREENSHOTS") != "" {
			shot(t, bctx, "fit-"+strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(page))
		}
		if report != "" {
			shot(t, bctx, "overflow-"+strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(page))
			t.Errorf("%s at 1280 px: %s", page, report)
		}
	}
}
