// Package local is the compute backend for this machine: the built-in Local
// target, compute instances (a workspace folder with a simulated power state)
// and compute clusters (an autoscaling pool of simulated nodes whose jobs run
// as local processes).
//
// Everything a job needs to be found again lives on disk under
// Config.DataDir, so Status, Logs and Cancel work for handles from before a
// server restart. The backend reads /proc and is therefore Linux-only.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// BackendName is the backend's Name and the Backend field of its handles.
const BackendName = "local"

// DefaultKillGrace is how long a cancelled or timed-out job gets between
// SIGTERM and SIGKILL.
const DefaultKillGrace = 2 * time.Second

// Config is what a Backend is built with.
type Config struct {
	// DataDir holds jobs (DataDir/jobs/<run-id>/) and instance workspaces
	// (DataDir/instances/<name>/).
	DataDir string
	// Nodes persists cluster nodes; required for KindCluster targets.
	Nodes compute.NodeStore
	// History, when set, records each cluster's node counts by state as
	// its nodes change (the Monitoring tab).
	History compute.NodeHistory
	// BootDelay is how long a new cluster node is "preparing" before "idle".
	BootDelay time.Duration
	// PowerDelay is how long starting, stopping or restarting an instance takes.
	PowerDelay time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL when a job is stopped;
	// 0 means DefaultKillGrace.
	KillGrace time.Duration
	// Now is the clock for node states (boot delay, idle time); nil means
	// time.Now. Job deadlines use the wall clock because the processes do.
	Now func() time.Time
	// Logger receives what the backend does; nil discards it.
	Logger *slog.Logger
	// Sandbox contains the jobs; DataDir is always among the folders it
	// hides from them.
	Sandbox SandboxConfig
	// PidsLimit bounds the processes and threads of each rank of every job
	// (0: DefaultPidsLimit). LocalCPUs and LocalMemoryBytes bound each job
	// on the built-in local target (0: unbounded); instances and cluster
	// nodes are bounded by their VM size.
	PidsLimit        int64
	LocalCPUs        float64
	LocalMemoryBytes int64
	// ScriptTimeout bounds an instance's creation and startup scripts
	// (0: DefaultScriptTimeout).
	ScriptTimeout time.Duration
}

// Backend runs targets on this machine. It is safe for concurrent use. Its
// in-memory state is a lock that serialises node-set changes and job starts,
// and the table of instances' open sessions (which end with the server), so
// a new Backend over the same DataDir and NodeStore carries on where an old
// one stopped.
type Backend struct {
	cfg     Config
	log     *slog.Logger
	sandbox sandbox
	limiter limiter
	// mu serialises read-modify-write of node sets (Scale, Submit claiming
	// nodes, Deprovision) and the job starts on clusters and instances.
	mu sync.Mutex
	// runs serialises the starts of one run's job on the local target (one
	// job per run id); see runLocks.
	runs runLocks
	// sessions are the instances' terminals, SSH sessions and Jupyter servers.
	sessions *sessionTable
	// watch knows the jobs this process waits for (compute.JobWatcher).
	watch *watchTable
}

var (
	_ compute.Backend         = (*Backend)(nil)
	_ compute.PowerController = (*Backend)(nil)
	_ compute.Scaler          = (*Backend)(nil)
)

// New returns a Backend for cfg.
func New(cfg Config) *Backend {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sc := cfg.Sandbox
	sc.Hide = append([]string{cfg.DataDir}, sc.Hide...)
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	if cfg.ScriptTimeout <= 0 {
		cfg.ScriptTimeout = DefaultScriptTimeout
	}
	log = log.With("backend", BackendName)
	return &Backend{cfg: cfg, log: log, sandbox: newSandbox(sc), limiter: newLimiter(log), sessions: newSessionTable(), watch: newWatchTable()}
}

// Name returns "local".
func (b *Backend) Name() string { return BackendName }

// Provision prepares a target: an instance gets its workspace folder (and
// t.Instance.WorkDir); a cluster needs nothing, its nodes come from Scale; the
// built-in target is always ready. Calling it again is harmless.
func (b *Backend) Provision(ctx context.Context, t *compute.Target) error {
	if err := os.MkdirAll(b.jobsDir(), 0o700); err != nil {
		return fmt.Errorf("creating the jobs folder: %w", err)
	}
	switch t.Kind {
	case compute.KindLocal:
		return nil
	case compute.KindCluster:
		if t.Cluster == nil {
			return compute.Invalid("properties", "cluster %s has no cluster settings", t.Name)
		}
		if b.cfg.Nodes == nil {
			return errors.New("the local backend has no node store, so it cannot run compute clusters")
		}
		return nil
	case compute.KindInstance:
		if t.Instance == nil {
			return compute.Invalid("properties", "instance %s has no instance settings", t.Name)
		}
		dir, err := b.instanceDir(t.Name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("creating the workspace of instance %s: %w", t.Name, err)
		}
		t.Instance.WorkDir = dir
		return scriptOutcome(b.startupScripts(ctx, t, true))
	}
	return unsupported(t)
}

// Deprovision deletes what Provision made: a cluster's nodes, an instance's
// workspace. Jobs still running on the target are cancelled first, as when a
// machine is deleted under them. A target already gone is no error.
func (b *Backend) Deprovision(ctx context.Context, t *compute.Target) error {
	switch t.Kind {
	case compute.KindLocal:
		return nil // the built-in target cannot be deleted; nothing to undo
	case compute.KindCluster:
		if b.cfg.Nodes == nil {
			return errors.New("the local backend has no node store, so it cannot run compute clusters")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		nodes, err := b.cfg.Nodes.ListNodes(ctx, t.Name)
		if err != nil {
			return fmt.Errorf("listing the nodes of %s: %w", t.Name, err)
		}
		for _, n := range nodes {
			if n.RunID != "" {
				b.cancelRun(ctx, n.RunID)
			}
		}
		if err := b.cfg.Nodes.SaveNodes(ctx, t.Name, nil); err != nil {
			return fmt.Errorf("deleting the nodes of %s: %w", t.Name, err)
		}
		return nil
	case compute.KindInstance:
		dir, err := b.instanceDir(t.Name)
		if err != nil {
			return err
		}
		b.cancelInstanceRuns(ctx, t.Name)
		b.EndSessions(ctx, t.Name)
		if err := os.RemoveAll(b.instanceRunsDir(t.Name)); err != nil {
			return fmt.Errorf("removing the run list of instance %s: %w", t.Name, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the workspace of instance %s: %w", t.Name, err)
		}
		if t.Instance != nil {
			t.Instance.WorkDir = ""
		}
		return nil
	}
	return unsupported(t)
}

// Nodes lists a target's nodes: a cluster's saved nodes, an instance as one
// node, and the built-in target as one slot per CPU core.
func (b *Backend) Nodes(ctx context.Context, t *compute.Target) ([]compute.Node, error) {
	switch t.Kind {
	case compute.KindLocal:
		n := runtime.NumCPU()
		nodes := make([]compute.Node, n)
		for i := range nodes {
			nodes[i] = compute.Node{
				ID: fmt.Sprintf("cpu-%d", i), State: compute.NodeIdle,
				PrivateIP: "127.0.0.1", CPUs: 1,
			}
		}
		return nodes, nil
	case compute.KindCluster:
		if b.cfg.Nodes == nil {
			return nil, errors.New("the local backend has no node store, so it cannot run compute clusters")
		}
		return b.cfg.Nodes.ListNodes(ctx, t.Name)
	case compute.KindInstance:
		if _, err := b.instanceDir(t.Name); err != nil {
			return nil, err
		}
		n := compute.Node{ID: t.Name, State: compute.NodeIdle, PrivateIP: "127.0.0.1", Since: t.StateSince}
		if s, ok := compute.LookupVMSize(t.VMSizeName()); ok {
			n.CPUs, n.MemoryMB, n.GPUs = s.VCPUs, int(s.MemoryGB*1024), s.GPUs
		}
		if runs := b.liveInstanceRuns(t.Name); len(runs) > 0 {
			n.State, n.RunID = compute.NodeRunning, runs[0]
		}
		return []compute.Node{n}, nil
	}
	return nil, unsupported(t)
}

// Power carries out start, stop or restart of an instance. There is no machine
// to boot, so it waits PowerDelay (or until ctx ends) the way a real start
// takes time; the controller moves the instance states around it. Stop and
// restart cancel the instance's running jobs and end its sessions (terminals,
// SSH, Jupyter), as switching a machine off would.
func (b *Backend) Power(ctx context.Context, t *compute.Target, a compute.PowerAction) error {
	if t.Kind != compute.KindInstance {
		return fmt.Errorf("%s is a %s; only compute instances can be started and stopped: %w",
			t.Name, t.Kind.Label(), compute.ErrInvalid)
	}
	dir, err := b.instanceDir(t.Name)
	if err != nil {
		return err
	}
	switch a {
	case compute.ActionStart:
		// A workspace deleted behind our back comes back empty rather than
		// leaving a running instance without a folder.
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("creating the workspace of instance %s: %w", t.Name, err)
		}
	case compute.ActionStop, compute.ActionRestart:
		b.cancelInstanceRuns(ctx, t.Name)
		b.EndSessions(ctx, t.Name)
	default:
		return compute.Invalid("action", "unknown action %q (want start, stop or restart)", string(a))
	}
	timer := time.NewTimer(b.cfg.PowerDelay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s of instance %s: %w", a, t.Name, ctx.Err())
	case <-timer.C:
	}
	if a == compute.ActionStart || a == compute.ActionRestart {
		if err := scriptOutcome(b.startupScripts(ctx, t, false)); err != nil {
			return err
		}
	}
	b.log.Info("instance power action done", "target", t.Name, "action", string(a))
	return nil
}

// scriptOutcome is what a create or start makes of its scripts' result: a
// failed creation script fails it; a failed startup script does not (the
// warning and log are in t.Instance for the details page).
func scriptOutcome(err error) error {
	var sf *compute.ScriptFailure
	if errors.As(err, &sf) && sf.Script == compute.ScriptStartup {
		return nil
	}
	return err
}

func unsupported(t *compute.Target) error {
	return fmt.Errorf("the local backend cannot run %s targets (%s): %w", t.Kind.Label(), t.Name, compute.ErrInvalid)
}

func (b *Backend) jobsDir() string { return filepath.Join(b.cfg.DataDir, "jobs") }

// instanceDir is the workspace of an instance. The path is built from the
// name, never taken from t.Instance.WorkDir, so that Deprovision can only ever
// delete a folder this backend made.
func (b *Backend) instanceDir(name string) (string, error) {
	if !compute.SafeName(name) {
		return "", compute.Invalid("name", "%q cannot be used as a folder name", name)
	}
	return filepath.Join(b.cfg.DataDir, "instances", name), nil
}

// instanceRunsDir lists (as empty files named by run id) the jobs submitted to
// an instance, so Nodes, Power and Deprovision can find them without scanning
// every job. It is kept outside the workspace, which belongs to the user.
func (b *Backend) instanceRunsDir(name string) string {
	return filepath.Join(b.cfg.DataDir, "instance-runs", name)
}
