package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// epoch is the fake clock's starting time.
func epoch() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func clusterTarget(name string, min, max, idleSeconds int) *compute.Target {
	return &compute.Target{Name: name, Kind: compute.KindCluster, Cluster: &compute.ClusterSpec{
		VMSize: "Standard_DS3_v2", MinNodes: min, MaxNodes: max, IdleSecondsBeforeScaleDown: idleSeconds,
	}}
}

func TestScaleStep(t *testing.T) {
	type node struct {
		id    string
		state compute.NodeState
		age   time.Duration // how long it has been in its state
	}
	tests := []struct {
		name           string
		min, max, idle int
		nodes          []node
		demand         int
		want           []compute.NodeState // states after the step, in order
		wantKept       []string            // IDs of existing nodes still there, when it matters
		wantTarget     int
		wantAlloc      string
	}{
		{name: "new cluster grows to min", min: 1, max: 4, demand: 0,
			want: []compute.NodeState{"preparing"}, wantTarget: 1, wantAlloc: "Resizing"},
		{name: "grows to demand in one step", max: 4, demand: 3,
			want: []compute.NodeState{"preparing", "preparing", "preparing"}, wantTarget: 3, wantAlloc: "Resizing"},
		{name: "never above max", max: 2, demand: 5,
			want: []compute.NodeState{"preparing", "preparing"}, wantTarget: 2, wantAlloc: "Resizing"},
		{name: "still booting", max: 2, demand: 1, nodes: []node{{"a", "preparing", 10 * time.Millisecond}},
			want: []compute.NodeState{"preparing"}, wantTarget: 1, wantAlloc: "Resizing"},
		{name: "booted after the boot delay", max: 2, demand: 1, nodes: []node{{"a", "preparing", 50 * time.Millisecond}},
			want: []compute.NodeState{"idle"}, wantTarget: 1, wantAlloc: "Steady"},
		{name: "idle node kept until its idle time is up", max: 2, idle: 120, demand: 0,
			nodes: []node{{"a", "idle", 119 * time.Second}},
			want:  []compute.NodeState{"idle"}, wantTarget: 0, wantAlloc: "Resizing"},
		{name: "idle node removed after its idle time", max: 2, idle: 120, demand: 0,
			nodes: []node{{"a", "idle", 120 * time.Second}},
			want:  nil, wantTarget: 0, wantAlloc: "Steady"},
		{name: "min kept", min: 1, max: 3, idle: 60, demand: 0,
			nodes: []node{{"a", "idle", time.Hour}, {"b", "idle", time.Hour}},
			want:  []compute.NodeState{"idle"}, wantTarget: 1, wantAlloc: "Steady"},
		{name: "shrinks only to demand", max: 4, idle: 60, demand: 2,
			nodes: []node{{"a", "idle", time.Hour}, {"b", "idle", time.Hour}, {"c", "idle", time.Hour}},
			want:  []compute.NodeState{"idle", "idle"}, wantTarget: 2, wantAlloc: "Steady"},
		{name: "longest idle goes first", max: 4, idle: 60, demand: 1,
			nodes: []node{{"recent", "idle", 2 * time.Minute}, {"old", "idle", time.Hour}},
			want:  []compute.NodeState{"idle"}, wantKept: []string{"recent"}, wantTarget: 1, wantAlloc: "Steady"},
		{name: "preparing nodes are not removed", max: 4, idle: 0, demand: 0,
			nodes: []node{{"a", "preparing", 0}},
			want:  []compute.NodeState{"preparing"}, wantTarget: 0, wantAlloc: "Resizing"},
		{name: "a node whose job is gone is freed", max: 4, idle: 60, demand: 1,
			nodes: []node{{"a", "running", time.Hour}},
			want:  []compute.NodeState{"idle"}, wantKept: []string{"a"}, wantTarget: 1, wantAlloc: "Steady"},
		{name: "steady at demand", max: 4, idle: 60, demand: 2,
			nodes: []node{{"a", "idle", time.Second}, {"b", "idle", time.Second}},
			want:  []compute.NodeState{"idle", "idle"}, wantTarget: 2, wantAlloc: "Steady"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Now = epoch
			b := New(cfg)
			tgt := clusterTarget("cc", tt.min, tt.max, tt.idle)
			var start []compute.Node
			for i, n := range tt.nodes {
				node := compute.Node{ID: n.id, State: n.state, Since: epoch().Add(-n.age), Port: 50000 + i}
				if n.state == compute.NodeRunning {
					node.RunID = "gone-run" // a run with no job on disk, as after a failed Submit
				}
				start = append(start, node)
			}
			if err := cfg.Nodes.SaveNodes(context.Background(), "cc", start); err != nil {
				t.Fatal(err)
			}

			got, err := b.Scale(context.Background(), tgt, tt.demand)
			if err != nil {
				t.Fatal(err)
			}
			var states []compute.NodeState
			for _, n := range got {
				states = append(states, n.State)
			}
			if !equal(states, tt.want) {
				t.Errorf("states = %v, want %v", states, tt.want)
			}
			for i, id := range tt.wantKept {
				if i >= len(got) || got[i].ID != id {
					t.Errorf("nodes = %+v, want %v kept", got, tt.wantKept)
				}
			}
			if tgt.Cluster.TargetNodeCount != tt.wantTarget || tgt.Cluster.AllocationState != tt.wantAlloc {
				t.Errorf("target %d %s, want %d %s", tgt.Cluster.TargetNodeCount, tgt.Cluster.AllocationState, tt.wantTarget, tt.wantAlloc)
			}
			saved, _ := cfg.Nodes.ListNodes(context.Background(), "cc")
			if len(saved) != len(got) {
				t.Errorf("saved %d nodes, returned %d", len(saved), len(got))
			}
			old := map[string]bool{}
			for _, n := range tt.nodes {
				old[n.id] = true
			}
			ports := map[int]bool{}
			for _, n := range got {
				if ports[n.Port] || n.Port < 50000 {
					t.Errorf("node %s has port %d, want a unique port from 50000", n.ID, n.Port)
				}
				ports[n.Port] = true
				if !old[n.ID] {
					if n.State != compute.NodePreparing || !n.Since.Equal(epoch()) || !strings.HasPrefix(n.ID, "tvmps_") || len(n.ID) != len("tvmps_")+8 ||
						n.PrivateIP != "127.0.0.1" || n.CPUs != 4 || n.MemoryMB != 14*1024 {
						t.Errorf("new node %+v, want tvmps_<8 hex> on 127.0.0.1 with the DS3_v2 size", n)
					}
				}
			}
		})
	}
}

func equal(a, b []compute.NodeState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScaleRejectsNonClusters(t *testing.T) {
	b := New(testConfig(t))
	for _, tgt := range []*compute.Target{localTarget(), {Name: "ci", Kind: compute.KindInstance, Instance: &compute.InstanceSpec{}}} {
		if _, err := b.Scale(context.Background(), tgt, 1); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("Scale(%s): err = %v, want ErrInvalid", tgt.Kind, err)
		}
	}
}

// TestClusterLifecycle follows a cluster through the ticks of a job: scale
// up, boot, the job claims the nodes, demand drops but running nodes stay,
// the job ends and frees them, and they go after the idle time.
func TestClusterLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: epoch()}
	cfg := testConfig(t)
	cfg.Now = clock.Now
	b := New(cfg)
	tgt := clusterTarget("cc", 0, 3, 120)
	if err := b.Provision(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	counts := func(demand int) compute.NodeCounts {
		t.Helper()
		nodes, err := b.Scale(ctx, tgt, demand)
		if err != nil {
			t.Fatal(err)
		}
		var c compute.NodeCounts
		for _, n := range nodes {
			c.Add(n.State)
		}
		return c
	}

	if c := counts(2); c.Preparing != 2 {
		t.Fatalf("after the first tick: %+v, want 2 preparing", c)
	}
	clock.Advance(cfg.BootDelay)
	if c := counts(2); c.Idle != 2 || tgt.Cluster.AllocationState != AllocationSteady {
		t.Fatalf("after the boot delay: %+v %s, want 2 idle and Steady", c, tgt.Cluster.AllocationState)
	}

	work := t.TempDir()
	h := submit(t, b, tgt, compute.JobSpec{NodeCount: 2, WorkDir: work, Argv: []string{"/bin/sh", "-c",
		`echo "rank $RANK up"; while [ ! -e release ]; do sleep 0.05; done`}})
	nodes, _ := b.Nodes(ctx, tgt)
	for _, n := range nodes {
		if n.State != compute.NodeRunning || n.RunID == "" {
			t.Errorf("after Submit: node %+v, want running the job", n)
		}
	}
	if _, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: "no-room", Argv: []string{"/bin/true"}}); !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("Submit with every node busy: err = %v, want ErrUnavailable", err)
	}

	clock.Advance(time.Hour)
	if c := counts(0); c.Running != 2 || tgt.Cluster.TargetNodeCount != 0 || tgt.Cluster.AllocationState != AllocationResizing {
		t.Fatalf("demand gone, job running: %+v target %d %s; want both nodes kept running, target 0, Resizing",
			c, tgt.Cluster.TargetNodeCount, tgt.Cluster.AllocationState)
	}

	if err := os.WriteFile(filepath.Join(work, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	if c := counts(0); c.Idle != 2 {
		t.Fatalf("after the job ended: %+v, want both nodes idle (and not removed yet)", c)
	}
	clock.Advance(119 * time.Second)
	if c := counts(0); c.Idle != 2 {
		t.Fatalf("before the idle time is up: %+v, want 2 idle", c)
	}
	clock.Advance(time.Second)
	if c := counts(0); c.Current != 0 || tgt.Cluster.AllocationState != AllocationSteady {
		t.Fatalf("after the idle time: %+v %s, want no nodes and Steady", c, tgt.Cluster.AllocationState)
	}
}

func TestClusterDeprovision(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: epoch()}
	cfg := testConfig(t)
	cfg.Now = clock.Now
	b := New(cfg)
	tgt := clusterTarget("cc", 1, 2, 120)
	if _, err := b.Scale(ctx, tgt, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := b.Scale(ctx, tgt, 0); err != nil {
		t.Fatal(err)
	}
	h := submit(t, b, tgt, compute.JobSpec{Argv: []string{"/bin/sh", "-c", "echo on; sleep 60"}})
	computetest.WaitLog(t, b, h, "on", 5*time.Second)

	for i := range 2 {
		if err := b.Deprovision(ctx, tgt); err != nil {
			t.Fatalf("Deprovision #%d: %v", i+1, err)
		}
	}
	if nodes, _ := b.Nodes(ctx, tgt); len(nodes) != 0 {
		t.Errorf("nodes after Deprovision: %+v", nodes)
	}
	computetest.WaitPhase(t, b, h, compute.JobCanceled, 5*time.Second)
}
