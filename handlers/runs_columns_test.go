package handlers_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// The runs list's column chooser offers every metric the page's runs
// logged (not only the three shown by default) and the optional columns;
// the choice shapes the table and stays in its live refresh.
func TestRunsListColumnChooser(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	run := &compute.Run{ExperimentName: "cols", Target: "local", Status: compute.RunCompleted}
	if err := env.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	var ms []compute.Metric
	for _, k := range []string{"acc", "f1", "loss", "lr", "recall"} {
		ms = append(ms, compute.Metric{Key: k, Value: 0.5})
	}
	if err := env.Store.LogBatch(ctx, run.ID, ms, nil, nil); err != nil {
		t.Fatal(err)
	}
	c := env.Browser(t)
	headers := func(d *goquery.Document) []string {
		var hs []string
		d.Find(`#runs-table thead th`).Each(func(_ int, s *goquery.Selection) { hs = append(hs, strings.TrimSpace(s.Text())) })
		return hs
	}
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/runs", nil, nil)
	d := doc(t, body)
	var offered []string
	d.Find(`[data-testid=column-chooser] input[name=col]`).Each(func(_ int, s *goquery.Selection) { offered = append(offered, s.AttrOr("value", "")) })
	for _, want := range []string{"experiment", "duration", "m:acc", "m:recall"} {
		if !slices.Contains(offered, want) {
			t.Errorf("the chooser does not offer %s: %q", want, offered)
		}
	}
	if hs := headers(d); slices.Contains(hs, "recall") || !slices.Contains(hs, "Experiment") {
		t.Errorf("default headers %q", hs)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/runs?col=experiment&col=m:recall", nil, nil)
	d = doc(t, body)
	hs := headers(d)
	if !slices.Contains(hs, "recall") || !slices.Contains(hs, "Experiment") || slices.Contains(hs, "acc") ||
		slices.ContainsFunc(hs, func(h string) bool { return strings.HasPrefix(h, "Submitted by") || h == "Duration" }) {
		t.Errorf("chosen headers %q", hs)
	}
	if got := d.Find(`#runs-table`).AttrOr("hx-get", ""); !strings.Contains(got, "cols=experiment%2Cm%3Arecall") {
		t.Errorf("the live refresh forgets the columns: %q", got)
	}
	if n := d.Find(`tr[data-run] [data-testid=run-metric]`).Length(); n != 1 {
		t.Errorf("%d metric cells in the row, want 1", n)
	}
}
