package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// memNodes is an in-memory compute.NodeStore.
type memNodes struct {
	mu    sync.Mutex
	nodes map[string][]compute.Node
}

func (m *memNodes) ListNodes(ctx context.Context, target string) ([]compute.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.nodes[target]), nil
}

func (m *memNodes) SaveNodes(ctx context.Context, target string, nodes []compute.Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes == nil {
		m.nodes = map[string][]compute.Node{}
	}
	m.nodes[target] = slices.Clone(nodes)
	return nil
}

// fakeClock is a Now that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testConfig is a Config over a fresh data folder with short delays.
func testConfig(t *testing.T) Config {
	return Config{
		DataDir:    t.TempDir(),
		Nodes:      &memNodes{},
		BootDelay:  50 * time.Millisecond,
		PowerDelay: 50 * time.Millisecond,
		KillGrace:  500 * time.Millisecond,
	}
}

func localTarget() *compute.Target { return &compute.Target{Name: "local", Kind: compute.KindLocal} }

// pythonPath is the real python3 executable (not a version-manager shim), or "".
// pythonPath is the python3 a sandboxed job finds on its PATH (the
// system's: a server's own, e.g. under its home, is hidden from jobs).
func pythonPath(t *testing.T) string {
	for _, dir := range filepath.SplitList(jobPath) {
		if p := filepath.Join(dir, "python3"); exec.Command(p, "-c", "pass").Run() == nil {
			return p
		}
	}
	return ""
}

func TestContract(t *testing.T) {
	variants := map[string]string{"sh": ""}
	if py := pythonPath(t); py != "" {
		variants["python"] = py
	}
	for name, py := range variants {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			b := New(cfg)
			computetest.RunBackendContract(t, computetest.Harness{
				Registration: b.Registration(),
				Reopen:       func() compute.Registration { return New(cfg).Registration() },
				Target:       func(t *testing.T) *compute.Target { return localTarget() },
				Python:       py,
				InstanceTarget: func(t *testing.T) *compute.Target {
					tgt := &compute.Target{Name: "ci-contract-" + computetest.NewRunID(t), Kind: compute.KindInstance,
						Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning}}
					provision(t, b, tgt)
					return tgt
				},
				ClusterTarget: func(t *testing.T) *compute.Target {
					tgt := clusterTarget("cc-contract-"+computetest.NewRunID(t), 0, 1, 1)
					provision(t, b, tgt)
					return tgt
				},
			})
		})
	}
}

// provision provisions tgt on b and deprovisions it when the test ends.
func provision(t *testing.T, b *Backend, tgt *compute.Target) {
	t.Helper()
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision(%s): %v", tgt.Name, err)
	}
	t.Cleanup(func() { _ = b.Deprovision(context.Background(), tgt) })
}

func submit(t *testing.T, b *Backend, tgt *compute.Target, spec compute.JobSpec) compute.Handle {
	t.Helper()
	if spec.RunID == "" {
		spec.RunID = computetest.NewRunID(t)
	}
	h, err := b.Submit(context.Background(), tgt, spec)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return h
}

func TestMultiNodeEnv(t *testing.T) {
	b := New(testConfig(t))
	h := submit(t, b, localTarget(), compute.JobSpec{NodeCount: 3, Argv: []string{"/bin/sh", "-c",
		`echo "rank=$RANK node_rank=$NODE_RANK local_rank=$LOCAL_RANK world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT"`}})
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	lines := strings.Split(strings.TrimSpace(computetest.ReadLogs(t, b, h, 0)), "\n")
	slices.Sort(lines)
	if len(lines) != 3 {
		t.Fatalf("output = %q, want one line per rank", lines)
	}
	var port string
	for i, l := range lines {
		prefix := "rank=" + strconv.Itoa(i) + " node_rank=" + strconv.Itoa(i) + " local_rank=0 world=3 master=127.0.0.1:"
		p, ok := strings.CutPrefix(l, prefix)
		if !ok {
			t.Errorf("line %q, want prefix %q", l, prefix)
			continue
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 {
			t.Errorf("MASTER_PORT = %q, want a port", p)
		}
		if port != "" && p != port {
			t.Errorf("ranks see MASTER_PORT %s and %s, want the same", port, p)
		}
		port = p
	}
}

func TestMultiNodeOneRankFails(t *testing.T) {
	b := New(testConfig(t))
	// Rank 1 fails at once; the others would sleep for a minute unless stopped.
	h := submit(t, b, localTarget(), compute.JobSpec{NodeCount: 3, Argv: []string{"/bin/sh", "-c",
		`if [ "$RANK" = 1 ]; then exit 2; fi; sleep 60`}})
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 10*time.Second)
	if st.ExitCode != 2 || st.Reason != "rank 1: exit code 2" {
		t.Errorf("state = %+v, want rank 1's exit code 2", st)
	}
}

func TestMultiNodeAllRanksCanceled(t *testing.T) {
	b := New(testConfig(t))
	h := submit(t, b, localTarget(), compute.JobSpec{NodeCount: 2, Argv: []string{"/bin/sh", "-c", `echo up; sleep 60`}})
	out := ""
	for deadline := time.Now().Add(5 * time.Second * computetest.Slack); strings.Count(out, "up") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("both ranks never started: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
		out = computetest.ReadLogs(t, b, h, 0)
	}
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCanceled, 5*time.Second)
	j, err := b.parseHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := scanProcesses(j.sessions())
	if err != nil {
		t.Fatal(err)
	}
	if j.anyAlive(pt) {
		t.Errorf("processes of the job remain after Cancel")
	}
}

func TestEnvIsMinimal(t *testing.T) {
	t.Setenv("TRAINYARD_TEST_SERVER_SECRET", "s3cret")
	t.Setenv("LANG", "en_US.UTF-8") // the server's locale is not the job's
	for _, tc := range []struct {
		name     string
		env      map[string]string
		wantLang string
	}{
		// The default LANG reaches the job through env's arguments (see
		// sandbox.argv): it must arrive all the same.
		{"default locale", map[string]string{"MY_VAR": "1"}, "C.UTF-8"},
		{"the run's own locale", map[string]string{"MY_VAR": "1", "LANG": "de_DE.UTF-8"}, "de_DE.UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(testConfig(t))
			work := t.TempDir()
			h := submit(t, b, localTarget(), compute.JobSpec{WorkDir: work, Argv: []string{"/usr/bin/env"}, Env: tc.env})
			computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
			var names []string
			for l := range strings.Lines(computetest.ReadLogs(t, b, h, 0)) {
				name, value, _ := strings.Cut(strings.TrimSuffix(l, "\n"), "=")
				names = append(names, name)
				if name == "PWD" && value != work {
					t.Errorf("PWD = %q, want the work dir %q", value, work)
				}
				if name == "LANG" && value != tc.wantLang {
					t.Errorf("LANG = %q, want %q", value, tc.wantLang)
				}
			}
			slices.Sort(names)
			// PWD comes from the wrapper shell, which exports it.
			if want := []string{"HOME", "LANG", "MY_VAR", "PATH", "PWD"}; !slices.Equal(names, want) {
				t.Errorf("the job's environment has %q, want %q", names, want)
			}
		})
	}
}

func TestSubmitIsIdempotentPerRun(t *testing.T) {
	b := New(testConfig(t))
	spec := compute.JobSpec{RunID: computetest.NewRunID(t), Argv: []string{"/bin/sh", "-c", "echo once"}}
	h1 := submit(t, b, localTarget(), spec)
	h2 := submit(t, b, localTarget(), spec)
	if h1 != h2 {
		t.Errorf("second Submit of the same run returned %v, want %v", h2, h1)
	}
	computetest.WaitPhase(t, b, h1, compute.JobCompleted, 10*time.Second)
	if got := computetest.ReadLogs(t, b, h1, 0); got != "once\n" {
		t.Errorf("output = %q, want the job to have run once", got)
	}
}

// TestConcurrentSubmitsOfOneRunStartOneJob: jobs on the local target start
// side by side (no lock across runs), and Submits of the same run that race
// still start its job once and all return its handle.
func TestConcurrentSubmitsOfOneRunStartOneJob(t *testing.T) {
	b := New(testConfig(t))
	const runs, tries = 4, 6
	var wg sync.WaitGroup
	handles := make([][]compute.Handle, runs)
	ids := make([]string, runs)
	for r := range runs {
		ids[r] = fmt.Sprintf("%s-%d", computetest.NewRunID(t), r)
		handles[r] = make([]compute.Handle, tries)
		for i := range tries {
			wg.Go(func() {
				h, err := b.Submit(context.Background(), localTarget(), compute.JobSpec{RunID: ids[r], Argv: []string{"/bin/sh", "-c", "echo once"}})
				if err != nil {
					t.Errorf("Submit %s: %v", ids[r], err)
				}
				handles[r][i] = h
			})
		}
	}
	wg.Wait()
	for r := range runs {
		for i := range tries {
			if handles[r][i] != handles[r][0] {
				t.Fatalf("run %s: Submit %d returned %v, Submit 0 %v", ids[r], i, handles[r][i], handles[r][0])
			}
		}
		computetest.WaitPhase(t, b, handles[r][0], compute.JobCompleted, 30*time.Second)
		if got := computetest.ReadLogs(t, b, handles[r][0], 0); got != "once\n" {
			t.Errorf("run %s: output = %q, want the job to have run once", ids[r], got)
		}
	}
}

func TestSubmitRejects(t *testing.T) {
	b := New(testConfig(t))
	ok := compute.JobSpec{RunID: "run-1", Argv: []string{"/bin/true"}}
	stopped := &compute.Target{Name: "ci1", Kind: compute.KindInstance, Instance: &compute.InstanceSpec{State: compute.InstanceStopped}}
	cluster := &compute.Target{Name: "cc1", Kind: compute.KindCluster, Cluster: &compute.ClusterSpec{MaxNodes: 2}}
	tests := []struct {
		name   string
		target *compute.Target
		edit   func(*compute.JobSpec)
		want   error
	}{
		{"run id with a path", localTarget(), func(s *compute.JobSpec) { s.RunID = "../escape" }, compute.ErrInvalid},
		{"hidden run id", localTarget(), func(s *compute.JobSpec) { s.RunID = ".x" }, compute.ErrInvalid},
		{"empty argv", localTarget(), func(s *compute.JobSpec) { s.Argv = nil }, compute.ErrInvalid},
		{"NUL in argv", localTarget(), func(s *compute.JobSpec) { s.Argv = []string{"/bin/echo", "a\x00b"} }, compute.ErrInvalid},
		{"bad env name", localTarget(), func(s *compute.JobSpec) { s.Env = map[string]string{"A=B": "c"} }, compute.ErrInvalid},
		{"relative work dir", localTarget(), func(s *compute.JobSpec) { s.WorkDir = "rel" }, compute.ErrInvalid},
		{"missing work dir", localTarget(), func(s *compute.JobSpec) { s.WorkDir = "/nonexistent/dir" }, compute.ErrInvalid},
		{"negative max duration", localTarget(), func(s *compute.JobSpec) { s.MaxDuration = -time.Second }, compute.ErrInvalid},
		{"more nodes than the cluster has", cluster, func(s *compute.JobSpec) { s.NodeCount = 3 }, compute.ErrInvalid},
		{"cluster without idle nodes", cluster, func(s *compute.JobSpec) {}, compute.ErrUnavailable},
		{"stopped instance", stopped, func(s *compute.JobSpec) {}, compute.ErrConflict},
		{"two nodes on an instance", stopped, func(s *compute.JobSpec) { s.NodeCount = 2 }, compute.ErrInvalid},
		{"attached VM", &compute.Target{Name: "vm", Kind: compute.KindVirtualMachine}, func(s *compute.JobSpec) {}, compute.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			tt.edit(&spec)
			_, err := b.Submit(context.Background(), tt.target, spec)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBadHandles(t *testing.T) {
	b := New(testConfig(t))
	for _, id := range []string{"", "junk", "12.34", "12.34:../x", "x.1:run", "1.1:run", "12:run", "12.34:"} {
		if _, err := b.Status(context.Background(), compute.Handle{Backend: "local", ID: id}); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("Status(%q): err = %v, want ErrInvalid", id, err)
		}
	}
	if err := b.Cancel(context.Background(), compute.Handle{Backend: "slurm", ID: "12.34:run"}); !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("Cancel of a slurm handle: err = %v, want ErrInvalid", err)
	}
	if _, err := b.Status(context.Background(), compute.Handle{Backend: "local", ID: "12.34:never-submitted"}); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("Status of an unknown run: err = %v, want ErrNotFound", err)
	}
}

// TestReusedPID checks the guard against pid reuse: a handle whose pid now
// belongs to another process (different start time) is not that job; it is
// reported as vanished, and Cancel does not signal the stranger.
func TestReusedPID(t *testing.T) {
	b := New(testConfig(t))
	stranger := exec.Command("/bin/sleep", "30")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	start, err := processStart(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	runID := computetest.NewRunID(t)
	if err := os.MkdirAll(filepath.Join(b.jobsDir(), runID), 0o700); err != nil {
		t.Fatal(err)
	}
	h := handleFor([]rankProc{{PID: stranger.Process.Pid, Start: start + 1}}, runID)

	st, err := b.Status(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := compute.JobState{Phase: compute.JobFailed, ExitCode: -1, Reason: "the process ended without an exit status (the machine restarted?)"}
	if st != want {
		t.Errorf("state = %+v, want %+v", st, want)
	}
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if p, err := readProc(stranger.Process.Pid); err != nil || p.state == 'Z' {
		t.Errorf("the process that reused the pid was killed")
	}
}

// TestCancelEscalatesToKill checks that a job ignoring SIGTERM is killed
// after the grace period.
func TestCancelEscalatesToKill(t *testing.T) {
	cfg := testConfig(t)
	cfg.KillGrace = 200 * time.Millisecond
	b := New(cfg)
	h := submit(t, b, localTarget(), compute.JobSpec{Argv: []string{"/bin/sh", "-c", `trap "" TERM; echo armoured; while :; do sleep 0.05; done`}})
	computetest.WaitLog(t, b, h, "armoured", 5*time.Second)
	began := time.Now()
	if err := b.Cancel(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < cfg.KillGrace {
		t.Errorf("Cancel returned after %v, before the grace period", took)
	}
	computetest.WaitPhase(t, b, h, compute.JobCanceled, 5*time.Second)
}

func TestInstanceLifecycle(t *testing.T) {
	b := New(testConfig(t))
	ctx := context.Background()
	tgt := &compute.Target{Name: "ci-anna", Kind: compute.KindInstance,
		Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning}}
	for i := range 2 {
		if err := b.Provision(ctx, tgt); err != nil {
			t.Fatalf("Provision #%d: %v", i+1, err)
		}
	}
	want := filepath.Join(b.cfg.DataDir, "instances", "ci-anna")
	if tgt.Instance.WorkDir != want {
		t.Errorf("WorkDir = %q, want %q", tgt.Instance.WorkDir, want)
	}
	if fi, err := os.Stat(want); err != nil || !fi.IsDir() {
		t.Fatalf("workspace not created: %v", err)
	}

	nodes, err := b.Nodes(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].ID != "ci-anna" || nodes[0].State != compute.NodeIdle || nodes[0].CPUs != 4 {
		t.Errorf("Nodes = %+v, want one idle 4-CPU node named after the instance", nodes)
	}

	h := submit(t, b, tgt, compute.JobSpec{WorkDir: tgt.Instance.WorkDir, Argv: []string{"/bin/sh", "-c", "echo on; sleep 60"}})
	computetest.WaitLog(t, b, h, "on", 5*time.Second)
	nodes, err = b.Nodes(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0].State != compute.NodeRunning || nodes[0].RunID == "" {
		t.Errorf("with a job: node = %+v, want running it", nodes[0])
	}

	// Deleting the instance cancels its job and removes the workspace.
	for i := range 2 {
		if err := b.Deprovision(ctx, tgt); err != nil {
			t.Fatalf("Deprovision #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace still there after Deprovision: %v", err)
	}
	if st, err := b.Status(ctx, h); err != nil || st.Phase != compute.JobCanceled {
		t.Errorf("job after Deprovision: %+v, %v; want Canceled", st, err)
	}
}

func TestPower(t *testing.T) {
	b := New(testConfig(t))
	ctx := context.Background()
	inst := &compute.Target{Name: "ci-power", Kind: compute.KindInstance, Instance: &compute.InstanceSpec{State: compute.InstanceRunning}}
	if err := b.Provision(ctx, inst); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target *compute.Target
		action compute.PowerAction
		want   error
	}{
		{"stop", inst, compute.ActionStop, nil},
		{"start", inst, compute.ActionStart, nil},
		{"restart", inst, compute.ActionRestart, nil},
		{"unknown action", inst, "hibernate", compute.ErrInvalid},
		{"cluster", &compute.Target{Name: "cc", Kind: compute.KindCluster, Cluster: &compute.ClusterSpec{}}, compute.ActionStart, compute.ErrInvalid},
		{"local", localTarget(), compute.ActionStop, compute.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			err := b.Power(ctx, tt.target, tt.action)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && time.Since(began) < b.cfg.PowerDelay {
				t.Errorf("Power returned after %v, before PowerDelay", time.Since(began))
			}
		})
	}

	t.Run("context ends the wait", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.PowerDelay = time.Hour
		slow := New(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := slow.Power(ctx, inst, compute.ActionStart); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's", err)
		}
	})

	t.Run("stop cancels the instance's jobs", func(t *testing.T) {
		h := submit(t, b, inst, compute.JobSpec{Argv: []string{"/bin/sh", "-c", "echo on; sleep 60"}})
		computetest.WaitLog(t, b, h, "on", 5*time.Second)
		if err := b.Power(ctx, inst, compute.ActionStop); err != nil {
			t.Fatal(err)
		}
		computetest.WaitPhase(t, b, h, compute.JobCanceled, 5*time.Second)
	})
}

func TestLocalNodes(t *testing.T) {
	nodes, err := New(testConfig(t)).Nodes(context.Background(), localTarget())
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != runtime.NumCPU() {
		t.Fatalf("got %d nodes, want one per CPU (%d)", len(nodes), runtime.NumCPU())
	}
	for _, n := range nodes {
		if n.State != compute.NodeIdle || n.PrivateIP != "127.0.0.1" {
			t.Errorf("node %+v, want idle on 127.0.0.1", n)
		}
	}
}

// TestHelperServer is not a test: TestSurvivesServerExit runs the test binary
// with it as a stand-in server that submits a job and exits at once.
func TestHelperServer(t *testing.T) {
	dir := os.Getenv("TRAINYARD_LOCAL_HELPER_DATADIR")
	if dir == "" {
		t.Skip("only run by TestSurvivesServerExit")
	}
	b := New(Config{DataDir: dir})
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h, err := b.Submit(context.Background(), localTarget(), compute.JobSpec{RunID: "outlives-server",
		WorkDir: filepath.Join(dir, "work"),
		Argv:    []string{"/bin/sh", "-c", `echo before; while [ ! -e go-on ]; do sleep 0.02; done; echo after; exit 4`}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(h.ID)
	os.Exit(0) // no cleanup, no waiting: the server is gone
}

// TestSurvivesServerExit checks that a job outlives the process that started
// it and that a later server still learns its exit code and output.
func TestSurvivesServerExit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
	cmd.Env = append(os.Environ(), "TRAINYARD_LOCAL_HELPER_DATADIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stand-in server: %v", err)
	}
	h := compute.Handle{Backend: "local", ID: strings.TrimSpace(string(out))}

	b := New(Config{DataDir: dir})
	computetest.WaitLog(t, b, h, "before", 5*time.Second)
	if st, err := b.Status(context.Background(), h); err != nil || st.Phase != compute.JobRunning {
		t.Fatalf("with its server gone: %+v, %v; want Running", st, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "work", "go-on"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 5*time.Second)
	if st.ExitCode != 4 {
		t.Errorf("state = %+v, want exit code 4", st)
	}
	if got := computetest.ReadLogs(t, b, h, 0); got != "before\nafter\n" {
		t.Errorf("output = %q", got)
	}
}

// TestVanishedJob checks the outcome when a job's processes disappear with
// no exit status and no stop by Trainyard, as after a reboot.
func TestVanishedJob(t *testing.T) {
	b := New(testConfig(t))
	h := submit(t, b, localTarget(), compute.JobSpec{Argv: []string{"/bin/sh", "-c", "echo on; sleep 60"}})
	computetest.WaitLog(t, b, h, "on", 5*time.Second)
	j, err := b.parseHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-j.ranks[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 5*time.Second)
	if want := "the process ended without an exit status (the machine restarted?)"; st.Reason != want || st.ExitCode != -1 {
		t.Errorf("state = %+v, want reason %q and exit code -1", st, want)
	}
}
