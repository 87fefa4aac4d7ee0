package handlers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestPagesShowNumbersForPeople reads the runs list, a run page and a
// sweep dashboard as a user does: numbers to 4 significant digits with the
// full value on hover, durations as "1m 12s", sizes with binary units.
func TestPagesShowNumbersForPeople(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	run := &compute.Run{ID: "fmt_1", ExperimentName: "fmt", Status: compute.RunCompleted, Target: "local", Script: "train.py",
		CreatedAt: start, StartedAt: start, EndedAt: start.Add(72 * time.Second), SubmittedBy: "Admin", SubmittedByID: "admin"}
	if err := env.Store.CreateRuns(ctx, []*compute.Run{run}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.LogBatch(ctx, run.ID,
		[]compute.Metric{{Key: "acc", Value: 0.912345678, Time: start}, {Key: "tokens", Value: 12345.678, Time: start}},
		[]compute.KeyValue{{Key: "lr", Value: "0.000123456789"}, {Key: "optimizer", Value: "adam"}}, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.Store.RunDir(run.ID), "outputs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.bin"), make([]byte, 1536), 0o644); err != nil {
		t.Fatal(err)
	}

	_, list, _ := getPage(t, c, env.URL+"/runs?experiment=fmt", nil)
	row := list.Find(`#runs-table tbody tr[data-run=fmt_1]`)
	if row.Length() != 1 {
		t.Fatal("run row missing")
	}
	if got := row.Text(); !strings.Contains(got, "1m 12s") {
		t.Errorf("runs list row does not read 1m 12s: %q", got)
	}
	var cells []string
	row.Find(`[data-testid=run-metric] span`).Each(func(_ int, s *goquery.Selection) {
		cells = append(cells, s.Text()+"|"+s.AttrOr("title", ""))
	})
	if strings.Join(cells, " ") != "0.9123|0.912345678 12,346|12345.678" {
		t.Errorf("runs list metric cells (text|title): %q", cells)
	}

	_, page, _ := getPage(t, c, env.URL+"/runs/"+run.ID, nil)
	for _, tc := range []struct{ sel, text, title string }{
		{`[data-testid=latest-metrics] tr[data-metric=acc] [data-testid=metric-value] span`, "0.9123", "0.912345678"},
		{`[data-testid=latest-metrics] tr[data-metric=tokens] [data-testid=metric-value] span`, "12,346", "12345.678"},
		{`[data-testid=params] td span[title]`, "0.0001235", "0.000123456789"},
	} {
		s := page.Find(tc.sel)
		if s.Length() != 1 || s.Text() != tc.text || s.AttrOr("title", "") != tc.title {
			t.Errorf("%s: %d found, text %q title %q; want %q / %q", tc.sel, s.Length(), s.Text(), s.AttrOr("title", ""), tc.text, tc.title)
		}
	}
	if got := page.Find(`[data-testid=params]`).Text(); !strings.Contains(got, "adam") {
		t.Errorf("a text param is not shown as it is: %q", got)
	}
	if got := page.Find(`main`).Text(); !strings.Contains(got, "1m 12s") {
		t.Errorf("run page duration does not read 1m 12s: %q", got)
	}
	if got := page.Find(`[data-testid=outputs]`).Text(); !strings.Contains(got, "1.5 KiB") {
		t.Errorf("output size is not 1.5 KiB: %q", got)
	}

	// A sweep child's metric: short in the table, full on hover.
	id := seedSweep(t, env)
	if err := env.Store.LogBatch(ctx, "sweep-seed_7", []compute.Metric{{Key: "acc", Value: 0.912345678, Step: 5, Time: time.Now()}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, sweep, _ := getPage(t, c, env.URL+"/runs/"+id, nil)
	cell := sweep.Find(`tr[data-run="sweep-seed_7"] [data-testid=child-metric] span`)
	if cell.Text() != "0.9123" || cell.AttrOr("title", "") != "0.912345678" {
		t.Errorf("child metric %q title %q", cell.Text(), cell.AttrOr("title", ""))
	}
}
