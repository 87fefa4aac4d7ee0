package slurm

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
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
)

// One real cluster serves every test of this binary: it starts in well
// under a second, but jobs of parallel tests share its nodes, which is what
// a real cluster looks like anyway. Tests that change node states run
// sequentially, before the parallel ones (Go starts parallel top-level
// tests only after the sequential ones have finished).
var cluster *slurmtest.Cluster

var clusterErr error

func TestMain(m *testing.M) {
	c, err := slurmtest.Launch(slurmtest.Options{Nodes: 3})
	if err != nil {
		if errors.Is(err, slurmtest.ErrNotInstalled) && os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "%v: run `make slurm`\n", err)
			os.Exit(1)
		}
		clusterErr = err
	}
	cluster = c
	code := m.Run()
	if c != nil {
		c.Stop()
	}
	os.Exit(code)
}

// needCluster skips (or, for a broken start, fails) tests that need Slurm.
func needCluster(t *testing.T) *slurmtest.Cluster {
	t.Helper()
	if clusterErr != nil {
		if errors.Is(clusterErr, slurmtest.ErrNotInstalled) {
			t.Skipf("%v (install with `make slurm`)", clusterErr)
		}
		t.Fatalf("the Slurm test cluster did not start: %v", clusterErr)
	}
	return cluster
}

func testConfig(c *slurmtest.Cluster) Config {
	return Config{
		Credentials: func(ctx context.Context, target string) (string, string, error) {
			return "", c.JWTKey(), nil
		},
		Logger: slog.New(slog.DiscardHandler),
	}
}

func testTarget(c *slurmtest.Cluster) *compute.Target {
	return &compute.Target{Name: "slurm-test", Kind: compute.KindSlurm, Attach: &compute.AttachSpec{
		RESTURL: c.RESTURL, SlurmUser: c.User, SharedDir: c.SharedDir,
	}}
}

const python = "/usr/bin/python3"

func submit(t *testing.T, b *Backend, tgt *compute.Target, spec compute.JobSpec) compute.Handle {
	t.Helper()
	if spec.RunID == "" {
		spec.RunID = computetest.NewRunID(t)
	}
	if spec.WorkDir == "" {
		spec.WorkDir = t.TempDir()
	}
	h, err := b.Submit(context.Background(), tgt, spec)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	t.Cleanup(func() { b.Cancel(context.Background(), h) })
	return h
}

func status(t *testing.T, b *Backend, h compute.Handle) compute.JobState {
	t.Helper()
	st, err := b.Status(context.Background(), h)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

// waitState polls until ok accepts the state.
func waitState(t *testing.T, b *Backend, h compute.Handle, timeout time.Duration, what string, ok func(compute.JobState) bool) compute.JobState {
	t.Helper()
	deadline := time.Now().Add(timeout * computetest.Slack)
	var st compute.JobState
	for time.Now().Before(deadline) {
		st = status(t, b, h)
		if ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s: never %s; last state %+v; log:\n%s", h.ID, what, st, computetest.ReadLogs(t, b, h, 0))
	return st
}

// --- sequential tests: they change node states -----------------------------

func TestProvisionAndVersion(t *testing.T) {
	c := needCluster(t)
	b := New(testConfig(c))
	ctx := context.Background()
	tgt := testTarget(c)
	if err := b.Provision(ctx, tgt); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	v, err := b.Version(ctx, tgt)
	if err != nil || !strings.Contains(v, "22.05") || !strings.Contains(v, "v0.0.38") {
		t.Errorf("Version = %q, %v; want 22.05 and v0.0.38", v, err)
	}
	ps, err := b.Partitions(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ps, func(p Partition) bool { return p.Name == "debug" })
	if i < 0 || !ps[i].Default || ps[i].TotalNodes != 3 || ps[i].TotalCPUs != 6 || ps[i].State != "UP" ||
		!slices.Equal(ps[i].Nodes, []string{"node1", "node2", "node3"}) || ps[i].MaxTime != "UNLIMITED" {
		t.Errorf("Partitions = %+v", ps)
	}

	bad := *tgt
	a := *tgt.Attach
	bad.Attach = &a
	a.SlurmPartition = "nope"
	if err := b.Provision(ctx, &bad); err == nil || !strings.Contains(err.Error(), `no partition "nope"`) || !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("Provision with a wrong partition: %v", err)
	}
	a.SlurmPartition = ""
	a.SharedDir = filepath.Join(t.TempDir(), "missing")
	if err := b.Provision(ctx, &bad); err == nil || !strings.Contains(err.Error(), "shared directory") {
		t.Errorf("Provision with a missing shared dir: %v", err)
	}
	a.SharedDir = c.SharedDir
	a.RESTURL = "http://127.0.0.1:1"
	if err := b.Provision(ctx, &bad); err == nil || !strings.Contains(err.Error(), "cannot reach slurmrestd at http://127.0.0.1:1") || !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("Provision of an unreachable URL: %v", err)
	}

	wrong := New(Config{Credentials: func(context.Context, string) (string, string, error) {
		return "", "not the key of this cluster, 32+ bytes long......", nil
	}})
	err = wrong.Provision(ctx, tgt)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials for user root") {
		t.Errorf("Provision with a wrong jwt key: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "not the key") {
		t.Errorf("the error shows the secret: %v", err)
	}
	token := New(Config{Credentials: func(context.Context, string) (string, string, error) {
		return c.Token(t), "", nil
	}})
	if err := token.Provision(ctx, tgt); err != nil {
		t.Errorf("Provision with a token: %v", err)
	}
}

func TestNodesAndNodeDown(t *testing.T) {
	c := needCluster(t)
	b := New(testConfig(c))
	ctx := context.Background()
	tgt := testTarget(c)
	ns, err := b.Nodes(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range ns {
		ids = append(ids, n.ID)
		if n.State != compute.NodeIdle || n.CPUs != 2 || n.MemoryMB != 2000 || n.PrivateIP != "127.0.0.1" || n.Port == 0 {
			t.Errorf("node %+v: want idle, 2 CPUs, 2000 MB, 127.0.0.1 and a port", n)
		}
	}
	if !slices.Equal(ids, []string{"node1", "node2", "node3"}) {
		t.Fatalf("Nodes = %v", ids)
	}
	defer c.WaitIdle(t, 30*time.Second)
	c.SetNodeState(t, "node3", "DOWN", "bad disk")
	defer c.SetNodeState(t, "node3", "RESUME", "")
	ns, err = b.Nodes(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if n := ns[2]; n.State != compute.NodeUnusable || !strings.Contains(n.Reason, "bad disk") || !strings.Contains(n.Reason, "down") {
		t.Errorf("node3 after DOWN: %+v; want unusable with Slurm's reason", n)
	}
	c.SetNodeState(t, "node2", "DRAIN", "maintenance")
	defer c.SetNodeState(t, "node2", "RESUME", "")
	ns, _ = b.Nodes(ctx, tgt)
	if n := ns[1]; n.State != compute.NodeUnusable || !strings.Contains(n.Reason, "maintenance") {
		t.Errorf("node2 after DRAIN: %+v", n)
	}
}

func TestPendingReason(t *testing.T) {
	c := needCluster(t)
	b := New(testConfig(c))
	// A job that is not Trainyard's holds every node exclusively.
	blocker := c.Sbatch(t, "-N3", "--exclusive", "--wrap", "sleep 300")
	defer c.Scancel(t, blocker)
	h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: 3, Argv: []string{"/bin/true"}})
	st := waitState(t, b, h, 30*time.Second, "queued for resources", func(st compute.JobState) bool {
		return st.Phase == compute.JobQueued && strings.Contains(st.Reason, "Resources")
	})
	t.Logf("pending: %+v", st)
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCanceled, 30*time.Second)
}

func TestNodeDownRequeues(t *testing.T) {
	c := needCluster(t)
	b := New(testConfig(c))
	tgt := testTarget(c)
	runID := computetest.NewRunID(t)
	h := submit(t, b, tgt, compute.JobSpec{RunID: runID, Argv: []string{python, "-c",
		"import os, time\nprint('attempt', os.environ.get('SLURM_RESTART_COUNT', '0'), flush=True)\n" +
			"time.sleep(3 if os.environ.get('SLURM_RESTART_COUNT') else 300)\nprint('done')"}})
	computetest.WaitLog(t, b, h, "attempt 0", 60*time.Second)
	ns, err := b.Nodes(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ns, func(n compute.Node) bool { return n.RunID == runID })
	if i < 0 {
		t.Fatalf("no node shows run %s: %+v", runID, ns)
	}
	if ns[i].State != compute.NodeRunning {
		t.Errorf("the node of the run: %+v, want running", ns[i])
	}
	node := ns[i].ID
	start := time.Now()
	c.SetNodeState(t, node, "DOWN", "pulled the plug")
	resumed := false
	defer func() {
		if !resumed {
			c.SetNodeState(t, node, "RESUME", "")
			c.WaitIdle(t, 30*time.Second)
		}
	}()
	st := waitState(t, b, h, 60*time.Second, "requeued (attempt 2)", func(st compute.JobState) bool {
		return !st.Phase.Terminal() && strings.Contains(st.Reason, "attempt 2")
	})
	t.Logf("%.1fs after the node went down: %+v", time.Since(start).Seconds(), st)
	c.SetNodeState(t, node, "RESUME", "")
	resumed = true
	c.WaitIdle(t, 30*time.Second)
	computetest.WaitLog(t, b, h, "attempt 1\n", 90*time.Second)
	t.Logf("%.1fs: attempt 2 runs", time.Since(start).Seconds())
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 90*time.Second)
	log := computetest.ReadLogs(t, b, h, 0)
	if !strings.Contains(log, "attempt 0\n") || !strings.Contains(log, "trainyard: attempt 2") || !strings.Contains(log, "attempt 1\ndone\n") {
		t.Errorf("log of both attempts:\n%s", log)
	}
}

// --- parallel tests ------------------------------------------------------------

func TestContract(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	// keys holds the JWT key of each target on a cluster of its own (the
	// power-saving one); the others are on the shared cluster.
	var keys sync.Map
	cfg := testConfig(c)
	cfg.Credentials = func(_ context.Context, target string) (string, string, error) {
		if k, ok := keys.Load(target); ok {
			return "", k.(string), nil
		}
		return "", c.JWTKey(), nil
	}
	b := New(cfg)
	computetest.RunBackendContract(t, computetest.Harness{
		Registration: b.Registration(),
		Reopen:       func() compute.Registration { return New(cfg).Registration() },
		Target: func(t *testing.T) *compute.Target {
			tgt := testTarget(c)
			if err := b.Provision(context.Background(), tgt); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			return tgt
		},
		Python:  python,
		Timeout: 60 * time.Second,
		PowerSavingTarget: func(t *testing.T) *compute.Target {
			pc := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, PowerInclude: true})
			tgt := powerTarget(pc)
			tgt.Name = "slurm-power-" + computetest.NewRunID(t)
			keys.Store(tgt.Name, pc.JWTKey())
			if err := b.Provision(context.Background(), tgt); err != nil {
				t.Fatalf("Provision of the power-saving partition: %v", err)
			}
			return tgt
		},
	})
}

func TestMultiNodeRanks(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	prog := `import os, socket
r = os.environ["RANK"]
os.makedirs("outputs", exist_ok=True)
with open("outputs/rank-%s.txt" % r, "w") as f:
    f.write(" ".join(os.environ[k] for k in ["RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT"]))
print("rank", r, "of", os.environ["WORLD_SIZE"], "on", os.environ["SLURMD_NODENAME"], flush=True)
`
	h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: 3, Argv: []string{python, "-c", prog}})
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 90*time.Second)
	log := computetest.ReadLogs(t, b, h, 0)
	for _, want := range []string{"rank 0 of 3", "rank 1 of 3", "rank 2 of 3", "node1", "node2", "node3"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	dir := t.TempDir()
	if err := b.FetchOutputs(context.Background(), h, dir); err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		data, err := os.ReadFile(filepath.Join(dir, "outputs", fmt.Sprintf("rank-%d.txt", r)))
		if err != nil {
			t.Errorf("rank %d output: %v", r, err)
			continue
		}
		f := strings.Fields(string(data))
		if len(f) != 6 || f[0] != fmt.Sprint(r) || f[1] != "3" || f[2] != "0" || f[3] != fmt.Sprint(r) || f[4] != "127.0.0.1" || f[5] == "" {
			t.Errorf("rank %d saw RANK WORLD_SIZE LOCAL_RANK NODE_RANK MASTER_ADDR MASTER_PORT = %q", r, data)
		}
	}
}

func TestMultiNodeFailure(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: 2, Argv: []string{"/bin/sh", "-c",
		`echo "rank $RANK"; [ "$RANK" = 1 ] && exit 4; sleep 30`}})
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 90*time.Second)
	if st.ExitCode != 4 || st.Reason != "rank 1: exit code 4" {
		t.Errorf("state = %+v, want exit code 4 from rank 1", st)
	}
}

func TestSlurmTimeLimit(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	// Slurm's limits are whole minutes, checked every 30 s: the run's own
	// MaxDuration is enforced by the wrapper (the contract tests it), and
	// this checks Slurm's limit (a partition MaxTime, an admin's change).
	h := submit(t, b, testTarget(c), compute.JobSpec{Argv: []string{"/bin/sh", "-c", "echo started; sleep 600"}})
	computetest.WaitLog(t, b, h, "started", 60*time.Second)
	id, err := JobID(h)
	if err != nil {
		t.Fatal(err)
	}
	// Slurm's limits are whole minutes and a 1-minute limit ends a job
	// 60-90 s later; moving the job's end time to now makes Slurm's own
	// periodic limit check (every 30 s) stop it the same way, sooner.
	// Not "now" itself: scontrol reads the clock, slurmctld refuses an end
	// time before its own ("Invalid time specified"), and on a busy machine
	// its clock had moved on to the next second.
	c.Scontrol(t, "update", "jobid="+id, "EndTime=now+10")
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 150*time.Second)
	if !strings.Contains(st.Reason, "time limit") {
		t.Errorf("state = %+v, want a reason about the time limit", st)
	}
}

func TestCancelLeavesQueue(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: 2, Argv: []string{"/bin/sh", "-c", "echo up; sleep 600"}})
	computetest.WaitLog(t, b, h, "up", 60*time.Second)
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobCanceled, 60*time.Second)
	if st.Reason != "canceled on request" {
		t.Errorf("state = %+v", st)
	}
	id, _ := JobID(h)
	if slices.Contains(c.Squeue(t), id) {
		t.Errorf("job %s still in squeue after the cancel", id)
	}
}

func TestSubmitIsIdempotentPerRun(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	spec := compute.JobSpec{RunID: computetest.NewRunID(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c", "sleep 600"}}
	h1 := submit(t, b, testTarget(c), spec)
	h2 := submit(t, New(testConfig(c)), testTarget(c), spec)
	if h1 != h2 {
		t.Errorf("a second Submit of run %s gave %s, want the first job %s", spec.RunID, h2.ID, h1.ID)
	}
}

func TestForgottenJobUsesExitFile(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	dir := filepath.Join(c.SharedDir, "trainyard", "runs", "forgotten")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := encodeHandle(handleData{Job: "999999", Target: "slurm-test", URL: c.RESTURL, User: c.User, Dir: dir, Run: "forgotten"})
	if st := status(t, b, h); st.Phase != compute.JobFailed || !strings.Contains(st.Reason, "no longer knows job 999999") {
		t.Errorf("no exit file: %+v", st)
	}
	os.WriteFile(filepath.Join(dir, "exit"), []byte("0\n"), 0o644)
	if st := status(t, b, h); st.Phase != compute.JobCompleted {
		t.Errorf("exit 0: %+v", st)
	}
	os.WriteFile(filepath.Join(dir, "exit"), []byte("7\n"), 0o644)
	if st := status(t, b, h); st.Phase != compute.JobFailed || st.ExitCode != 7 {
		t.Errorf("exit 7: %+v", st)
	}
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Errorf("Cancel of an unknown job: %v", err)
	}
}

func TestCloudPartitionPowersUp(t *testing.T) {
	t.Parallel()
	needCluster(t)
	// A cluster of its own: power saving is slurm.conf-wide.
	c := slurmtest.Start(t, slurmtest.Options{Nodes: 1, CloudNodes: 2, SuspendTime: 10})
	b := New(testConfig(c))
	ctx := context.Background()
	tgt := testTarget(c)
	tgt.Attach.SlurmPartition = c.CloudPartition
	if err := b.Provision(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	ns, err := b.Nodes(ctx, tgt)
	if err != nil || len(ns) != 0 {
		t.Fatalf("Nodes of a powered-down partition = %+v, %v; want none", ns, err)
	}
	runID := computetest.NewRunID(t)
	h := submit(t, b, tgt, compute.JobSpec{RunID: runID, Argv: []string{"/bin/sh", "-c", "echo hello from $SLURMD_NODENAME"}})
	// The node boots in well under a second here (a slurmd starts), so
	// seeing it "preparing" is luck; the job then stays CONFIGURING until
	// slurmctld's 30 s periodic pass, which is what must read as Starting
	// with the run shown on its node.
	sawPreparing, sawStarting, sawRunOnNode := false, false, false
	deadline := time.Now().Add(90 * time.Second * computetest.Slack)
	for time.Now().Before(deadline) {
		st := status(t, b, h)
		if st.Phase.Terminal() {
			break
		}
		ns, err := b.Nodes(ctx, tgt)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			sawPreparing = sawPreparing || n.State == compute.NodePreparing
			if st.Phase == compute.JobStarting && n.RunID == runID {
				sawRunOnNode = true
			}
		}
		if st.Phase == compute.JobStarting && strings.Contains(st.Reason, "powering") {
			sawStarting = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, time.Second)
	if got := computetest.ReadLogs(t, b, h, 0); !strings.HasPrefix(got, "hello from cloud") {
		t.Errorf("log = %q", got)
	}
	if !sawStarting || !sawRunOnNode {
		t.Errorf("while the node powered up: saw the job Starting %v, saw the run on its node %v; want both", sawStarting, sawRunOnNode)
	}
	t.Logf("saw the node preparing: %v", sawPreparing)
}

func TestRunPathIsTheProgramsOnly(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	for _, nodes := range []int{1, 2} {
		// A PATH without the standard places must not break the wrapper;
		// the program sees it unchanged.
		h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: nodes, Env: map[string]string{"PATH": "/nonexistent/bin"},
			Argv: []string{python, "-c", "import os; print(os.environ['PATH'])"}})
		computetest.WaitPhase(t, b, h, compute.JobCompleted, 60*time.Second)
		if got, want := computetest.ReadLogs(t, b, h, 0), strings.Repeat("/nonexistent/bin\n", nodes); got != want {
			t.Errorf("%d node(s): the program saw PATH %q, want %q", nodes, got, want)
		}
	}
}

func TestMultiNodeMaxDuration(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	h := submit(t, b, testTarget(c), compute.JobSpec{NodeCount: 2, MaxDuration: 1500 * time.Millisecond,
		Argv: []string{"/bin/sh", "-c", `echo "rank $RANK up"; sleep 120`}})
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 60*time.Second)
	if !strings.Contains(st.Reason, "exceeded the maximum run duration of 1.5s") {
		t.Errorf("state = %+v", st)
	}
	log := computetest.ReadLogs(t, b, h, 0)
	if !strings.Contains(log, "rank 0 up") || !strings.Contains(log, "rank 1 up") {
		t.Errorf("log = %q", log)
	}
	id, _ := JobID(h)
	if slices.Contains(c.Squeue(t), id) {
		t.Errorf("job %s still in squeue after it failed", id)
	}
}

func TestRequeuesAreBounded(t *testing.T) {
	t.Parallel()
	c := needCluster(t)
	b := New(testConfig(c))
	h := submit(t, b, testTarget(c), compute.JobSpec{Argv: []string{"/bin/sh", "-c", "echo up; sleep 600"}})
	id, _ := JobID(h)
	for attempt := 1; attempt <= maxRequeues; attempt++ {
		waitState(t, b, h, 60*time.Second, fmt.Sprintf("running attempt %d", attempt), func(st compute.JobState) bool {
			return st.Phase == compute.JobRunning && (attempt == 1 || strings.Contains(st.Reason, fmt.Sprintf("attempt %d", attempt)))
		})
		// What preemption with PreemptMode=REQUEUE does to a job.
		c.Scontrol(t, "requeue", id)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 30*time.Second)
	if !strings.Contains(st.Reason, fmt.Sprintf("requeued the job %d times", maxRequeues)) {
		t.Errorf("state = %+v", st)
	}
	deadline := time.Now().Add(30 * time.Second * computetest.Slack)
	for slices.Contains(c.Squeue(t), id) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if slices.Contains(c.Squeue(t), id) {
		t.Errorf("job %s still queued after Trainyard gave up on it", id)
	}
	if st := status(t, b, h); st.Phase != compute.JobFailed {
		t.Errorf("after the cancel: %+v, want it still Failed", st)
	}
}
