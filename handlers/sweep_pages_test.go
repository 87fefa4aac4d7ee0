package handlers_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/runconfig"
	"github.com/trainyard/trainyard/web/webtest"
)

// seededChild is one child of the seeded sweep: its state, sampled values
// and the primary metric points it logged.
type seededChild struct {
	id      string
	status  compute.RunStatus
	policy  bool // canceled by the early-termination policy
	lr      float64
	act     string
	metrics []float64
}

// seededChildren: 3 completed (best c2 at 0.9), 1 canceled by policy, 1
// failed, 1 running, 1 queued, of max_total_runs 10 (3 not started yet).
var seededChildren = []seededChild{
	{"sweep-seed_1", compute.RunCompleted, false, 0.1, "relu", []float64{0.5, 0.7}},
	{"sweep-seed_2", compute.RunCompleted, false, 0.5, "tanh", []float64{0.9}},
	{"sweep-seed_3", compute.RunCanceled, true, 0.8, "relu", []float64{0.2}},
	{"sweep-seed_4", compute.RunFailed, false, 0.3, "tanh", nil},
	{"sweep-seed_5", compute.RunRunning, false, 0.6, "relu", []float64{0.4}},
	{"sweep-seed_6", compute.RunQueued, false, 0.9, "tanh", nil},
	{"sweep-seed_7", compute.RunCompleted, false, 0.2, "tanh", []float64{0.3, 0.8}},
}

// seedSweep stores a sweep parent (Running, Bandit policy, maximize acc)
// and its children straight in the store, with the dispatcher stopped, so
// the dashboard is read in a state that does not move.
func seedSweep(t *testing.T, env *webtest.Env) string {
	t.Helper()
	ctx := context.Background()
	slack, total, conc := 0.2, 10, 3
	hd := &runconfig.HDConfig{File: "hd", Sampling: runconfig.Sampling{Type: "Random", ParameterSpace: []runconfig.Parameter{
		{Name: "--lr", Expression: "uniform", Values: []any{0.0, 1.0}},
		{Name: "--act", Expression: "choice", Values: []any{"relu", "tanh"}},
	}}, Policy: &runconfig.HDPolicy{Type: "BanditPolicy", SlackFactor: &slack},
		PrimaryMetricName: "acc", PrimaryMetricGoal: "maximize", MaxTotalRuns: total, MaxConcurrentRuns: &conc}
	sw, _, err := hyperdrive.FromHDConfig(hd, 42)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-10 * time.Minute)
	parent := &compute.Run{ID: "sweep-seed", Kind: compute.RunKindHyperdrive, ExperimentName: "seeded", Status: compute.RunRunning,
		Target: "local", Script: "train.py", Sweep: sw, BestChildID: "sweep-seed_2", CreatedAt: start, StartedAt: start,
		SubmittedBy: "Admin", SubmittedByID: "admin"}
	runs := []*compute.Run{parent}
	for i, c := range seededChildren {
		r := &compute.Run{ID: c.id, Kind: compute.RunKindScript, ExperimentName: "seeded", Status: c.status, Target: "local",
			Script: "train.py", ParentID: parent.ID, ChildIndex: i, CreatedAt: start.Add(time.Duration(i) * time.Minute),
			Hyperparameters: hyperdrive.Params{{Name: "--lr", Value: hyperdrive.Num(c.lr)}, {Name: "--act", Value: hyperdrive.Str(c.act)}}}
		if c.status != compute.RunQueued {
			r.StartedAt = r.CreatedAt.Add(10 * time.Second)
		}
		if c.status.Terminal() {
			r.EndedAt = r.StartedAt.Add(time.Duration(30+i) * time.Second)
		}
		if c.policy {
			r.PolicyCancelReason = "Canceled by BanditPolicy: acc 0.2 is below the best 0.9 / 1.2"
		}
		runs = append(runs, r)
	}
	if err := env.Store.CreateRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	for _, c := range seededChildren {
		var ms []compute.Metric
		for step, v := range c.metrics {
			ms = append(ms, compute.Metric{Key: "acc", Value: v, Step: int64(step), Time: start.Add(time.Minute)})
		}
		if len(ms) > 0 {
			if err := env.Store.LogBatch(ctx, c.id, ms, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	return parent.ID
}

// childOrder is the run IDs of the children table, top to bottom.
func childOrder(d *goquery.Document) []string {
	var ids []string
	d.Find(`[data-testid=sweep-children] tbody tr`).Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("data-run", "")) })
	return ids
}

// TestSweepDashboard reads a seeded sweep's dashboard as a user sees it:
// the progress counts match the children's states, the best child is
// marked, the charts have one mark per child with the metric, the
// definition is spelled out, and it polls while the sweep runs.
func TestSweepDashboard(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	id := seedSweep(t, env)
	c := env.Browser(t)
	status, d, body := getPage(t, c, env.URL+"/runs/"+id, nil)
	if status != 200 {
		t.Fatalf("sweep page: %d %.500s", status, body)
	}
	tests := []struct {
		name, sel, attr, want string
	}{
		{"completed count", `[data-testid=sweep-count-completed]`, "data-count", "3"},
		{"canceled by policy count", `[data-testid=sweep-count-policy]`, "data-count", "1"},
		{"canceled count", `[data-testid=sweep-count-canceled]`, "data-count", "0"},
		{"failed count", `[data-testid=sweep-count-failed]`, "data-count", "1"},
		{"running count", `[data-testid=sweep-count-running]`, "data-count", "1"},
		{"queued count", `[data-testid=sweep-count-queued]`, "data-count", "1"},
		{"not started count", `[data-testid=sweep-count-remaining]`, "data-count", "3"},
		{"bar: completed segment", `[data-testid=sweep-progress-bar] rect[data-segment=completed]`, "data-count", "3"},
		{"bar: completed segment width", `[data-testid=sweep-progress-bar] rect[data-segment=completed]`, "width", "300.0"},
		{"bar: policy segment", `[data-testid=sweep-progress-bar] rect[data-segment=policy]`, "data-count", "1"},
		{"best child row", `[data-testid=sweep-children] tr[data-best=true]`, "data-run", "sweep-seed_2"},
		{"best child link", `[data-testid=sweep-best] a`, "href", "/runs/sweep-seed_2"},
		{"metric chart: a mark per child with acc", `svg[data-testid=sweep-metric-chart]`, "data-points", "5"},
		{"metric chart: the running child is hollow", `svg[data-testid=sweep-metric-chart] circle[data-running=true]`, "data-child", "sweep-seed_5"},
		{"metric chart: the best is the diamond", `svg[data-testid=sweep-metric-chart] polygon[data-best=true]`, "data-child", "sweep-seed_2"},
		{"parallel: a line per completed child", `svg[data-testid=parallel-chart]`, "data-lines", "3"},
		{"parallel: the best line", `svg[data-testid=parallel-chart] polyline[data-best=true]`, "data-child", "sweep-seed_2"},
		{"parallel: choice axis", `svg[data-testid=parallel-chart] g[data-axis="--act"]`, "data-kind", "choice"},
		{"parallel: metric axis", `svg[data-testid=parallel-chart] g[data-axis=acc]`, "data-kind", "metric"},
		{"follows the sweep's changes", `#sweep-dashboard`, "hx-trigger", "sse:changed, live-poll, runs-changed from:body"},
		{"cancel sweep", `#cancel-sweep`, "hx-post", "/runs/sweep-seed/cancel"},
		{"policy spelled out", `[data-testid=sweep-definition] dd[data-field="Early termination"]`, "", "BanditPolicy (slack_factor 0.2, evaluation_interval 1, delay_evaluation 0)"},
		{"sampling with its seed", `[data-testid=sweep-definition] dd[data-field=Sampling]`, "", "Random (seed 42)"},
		{"goal", `[data-testid=sweep-definition] dd[data-field=Goal]`, "", "Maximize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := d.Find(tc.sel)
			if s.Length() == 0 {
				t.Fatalf("%s: not found", tc.sel)
			}
			got := strings.TrimSpace(s.First().Text())
			if tc.attr != "" {
				got = s.First().AttrOr(tc.attr, "<none>")
			}
			if got != tc.want {
				t.Errorf("%s %s = %q, want %q", tc.sel, tc.attr, got, tc.want)
			}
		})
	}
	if n := d.Find(`[data-testid=best-child]`).Length(); n != 1 {
		t.Errorf("%d children marked best, want 1", n)
	}
	if txt := d.Find(`[data-testid=sweep-progress-text]`).Text(); !strings.Contains(txt, "5 of 10 runs finished") {
		t.Errorf("progress text %q", txt)
	}
	// Each child's values sit in their own columns, in the space's order.
	row := d.Find(`tr[data-run="sweep-seed_7"] td`)
	if got := []string{strings.TrimSpace(row.Eq(2).Text()), strings.TrimSpace(row.Eq(3).Text()), strings.TrimSpace(row.Eq(4).Text())}; got[0] != "0.2" || got[1] != "tanh" || got[2] != "0.8" {
		t.Errorf("child 7's --lr, --act, acc cells: %q", got)
	}
	// The poll answers with the dashboard alone.
	_, _, part := getPage(t, c, env.URL+"/runs/"+id, htmxTo("sweep-dashboard"))
	if !strings.HasPrefix(strings.TrimSpace(part), `<section id="sweep-dashboard"`) || strings.Contains(part, "<html") {
		t.Errorf("the htmx poll got %.200s", part)
	}
}

// TestSweepDashboardSorting sorts the children by each column, both ways,
// through the query (so it works without JavaScript); children without a
// value stay last either way.
func TestSweepDashboardSorting(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	id := seedSweep(t, env)
	c := env.Browser(t)
	tests := []struct {
		query string
		want  []string // child numbers, top to bottom
	}{
		{"", []string{"1", "2", "3", "4", "5", "6", "7"}},
		{"sort=metric", []string{"3", "5", "1", "7", "2", "4", "6"}},
		{"sort=metric&desc=1", []string{"2", "7", "1", "5", "3", "4", "6"}},
		{"sort=" + url.QueryEscape("param:--lr"), []string{"1", "7", "4", "2", "5", "3", "6"}},
		{"sort=" + url.QueryEscape("param:--lr") + "&desc=1", []string{"6", "3", "5", "2", "4", "7", "1"}},
		{"sort=" + url.QueryEscape("param:--act"), []string{"1", "3", "5", "2", "4", "6", "7"}},
		{"sort=status", []string{"3", "1", "2", "7", "4", "6", "5"}},
		{"sort=duration&desc=1", []string{"5", "7", "4", "3", "2", "1", "6"}},
		{"sort=nonsense", []string{"1", "2", "3", "4", "5", "6", "7"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			for _, hdr := range []map[string]string{nil, htmxTo("sweep-dashboard")} {
				status, d, body := getPage(t, c, env.URL+"/runs/"+id+"?"+tc.query, hdr)
				if status != 200 {
					t.Fatalf("%d %.300s", status, body)
				}
				var want []string
				for _, n := range tc.want {
					want = append(want, "sweep-seed_"+n)
				}
				if got := childOrder(d); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("htmx %v: order %v, want %v", hdr != nil, got, want)
				}
			}
		})
	}
	// The metric header links to the other direction, and says which it is.
	_, d, _ := getPage(t, c, env.URL+"/runs/"+id+"?sort=metric", nil)
	th := d.Find(`#sweep-sort-metric`).Closest("th")
	if th.AttrOr("aria-sort", "") != "ascending" || d.Find(`#sweep-sort-metric`).AttrOr("href", "") != "/runs/"+id+"?desc=1&sort=metric" {
		t.Errorf("metric header: aria-sort %q, href %q", th.AttrOr("aria-sort", ""), d.Find(`#sweep-sort-metric`).AttrOr("href", ""))
	}
	if d.Find(`#sweep-dashboard`).AttrOr("hx-get", "") != "/runs/"+id+"?sort=metric" {
		t.Errorf("the poll forgets the order: %q", d.Find(`#sweep-dashboard`).AttrOr("hx-get", ""))
	}
}

// TestSweepParentPageHidesEmptyRunSections: a sweep parent runs no script
// of its own, so its page leaves out the empty single-run parts (metric
// charts, params, tags, outputs, the log box) and their section links; the
// dashboard stays. A child's page keeps them all, even empty.
func TestSweepParentPageHidesEmptyRunSections(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	id := seedSweep(t, env)
	c := env.Browser(t)
	_, d, body := getPage(t, c, env.URL+"/runs/"+id, nil)
	if d.Find(`#sweep-dashboard`).Length() != 1 {
		t.Fatalf("no sweep dashboard: %.300s", body)
	}
	for name, sel := range map[string]string{
		"metrics section": `section#metrics`, "metric charts": `#run-metrics`, "params": `[data-testid=params]`,
		"tags": `[data-testid=tags]`, "outputs section": `section#outputs`, "log box": `#run-log`,
		"link to metrics": `a[href="#metrics"]`, "link to outputs": `a[href="#outputs"]`,
	} {
		if d.Find(sel).Length() != 0 {
			t.Errorf("the sweep parent's page shows its empty %s (%s)", name, sel)
		}
	}
	if strings.Contains(d.Find(`main`).Text(), "No params logged.") {
		t.Error(`the sweep parent's page says "No params logged."`)
	}
	for _, sel := range []string{`section#overview`, `section#snapshot`, `section#settings`, `a[href="#sweep-dashboard"]`} {
		if d.Find(sel).Length() == 0 {
			t.Errorf("the sweep parent's page lacks %s", sel)
		}
	}
	_, child, _ := getPage(t, c, env.URL+"/runs/sweep-seed_4", nil)
	for _, sel := range []string{`section#metrics`, `[data-testid=params]`, `section#outputs`, `#run-log`, `a[href="#metrics"]`} {
		if child.Find(sel).Length() == 0 {
			t.Errorf("a child's page lacks %s", sel)
		}
	}
}

// TestSweepDashboardStopsWhenEnded: once the parent has ended the part no
// longer ticks (it still follows changes), offers no Cancel, and nothing is
// "not started yet".
func TestSweepDashboardStopsWhenEnded(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	id := seedSweep(t, env)
	if _, err := env.Store.UpdateRun(context.Background(), id, func(r *compute.Run) error {
		r.Status, r.StatusReason = compute.RunCanceled, "Canceled by the user"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := env.Browser(t)
	_, d, body := getPage(t, c, env.URL+"/runs/"+id, htmxTo("sweep-dashboard"))
	s := d.Find(`#sweep-dashboard`)
	if trig := s.AttrOr("hx-trigger", ""); strings.Contains(trig, "every") || s.AttrOr("data-ended", "") != "true" {
		t.Errorf("an ended sweep still ticks: %.300s", body)
	}
	if d.Find(`#cancel-sweep`).Length() != 0 || d.Find(`[data-testid=sweep-count-remaining]`).Length() != 0 {
		t.Errorf("ended sweep shows Cancel or runs to come")
	}
	if txt := d.Find(`[data-testid=sweep-progress-text]`).Text(); !strings.Contains(txt, "The sweep canceled: 5 of 10 runs finished") {
		t.Errorf("progress text %q", txt)
	}
}

// TestSweepDashboardCancel: the dashboard's Cancel sweep posts the parent's
// cancel (the sweep driver then cancels the children); the part refreshes
// at once (runs-changed) and offers no second cancel.
func TestSweepDashboardCancel(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	id := seedSweep(t, env)
	c := env.Browser(t)
	_, d, _ := getPage(t, c, env.URL+"/runs/"+id, nil)
	path := d.Find(`#cancel-sweep`).AttrOr("hx-post", "")
	status, _, h := webtest.Do(t, c, "POST", env.URL+path, url.Values{}, map[string]string{"HX-Request": "true"})
	if status != 200 || h.Get("HX-Trigger") != "runs-changed" {
		t.Fatalf("cancel: %d, HX-Trigger %q", status, h.Get("HX-Trigger"))
	}
	if p := getSweepRun(t, env, id); p.Status != "CancelRequested" {
		t.Errorf("parent %s after cancel", p.Status)
	}
	_, d, _ = getPage(t, c, env.URL+"/runs/"+id, htmxTo("sweep-dashboard"))
	if d.Find(`#cancel-sweep`).Length() != 0 || d.Find(`#sweep-dashboard`).AttrOr("hx-trigger", "") == "" {
		t.Errorf("after cancel: Cancel still offered, or polling stopped before the sweep ended")
	}
}

// TestSweepDashboardLongTable: a big sweep's table shows its first 200
// children in the chosen order (the part is polled), with a link to all.
func TestSweepDashboardLongTable(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	hd := &runconfig.HDConfig{File: "hd", Sampling: runconfig.Sampling{Type: "Random", ParameterSpace: []runconfig.Parameter{
		{Name: "--x", Expression: "uniform", Values: []any{0.0, 1.0}}}}, PrimaryMetricName: "m", PrimaryMetricGoal: "minimize", MaxTotalRuns: 300}
	sw, _, err := hyperdrive.FromHDConfig(hd, 1)
	if err != nil {
		t.Fatal(err)
	}
	runs := []*compute.Run{{ID: "big", Kind: compute.RunKindHyperdrive, ExperimentName: "big", Status: compute.RunRunning, Sweep: sw}}
	for i := range 205 {
		runs = append(runs, &compute.Run{ID: "big_" + strconv.Itoa(i), ExperimentName: "big", ParentID: "big", ChildIndex: i, Status: compute.RunCompleted,
			Hyperparameters: hyperdrive.Params{{Name: "--x", Value: hyperdrive.Num(float64(i) / 205)}}})
	}
	if err := env.Store.CreateRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	c := env.Browser(t)
	_, d, _ := getPage(t, c, env.URL+"/runs/big?sort=index&desc=1", nil)
	rows := childOrder(d)
	if len(rows) != 200 || rows[0] != "big_204" {
		t.Fatalf("%d rows starting %v, want 200 from big_204", len(rows), rows[:1])
	}
	more := d.Find(`#sweep-all-rows`).AttrOr("href", "")
	if more != "/runs/big?desc=1&rows=all" || d.Find(`[data-testid=sweep-count-completed]`).AttrOr("data-count", "") != "205" {
		t.Errorf("show-all link %q, completed count %q", more, d.Find(`[data-testid=sweep-count-completed]`).AttrOr("data-count", ""))
	}
	_, d, _ = getPage(t, c, env.URL+more, htmxTo("sweep-dashboard"))
	if n := len(childOrder(d)); n != 205 || d.Find(`#sweep-all-rows`).Length() != 0 {
		t.Errorf("all rows: %d", n)
	}
}
