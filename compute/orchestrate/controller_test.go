package orchestrate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/local"
	"github.com/trainyard/trainyard/compute/orchestrate"
	"github.com/trainyard/trainyard/store"
)

const (
	tick        = 20 * time.Millisecond // controller interval
	bootDelay   = 50 * time.Millisecond // a new node is preparing this long
	powerDelay  = 50 * time.Millisecond // starting or stopping an instance takes this long
	waitTimeout = 15 * time.Second      // generous: -race and busy CI machines are slow
)

// ---- the store as the controller sees it ----------------------------------

// checkedStore is the real store with the controller's writes watched: every
// provisioning-state move must be one the state machine allows, an instance
// state may only be moved on from a transitional one, and only a target in
// Deleting may be deleted. It also records the allocation states written for
// clusters and counts reconcile passes.
type checkedStore struct {
	*store.Store
	t *testing.T

	passes atomic.Int64 // ListTargets(Unsettled) calls = reconcile passes

	mu    sync.Mutex
	alloc map[string][]allocRecord
}

type allocRecord struct {
	at     time.Time
	state  string
	target int
}

func (s *checkedStore) ListTargets(ctx context.Context, f compute.TargetFilter) ([]*compute.Target, int, error) {
	if f.Unsettled {
		s.passes.Add(1)
	}
	return s.Store.ListTargets(ctx, f)
}

func (s *checkedStore) UpdateTarget(ctx context.Context, name string, fn func(t *compute.Target) error) (*compute.Target, error) {
	return s.Store.UpdateTarget(ctx, name, func(t *compute.Target) error {
		fromProv := t.ProvisioningState
		var fromInst compute.InstanceState
		if t.Instance != nil {
			fromInst = t.Instance.State
		}
		var fromAlloc string
		var fromTarget int
		if t.Cluster != nil {
			fromAlloc, fromTarget = t.Cluster.AllocationState, t.Cluster.TargetNodeCount
		}
		if err := fn(t); err != nil {
			return err
		}
		if to := t.ProvisioningState; to != fromProv && !fromProv.CanMoveTo(to) {
			s.t.Errorf("controller moved %s from %s to %s, which the state machine forbids", name, fromProv, to)
		}
		if t.Instance != nil && t.Instance.State != fromInst && !fromInst.Transitional() {
			s.t.Errorf("controller moved instance %s from settled state %s to %s", name, fromInst, t.Instance.State)
		}
		if t.Cluster != nil && (t.Cluster.AllocationState != fromAlloc || t.Cluster.TargetNodeCount != fromTarget) {
			s.mu.Lock()
			if s.alloc == nil {
				s.alloc = map[string][]allocRecord{}
			}
			s.alloc[name] = append(s.alloc[name], allocRecord{time.Now(), t.Cluster.AllocationState, t.Cluster.TargetNodeCount})
			s.mu.Unlock()
		}
		return nil
	})
}

func (s *checkedStore) DeleteTarget(ctx context.Context, name string) error {
	if t, err := s.Store.GetTarget(ctx, name); err == nil && t.ProvisioningState != compute.ProvisioningDeleting {
		s.t.Errorf("controller deleted %s, which was %s, not Deleting", name, t.ProvisioningState)
	}
	return s.Store.DeleteTarget(ctx, name)
}

// allocSince returns the allocation states written for a cluster after t0.
func (s *checkedStore) allocSince(name string, t0 time.Time) []allocRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []allocRecord
	for _, r := range s.alloc[name] {
		if !r.at.Before(t0) {
			out = append(out, r)
		}
	}
	return out
}

// waitPasses waits until the controller has made n more reconcile passes, to
// show that something does not happen without sleeping a fixed time.
func (s *checkedStore) waitPasses(t *testing.T, n int64) {
	t.Helper()
	want := s.passes.Load() + n
	waitFor(t, fmt.Sprintf("%d reconcile passes", n), func() (bool, string) {
		got := s.passes.Load()
		return got >= want, fmt.Sprintf("%d passes", got)
	})
}

// ---- the backend, with hooks -----------------------------------------------

// probe is the real local backend with hooks to block or fail an operation
// and to count calls.
type probe struct {
	*local.Backend

	provisionErr   error        // returned by Provision instead of provisioning
	deprovisionErr error        // returned by Deprovision instead of deleting
	blockProvision bool         // Provision waits for its context to end
	entered        chan string  // receives the name of each target entering a blocked Provision
	provisions     atomic.Int64 // Provision calls
	scales         atomic.Int64 // Scale calls
}

func (p *probe) Provision(ctx context.Context, t *compute.Target) error {
	p.provisions.Add(1)
	if p.blockProvision {
		p.entered <- t.Name
		<-ctx.Done()
		return ctx.Err()
	}
	if p.provisionErr != nil {
		return p.provisionErr
	}
	return p.Backend.Provision(ctx, t)
}

func (p *probe) Deprovision(ctx context.Context, t *compute.Target) error {
	if p.deprovisionErr != nil {
		return p.deprovisionErr
	}
	return p.Backend.Deprovision(ctx, t)
}

func (p *probe) Scale(ctx context.Context, t *compute.Target, demand int) ([]compute.Node, error) {
	p.scales.Add(1)
	return p.Backend.Scale(ctx, t, demand)
}

// ---- environment -------------------------------------------------------------

type env struct {
	dir string
	st  *store.Store
	cs  *checkedStore
	be  *probe
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	k, err := store.LoadKeyring(dir, func(string) string { return "" })
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	st, err := store.Open(context.Background(), dir, store.Options{Keyring: k})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	return st
}

func newLocal(dir string, nodes compute.NodeStore) *local.Backend {
	return local.New(local.Config{DataDir: filepath.Join(dir, "local"), Nodes: nodes, BootDelay: bootDelay, PowerDelay: powerDelay})
}

// newEnvAt opens the store in dir (closed when the test ends) with a local
// backend over it.
func newEnvAt(t *testing.T, dir string) *env {
	t.Helper()
	st := openStore(t, dir)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { st.Close() }) })
	return &env{dir: dir, st: st, cs: &checkedStore{Store: st, t: t}, be: &probe{Backend: newLocal(dir, st)}}
}

func newEnv(t *testing.T) *env { return newEnvAt(t, t.TempDir()) }

// localRegistration is the local backend, behind the probe, as the app
// registers it; attached kinds have no backend in these tests unless a test
// registers one.
func (e *env) localRegistration() compute.Registration {
	reg := e.be.Backend.Registration()
	reg.Backend = e.be
	reg.Capabilities.Scale = e.be
	return reg
}

// backends is the registry of the local backend alone plus extra.
func (e *env) backends(extra ...compute.Registration) *compute.Registry {
	return compute.MustRegistry(append([]compute.Registration{e.localRegistration()}, extra...)...)
}

// start runs a controller over the env until the returned stop is called
// (or the test ends); stop returns once Run has returned, i.e. once every
// operation under way has ended.
func (e *env) start(t *testing.T, demand func(string) int) (c *orchestrate.Controller, stop func()) {
	t.Helper()
	c = orchestrate.NewController(orchestrate.ControllerConfig{
		Store: e.cs, Backends: e.backends(), Demand: demand, Interval: tick,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitTimeout):
				t.Errorf("controller did not stop within %v", waitTimeout)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds or waitTimeout passes; cond returns
// whether it holds and what it saw, for the failure message.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout * computetest.Slack)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last saw %s", waitTimeout, what, saw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, st orchestrate.TargetStore, name string) *compute.Target {
	t.Helper()
	tg, err := st.GetTarget(context.Background(), name)
	if err != nil {
		t.Fatalf("GetTarget(%s): %v", name, err)
	}
	return tg
}

// waitTarget waits until the stored target satisfies cond.
func waitTarget(t *testing.T, st orchestrate.TargetStore, name, what string, cond func(*compute.Target) bool) *compute.Target {
	t.Helper()
	var last *compute.Target
	waitFor(t, name+" "+what, func() (bool, string) {
		tg, err := st.GetTarget(context.Background(), name)
		if err != nil {
			return false, err.Error()
		}
		last = tg
		return cond(tg), describe(tg)
	})
	return last
}

func describe(t *compute.Target) string {
	s := fmt.Sprintf("%s %s errors=%q op=%+v nodes=%+v", t.Name, t.ProvisioningState, t.ProvisioningErrors, t.LastOperation, t.Nodes)
	if t.Cluster != nil {
		s += fmt.Sprintf(" alloc=%s target=%d", t.Cluster.AllocationState, t.Cluster.TargetNodeCount)
	}
	if t.Instance != nil {
		s += fmt.Sprintf(" instance=%s", t.Instance.State)
	}
	if t.Attach != nil {
		s += fmt.Sprintf(" attach=%+v", *t.Attach)
	}
	return s
}

// create validates a request and records the target as the create handler
// does: Creating, with the cluster Steady at its minimum and the instance
// Creating.
func create(t *testing.T, st *store.Store, req *compute.CreateRequest) {
	t.Helper()
	if err := req.Validate(); err != nil {
		t.Fatalf("Validate(%s): %v", req.Name, err)
	}
	now := time.Now()
	tg := &compute.Target{
		Name: req.Name, Kind: req.Kind, Location: "local", ProvisioningState: compute.ProvisioningCreating,
		CreatedBy: "tester", ResourceID: req.ResourceID, Cluster: req.Cluster, Instance: req.Instance, Attach: req.Attach,
		LastOperation: compute.Operation{Name: "Create", Status: "InProgress", Trigger: "User", Time: now},
	}
	if tg.Kind.IsAttached() {
		tg.LastOperation.Name = "Attach"
	}
	if tg.Cluster != nil {
		tg.Cluster.AllocationState, tg.Cluster.TargetNodeCount = local.AllocationSteady, tg.Cluster.MinNodes
	}
	if tg.Instance != nil {
		tg.Instance.State = compute.InstanceCreating
	}
	if err := st.CreateTarget(context.Background(), tg, req.Secrets); err != nil {
		t.Fatalf("CreateTarget(%s): %v", req.Name, err)
	}
}

func clusterRequest(name string, minNodes, maxNodes int) *compute.CreateRequest {
	return &compute.CreateRequest{Name: name, Kind: compute.KindCluster, Cluster: &compute.ClusterSpec{
		VMSize: "Standard_DS3_v2", MinNodes: minNodes, MaxNodes: maxNodes, IdleSecondsBeforeScaleDown: 120,
	}}
}

func instanceRequest(name string) *compute.CreateRequest {
	return &compute.CreateRequest{Name: name, Kind: compute.KindInstance, Instance: &compute.InstanceSpec{VMSize: "Standard_DS11_v2"}}
}

// userPower does what the start/stop/restart handler does.
func userPower(t *testing.T, st *store.Store, c *orchestrate.Controller, name string, a compute.PowerAction) {
	t.Helper()
	_, err := st.UpdateTarget(context.Background(), name, func(tg *compute.Target) error {
		next, err := compute.BeginPower(tg.Instance.State, a)
		if err != nil {
			return err
		}
		tg.Instance.State = next
		tg.LastOperation = compute.Operation{Name: string(a), Status: "InProgress", Trigger: "User", Time: time.Now()}
		return nil
	})
	if err != nil {
		t.Fatalf("%s %s: %v", a, name, err)
	}
	c.Kick()
}

// userDelete does what the delete handler does.
func userDelete(t *testing.T, st *store.Store, c *orchestrate.Controller, name string) {
	t.Helper()
	_, err := st.UpdateTarget(context.Background(), name, func(tg *compute.Target) error {
		tg.ProvisioningState = compute.ProvisioningDeleting
		tg.LastOperation = compute.Operation{Name: "Delete", Status: "InProgress", Trigger: "User", Time: time.Now()}
		return nil
	})
	if err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
	c.Kick()
}

func nodesOf(t *testing.T, st *store.Store, name string) []compute.Node {
	t.Helper()
	nodes, err := st.ListNodes(context.Background(), name)
	if err != nil {
		t.Fatalf("ListNodes(%s): %v", name, err)
	}
	return nodes
}

// ---- tests -------------------------------------------------------------------

func TestControllerClusterReachesMinNodes(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, clusterRequest("cpu-cluster", 2, 4))
	if got := get(t, e.st, "cpu-cluster"); got.ProvisioningState != compute.ProvisioningCreating || got.Nodes.Current != 0 {
		t.Fatalf("before the controller runs: %s", describe(got))
	}
	e.start(t, nil)

	tg := waitTarget(t, e.st, "cpu-cluster", "Succeeded with 2 idle nodes, Steady", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Nodes.Idle == 2 && tg.Nodes.Current == 2 &&
			tg.Cluster.AllocationState == local.AllocationSteady
	})
	if tg.Cluster.TargetNodeCount != 2 || tg.Nodes.Target != 2 {
		t.Errorf("target node count = %d (counts %d), want 2", tg.Cluster.TargetNodeCount, tg.Nodes.Target)
	}
	if tg.LastOperation.Name != "Create" || tg.LastOperation.Status != "Succeeded" || len(tg.ProvisioningErrors) != 0 {
		t.Errorf("after create: %s", describe(tg))
	}
	nodes := nodesOf(t, e.st, "cpu-cluster")
	ports := []int{}
	for _, n := range nodes {
		ports = append(ports, n.Port)
		if n.State != compute.NodeIdle || n.RunID != "" {
			t.Errorf("node %s is %s running %q, want idle", n.ID, n.State, n.RunID)
		}
		// Standard_DS3_v2: 4 vCPUs, 14 GB, no GPU (docs/design/studio-compute.md §6).
		if n.CPUs != 4 || n.MemoryMB != 14*1024 || n.GPUs != 0 {
			t.Errorf("node %s has %d CPUs, %d MB, %d GPUs; want a Standard_DS3_v2's 4, 14336, 0", n.ID, n.CPUs, n.MemoryMB, n.GPUs)
		}
		if !strings.HasPrefix(n.ID, "tvmps_") {
			t.Errorf("node ID %q does not look like Azure's tvmps_…", n.ID)
		}
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []int{50000, 50001}) {
		t.Errorf("node SSH ports = %v, want [50000 50001]", ports)
	}
	// Two minimum nodes and no work: the cluster stays at two.
	e.cs.waitPasses(t, 5)
	if tg := get(t, e.st, "cpu-cluster"); tg.Nodes.Current != 2 || tg.Cluster.AllocationState != local.AllocationSteady {
		t.Errorf("with no demand the cluster changed: %s", describe(tg))
	}
}

func TestControllerScalesWithDemand(t *testing.T) {
	e := newEnv(t)
	// Validate refuses IdleSecondsBeforeScaleDown below 30 s (shorter would
	// thrash nodes), but the store keeps any value. A test cannot wait 30 s,
	// so this cluster is written straight to the store with 1 s; the rule
	// under test — an idle node above the minimum goes only after it has been
	// idle that long — is the same whatever the number.
	err := e.st.CreateTarget(context.Background(), &compute.Target{
		Name: "burst", Kind: compute.KindCluster, Location: "local", ProvisioningState: compute.ProvisioningCreating,
		LastOperation: compute.Operation{Name: "Create", Status: "InProgress", Trigger: "User"},
		Cluster: &compute.ClusterSpec{
			VMSize: "Standard_D2_v2", VMPriority: compute.Dedicated, VMType: "CPU", MinNodes: 1, MaxNodes: 3,
			IdleSecondsBeforeScaleDown: 1, AllocationState: local.AllocationSteady, TargetNodeCount: 1,
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const idleFor = time.Second
	var demand atomic.Int64
	c, _ := e.start(t, func(name string) int {
		if name == "burst" {
			return int(demand.Load())
		}
		return 0
	})

	steadyAt := func(n int) func(*compute.Target) bool {
		return func(tg *compute.Target) bool {
			return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Nodes.Current == n && tg.Nodes.Idle == n &&
				tg.Cluster.TargetNodeCount == n && tg.Cluster.AllocationState == local.AllocationSteady
		}
	}
	waitTarget(t, e.st, "burst", "at its minimum of 1 idle node", steadyAt(1))

	// Work arrives for three nodes.
	up := time.Now()
	demand.Store(3)
	c.Kick()
	waitTarget(t, e.st, "burst", "scaled up to 3 idle nodes, Steady", steadyAt(3))
	recs := e.cs.allocSince("burst", up)
	iResizing := slices.IndexFunc(recs, func(r allocRecord) bool { return r.state == local.AllocationResizing && r.target == 3 })
	if iResizing < 0 || recs[len(recs)-1].state != local.AllocationSteady {
		t.Errorf("allocation states written while scaling up = %+v, want Resizing (target 3) then Steady", recs)
	} else if slices.ContainsFunc(recs[iResizing:], func(r allocRecord) bool { return r.target != 3 }) {
		t.Errorf("allocation states written while scaling up = %+v: target moved away from 3", recs)
	}

	// More work than the cluster may have: it stays at its maximum.
	demand.Store(10)
	e.cs.waitPasses(t, 4)
	if tg := get(t, e.st, "burst"); !steadyAt(3)(tg) {
		t.Errorf("demand 10 with max 3: %s, want 3 nodes, target 3, Steady", describe(tg))
	}

	// The work is done. Nodes above the minimum go once idle for 1 s, not before.
	before := nodesOf(t, e.st, "burst")
	idleSince := map[string]time.Time{}
	for _, n := range before {
		if n.State != compute.NodeIdle {
			t.Fatalf("node %s is %s before scale-down", n.ID, n.State)
		}
		idleSince[n.ID] = n.Since
	}
	down := time.Now()
	demand.Store(0)
	c.Kick()
	waitFor(t, "burst back at 1 node", func() (bool, string) {
		nodes, err := e.st.ListNodes(context.Background(), "burst")
		seen := time.Now() // every node missing now was removed before this
		if err != nil {
			return false, err.Error()
		}
		present := map[string]bool{}
		for _, n := range nodes {
			present[n.ID] = true
		}
		for id, since := range idleSince {
			if !present[id] && seen.Before(since.Add(idleFor)) {
				t.Errorf("node %s was removed after at most %v idle, before IdleSecondsBeforeScaleDown (1 s)", id, seen.Sub(since))
				delete(idleSince, id) // report once
			}
		}
		return len(nodes) == 1, fmt.Sprintf("%d nodes", len(nodes))
	})
	waitTarget(t, e.st, "burst", "Steady at 1 node", steadyAt(1))
	recs = e.cs.allocSince("burst", down)
	if len(recs) < 2 || recs[0].state != local.AllocationResizing || recs[0].target != 1 || recs[len(recs)-1].state != local.AllocationSteady {
		t.Errorf("allocation states written while scaling down = %+v, want Resizing (target 1) … Steady", recs)
	}
	if got := e.be.scales.Load(); got == 0 {
		t.Error("the controller never called Scale")
	}
}

func TestControllerInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, instanceRequest("ci-alice"))
	c, _ := e.start(t, nil)

	tg := waitTarget(t, e.st, "ci-alice", "Succeeded and Running", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Instance.State == compute.InstanceRunning
	})
	wantDir := filepath.Join(e.dir, "local", "instances", "ci-alice")
	if tg.Instance.WorkDir != wantDir {
		t.Errorf("WorkDir = %q, want %q", tg.Instance.WorkDir, wantDir)
	}
	if fi, err := os.Stat(wantDir); err != nil || !fi.IsDir() {
		t.Errorf("the instance's workspace folder is missing: %v", err)
	}
	if tg.LastOperation.Status != "Succeeded" {
		t.Errorf("after create: %s", describe(tg))
	}

	userPower(t, e.st, c, "ci-alice", compute.ActionStop)
	if got := get(t, e.st, "ci-alice").Instance.State; got != compute.InstanceStopping && got != compute.InstanceStopped {
		t.Fatalf("right after stop the instance is %s", got)
	}
	tg = waitTarget(t, e.st, "ci-alice", "Stopped", func(tg *compute.Target) bool { return tg.Instance.State == compute.InstanceStopped })
	if tg.LastOperation.Name != "stop" || tg.LastOperation.Status != "Succeeded" || tg.ProvisioningState != compute.ProvisioningSucceeded {
		t.Errorf("after stop: %s", describe(tg))
	}

	// A stopped instance cannot be stopped again, in Azure's words.
	_, err := e.st.UpdateTarget(context.Background(), "ci-alice", func(tg *compute.Target) error {
		_, err := compute.BeginPower(tg.Instance.State, compute.ActionStop)
		return err
	})
	var coded *compute.CodedError
	if !errors.As(err, &coded) || coded.Code != "StopComputeInstanceOnlyAllowedInRunningState" {
		t.Errorf("stopping a Stopped instance: %v, want StopComputeInstanceOnlyAllowedInRunningState", err)
	}

	userPower(t, e.st, c, "ci-alice", compute.ActionStart)
	waitTarget(t, e.st, "ci-alice", "Running again", func(tg *compute.Target) bool { return tg.Instance.State == compute.InstanceRunning })
	userPower(t, e.st, c, "ci-alice", compute.ActionRestart)
	waitTarget(t, e.st, "ci-alice", "Running after restart", func(tg *compute.Target) bool {
		return tg.Instance.State == compute.InstanceRunning && tg.LastOperation.Name == "restart" && tg.LastOperation.Status == "Succeeded"
	})
	if fi, err := os.Stat(wantDir); err != nil || !fi.IsDir() {
		t.Errorf("the workspace folder did not survive stop/start/restart: %v", err)
	}
}

func TestControllerDeletes(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, clusterRequest("doomed-cluster", 1, 2))
	create(t, e.st, instanceRequest("doomed-ci"))
	c, _ := e.start(t, nil)
	waitTarget(t, e.st, "doomed-cluster", "with 1 idle node", func(tg *compute.Target) bool { return tg.Nodes.Idle == 1 })
	ci := waitTarget(t, e.st, "doomed-ci", "Running", func(tg *compute.Target) bool { return tg.Instance.State == compute.InstanceRunning })
	if ci.Instance.WorkDir == "" {
		t.Fatal("the instance has no workspace folder")
	}

	userDelete(t, e.st, c, "doomed-cluster")
	userDelete(t, e.st, c, "doomed-ci")
	for _, name := range []string{"doomed-cluster", "doomed-ci"} {
		waitFor(t, name+" removed", func() (bool, string) {
			tg, err := e.st.GetTarget(context.Background(), name)
			if errors.Is(err, compute.ErrNotFound) {
				return true, ""
			}
			if err != nil {
				return false, err.Error()
			}
			return false, describe(tg)
		})
	}
	if _, err := os.Stat(ci.Instance.WorkDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted instance's workspace %s is still there (%v)", ci.Instance.WorkDir, err)
	}
	if _, err := e.st.ListNodes(context.Background(), "doomed-cluster"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("nodes of the deleted cluster: %v, want ErrNotFound", err)
	}
	// The name is free again.
	create(t, e.st, clusterRequest("doomed-cluster", 0, 1))
	waitTarget(t, e.st, "doomed-cluster", "recreated and Succeeded with no nodes", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Nodes.Current == 0 &&
			tg.Cluster.AllocationState == local.AllocationSteady
	})
}

func TestControllerDeleteFailureIsShown(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, instanceRequest("sticky-ci"))
	e.be.deprovisionErr = errors.New("the workspace folder is busy")
	c, _ := e.start(t, nil)
	waitTarget(t, e.st, "sticky-ci", "Running", func(tg *compute.Target) bool { return tg.Instance.State == compute.InstanceRunning })

	userDelete(t, e.st, c, "sticky-ci")
	tg := waitTarget(t, e.st, "sticky-ci", "Failed", func(tg *compute.Target) bool { return tg.ProvisioningState == compute.ProvisioningFailed })
	if want := []string{"Delete failed: the workspace folder is busy"}; !slices.Equal(tg.ProvisioningErrors, want) {
		t.Errorf("ProvisioningErrors = %q, want %q", tg.ProvisioningErrors, want)
	}
	if tg.LastOperation.Name != "Delete" || tg.LastOperation.Status != "Failed" {
		t.Errorf("LastOperation = %+v, want Delete Failed", tg.LastOperation)
	}
	if !tg.ProvisioningState.CanMoveTo(compute.ProvisioningDeleting) {
		t.Error("a target whose delete failed cannot be deleted again")
	}
}

func TestControllerProvisionFailureIsShown(t *testing.T) {
	e := newEnv(t)
	const quota = "OutOfQuota: Not enough cluster CPU quota. The amount of additional CPU quota requested is 8, and you are currently using 14. Your amount of maximum quota is 20."
	e.be.provisionErr = errors.New(quota)
	create(t, e.st, instanceRequest("ci-noquota"))
	e.start(t, nil)
	tg := waitTarget(t, e.st, "ci-noquota", "Failed", func(tg *compute.Target) bool { return tg.ProvisioningState == compute.ProvisioningFailed })
	if !slices.Equal(tg.ProvisioningErrors, []string{quota}) {
		t.Errorf("ProvisioningErrors = %q, want Azure's message verbatim", tg.ProvisioningErrors)
	}
	if tg.Instance.State != compute.InstanceCreateFailed || tg.LastOperation.Status != "Failed" {
		t.Errorf("after a failed create: %s, want CreateFailed and the operation Failed", describe(tg))
	}
	// A failed target is settled: the controller does not retry on its own.
	e.cs.waitPasses(t, 4)
	if n := e.be.provisions.Load(); n != 1 {
		t.Errorf("Provision was called %d times, want once", n)
	}
}

func TestControllerAttachedWithoutBackend(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, &compute.CreateRequest{
		Name: "gpu-box", Kind: compute.KindVirtualMachine,
		Attach:  &compute.AttachSpec{Address: "10.0.0.4", UserName: "azureuser"},
		Secrets: map[string]string{compute.SecretPassword: "pa55word"},
	})
	e.start(t, nil)
	tg := waitTarget(t, e.st, "gpu-box", "Unknown", func(tg *compute.Target) bool { return tg.ProvisioningState == compute.ProvisioningUnknown })
	const want = "Attached but not checked: Trainyard has not connected to this Virtual machine yet, so runs cannot use it."
	if tg.Attach.StatusMessage != want {
		t.Errorf("StatusMessage = %q, want %q", tg.Attach.StatusMessage, want)
	}
	if tg.Attach.Checked {
		t.Error("Checked = true for a machine nothing has connected to")
	}
	if tg.LastOperation.Name != "Attach" || tg.LastOperation.Status == "InProgress" {
		t.Errorf("LastOperation = %+v: the attach should have ended", tg.LastOperation)
	}
	if tg.Attach.Address != "10.0.0.4" || tg.Attach.SSHPort != 22 || !slices.Contains(tg.SecretsSet, compute.SecretPassword) {
		t.Errorf("attach settings not kept: %s secrets=%v", describe(tg), tg.SecretsSet)
	}
	// Unknown is settled: the target is no longer on the controller's list.
	e.cs.waitPasses(t, 2)
	unsettled, _, err := e.st.ListTargets(context.Background(), compute.TargetFilter{Unsettled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range unsettled {
		t.Errorf("still unsettled: %s", describe(u))
	}
}

func TestControllerUpdatingSettles(t *testing.T) {
	e := newEnv(t)
	create(t, e.st, clusterRequest("tunable", 0, 2))
	c, _ := e.start(t, nil)
	waitTarget(t, e.st, "tunable", "Succeeded", func(tg *compute.Target) bool { return tg.ProvisioningState == compute.ProvisioningSucceeded })
	_, err := e.st.UpdateTarget(context.Background(), "tunable", func(tg *compute.Target) error {
		tg.ProvisioningState = compute.ProvisioningUpdating
		tg.Cluster.MinNodes, tg.Cluster.MaxNodes = 1, 3
		tg.LastOperation = compute.Operation{Name: "Update", Status: "InProgress", Trigger: "User", Time: time.Now()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Kick()
	// The new minimum takes effect: one node comes up.
	tg := waitTarget(t, e.st, "tunable", "Succeeded with the new minimum of 1 node", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Nodes.Idle == 1 && tg.Cluster.AllocationState == local.AllocationSteady
	})
	if tg.LastOperation.Name != "Update" || tg.LastOperation.Status != "Succeeded" || tg.Cluster.MaxNodes != 3 {
		t.Errorf("after update: %s max=%d", describe(tg), tg.Cluster.MaxNodes)
	}
}

// TestControllerRestart stops the server while targets are being created and
// starts a new one over the same data: the new controller finishes the job.
func TestControllerRestart(t *testing.T) {
	dir := t.TempDir()
	first := newEnvAt(t, dir)
	create(t, first.st, instanceRequest("ci-restart"))
	create(t, first.st, clusterRequest("restart-cluster", 1, 2))

	// The first server gets as far as provisioning, which hangs; then it stops.
	first.be.blockProvision = true
	first.be.entered = make(chan string, 2)
	_, stop := first.start(t, nil)
	var entered []string
	for range 2 {
		select {
		case name := <-first.be.entered:
			entered = append(entered, name)
		case <-time.After(waitTimeout):
			t.Fatalf("provisioning started only for %v", entered)
		}
	}
	stop()
	for _, name := range []string{"ci-restart", "restart-cluster"} {
		tg := get(t, first.st, name)
		if tg.ProvisioningState != compute.ProvisioningCreating || len(tg.ProvisioningErrors) != 0 || tg.LastOperation.Status != "InProgress" {
			t.Errorf("after an interrupted create: %s, want still Creating, no errors", describe(tg))
		}
	}
	if err := first.st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new server: store reopened from disk, a fresh backend and controller.
	second := newEnvAt(t, dir)
	second.start(t, nil)
	ci := waitTarget(t, second.st, "ci-restart", "Running after the restart", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Instance.State == compute.InstanceRunning
	})
	if fi, err := os.Stat(ci.Instance.WorkDir); ci.Instance.WorkDir == "" || err != nil || !fi.IsDir() {
		t.Errorf("instance workspace %q: %v", ci.Instance.WorkDir, err)
	}
	waitTarget(t, second.st, "restart-cluster", "Succeeded with its 1 minimum node", func(tg *compute.Target) bool {
		return tg.ProvisioningState == compute.ProvisioningSucceeded && tg.Nodes.Idle == 1 && tg.Cluster.AllocationState == local.AllocationSteady
	})
	if n := second.be.provisions.Load(); n != 2 {
		t.Errorf("the new controller provisioned %d times, want once per target (2)", n)
	}
}

// TestControllerRestartKeepsPowerState stops the server while an instance is
// stopping; the new server finishes the stop.
func TestControllerRestartKeepsPowerState(t *testing.T) {
	dir := t.TempDir()
	first := newEnvAt(t, dir)
	create(t, first.st, instanceRequest("ci-nap"))
	c, stop := first.start(t, nil)
	waitTarget(t, first.st, "ci-nap", "Running", func(tg *compute.Target) bool { return tg.Instance.State == compute.InstanceRunning })
	stop()
	userPower(t, first.st, c, "ci-nap", compute.ActionStop) // recorded, but no controller runs
	if err := first.st.Close(); err != nil {
		t.Fatal(err)
	}

	second := newEnvAt(t, dir)
	if got := get(t, second.st, "ci-nap").Instance.State; got != compute.InstanceStopping {
		t.Fatalf("after reopening the store the instance is %s, want Stopping", got)
	}
	second.start(t, nil)
	waitTarget(t, second.st, "ci-nap", "Stopped", func(tg *compute.Target) bool {
		return tg.Instance.State == compute.InstanceStopped && tg.LastOperation.Status == "Succeeded"
	})
}

func TestEnsureLocalTargetIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := compute.EnsureLocalTarget(ctx, e.st, t0); err != nil {
		t.Fatalf("first EnsureLocalTarget: %v", err)
	}
	tg := get(t, e.st, compute.LocalTargetName)
	if tg.Kind != compute.KindLocal || tg.ProvisioningState != compute.ProvisioningSucceeded || !tg.CreatedAt.Equal(t0) || tg.CreatedBy != "system" {
		t.Fatalf("built-in target: %s created %v by %q", describe(tg), tg.CreatedAt, tg.CreatedBy)
	}

	// An operator edits its description; later starts leave it alone.
	if _, err := e.st.UpdateTarget(ctx, compute.LocalTargetName, func(tg *compute.Target) error {
		tg.Description = "The lab box"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := compute.EnsureLocalTarget(ctx, e.st, t0.Add(time.Hour)); err != nil {
			t.Fatalf("EnsureLocalTarget again: %v", err)
		}
	}
	// Several servers starting at once over one store: all succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- compute.EnsureLocalTarget(ctx, e.st, t0.Add(2*time.Hour)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent EnsureLocalTarget: %v", err)
		}
	}

	tg = get(t, e.st, compute.LocalTargetName)
	if tg.Description != "The lab box" || !tg.CreatedAt.Equal(t0) {
		t.Errorf("EnsureLocalTarget changed the existing target: description %q, created %v", tg.Description, tg.CreatedAt)
	}
	list, total, err := e.st.ListTargets(ctx, compute.TargetFilter{Kinds: []compute.Kind{compute.KindLocal}})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(list) != 1 {
		t.Errorf("%d local targets listed (total %d), want exactly 1", len(list), total)
	}

	// The controller leaves the built-in target alone.
	e.start(t, nil)
	e.cs.waitPasses(t, 3)
	if got := get(t, e.st, compute.LocalTargetName); got.ProvisioningState != compute.ProvisioningSucceeded || !got.ModifiedAt.Equal(tg.ModifiedAt) {
		t.Errorf("controller touched the built-in target: %s modified %v (was %v)", describe(got), got.ModifiedAt, tg.ModifiedAt)
	}
}
