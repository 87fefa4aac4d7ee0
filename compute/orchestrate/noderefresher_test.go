package orchestrate_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// nodesBackend answers Nodes with what the test sets.
type nodesBackend struct {
	queueBackend
	mu    sync.Mutex
	nodes []compute.Node
	err   error
	calls int
}

func (b *nodesBackend) Nodes(context.Context, *compute.Target) ([]compute.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	return b.nodes, b.err
}

// describerFunc is a compute.Describer from a function.
type describerFunc func(context.Context, *compute.Target) (string, []compute.Partition, error)

func (f describerFunc) Describe(ctx context.Context, t *compute.Target) (string, []compute.Partition, error) {
	return f(ctx, t)
}

func TestNodeRefresher(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	for _, tg := range []*compute.Target{
		{Name: "hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningSucceeded},
		{Name: "hpc-new", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningCreating},
	} {
		tg.CreatedAt, tg.Attach = time.Now(), &compute.AttachSpec{RESTURL: "http://slurm:6820", SlurmUser: "root"}
		if err := st.CreateTarget(ctx, tg, nil); err != nil {
			t.Fatal(err)
		}
	}
	b := &nodesBackend{}
	version, partitions := "22.05.8", []compute.Partition{{Name: "debug", Default: true, TotalNodes: 2}}
	var describeErr error
	var changed []string
	r := orchestrate.NewNodeRefresher(orchestrate.NodeRefresherConfig{Targets: st, Nodes: st, Logger: slog.New(slog.DiscardHandler),
		Backends: compute.MustRegistry(compute.Registration{Backend: b, Kinds: []compute.Kind{compute.KindSlurm},
			Capabilities: compute.Capabilities{Describe: describerFunc(func(context.Context, *compute.Target) (string, []compute.Partition, error) {
				return version, partitions, describeErr
			})}}),
		OnChange: func(name string) { changed = append(changed, name) },
	})
	two := []compute.Node{{ID: "node1", State: compute.NodeIdle, CPUs: 2}, {ID: "node2", State: compute.NodeRunning, RunID: "r1"}}
	tests := []struct {
		name        string
		nodes       []compute.Node
		nodesErr    error
		describeErr error
		wantSaved   []string // node IDs in the store
		wantCounts  compute.NodeCounts
		wantErr     bool
		wantVersion string
		wantChanged int // OnChange calls so far
	}{
		{"first read", two, nil, nil, []string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Running: 1}, false, "22.05.8", 1},
		{"nothing changed: not saved again", two, nil, nil, []string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Running: 1}, false, "22.05.8", 1},
		{"a node goes down", []compute.Node{two[0], {ID: "node2", State: compute.NodeUnusable, Reason: "Not responding"}}, nil, nil,
			[]string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Unusable: 1}, false, "22.05.8", 2},
		{"cluster unreachable: last read kept", nil, errors.New("connection refused"), nil,
			[]string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Unusable: 1}, true, "22.05.8", 2},
		{"partitions unreadable: nodes saved, last partitions kept", two, nil, errors.New("500"),
			[]string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Running: 1}, true, "22.05.8", 3},
		{"back", two, nil, nil, []string{"node1", "node2"}, compute.NodeCounts{Current: 2, Idle: 1, Running: 1}, false, "22.05.8", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.mu.Lock()
			b.nodes, b.err = tc.nodes, tc.nodesErr
			b.mu.Unlock()
			describeErr = tc.describeErr
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			saved, err := st.ListNodes(ctx, "hpc")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, n := range saved {
				ids = append(ids, n.ID)
			}
			if len(ids) != len(tc.wantSaved) {
				t.Errorf("saved %v, want %v", ids, tc.wantSaved)
			}
			tg, err := st.GetTarget(ctx, "hpc")
			if err != nil {
				t.Fatal(err)
			}
			if tg.Nodes != tc.wantCounts {
				t.Errorf("counts %+v, want %+v", tg.Nodes, tc.wantCounts)
			}
			ci, ok := r.Info("hpc")
			if !ok || (ci.Err != "") != tc.wantErr || ci.Version != tc.wantVersion || len(ci.Partitions) != 1 || len(ci.Nodes) != 2 {
				t.Errorf("info %+v, %v", ci, ok)
			}
			if len(changed) != tc.wantChanged {
				t.Errorf("OnChange called %d times, want %d", len(changed), tc.wantChanged)
			}
			if _, ok := r.Info("hpc-new"); ok {
				t.Error("a target still being attached was read")
			}
		})
	}
	if err := st.DeleteTarget(ctx, "hpc"); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Info("hpc"); ok {
		t.Error("a deleted target is still known")
	}
}
