package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// targetsEqual compares two targets field by field (times with Equal).
func targetsEqual(a, b *compute.Target) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if !x.CreatedAt.Equal(y.CreatedAt) || !x.ModifiedAt.Equal(y.ModifiedAt) || !x.StateSince.Equal(y.StateSince) ||
		!x.LastOperation.Time.Equal(y.LastOperation.Time) {
		return false
	}
	x.CreatedAt, x.ModifiedAt, x.StateSince, x.LastOperation.Time = y.CreatedAt, y.ModifiedAt, y.StateSince, y.LastOperation.Time
	return reflect.DeepEqual(x, y)
}

func TestCreateGetRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		target      *compute.Target
		secrets     map[string]string
		wantSecrets []string
	}{
		{"cluster", clusterTarget("gpu-pool"), map[string]string{compute.SecretAdminPassword: "Cluster-Pw-7731"}, []string{"adminPassword"}},
		{"instance", instanceTarget("bobs-box"), nil, nil},
		{"attached vm", vmTarget("lab-vm"), map[string]string{
			compute.SecretPassword:   "vm-password-9911",
			compute.SecretPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
			compute.SecretPassphrase: "", // blank: not stored
		}, []string{"password", "privateKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := MustOpen(t)
			clk := newClock(s)
			want := tt.target
			if err := s.CreateTarget(ctx, want, tt.secrets); err != nil {
				t.Fatal(err)
			}
			if !want.CreatedAt.Equal(clk.Now()) || !want.ModifiedAt.Equal(clk.Now()) || !want.StateSince.Equal(clk.Now()) {
				t.Errorf("times = %v/%v/%v, want all %v", want.CreatedAt, want.ModifiedAt, want.StateSince, clk.Now())
			}
			if !reflect.DeepEqual(want.SecretsSet, tt.wantSecrets) {
				t.Errorf("SecretsSet after create = %v, want %v", want.SecretsSet, tt.wantSecrets)
			}
			got, err := s.GetTarget(ctx, want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !targetsEqual(got, want) {
				t.Errorf("GetTarget:\n got %+v\nwant %+v", got, want)
			}
			// Lookup ignores case; the stored spelling comes back.
			got, err = s.GetTarget(ctx, strings.ToUpper(want.Name))
			if err != nil || got.Name != want.Name {
				t.Errorf("GetTarget(upper) = %v, %v", got, err)
			}
			for name, value := range tt.secrets {
				v, err := s.Secret(ctx, want.Name, name)
				switch {
				case value == "" && !errors.Is(err, compute.ErrNotFound):
					t.Errorf("Secret(%s) of blank value: err = %v, want ErrNotFound", name, err)
				case value != "" && (err != nil || v != value):
					t.Errorf("Secret(%s) = %q, %v", name, v, err)
				}
			}
		})
	}
}

func TestCreateKeepsGivenTimes(t *testing.T) {
	s := MustOpen(t)
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 7200))
	tg := clusterTarget("old-one")
	tg.CreatedAt = created
	mustCreate(t, s, tg, nil)
	got, err := s.GetTarget(context.Background(), "old-one")
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Truncate(time.Millisecond); !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
	if !tg.CreatedAt.Equal(got.CreatedAt) {
		t.Errorf("CreateTarget left CreatedAt %v, store has %v", tg.CreatedAt, got.CreatedAt)
	}
}

func TestCreateDuplicateName(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("cpu-cluster"), nil)
	for _, name := range []string{"cpu-cluster", "CPU-CLUSTER", "Cpu-Cluster"} {
		t.Run(name, func(t *testing.T) {
			err := s.CreateTarget(ctx, vmTarget(name), map[string]string{"password": "x-pass"})
			if !errors.Is(err, compute.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if want := "Compute name '" + name + "' is not available. Reason: AlreadyExists"; err.Error() != want {
				t.Errorf("message = %q, want %q", err.Error(), want)
			}
			var coded *compute.CodedError
			if !errors.As(err, &coded) || coded.Code != "AlreadyExists" || coded.Target != "name" {
				t.Errorf("coded error = %+v", coded)
			}
		})
	}
	if n := rowCount(t, s, "targets"); n != 1 {
		t.Errorf("targets = %d, want 1", n)
	}
	if n := rowCount(t, s, "target_secrets"); n != 0 {
		t.Errorf("secrets of the failed create were kept: %d rows", n)
	}
}

func TestCreateInvalid(t *testing.T) {
	s := MustOpen(t)
	for _, tg := range []*compute.Target{{Kind: compute.KindCluster}, {Name: "no-kind"}} {
		if err := s.CreateTarget(context.Background(), tg, nil); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("CreateTarget(%+v) err = %v, want ErrInvalid", tg, err)
		}
	}
}

func TestMissingTarget(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	calls := map[string]func() error{
		"GetTarget": func() error { _, err := s.GetTarget(ctx, "ghost"); return err },
		"UpdateTarget": func() error {
			_, err := s.UpdateTarget(ctx, "ghost", func(*compute.Target) error { return nil })
			return err
		},
		"DeleteTarget":  func() error { return s.DeleteTarget(ctx, "ghost") },
		"ListNodes":     func() error { _, err := s.ListNodes(ctx, "ghost"); return err },
		"SaveNodes":     func() error { return s.SaveNodes(ctx, "ghost", nil) },
		"SetSecrets":    func() error { return s.SetSecrets(ctx, "ghost", map[string]string{"a": "b"}) },
		"DeleteSecrets": func() error { return s.DeleteSecrets(ctx, "ghost", "a") },
		"Secret":        func() error { _, err := s.Secret(ctx, "ghost", "a"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, compute.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if err.Error() != "Compute 'ghost' was not found." {
				t.Errorf("message = %q", err.Error())
			}
		})
	}
}

func TestUpdateTargetStateSince(t *testing.T) {
	tests := []struct {
		name          string
		make          func(string) *compute.Target
		change        func(*compute.Target)
		wantSinceMove bool
	}{
		{"description only", clusterTarget, func(t *compute.Target) { t.Description = "new words" }, false},
		{"scale settings", clusterTarget, func(t *compute.Target) { t.Cluster.MaxNodes = 8; t.Cluster.TargetNodeCount = 3 }, false},
		{"provisioning state", clusterTarget, func(t *compute.Target) { t.ProvisioningState = compute.ProvisioningUpdating }, true},
		{"instance state", instanceTarget, func(t *compute.Target) { t.Instance.State = compute.InstanceStopping }, true},
		{"instance idle setting", instanceTarget, func(t *compute.Target) { t.Instance.IdleShutdownMinutes = 15 }, false},
		{"same state written again", instanceTarget, func(t *compute.Target) { t.Instance.State = compute.InstanceRunning }, false},
		{"attach status", vmTarget, func(t *compute.Target) { t.Attach.StatusMessage = "retrying" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := MustOpen(t)
			clk := newClock(s)
			orig := tt.make("target-a")
			mustCreate(t, s, orig, nil)
			created := clk.Now()
			clk.Advance(90 * time.Second)

			var want *compute.Target
			got, err := s.UpdateTarget(ctx, "TARGET-A", func(t *compute.Target) error {
				tt.change(t)
				c := *t
				want = &c
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !got.ModifiedAt.Equal(clk.Now()) {
				t.Errorf("ModifiedAt = %v, want %v", got.ModifiedAt, clk.Now())
			}
			wantSince := created
			if tt.wantSinceMove {
				wantSince = clk.Now()
			}
			if !got.StateSince.Equal(wantSince) {
				t.Errorf("StateSince = %v, want %v", got.StateSince, wantSince)
			}
			want.ModifiedAt, want.StateSince = got.ModifiedAt, got.StateSince
			if want.Cluster != nil {
				want.Nodes.Target = want.Cluster.TargetNodeCount
			}
			if !targetsEqual(got, want) {
				t.Errorf("returned:\n got %+v\nwant %+v", got, want)
			}
			again, err := s.GetTarget(ctx, "target-a")
			if err != nil || !targetsEqual(again, got) {
				t.Errorf("GetTarget after update:\n got %+v\nwant %+v (err %v)", again, got, err)
			}
		})
	}
}

func TestUpdateTargetAborts(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("steady"), nil)
	before, _ := s.GetTarget(ctx, "steady")

	boom := compute.Conflictf("Busy", "state", "the cluster is busy")
	_, err := s.UpdateTarget(ctx, "steady", func(t *compute.Target) error {
		t.Description = "should not stick"
		return boom
	})
	if err != boom {
		t.Errorf("err = %v, want fn's error as is", err)
	}
	for _, change := range []func(*compute.Target){
		func(t *compute.Target) { t.Name = "renamed" },
		func(t *compute.Target) { t.Kind = compute.KindInstance },
	} {
		_, err := s.UpdateTarget(ctx, "steady", func(t *compute.Target) error { t.Description = "no"; change(t); return nil })
		if !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	}
	after, _ := s.GetTarget(ctx, "steady")
	if !targetsEqual(before, after) {
		t.Errorf("aborted updates changed the target:\n%+v\n%+v", before, after)
	}
}

func TestDeleteTargetCascades(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustCreate(t, s, clusterTarget("doomed"), map[string]string{"adminPassword": "p1"})
	mustCreate(t, s, vmTarget("stays"), map[string]string{"password": "p2"})
	if err := s.SaveNodes(ctx, "doomed", []compute.Node{{ID: "n1", State: compute.NodeIdle}, {ID: "n2", State: compute.NodeRunning}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveNodes(ctx, "stays", []compute.Node{{ID: "vm", State: compute.NodeIdle}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTarget(ctx, "DOOMED"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTarget(ctx, "doomed"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("GetTarget after delete: %v", err)
	}
	for table, want := range map[string]int{"targets": 1, "nodes": 1, "target_secrets": 1} {
		if n := rowCount(t, s, table); n != want {
			t.Errorf("%s rows = %d, want %d", table, n, want)
		}
	}
	if err := s.DeleteTarget(ctx, "doomed"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	// The name is free again.
	mustCreate(t, s, instanceTarget("doomed"), nil)
}

func TestUnsettledMatchesCompute(t *testing.T) {
	prov, inst := unsettledStates()
	allProv := []compute.ProvisioningState{compute.ProvisioningUnknown, compute.ProvisioningCreating, compute.ProvisioningUpdating,
		compute.ProvisioningSucceeded, compute.ProvisioningFailed, compute.ProvisioningDeleting, compute.ProvisioningCanceled}
	allInst := []compute.InstanceState{compute.InstanceCreating, compute.InstanceCreateFailed, compute.InstanceRunning,
		compute.InstanceJobRunning, compute.InstanceStopping, compute.InstanceStopped, compute.InstanceStarting,
		compute.InstanceRestarting, compute.InstanceDeleting, compute.InstanceUnusable, compute.InstanceUnknown}
	for _, st := range allProv {
		in := false
		for _, p := range prov {
			in = in || p == st
		}
		if in != st.Transitional() {
			t.Errorf("provisioning %s: in Unsettled list = %v, Transitional = %v", st, in, st.Transitional())
		}
	}
	for _, st := range allInst {
		in := false
		for _, p := range inst {
			in = in || p == st
		}
		if in != st.Transitional() {
			t.Errorf("instance %s: in Unsettled list = %v, Transitional = %v", st, in, st.Transitional())
		}
	}
}

func TestTargetNamesAndCountsByKind(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	for _, tg := range []*compute.Target{clusterTarget("b-cluster"), clusterTarget("A-cluster"), vmTarget("vm1")} {
		if err := s.CreateTarget(ctx, tg, map[string]string{"password": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.TargetNames(ctx, 10)
	if err != nil || !slices.Equal(names, []string{"A-cluster", "b-cluster", "vm1"}) {
		t.Errorf("TargetNames = %q, %v", names, err)
	}
	if names, _ := s.TargetNames(ctx, 2); len(names) != 2 {
		t.Errorf("TargetNames(2) = %q", names)
	}
	counts, err := s.CountTargetsByKind(ctx)
	if err != nil || counts[compute.KindCluster] != 2 || counts[compute.KindVirtualMachine] != 1 || len(counts) != 2 {
		t.Errorf("CountTargetsByKind = %v, %v", counts, err)
	}
}
