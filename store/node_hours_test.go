package store

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestNodeHoursAccrue(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	c := newClock(s)
	t0 := c.Now()
	samples := []struct {
		at    time.Duration
		nodes int
	}{
		{0, 2},                 // 2 nodes from t0
		{30 * time.Minute, 4},  // 2 × 0.5 h = 1 node-hour
		{90 * time.Minute, 1},  // 4 × 1 h = 4 node-hours
		{150 * time.Minute, 1}, // 1 × 1 h = 1 node-hour
		{120 * time.Minute, 3}, // out of order: counts nothing, changes nothing
	}
	for _, sm := range samples {
		if err := s.AccrueNodes(ctx, "replay", "c1", sm.nodes, t0.Add(sm.at)); err != nil {
			t.Fatal(err)
		}
	}
	// Read 30 minutes after the last sample: its count (1, not the late 3)
	// is taken to have held until now.
	c.Advance(180 * time.Minute)
	h, err := s.NodeHours(ctx, "replay", "c1")
	if err != nil || math.Abs(h.Hours-6.5) > 1e-9 || !h.Since.Equal(t0) {
		t.Fatalf("NodeHours = %+v, %v; want 6.5 since %v", h, err, t0)
	}
	if h, err := s.NodeHours(ctx, "replay", "never"); err != nil || h.Hours != 0 || !h.Since.IsZero() {
		t.Errorf("a compute never sampled: %+v %v", h, err)
	}
}

// nodesIn makes n nodes in state, with IDs that do not collide.
func nodesIn(state compute.NodeState, n int, prefix string) []compute.Node {
	out := make([]compute.Node, n)
	for i := range out {
		out[i] = compute.Node{ID: prefix + string(rune('a'+i)), State: state}
	}
	return out
}

// TestLocalTargetsAccrueNodeHours: every write of a local target or its
// nodes samples its billed nodes (compute.BilledNodes), so its node hours
// follow its story without anyone calling AccrueNodes.
func TestLocalTargetsAccrueNodeHours(t *testing.T) {
	type step struct {
		after time.Duration // the clock moves on, then
		do    func(t *testing.T, s *Store, name string)
	}
	update := func(fn func(*compute.Target)) func(*testing.T, *Store, string) {
		return func(t *testing.T, s *Store, name string) {
			if _, err := s.UpdateTarget(context.Background(), name, func(tg *compute.Target) error { fn(tg); return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	save := func(nodes ...[]compute.Node) func(*testing.T, *Store, string) {
		return func(t *testing.T, s *Store, name string) {
			var all []compute.Node
			for _, n := range nodes {
				all = append(all, n...)
			}
			if err := s.SaveNodes(context.Background(), name, all); err != nil {
				t.Fatal(err)
			}
		}
	}
	setState := func(st compute.InstanceState) func(*testing.T, *Store, string) {
		return update(func(tg *compute.Target) { tg.Instance.State = st })
	}
	stoppedInstance := func() *compute.Target {
		i := instanceTarget("inst")
		i.Instance.State = compute.InstanceStopped
		return i
	}
	uncheckedVM := func() *compute.Target {
		v := vmTarget("vm")
		v.ProvisioningState, v.ProvisioningErrors, v.Attach.Checked = compute.ProvisioningCreating, nil, false
		return v
	}
	tests := []struct {
		name   string
		target *compute.Target
		steps  []step
		then   time.Duration // read this long after the last step
		want   float64
	}{
		{"an instance counts one node while it runs", stoppedInstance(), []step{
			{time.Hour, setState(compute.InstanceStarting)},
			{10 * time.Minute, setState(compute.InstanceRunning)},
			{2 * time.Hour, setState(compute.InstanceStopping)},
			{5 * time.Minute, setState(compute.InstanceStopped)},
		}, 3 * time.Hour, 2},
		{"a running instance counts up to the read", instanceTarget("inst"), nil, 90 * time.Minute, 1.5},
		{"a cluster counts its nodes, idle or busy", clusterTarget("pool"), []step{
			{time.Hour, save(nodesIn(compute.NodeIdle, 3, "i"))},
			{time.Hour, save(nodesIn(compute.NodeIdle, 1, "i"), nodesIn(compute.NodeRunning, 1, "r"))},
			{30 * time.Minute, save()},
		}, time.Hour, 3 + 1},
		{"preempted low-priority nodes are not billed", clusterTarget("pool"), []step{
			{0, save(nodesIn(compute.NodeRunning, 2, "r"), nodesIn(compute.NodePreempted, 2, "p"))},
		}, time.Hour, 2},
		{"an attached VM counts while it is reachable", uncheckedVM(), []step{
			{time.Hour, update(func(tg *compute.Target) {
				tg.ProvisioningState, tg.Attach.Checked = compute.ProvisioningSucceeded, true
			})},
			{time.Hour, update(func(tg *compute.Target) { tg.Attach.Unreachable = true })},
			{5 * time.Hour, update(func(tg *compute.Target) { tg.Attach.Unreachable = false })},
		}, 30 * time.Minute, 1.5},
		{"a Slurm cluster counts its nodes that are up", &compute.Target{Name: "hpc", Kind: compute.KindSlurm,
			ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{RESTURL: "http://hpc", Checked: true}}, []step{
			{0, save(nodesIn(compute.NodeIdle, 2, "i"), nodesIn(compute.NodeUnusable, 1, "d"))},
		}, 2 * time.Hour, 4},
		{"Databricks shows Trainyard no nodes", &compute.Target{Name: "dbx", Kind: compute.KindDatabricks,
			ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{Workspace: "w", Checked: true}}, nil, time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustOpen(t)
			c := newClock(s)
			mustCreate(t, s, tt.target, nil)
			for _, st := range tt.steps {
				c.Advance(st.after)
				st.do(t, s, tt.target.Name)
			}
			c.Advance(tt.then)
			h, err := s.NodeHours(context.Background(), compute.LocalWorkspace, tt.target.Name)
			if err != nil || math.Abs(h.Hours-tt.want) > 1e-6 {
				t.Fatalf("node hours = %v (%v), want %v", h.Hours, err, tt.want)
			}
		})
	}
}

// TestCostOf: catalogue sizes are priced from the catalogue, the rest at
// the Admin's price (0 until set); deleting a target forgets both.
func TestCostOf(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	c := newClock(s)
	mustCreate(t, s, instanceTarget("inst"), nil) // Standard_NC6s_v3, running
	vm := vmTarget("vm")
	vm.ProvisioningState = compute.ProvisioningSucceeded
	mustCreate(t, s, vm, nil)
	c.Advance(2 * time.Hour)

	size, _ := compute.LookupVMSize("Standard_NC6s_v3")
	inst, _ := s.GetTarget(ctx, "inst")
	got, err := s.CostOf(ctx, compute.LocalWorkspace, inst)
	if err != nil || got.Source != compute.PriceCatalogue || got.PricePerNodeHour != size.HourlyUSD ||
		math.Abs(got.Accrued-2*size.HourlyUSD) > 1e-9 || got.Currency != "USD" {
		t.Errorf("instance cost = %+v, %v", got, err)
	}

	vmt, _ := s.GetTarget(ctx, "vm")
	if got, err := s.CostOf(ctx, compute.LocalWorkspace, vmt); err != nil || got.Source != compute.PriceAdmin || got.Accrued != 0 || got.NodeHours != 2 {
		t.Errorf("VM cost before a price = %+v, %v", got, err)
	}
	if err := s.SetNodeHourPrice(ctx, compute.LocalWorkspace, "VM", 0.5, "admin-1"); err != nil { // names match regardless of case
		t.Fatal(err)
	}
	if got, err := s.CostOf(ctx, compute.LocalWorkspace, vmt); err != nil || got.PricePerNodeHour != 0.5 || got.Accrued != 1 {
		t.Errorf("VM cost at $0.5 = %+v, %v", got, err)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := s.SetNodeHourPrice(ctx, compute.LocalWorkspace, "vm", bad, "admin-1"); err == nil {
			t.Errorf("price %v accepted", bad)
		}
	}

	if err := s.DeleteTarget(ctx, "vm"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, vm, nil)
	vmt, _ = s.GetTarget(ctx, "vm")
	if got, err := s.CostOf(ctx, compute.LocalWorkspace, vmt); err != nil || got.PricePerNodeHour != 0 || got.NodeHours != 0 {
		t.Errorf("a new target with a deleted one's name inherits %+v, %v", got, err)
	}
}
