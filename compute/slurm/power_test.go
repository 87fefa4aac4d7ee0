package slurm

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

func TestParseShowConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want liveConfig
	}{
		{"set", "SuspendExcNodes         = node[1-1],cloud[1-2]:1\nSuspendTime             = 45 sec\nSuspendTimeout = 10 sec\n", liveConfig{45, "node[1-1],cloud[1-2]:1"}},
		{"null and off", "SuspendExcNodes = (null)\nSuspendTime = NONE\n", liveConfig{-1, ""}},
		{"missing", "ClusterName = x\n", liveConfig{-1, ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseShowConfig(tc.in); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExcNodes(t *testing.T) {
	cloud := []string{"cloud1", "cloud2", "cloud3"}
	tests := []struct {
		name    string
		live    string
		usable  []string
		min     int
		wantMin int // minFromExc(live)
		merged  string
	}{
		{"static only", "node[1-3]", cloud, 1, 0, "cloud[1-3]:1,node[1-3]"},
		{"ours replaced", "cloud[1-3]:2,node[1-3]", cloud[:2], 1, 2, "cloud[1-2]:1,node[1-3]"},
		{"min 0 drops ours", "node1,cloud[1-3]:2", cloud, 0, 2, "node1"},
		{"uncounted cloud nodes count all", "cloud[1-2]", cloud, 3, 2, "cloud[1-3]:3"},
		{"empty", "", cloud, 0, 0, ""},
		{"one usable node", "node[1-3]", cloud[:1], 1, 0, "cloud1:1,node[1-3]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := minFromExc(parseExcNodes(tc.live), cloud); got != tc.wantMin {
				t.Errorf("min of %q = %d, want %d", tc.live, got, tc.wantMin)
			}
			got, err := mergeExc(tc.live, cloud, tc.usable, tc.min)
			if err != nil || got != tc.merged {
				t.Errorf("merge = %q, %v; want %q", got, err, tc.merged)
			}
		})
	}
}

func TestCompressHostlist(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{[]string{"cloud1", "cloud2", "cloud3", "cloud5"}, "cloud[1-3,5]", false},
		{[]string{"gpu01", "gpu02", "gpu10"}, "gpu[01-02,10]", false},
		{[]string{"login"}, "login", false},
		{[]string{"a1", "b2"}, "", true},
		{[]string{"x", "y"}, "", true},
	}
	for _, tc := range tests {
		got, err := compressHostlist(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("compressHostlist(%v) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil {
			back, err := expandHostlist(got)
			if err != nil || strings.Join(back, ",") != strings.Join(tc.in, ",") {
				t.Errorf("%q expands to %v, %v", got, back, err)
			}
		}
	}
}

func TestScaleSettingsValidate(t *testing.T) {
	tests := []struct {
		name   string
		s      compute.ScaleSettings
		fields string
	}{
		{"ok", compute.ScaleSettings{MinNodes: 1, MaxNodes: 2, IdleSeconds: 120}, ""},
		{"min above max", compute.ScaleSettings{MinNodes: 2, MaxNodes: 1, IdleSeconds: 120}, "minNodes"},
		{"max above cloud nodes", compute.ScaleSettings{MinNodes: 0, MaxNodes: 3, IdleSeconds: 120}, "maxNodes"},
		{"negative, zero", compute.ScaleSettings{MinNodes: -1, MaxNodes: 0, IdleSeconds: 0}, "maxNodes,minNodes,idleSeconds"},
		{"idle too long", compute.ScaleSettings{MinNodes: 0, MaxNodes: 2, IdleSeconds: 8 * 24 * 3600}, "idleSeconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if v := validateScaleSettings(tc.s, 2); v != nil {
				for _, f := range v.Fields {
					got = append(got, f.Field)
				}
			}
			if strings.Join(got, ",") != tc.fields {
				t.Errorf("fields %v, want %s", got, tc.fields)
			}
		})
	}
}

// powerTarget is a target on c's cloud partition that may edit its power
// settings.
func powerTarget(c *slurmtest.Cluster) *compute.Target {
	tgt := testTarget(c)
	tgt.Attach.SlurmPartition = c.CloudPartition
	tgt.Attach.SlurmConf = c.Conf
	return tgt
}

func waitPower(t *testing.T, b *Backend, tgt *compute.Target, timeout time.Duration, what string, ok func(compute.PowerStatus) bool) compute.PowerStatus {
	t.Helper()
	var ps compute.PowerStatus
	deadline := time.Now().Add(timeout * computetest.Slack)
	for {
		var err error
		ps, err = b.PowerStatus(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last %+v", what, ps)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestScaleSettingsOnRealCluster edits min/max/idle of a real power-saving
// partition: min 1 keeps a node up past the idle time, max 1 drains the
// second node, min 0 lets the idle node power down, max 2 undrains.
func TestScaleSettingsOnRealCluster(t *testing.T) {
	t.Parallel()
	needCluster(t)
	c := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, SuspendTime: 8, PowerInclude: true})
	b := New(testConfig(c))
	ctx := context.Background()
	tgt := powerTarget(c)

	ps, err := b.PowerStatus(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	want := compute.PowerStatus{CloudNodes: 2, Settings: compute.ScaleSettings{MinNodes: 0, MaxNodes: 2, IdleSeconds: 8}, Editable: true, PoweredDown: 2}
	if ps != want {
		t.Fatalf("PowerStatus = %+v, want %+v", ps, want)
	}
	// Without slurm.conf: read-only, counts still there.
	ro := testTarget(c)
	ro.Attach.SlurmPartition = c.CloudPartition
	if ps, err := b.PowerStatus(ctx, ro); err != nil || ps.Editable || !strings.Contains(ps.Why, "slurm.conf") || ps.Settings.MaxNodes != 2 || ps.Settings.MinNodes != -1 {
		t.Errorf("without slurm.conf: %+v, %v", ps, err)
	}
	var verr *compute.ValidationError
	if err := b.UpdateScale(ctx, ro, compute.ScaleSettings{MaxNodes: 2, IdleSeconds: 10}); !errors.As(err, &verr) || verr.For(compute.FieldScaleSettings) == "" {
		t.Errorf("update without slurm.conf: %v", err)
	}
	// The static partition has no CLOUD nodes.
	static := powerTarget(c)
	static.Attach.SlurmPartition = c.Partition
	if ps, err := b.PowerStatus(ctx, static); err != nil || ps.CloudNodes != 0 {
		t.Errorf("static partition: %+v, %v", ps, err)
	}
	if err := b.UpdateScale(ctx, tgt, compute.ScaleSettings{MinNodes: 3, MaxNodes: 3, IdleSeconds: 8}); !errors.As(err, &verr) || verr.For(compute.FieldMaxNodes) == "" {
		t.Errorf("max 3 of 2: %v", err)
	}

	// min 1: one node powers up and stays up past the idle time.
	if err := b.UpdateScale(ctx, tgt, compute.ScaleSettings{MinNodes: 1, MaxNodes: 2, IdleSeconds: 8}); err != nil {
		t.Fatal(err)
	}
	inc, _ := os.ReadFile(c.PowerConf)
	if !strings.Contains(string(inc), "SuspendTime=8\n") || !strings.Contains(string(inc), "SuspendExcNodes=cloud[1-2]:1,node[1-1]\n") {
		t.Errorf("include file:\n%s", inc)
	}
	waitPower(t, b, tgt, 20*time.Second, "one node up", func(ps compute.PowerStatus) bool { return ps.PoweredUp == 1 && ps.Settings.MinNodes == 1 })
	time.Sleep(25 * time.Second) // idle time + Slurm's power-save pass
	if ps, _ := b.PowerStatus(ctx, tgt); ps.PoweredUp != 1 || ps.PoweredDown != 1 {
		t.Errorf("min 1 after the idle time: %+v", ps)
	}

	// max 1, min 0: cloud2 is drained, and the idle cloud1 powers down.
	if err := b.UpdateScale(ctx, tgt, compute.ScaleSettings{MinNodes: 0, MaxNodes: 1, IdleSeconds: 8}); err != nil {
		t.Fatal(err)
	}
	waitPower(t, b, tgt, 45*time.Second, "every node powered down, one above max", func(ps compute.PowerStatus) bool {
		return ps.PoweredDown == 2 && ps.Excluded == 1 && ps.Settings.MaxNodes == 1 && ps.Settings.MinNodes == 0
	})
	if out := c.Scontrol(t, "show", "node", "cloud2"); !strings.Contains(out, maxReason) {
		t.Errorf("cloud2 not drained with the reason:\n%s", out)
	}
	// max 2 again: cloud2 is back.
	if err := b.UpdateScale(ctx, tgt, compute.ScaleSettings{MinNodes: 0, MaxNodes: 2, IdleSeconds: 8}); err != nil {
		t.Fatal(err)
	}
	waitPower(t, b, tgt, 10*time.Second, "cloud2 back", func(ps compute.PowerStatus) bool { return ps.Excluded == 0 && ps.Settings.MaxNodes == 2 })
}

// fakeHistory keeps every sample the refresher records.
type fakeHistory struct {
	mu sync.Mutex
	ss []compute.NodeSample
}

func (f *fakeHistory) RecordNodeSample(_ context.Context, _ string, s compute.NodeSample) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ss = append(f.ss, s)
	return true, nil
}

func (f *fakeHistory) NodeSamples(context.Context, string, time.Time) ([]compute.NodeSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]compute.NodeSample(nil), f.ss...), nil
}

type oneTarget struct{ t *compute.Target }

func (o oneTarget) ListTargets(context.Context, compute.TargetFilter) ([]*compute.Target, int, error) {
	return []*compute.Target{o.t}, 1, nil
}

type noNodes struct{}

func (noNodes) ListNodes(context.Context, string) ([]compute.Node, error) { return nil, nil }
func (noNodes) SaveNodes(context.Context, string, []compute.Node) error   { return nil }

// TestCloudJobHistory: a job on the powered-down partition shows in the
// node history as powering up, then busy, then (after the idle time)
// powered down again.
func TestCloudJobHistory(t *testing.T) {
	t.Parallel()
	needCluster(t)
	c := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, SuspendTime: 5, PowerInclude: true})
	b := New(testConfig(c))
	tgt := powerTarget(c)
	tgt.ProvisioningState = compute.ProvisioningSucceeded
	hist := &fakeHistory{}
	r := orchestrate.NewNodeRefresher(orchestrate.NodeRefresherConfig{Targets: oneTarget{tgt}, Nodes: noNodes{},
		Backends: compute.MustRegistry(b.Registration()), History: hist, Interval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	job := c.Sbatch(t, "-p", c.CloudPartition, "-N1", "--wrap", "sleep 3")
	phase := 0 // 0: want powering up, 1: want busy, 2: want all powered down after
	deadline := time.Now().Add(100 * time.Second * computetest.Slack)
	for phase < 3 && time.Now().Before(deadline) {
		for _, s := range func() []compute.NodeSample { ss, _ := hist.NodeSamples(ctx, "", time.Time{}); return ss }() {
			switch {
			case phase == 0 && s.Preparing > 0:
				phase = 1
			case phase == 1 && s.Busy > 0:
				phase = 2
			case phase == 2 && s.Busy == 0 && s.Preparing == 0 && s.Idle == 0 && s.PoweredDown == 2:
				phase = 3
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if phase < 3 {
		ss, _ := hist.NodeSamples(ctx, "", time.Time{})
		for i, s := range ss {
			if i == 0 || !s.SameCounts(ss[i-1]) {
				t.Logf("%s %+v", s.At.Format("15:04:05.0"), s)
			}
		}
		t.Fatalf("job %s: history reached phase %d of 3 (powering up, busy, powered down); last samples %+v", job, phase, ss[max(0, len(ss)-5):])
	}
}
