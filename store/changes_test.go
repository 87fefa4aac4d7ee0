package store

import (
	"context"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// next waits for the subscription's next change (the feed delivers
// synchronously on commit, so it is already there or never comes).
func next(t *testing.T, sub Subscription) (Change, bool) {
	t.Helper()
	select {
	case c, ok := <-sub.C:
		return c, ok
	default:
		return Change{}, false
	}
}

// A page learns of every committed change to what it shows, with the run's
// target and parent so a sweep page hears of its children.
func TestSubscribeSeesCommittedChanges(t *testing.T) {
	s := MustOpen(t)
	ctx := t.Context()
	sub := s.Subscribe(ctx)

	if err := s.CreateTarget(ctx, clusterTarget("cpu"), nil); err != nil {
		t.Fatal(err)
	}
	parent := mustRun(t, s, &compute.Run{ExperimentName: "e", Target: "cpu"})
	child := mustRun(t, s, &compute.Run{ExperimentName: "e", Target: "cpu", ParentID: parent.ID})
	if _, err := s.UpdateRun(ctx, child.ID, func(r *compute.Run) error { r.Status = compute.RunQueued; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.LogBatch(ctx, child.ID, []compute.Metric{{Key: "loss", Value: 1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	nodes := []compute.Node{{ID: "n0", State: compute.NodeIdle}}
	if err := s.SaveNodes(ctx, "cpu", nodes); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveNodes(ctx, "cpu", nodes); err != nil { // unchanged: no change
		t.Fatal(err)
	}
	if err := s.DeleteTarget(ctx, "cpu"); err != nil {
		t.Fatal(err)
	}

	want := []Change{
		{Kind: ChangeCompute, Name: "cpu"},
		{Kind: ChangeRun, Name: parent.ID, Target: "cpu"},
		{Kind: ChangeRun, Name: child.ID, Target: "cpu", Parent: parent.ID},
		{Kind: ChangeRun, Name: child.ID, Target: "cpu", Parent: parent.ID},
		{Kind: ChangeRun, Name: child.ID, Target: "cpu", Parent: parent.ID},
		{Kind: ChangeCompute, Name: "cpu"},
		{Kind: ChangeCompute, Name: "cpu"},
	}
	for i, w := range want {
		got, ok := next(t, sub)
		if !ok || got != w {
			t.Fatalf("change %d = %+v (delivered %v), want %+v", i, got, ok, w)
		}
	}
	if got, ok := next(t, sub); ok {
		t.Errorf("an extra change was announced: %+v", got)
	}
	if sub.Lost() {
		t.Error("Lost() with a subscriber that kept up")
	}
}

// A failed write announces nothing.
func TestFailedWriteAnnouncesNothing(t *testing.T) {
	s := MustOpen(t)
	ctx := t.Context()
	sub := s.Subscribe(ctx)
	if _, err := s.UpdateRun(ctx, "missing_run", func(r *compute.Run) error { return nil }); err == nil {
		t.Fatal("updating a missing run succeeded")
	}
	if err := s.DeleteTarget(ctx, "missing"); err == nil {
		t.Fatal("deleting a missing target succeeded")
	}
	if got, ok := next(t, sub); ok {
		t.Errorf("a failed write announced %+v", got)
	}
}

// A subscriber that falls behind does not slow writers: it is told it lost
// changes, and its channel closes when its context ends.
func TestSlowSubscriberIsToldItLostChanges(t *testing.T) {
	s := MustOpen(t)
	ctx, cancel := context.WithCancel(t.Context())
	sub := s.Subscribe(ctx)
	for range subscriberBuffer + 5 {
		s.announce(computeChange("x"))
	}
	if !sub.Lost() {
		t.Fatal("Lost() = false after the buffer overflowed")
	}
	if sub.Lost() {
		t.Fatal("Lost() did not clear")
	}
	cancel()
	for range sub.C { // drains, then ends when the feed closes it
	}
}
