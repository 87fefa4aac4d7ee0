package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// A local compute cluster records its node states over time like a Slurm
// cluster, so its Monitoring tab shows the scale-up: here a cluster with
// min nodes 2 boots two nodes, and the tab is offered and charts them.
func TestLocalClusterMonitoringShowsScaleUp(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	const body = `{"location":"local","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2",
		"scaleSettings":{"minNodeCount":2,"maxNodeCount":3,"nodeIdleTimeBeforeScaleDown":"PT120S"}}}}`
	if status, b := api(t, env, "PUT", "/api/v1/computes/pool", body); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, b)
	}
	webtest.WaitFor(t, 15*time.Second, "two idle nodes in the history", func() bool {
		ss, err := env.Store.NodeSamples(context.Background(), "pool", time.Now().Add(-time.Hour))
		return err == nil && len(ss) > 0 && ss[len(ss)-1].Idle == 2
	})
	ss, _ := env.Store.NodeSamples(context.Background(), "pool", time.Now().Add(-time.Hour))
	preparing := false
	for _, s := range ss {
		preparing = preparing || s.Preparing > 0
	}
	if !preparing {
		t.Errorf("the history has no sample of the nodes booting: %+v", ss)
	}
	c := env.Browser(t)
	_, page, _ := webtest.Do(t, c, "GET", env.URL+"/computes/pool", nil, nil)
	if !strings.Contains(page, `href="/computes/pool?tab=monitoring"`) {
		t.Errorf("a local cluster's page offers no Monitoring tab")
	}
	_, page, _ = webtest.Do(t, c, "GET", env.URL+"/computes/pool?tab=monitoring", nil, nil)
	d := doc(t, page)
	if d.Find(`[data-testid=node-chart]`).Length() != 1 || !strings.Contains(d.Find(`[data-testid=monitoring-summary]`).Text(), "2 idle") {
		t.Errorf("Monitoring tab: chart %d, summary %q", d.Find(`[data-testid=node-chart]`).Length(), d.Find(`[data-testid=monitoring-summary]`).Text())
	}
}
