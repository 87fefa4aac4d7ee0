package web_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserLiveBurst: changes that come in a burst (a sweep's last child
// ending and the sweep ending a moment later) all reach the page: the last
// one shows, whatever the timing of the refreshes they cause.
func TestBrowserLiveBurst(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	run := &compute.Run{ExperimentName: "burst", Target: "local", Status: compute.RunRunning}
	if err := env.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.Navigate(env.URL+"/runs/"+run.ID),
		chromedp.WaitVisible(chromedp.ID("run-params"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "stream open", `document.body.dataset.liveState === 'streaming'`)
	for round := range 5 {
		for i := range 4 {
			if err := env.Store.LogBatch(ctx, run.ID, nil, nil, []compute.KeyValue{{Key: "phase", Value: fmt.Sprintf("r%d-%d", round, i)}}); err != nil {
				t.Fatal(err)
			}
		}
		waitJS(t, bctx, fmt.Sprintf("round %d: the last of a burst shows", round), textHas(`[data-testid=tags]`, fmt.Sprintf("r%d-3", round)))
	}
}
