package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestMonitoringTab: the node history is drawn as a stacked step chart in
// SVG, with a title on every band, a legend with the latest counts, the
// range links, and the live section polling with the range kept.
func TestMonitoringTab(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	ctx := context.Background()
	now := time.Now().UTC()
	for _, s := range []compute.NodeSample{
		{At: now.Add(-50 * time.Minute), PoweredDown: 2},
		{At: now.Add(-40 * time.Minute), Preparing: 1, PoweredDown: 1},
		{At: now.Add(-39 * time.Minute), Busy: 1, PoweredDown: 1},
		{At: now.Add(-30 * time.Minute), Idle: 1, PoweredDown: 1},
		{At: now.Add(-20 * time.Minute), PoweredDown: 2},
	} {
		if _, err := env.Store.RecordNodeSample(ctx, "local", s); err != nil {
			t.Fatal(err)
		}
	}
	c := env.Browser(t)
	tests := []struct {
		name       string
		path       string
		htmx       bool
		wantSeries []string
		wantRange  string
	}{
		{"page", "/computes/local?tab=monitoring", false, []string{"powered-down", "powering-up", "busy", "idle"}, "1h"},
		{"six hours", "/computes/local?tab=monitoring&range=6h", false, []string{"powered-down", "powering-up", "busy", "idle"}, "6h"},
		{"live partial", "/computes/local?tab=monitoring&range=24h", true, []string{"powered-down", "busy"}, "24h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.htmx {
				hdr = map[string]string{"HX-Request": "true", "HX-Target": "compute-live"}
			}
			status, body, _ := webtest.Do(t, c, "GET", env.URL+tc.path, nil, hdr)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			d := doc(t, body)
			svg := d.Find(`[data-testid=node-chart]`)
			if svg.Length() != 1 || svg.Is("svg") == false || svg.AttrOr("role", "") != "img" {
				t.Fatalf("no chart: %s", d.Find(`[data-testid=monitoring]`).Text())
			}
			for _, s := range tc.wantSeries {
				if svg.Find(`rect[data-series=`+s+`]`).Length() == 0 {
					t.Errorf("no %s band", s)
				}
			}
			rects := svg.Find(`rect[data-series]`)
			for i := range rects.Length() {
				if strings.TrimSpace(rects.Eq(i).Find("title").Text()) == "" {
					t.Errorf("band %d has no title", i)
				}
			}
			if !strings.Contains(svg.Find(`rect[data-series=busy] title`).First().Text(), "1 busy") {
				t.Errorf("busy title: %q", svg.Find(`rect[data-series=busy] title`).Text())
			}
			if got := d.Find(`[data-testid=monitoring-summary]`).Text(); !strings.Contains(got, "2 powered down") || !strings.Contains(got, "0 busy") {
				t.Errorf("summary %q", got)
			}
			live := d.Find(`#compute-live`)
			if !strings.Contains(live.AttrOr("hx-get", ""), "range="+tc.wantRange) {
				t.Errorf("live section polls %q", live.AttrOr("hx-get", ""))
			}
			if strings.Contains(body, "<script>") || svg.Find(`[style]`).Length() > 0 {
				t.Error("inline script or style in the chart (strict CSP)")
			}
			if !tc.htmx && d.Find(`a[href="/computes/local?tab=monitoring"], [aria-current] `).Length() == 0 {
				t.Error("no Monitoring tab")
			}
		})
	}
	// A Slurm target without history yet shows the tab with a note.
	apiJSON(t, env, "PUT", "/api/v1/computes/hpc", map[string]any{"properties": map[string]any{"computeType": "Slurm", "properties": map[string]any{
		"restUrl": "http://127.0.0.1:1", "user": "root", "jwtKey": slurmKeyB64}}}, http.StatusCreated, nil)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
	if doc(t, body).Find(`a[href="/computes/hpc?tab=monitoring"]`).Length() != 1 {
		t.Error("a Slurm target has no Monitoring tab")
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/hpc?tab=monitoring", nil, nil)
	if got := doc(t, body).Find(`[data-testid=monitoring-note]`).Text(); !strings.Contains(got, "No node history yet") {
		t.Errorf("note %q", got)
	}
}
