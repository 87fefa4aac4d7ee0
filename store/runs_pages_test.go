package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// seedPageRuns stores n runs whose status, target and submitter cycle, in
// one transaction; index i of the result is the i-th inserted (seq order).
func seedPageRuns(t *testing.T, s *Store, n int) []*compute.Run {
	t.Helper()
	statuses := []compute.RunStatus{compute.RunCompleted, compute.RunFailed, compute.RunRunning, compute.RunQueued}
	var runs []*compute.Run
	for i := range n {
		runs = append(runs, &compute.Run{
			ID: fmt.Sprintf("exp_%04d", i), ExperimentName: []string{"exp", "other"}[i%2], Status: statuses[i%4],
			Target: []string{"local", "cpu", "gpu"}[i%3], SubmittedBy: []string{"ann", "bob", "cy", "dee", "eve"}[i%5],
		})
	}
	if err := s.CreateRuns(context.Background(), runs); err != nil {
		t.Fatal(err)
	}
	return runs
}

func ids(runs []*compute.Run) []string {
	out := make([]string, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestRunsPageWalksBothWays(t *testing.T) {
	s := MustOpen(t)
	all := seedPageRuns(t, s, 57)
	ctx := context.Background()
	for _, sortKey := range RunSortKeys {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s desc=%v", sortKey, desc), func(t *testing.T) {
				// The expected order: the column, then insertion order.
				want := slices.Clone(all)
				seq := map[string]int{}
				for i, r := range all {
					seq[r.ID] = i
				}
				slices.SortStableFunc(want, func(a, b *compute.Run) int {
					c := strings.Compare(runSortValue(sortKey, a), runSortValue(sortKey, b))
					if c == 0 {
						c = seq[a.ID] - seq[b.ID]
					}
					if desc {
						return -c
					}
					return c
				})
				var got []string
				var pages []RunPageResult
				cursor := ""
				for range 20 {
					p, err := s.RunsPage(ctx, RunPageQuery{Sort: sortKey, Desc: desc, Cursor: cursor, Limit: 10})
					if err != nil {
						t.Fatal(err)
					}
					pages = append(pages, p)
					got = append(got, ids(p.Runs)...)
					if p.Next == "" {
						break
					}
					cursor = p.Next
				}
				if !slices.Equal(got, ids(want)) {
					t.Fatalf("forward order:\n got %v\nwant %v", got, ids(want))
				}
				if len(pages) != 6 || pages[0].Prev != "" || pages[5].Next != "" || pages[5].Prev == "" {
					t.Fatalf("%d pages; first prev %q, last next %q", len(pages), pages[0].Prev, pages[5].Next)
				}
				// Back from the last page, every page is the same as forwards.
				cursor = pages[5].Prev
				for i := 4; i >= 0; i-- {
					p, err := s.RunsPage(ctx, RunPageQuery{Sort: sortKey, Desc: desc, Cursor: cursor, Limit: 10})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ids(p.Runs), ids(pages[i].Runs)) {
						t.Fatalf("page %d backwards: %v, forwards %v", i, ids(p.Runs), ids(pages[i].Runs))
					}
					if (p.Prev == "") != (i == 0) || p.Next == "" {
						t.Fatalf("page %d backwards: prev %q next %q", i, p.Prev, p.Next)
					}
					cursor = p.Prev
				}
			})
		}
	}
}

func TestRunsPageFiltersAndErrors(t *testing.T) {
	s := MustOpen(t)
	seedPageRuns(t, s, 40)
	ctx := context.Background()
	p, err := s.RunsPage(ctx, RunPageQuery{Filter: compute.RunFilter{Statuses: []compute.RunStatus{compute.RunFailed}, Experiment: "other", Target: "gpu"}, Sort: "submittedBy", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Runs {
		if r.Status != compute.RunFailed || r.ExperimentName != "other" || r.Target != "gpu" || r.Metrics == nil {
			t.Fatalf("run %s does not match the filter: %+v", r.ID, r)
		}
	}
	if len(p.Runs) == 0 || p.Next != "" || p.Prev != "" {
		t.Fatalf("%d runs, next %q prev %q", len(p.Runs), p.Next, p.Prev)
	}
	n, err := s.CountRuns(ctx, compute.RunFilter{Statuses: []compute.RunStatus{compute.RunFailed}, Experiment: "other", Target: "gpu"})
	if err != nil || n != len(p.Runs) {
		t.Fatalf("count %d (%v), page %d", n, err, len(p.Runs))
	}
	for _, f := range []compute.RunFilter{{}, {Experiment: "other"}, {Experiment: "nope"}, {Target: "gpu"}} {
		want, err := s.CountRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.CountRunsPage(ctx, RunPageQuery{Filter: f}); err != nil || got != want {
			t.Errorf("CountRunsPage(%+v) = %d (%v), CountRuns says %d", f, got, err, want)
		}
	}
	if n, err := s.CountRunsPage(ctx, RunPageQuery{Submitter: "bob", Filter: compute.RunFilter{Target: "local"}}); err != nil || n != 3 {
		t.Errorf("bob on local: %d (%v), want 3", n, err)
	}
	if p, err := s.RunsPage(ctx, RunPageQuery{Filter: compute.RunFilter{Experiment: "nope"}}); err != nil || len(p.Runs) != 0 {
		t.Fatalf("unknown experiment: %d runs, %v", len(p.Runs), err)
	}
	for name, q := range map[string]RunPageQuery{
		"sort":   {Sort: "duration"},
		"cursor": {Cursor: "x.1.AA"},
		"limit":  {Limit: MaxRunPage + 1},
		"status": {Filter: compute.RunFilter{Statuses: []compute.RunStatus{"Sleeping"}}},
	} {
		if _, err := s.RunsPage(ctx, q); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
