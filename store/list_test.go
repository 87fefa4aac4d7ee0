package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// seedList creates a small, varied set of targets, each a minute apart.
func seedList(t *testing.T, s *Store) {
	t.Helper()
	clk := newClock(s)
	add := func(tg *compute.Target) {
		mustCreate(t, s, tg, nil)
		clk.Advance(time.Minute)
	}
	c1 := clusterTarget("zeta-pool") // DS3
	add(c1)
	c2 := clusterTarget("Alpha-Pool")
	c2.Cluster.VMSize = "Standard_NC24"
	c2.ProvisioningState = compute.ProvisioningCreating
	add(c2)
	i1 := instanceTarget("bob-box") // NC6s, Running
	add(i1)
	i2 := instanceTarget("carol-box")
	i2.Instance.State = compute.InstanceStarting
	i2.Instance.VMSize = "Standard_DS3_v2"
	add(i2)
	i3 := instanceTarget("dave-box")
	i3.Instance.State = compute.InstanceStopped
	add(i3)
	add(vmTarget("lab-vm")) // Failed
	add(&compute.Target{Name: "slurm-hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{RESTURL: "http://hpc:6820"}})
	add(&compute.Target{Name: "local", Kind: compute.KindLocal, ProvisioningState: compute.ProvisioningSucceeded})
	add(&compute.Target{Name: "gone-vm", Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningDeleting, Attach: &compute.AttachSpec{Address: "h"}})
	add(&compute.Target{Name: "has_underscore", Kind: compute.KindDatabricks, ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{Workspace: "w"}})
}

func names(ts []*compute.Target) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return strings.Join(out, ",")
}

func TestListTargets(t *testing.T) {
	s := MustOpen(t)
	seedList(t, s)
	all := "Alpha-Pool,bob-box,carol-box,dave-box,gone-vm,has_underscore,lab-vm,local,slurm-hpc,zeta-pool"
	tests := []struct {
		name      string
		f         compute.TargetFilter
		want      string
		wantTotal int
	}{
		{"all by name", compute.TargetFilter{}, all, 10},
		{"name desc", compute.TargetFilter{Sort: "name", Desc: true},
			"zeta-pool,slurm-hpc,local,lab-vm,has_underscore,gone-vm,dave-box,carol-box,bob-box,Alpha-Pool", 10},
		{"instances tab", compute.TargetFilter{Kinds: compute.KindsForTab(compute.TabInstances)}, "bob-box,carol-box,dave-box", 3},
		{"clusters tab", compute.TargetFilter{Kinds: compute.KindsForTab(compute.TabClusters)}, "Alpha-Pool,local,zeta-pool", 3},
		{"attached tab", compute.TargetFilter{Kinds: compute.KindsForTab(compute.TabAttached)}, "gone-vm,has_underscore,lab-vm", 3},
		{"search name any case", compute.TargetFilter{Search: "POOL"}, "Alpha-Pool,zeta-pool", 2},
		{"search vm size", compute.TargetFilter{Search: "ds3_V2"}, "carol-box,zeta-pool", 2},
		{"search kind value", compute.TargetFilter{Search: "amlcompute"}, "Alpha-Pool,zeta-pool", 2},
		{"search kind label", compute.TargetFilter{Search: "virtual machine"}, "gone-vm,lab-vm", 2},
		{"search underscore is literal", compute.TargetFilter{Search: "_"}, "Alpha-Pool,bob-box,carol-box,dave-box,has_underscore,zeta-pool", 6},
		{"search percent is literal", compute.TargetFilter{Search: "%"}, "", 0},
		{"search and kinds", compute.TargetFilter{Search: "box", Kinds: []compute.Kind{compute.KindInstance}}, "bob-box,carol-box,dave-box", 3},
		{"sort created", compute.TargetFilter{Sort: "created", Limit: 3}, "zeta-pool,Alpha-Pool,bob-box", 10},
		{"sort created desc", compute.TargetFilter{Sort: "created", Desc: true, Limit: 2}, "has_underscore,gone-vm", 10},
		{"sort kind", compute.TargetFilter{Sort: "kind", Kinds: []compute.Kind{compute.KindInstance, compute.KindCluster, compute.KindSlurm}},
			"Alpha-Pool,zeta-pool,bob-box,carol-box,dave-box,slurm-hpc", 6},
		{"sort vmSize ties on name", compute.TargetFilter{Sort: "vmSize", Kinds: []compute.Kind{compute.KindInstance, compute.KindCluster}},
			"carol-box,zeta-pool,Alpha-Pool,bob-box,dave-box", 5},
		{"sort state", compute.TargetFilter{Sort: "state", Kinds: []compute.Kind{compute.KindInstance, compute.KindCluster, compute.KindVirtualMachine}},
			// Creating < Deleting < Failed < Succeeded; then instance states "", Running, Starting, Stopped.
			"Alpha-Pool,gone-vm,lab-vm,zeta-pool,bob-box,carol-box,dave-box", 7},
		{"page 1", compute.TargetFilter{Limit: 4}, "Alpha-Pool,bob-box,carol-box,dave-box", 10},
		{"page 2", compute.TargetFilter{Limit: 4, Offset: 4}, "gone-vm,has_underscore,lab-vm,local", 10},
		{"page 3", compute.TargetFilter{Limit: 4, Offset: 8}, "slurm-hpc,zeta-pool", 10},
		{"past the end", compute.TargetFilter{Limit: 4, Offset: 40}, "", 10},
		{"offset without limit", compute.TargetFilter{Offset: 8}, "slurm-hpc,zeta-pool", 10},
		{"unsettled", compute.TargetFilter{Unsettled: true}, "Alpha-Pool,carol-box,gone-vm", 3},
		{"unsettled instances", compute.TargetFilter{Unsettled: true, Kinds: []compute.Kind{compute.KindInstance}}, "carol-box", 1},
		{"no match", compute.TargetFilter{Search: "nothing-like-this"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.ListTargets(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tt.want || total != tt.wantTotal {
				t.Errorf("got %s (total %d)\nwant %s (total %d)", names(got), total, tt.want, tt.wantTotal)
			}
		})
	}
}

func TestListTargetsRejectsBadFilter(t *testing.T) {
	s := MustOpen(t)
	for _, f := range []compute.TargetFilter{{Sort: "color"}, {Offset: -1}, {Limit: -5}} {
		if _, _, err := s.ListTargets(context.Background(), f); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("ListTargets(%+v) err = %v, want ErrInvalid", f, err)
		}
	}
}

func TestListTargetsFillsDetails(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("pool-a"), map[string]string{"adminPassword": "x1"})
	mustCreate(t, s, vmTarget("vm-b"), map[string]string{"password": "x2", "privateKey": "x3"})
	if err := s.SaveNodes(ctx, "pool-a", []compute.Node{{ID: "1", State: compute.NodeIdle}, {ID: "2", State: compute.NodeRunning}, {ID: "3", State: compute.NodeRunning}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ListTargets(ctx, compute.TargetFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range got {
		one, err := s.GetTarget(ctx, tg.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !targetsEqual(tg, one) {
			t.Errorf("ListTargets and GetTarget differ for %s:\n%+v\n%+v", tg.Name, tg, one)
		}
	}
	if want := (compute.NodeCounts{Current: 3, Target: 2, Idle: 1, Running: 2}); got[0].Nodes != want {
		t.Errorf("pool-a nodes = %+v, want %+v", got[0].Nodes, want)
	}
	if strings.Join(got[1].SecretsSet, ",") != "password,privateKey" {
		t.Errorf("vm-b SecretsSet = %v", got[1].SecretsSet)
	}
}

// seedMany inserts n targets quickly, with nodes, bypassing nothing but the
// per-target transaction.
func seedMany(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	kinds := []func(string) *compute.Target{clusterTarget, instanceTarget, vmTarget}
	for i := range n {
		tg := kinds[i%3](fmt.Sprintf("t%05d", i))
		if i%7 == 0 {
			tg.ProvisioningState = compute.ProvisioningCreating
		}
		mustCreate(tb, s, tg, nil)
		if i%3 == 0 {
			if err := s.SaveNodes(ctx, tg.Name, []compute.Node{{ID: "a", State: compute.NodeIdle}, {ID: "b", State: compute.NodeRunning}}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func TestListTargetsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,500 targets")
	}
	ctx := context.Background()
	s := MustOpen(t)
	seedMany(t, s, 1500)

	page, total, err := s.ListTargets(ctx, compute.TargetFilter{Sort: "created", Desc: true, Limit: 20, Offset: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1500 || len(page) != 20 || page[0].Name != "t00499" {
		t.Errorf("total %d, page %d, first %s", total, len(page), page[0].Name)
	}
	page, total, err = s.ListTargets(ctx, compute.TargetFilter{Kinds: []compute.Kind{compute.KindCluster}, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if total != 500 || len(page) != 50 || page[0].Nodes.Current != 2 || page[0].Nodes.Running != 1 {
		t.Errorf("clusters: total %d, page %d, nodes %+v", total, len(page), page[0].Nodes)
	}
	_, total, err = s.ListTargets(ctx, compute.TargetFilter{Unsettled: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (1500 + 6) / 7; total != want {
		t.Errorf("unsettled total = %d, want %d", total, want)
	}

	// Each sort order is served by an index: no temporary B-tree to sort.
	for _, sort := range []string{"name", "state", "vmSize", "created", "kind"} {
		for _, desc := range []bool{false, true} {
			where, args, order, err := listQuery(compute.TargetFilter{Sort: sort, Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, `SELECT `+targetCols+` FROM targets`+where+` ORDER BY `+order+` LIMIT 20 OFFSET 100`, args...)
			if strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("sort %s desc=%v sorts without an index:\n%s", sort, desc, plan)
			}
		}
	}
	// The node counts of a page use the nodes primary key, not a scan.
	plan := queryPlan(t, s, `SELECT target_id, state, COUNT(*) FROM nodes
		WHERE target_id IN (SELECT value FROM json_each(?)) GROUP BY target_id, state`, "[1,2,3]")
	if strings.Contains(plan, "SCAN nodes") {
		t.Errorf("node counts scan the nodes table:\n%s", plan)
	}
}

func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.reader.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

func BenchmarkListTargets(b *testing.B) {
	s := MustOpen(b)
	seedMany(b, s, 1500)
	ctx := context.Background()
	for _, f := range []compute.TargetFilter{
		{Limit: 20},
		{Sort: "created", Desc: true, Limit: 20, Offset: 1000},
		{Search: "t01", Limit: 20},
		{Kinds: []compute.Kind{compute.KindInstance}, Sort: "state", Limit: 20},
		{Unsettled: true},
	} {
		b.Run(fmt.Sprintf("%+v", f), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.ListTargets(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
