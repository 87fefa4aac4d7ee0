package handlers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// sweepPhases says where a sweep's children spent their time, from the
// status events the store records for every child (millisecond stamps): the
// median and p90 of each step of the way from the child's creation to
// Completed, and the gap between a child ending and the next child of the
// sweep being created (the sweep driver's reaction). It is how the
// throughput benchmark finds what to remove: a step that lasts a polling
// interval is a wake-up that is missing.
func sweepPhases(tb testing.TB, env *webtest.Env, kids []*compute.Run) string {
	ctx := context.Background()
	steps := []compute.RunStatus{compute.RunNotStarted, compute.RunQueued, compute.RunPreparing, compute.RunStarting,
		compute.RunRunning, compute.RunFinalizing, compute.RunCompleted}
	spans := make([][]time.Duration, len(steps))
	var created, ended []time.Time
	for _, k := range kids {
		r, err := env.Store.GetRun(ctx, k.ID)
		if err != nil {
			tb.Fatal(err)
		}
		at := map[compute.RunStatus]time.Time{compute.RunNotStarted: r.CreatedAt}
		for _, ev := range r.History {
			if _, seen := at[ev.Status]; !seen {
				at[ev.Status] = ev.Time
			}
		}
		for i := 1; i < len(steps); i++ {
			a, okA := at[steps[i-1]]
			b, okB := at[steps[i]]
			if okA && okB {
				spans[i] = append(spans[i], b.Sub(a))
			}
		}
		created = append(created, r.CreatedAt)
		if !r.EndedAt.IsZero() {
			ended = append(ended, r.EndedAt)
		}
	}
	// The sweep keeps max_concurrent_runs children going: the child created
	// after the k-th end replaces the k-th ended child.
	slices.SortFunc(created, time.Time.Compare)
	slices.SortFunc(ended, time.Time.Compare)
	var refill []time.Duration
	for k := range ended {
		if i := k + 8; i < len(created) {
			refill = append(refill, created[i].Sub(ended[k]))
		}
	}
	q := func(d []time.Duration, p float64) string {
		if len(d) == 0 {
			return "—"
		}
		s := slices.Clone(d)
		slices.Sort(s)
		return fmt.Sprintf("%.1f ms", float64(s[int(p*float64(len(s)-1))].Microseconds())/1000)
	}
	var sb strings.Builder
	sb.WriteString("| step of a child | median | p90 |\n|---|---|---|\n")
	for i := 1; i < len(steps); i++ {
		fmt.Fprintf(&sb, "| %s → %s | %s | %s |\n", steps[i-1], steps[i], q(spans[i], 0.5), q(spans[i], 0.9))
	}
	fmt.Fprintf(&sb, "| a child ended → the next child created | %s | %s |\n", q(refill, 0.5), q(refill, 0.9))
	return sb.String()
}
