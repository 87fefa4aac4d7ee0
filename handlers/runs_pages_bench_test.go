package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// BenchmarkRunsPages100k measures the runs pages with 100,000 runs stored,
// from 8 concurrent browser sessions: the whole /runs page, the table the
// page polls (htmx), filtered and sorted first pages, a page 50,000 runs
// deep (keyset: it costs what the first does), an experiment's page and a
// run's page.
func BenchmarkRunsPages100k(b *testing.B) {
	env := webtest.New(b, webtest.Options{NoController: true, NoDispatcher: true})
	seedRuns(b, env, 100_000)
	c := env.Browser(b)
	ctx := context.Background()
	deep := func(sort string, desc bool) string {
		q := store.RunPageQuery{Sort: sort, Desc: desc, Limit: 1000}
		for range 50 {
			p, err := env.Store.RunsPage(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			q.Cursor = p.Next
		}
		v := url.Values{"cursor": {q.Cursor}, "pos": {"50001"}}
		if sort != "created" {
			v.Set("sort", sort)
		}
		return "/runs?" + v.Encode()
	}
	last, err := env.Store.RunsPage(ctx, store.RunPageQuery{Desc: true, Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	poll := map[string]string{"HX-Request": "true", "HX-Target": "runs-table"}
	for _, tc := range []struct {
		name, path string
		header     map[string]string
	}{
		{"runs-page", "/runs", nil},
		{"runs-table-poll", "/runs", poll},
		{"status-failed", "/runs?status=Failed", poll},
		{"experiment", "/runs?experiment=exp07", poll},
		{"submitter", "/runs?submittedBy=user2", poll},
		{"target+submitter", "/runs?target=target-2&submittedBy=user2", poll},
		{"active", "/runs?status=active", poll},
		{"last-24h", "/runs?range=24h", poll},
		{"sorted-by-status", "/runs?sort=status", poll},
		{"page-50k-deep", deep("created", true), poll},
		{"sorted-by-target-50k-deep", deep("target", false), poll},
		{"experiment-page", "/experiments/exp07", nil},
		{"experiments-list", "/experiments", nil},
		{"run-page", "/runs/" + last.Runs[0].ID, nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			status, body, _ := webtest.Do(b, c, "GET", env.URL+tc.path, nil, tc.header)
			if status != http.StatusOK {
				b.Fatalf("%s: %d %.300s", tc.path, status, body)
			}
			loadTest(b, env, c, tc.path, tc.header)
			b.ReportMetric(float64(len(body)), "html-bytes")
		})
	}
}
