package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestSaveAndListNodes(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("pool"), nil)
	mustCreate(t, s, clusterTarget("other"), nil)
	since := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

	steps := []struct {
		name  string
		save  []compute.Node
		want  []compute.Node
		count compute.NodeCounts
	}{
		{"empty", nil, nil, compute.NodeCounts{Target: 2}},
		{
			"three nodes, stored in ID order",
			[]compute.Node{
				{ID: "node-c", State: compute.NodeUnusable, Reason: "disk full", Since: since},
				{ID: "node-a", State: compute.NodeRunning, PrivateIP: "10.0.0.5", PublicIP: "20.1.2.3", Port: 50000, RunID: "run-1", Since: since, CPUs: 4, MemoryMB: 14336, GPUs: 1},
				{ID: "node-b", State: compute.NodeIdle},
			},
			[]compute.Node{
				{ID: "node-a", State: compute.NodeRunning, PrivateIP: "10.0.0.5", PublicIP: "20.1.2.3", Port: 50000, RunID: "run-1", Since: since, CPUs: 4, MemoryMB: 14336, GPUs: 1},
				{ID: "node-b", State: compute.NodeIdle},
				{ID: "node-c", State: compute.NodeUnusable, Reason: "disk full", Since: since},
			},
			compute.NodeCounts{Current: 3, Target: 2, Idle: 1, Running: 1, Unusable: 1},
		},
		{
			"replaced, not merged",
			[]compute.Node{{ID: "node-z", State: compute.NodePreempted}, {ID: "node-y", State: compute.NodeLeaving}, {ID: "node-x", State: compute.NodePreparing}},
			[]compute.Node{{ID: "node-x", State: compute.NodePreparing}, {ID: "node-y", State: compute.NodeLeaving}, {ID: "node-z", State: compute.NodePreempted}},
			compute.NodeCounts{Current: 3, Target: 2, Preparing: 1, Leaving: 1, Preempted: 1},
		},
		{"cleared", []compute.Node{}, nil, compute.NodeCounts{Target: 2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.SaveNodes(ctx, "POOL", st.save); err != nil {
				t.Fatal(err)
			}
			got, err := s.ListNodes(ctx, "pool")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, st.want) {
				t.Errorf("ListNodes:\n got %+v\nwant %+v", got, st.want)
			}
			tg, err := s.GetTarget(ctx, "pool")
			if err != nil {
				t.Fatal(err)
			}
			if tg.Nodes != st.count {
				t.Errorf("Nodes = %+v, want %+v", tg.Nodes, st.count)
			}
			if other, _ := s.ListNodes(ctx, "other"); len(other) != 0 {
				t.Errorf("another target's nodes changed: %+v", other)
			}
		})
	}
}

func TestSaveNodesDuplicateID(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("pool"), nil)
	if err := s.SaveNodes(ctx, "pool", []compute.Node{{ID: "keep", State: compute.NodeIdle}}); err != nil {
		t.Fatal(err)
	}
	err := s.SaveNodes(ctx, "pool", []compute.Node{{ID: "n1", State: compute.NodeIdle}, {ID: "n1", State: compute.NodeRunning}})
	if !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	got, _ := s.ListNodes(ctx, "pool")
	if len(got) != 1 || got[0].ID != "keep" {
		t.Errorf("failed SaveNodes changed the set: %+v", got)
	}
}
