package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// RunStore is what the dispatcher needs from storage (store.Store has it).
type RunStore interface {
	// ActiveRuns lists the script runs that have not ended, oldest first.
	ActiveRuns(ctx context.Context) ([]*compute.Run, error)
	// GetRun reads one run with its history.
	GetRun(ctx context.Context, id string) (*compute.Run, error)
	// UpdateRun changes a run in one transaction, recording status changes.
	UpdateRun(ctx context.Context, id string, fn func(r *compute.Run) error) (*compute.Run, error)
	// UpdateRunVia is UpdateRun for a run that passes through the statuses
	// via on its way, each recorded as if it had been a write of its own.
	UpdateRunVia(ctx context.Context, id string, via []compute.RunStatus, fn func(r *compute.Run) error) (*compute.Run, error)
	// IssueRunToken makes a tracking token valid for the run until it ends.
	IssueRunToken(ctx context.Context, runID string) (string, error)
	// MaterializeSnapshot writes a snapshot's files into an emptied folder.
	MaterializeSnapshot(ctx context.Context, snapshotID, dir string) error
	// RunWorkDir is the folder a run's script runs in.
	RunWorkDir(runID string) string
	// CollectRunFiles copies ./outputs and ./logs of the working folder.
	CollectRunFiles(ctx context.Context, runID, workDir string) error
	// SaveRunLog keeps the run's combined output.
	SaveRunLog(ctx context.Context, runID string, r io.Reader) error
	// RemoveRunWorkDir deletes the working folder after collection.
	RemoveRunWorkDir(ctx context.Context, runID string) error
	// RunDemand sums the node counts of a target's active runs.
	RunDemand(ctx context.Context, target string) (int, error)
}

// TargetGetter reads one target (store.Store has it).
type TargetGetter interface {
	GetTarget(ctx context.Context, name string) (*compute.Target, error)
}

// DispatcherConfig wires a Dispatcher.
type DispatcherConfig struct {
	Runs    RunStore
	Targets TargetGetter
	// Backends says which backend runs jobs on a kind and what it can do.
	Backends *compute.Registry
	// TrackingURI is the server's public URL, given to runs as
	// MLFLOW_TRACKING_URI.
	TrackingURI string
	// Python is the target's interpreter for runs that do not name their
	// own (default "python3").
	Python string
	// Interval is how often active runs are polled (default 500 ms).
	Interval time.Duration
	Logger   *slog.Logger
	// OnChange is called after a run's status was written (to wake live pages).
	OnChange func(runID string)
	// KickTargets asks the target controller for a pass now: queued runs on
	// a cluster want it to scale up.
	KickTargets func()
	// LookPath finds a program on the server's PATH (default exec.LookPath).
	LookPath func(string) (string, error)
	// UntrustedHostKey is told when a submit met an SSH host key that is not
	// the pinned one, so the target can refuse all work until an operator
	// approves the key (Controller.RefuseHostKey); optional.
	UntrustedHostKey func(ctx context.Context, target string, hk compute.UntrustedHostKey)
	// Sweeps, when set, lets every pass drive the HyperDrive sweeps
	// (SweepDriver) before it dispatches runs, so new children start at once.
	Sweeps SweepStore
}

// Dispatcher carries runs through their statuses: NotStarted → Queued →
// Preparing (the snapshot is written into the run's working folder) →
// Starting (Backend.Submit; the handle is persisted before anything else) →
// Running → Finalizing (outputs and the log are collected) → Completed,
// Failed or Canceled; CancelRequested → Canceled. Every status and the job
// handle are in the store, so after a restart (even kill -9) it carries on:
// runs with a handle are polled and finish normally (or Fail with the
// backend's reason when their process died), runs in Preparing prepare
// again, runs in Starting without a handle are submitted again (Submit is
// idempotent per run ID).
type Dispatcher struct {
	cfg      DispatcherConfig
	kick     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool // runs with a step under way
	// stepEnded is when the last step of a run ended, until the next pass
	// that lists the run has seen it (see start).
	stepEnded map[string]time.Time
	wg        sync.WaitGroup
	// retryAt is when to try again an attached target that could not be
	// reached at a submit: its queued runs wait until then instead of
	// knocking on the machine every pass. In memory: a restart tries at once.
	retryAt map[string]time.Time
	sweeps  *SweepDriver // nil without cfg.Sweeps
	// following counts the runs followStart polls now.
	following int
	// endedMidStep are runs whose job a JobWatcher said ended while a step
	// of theirs was under way (the pass it kicked skipped them): their step
	// kicks another pass when it ends.
	endedMidStep map[string]bool
	// sweepsDue: the next pass of Run drives the sweeps (see sweepsWanted).
	sweepsDue bool
}

// unreachableRetry is how long queued runs leave an unreachable attached
// target alone before the next submit.
const unreachableRetry = 5 * time.Second

// NewDispatcher returns a dispatcher; call Run to start it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Interval == 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Python == "" {
		cfg.Python = "python3"
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(string) {}
	}
	if cfg.KickTargets == nil {
		cfg.KickTargets = func() {}
	}
	if cfg.LookPath == nil {
		cfg.LookPath = exec.LookPath
	}
	d := &Dispatcher{cfg: cfg, kick: make(chan struct{}, 1), inflight: map[string]bool{}, stepEnded: map[string]time.Time{},
		retryAt: map[string]time.Time{}, endedMidStep: map[string]bool{}}
	if cfg.Sweeps != nil {
		d.sweeps = &SweepDriver{Store: cfg.Sweeps, Logger: cfg.Logger, OnChange: cfg.OnChange}
	}
	if cfg.Backends != nil {
		for _, reg := range cfg.Backends.All() {
			if w := reg.Capabilities.Watcher; w != nil {
				w.NotifyJobEnded(d.jobEnded)
			}
		}
	}
	return d
}

// jobEnded is told by a JobWatcher that a run's job has ended: a pass now
// finalizes it (and its sweep starts the next child) instead of the next
// tick of Interval. The pass need not drive the sweeps: the run is not
// ended yet; finalize's move to its end status asks for that (move).
func (d *Dispatcher) jobEnded(runID string) {
	d.mu.Lock()
	if d.inflight[runID] {
		d.endedMidStep[runID] = true
	}
	d.mu.Unlock()
	d.wake()
}

// watched reports whether a Running run's backend watches its job and will
// tell its end (jobEnded), so the pass need not poll it.
func (d *Dispatcher) watched(r *compute.Run) bool {
	if r.Status != compute.RunRunning || r.Handle.ID == "" || d.cfg.Backends == nil {
		return false
	}
	reg, ok := d.cfg.Backends.Named(r.Handle.Backend)
	return ok && reg.Capabilities.Watcher != nil && reg.Capabilities.Watcher.Watching(r.Handle)
}

// Kick asks for a pass now that also drives the sweeps (after a submit or
// a cancel: it may be a sweep's).
func (d *Dispatcher) Kick() {
	d.mu.Lock()
	d.sweepsDue = true
	d.mu.Unlock()
	d.wake()
}

// wake asks for a pass now, for the runs only.
func (d *Dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// sweepsWanted reports whether this pass of Run drives the sweeps, and
// clears the request. A sweep's loop can only move when a child ended, a
// run was submitted or cancelled (Kick), or time passed (a policy's next
// evaluation, max_duration_minutes: every Interval). Most passes are none
// of these: a job ended and its run is to be finalized, or a step ended
// mid-pass. Reading every active sweep and its children on those passes
// was a quarter of the server's work in a no-op sweep (docs/BENCHMARKS.md).
func (d *Dispatcher) sweepsWanted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	due := d.sweepsDue
	d.sweepsDue = false
	return due
}

// Run dispatches until ctx ends, then waits for the steps under way (which
// stop early: their context ends too).
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	defer d.wg.Wait()
	sweeps := true // the first pass picks up what a restart left
	for {
		if err := d.reconcile(ctx, sweeps); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("dispatch", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.sweepsWanted()
			sweeps = true
		case <-d.kick:
			sweeps = d.sweepsWanted()
		}
	}
}

// Demand is the Controller's demand hook: how many nodes the queued and
// running runs of a target want.
func (d *Dispatcher) Demand(target string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := d.cfg.Runs.RunDemand(ctx, target)
	if err != nil {
		d.cfg.Logger.Error("run demand", "target", target, "err", err)
		return 0
	}
	return n
}

// admission is the queue decision of one pass for one queued run.
type admission struct {
	admit  bool
	reason string // why it waits, when not admitted
	// target is the run's target as this pass read it, so that the run's
	// steps need not read it again on their way from Queued to submitted
	// (two reads per run, 6% of the server's work in a no-op sweep).
	target *compute.Target
}

// Reconcile makes one pass: drives the sweeps, decides which queued runs
// may start (per cluster, first come first served, as many as there are
// idle nodes) and starts a step for every active run that has none under
// way.
func (d *Dispatcher) Reconcile(ctx context.Context) error { return d.reconcile(ctx, true) }

// reconcile is Reconcile, driving the sweeps only when sweeps is set.
func (d *Dispatcher) reconcile(ctx context.Context, sweeps bool) error {
	if sweeps && d.sweeps != nil {
		if err := d.sweeps.Tick(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("sweeps", "err", err)
		}
	}
	listed := time.Now()
	runs, err := d.cfg.Runs.ActiveRuns(ctx)
	if err != nil {
		return fmt.Errorf("list active runs: %w", err)
	}
	admit := d.admissions(ctx, runs)
	for _, r := range runs {
		a := admit[r.ID]
		if r.Status == compute.RunQueued && !a.admit && r.StatusReason == a.reason {
			continue // still waiting, and it already says why
		}
		if r.Status == compute.RunQueued && d.backingOff(r.Target) {
			continue // its machine was unreachable a moment ago
		}
		if d.watched(r) {
			continue // its backend tells when it ends
		}
		d.start(ctx, r, a, listed)
	}
	listedIDs := make(map[string]bool, len(runs))
	for _, r := range runs {
		listedIDs[r.ID] = true
	}
	d.mu.Lock()
	for id, end := range d.stepEnded {
		if end.Before(listed) && !listedIDs[id] {
			delete(d.stepEnded, id) // the run has ended
		}
	}
	d.mu.Unlock()
	return nil
}

// admissions decides, per cluster, which queued runs fit on the idle nodes.
// Runs in Preparing or in Starting without a handle have been admitted but
// not claimed their nodes yet, so they are counted as using them.
func (d *Dispatcher) admissions(ctx context.Context, runs []*compute.Run) map[string]admission {
	out := map[string]admission{}
	byTarget := map[string][]*compute.Run{}
	for _, r := range runs {
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	kicked := false
	for name, rs := range byTarget {
		queued := slices.ContainsFunc(rs, func(r *compute.Run) bool { return r.Status == compute.RunQueued || r.Status == compute.RunNotStarted })
		if !queued {
			continue
		}
		t, err := d.cfg.Targets.GetTarget(ctx, name)
		if err != nil {
			t = nil // the step reads it again and reports what is wrong
		}
		if t == nil || t.Kind != compute.KindCluster {
			for _, r := range rs {
				out[r.ID] = admission{admit: true, target: t}
			}
			continue
		}
		b := d.cfg.Backends.Backend(t.Kind)
		if b == nil {
			for _, r := range rs {
				out[r.ID] = admission{admit: true, target: t}
			}
			continue
		}
		nodes, err := b.Nodes(ctx, t)
		if err != nil {
			d.cfg.Logger.Warn("listing nodes for the run queue", "target", name, "err", err)
			continue
		}
		idle, busy, preparing := 0, 0, 0
		for _, n := range nodes {
			switch n.State {
			case compute.NodeIdle:
				idle++
			case compute.NodeRunning:
				busy++
			case compute.NodePreparing:
				preparing++
			}
		}
		for _, r := range rs {
			if r.Status == compute.RunPreparing || (r.Status == compute.RunStarting && r.Handle.ID == "") {
				idle -= max(r.NodeCount, 1)
			}
		}
		maxNodes := 0
		if t.Cluster != nil {
			maxNodes = t.Cluster.MaxNodes
		}
		reason := fmt.Sprintf("waiting for a node: %d/%d busy", busy, maxNodes)
		if preparing > 0 {
			reason += fmt.Sprintf(", %d starting", preparing)
		}
		blocked := false
		for _, r := range rs {
			if r.Status != compute.RunQueued && r.Status != compute.RunNotStarted {
				continue
			}
			need := max(r.NodeCount, 1)
			if !blocked && idle >= need {
				idle -= need
				out[r.ID] = admission{admit: true, target: t}
				continue
			}
			blocked = true // first come, first served
			out[r.ID] = admission{reason: reason}
		}
		if !kicked {
			d.cfg.KickTargets()
			kicked = true
		}
	}
	return out
}

// backingOff reports whether target was unreachable less than
// unreachableRetry ago.
func (d *Dispatcher) backingOff(target string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.retryAt[target]
	if ok && time.Now().After(at) {
		delete(d.retryAt, target)
		return false
	}
	return ok
}

// start runs a step for a run unless one is under way for it, or one ended
// after the run was listed (r is then stale: a step from it could submit a
// job that was just submitted; the next pass takes the run as it is now).
func (d *Dispatcher) start(ctx context.Context, r *compute.Run, a admission, listed time.Time) {
	d.mu.Lock()
	if d.inflight[r.ID] {
		d.mu.Unlock()
		return
	}
	if end, ok := d.stepEnded[r.ID]; ok {
		delete(d.stepEnded, r.ID)
		if !end.Before(listed) {
			d.mu.Unlock()
			return
		}
	}
	d.inflight[r.ID] = true
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.inflight, r.ID)
			d.stepEnded[r.ID] = time.Now()
			again := d.endedMidStep[r.ID]
			delete(d.endedMidStep, r.ID)
			d.mu.Unlock()
			if again {
				d.wake()
			}
		}()
		if err := d.advance(ctx, r, a); err != nil && ctx.Err() == nil && !errors.Is(err, errRunMoved) {
			d.cfg.Logger.Error("run step", "run", r.ID, "status", string(r.Status), "err", err)
		}
	}()
}

// errRunMoved means the run's status changed under a step (a cancel); the
// next pass takes it from there.
var errRunMoved = errors.New("the run's status changed meanwhile")

// errWait ends a step without error: the run waits for something.
var errWait = errors.New("waiting")

// advance moves a run as far as it can go now, one status at a time. The
// queue decision of this pass holds for one trip through Queued; a run sent
// back to Queued (its nodes were taken meanwhile) waits for the next pass.
func (d *Dispatcher) advance(ctx context.Context, r *compute.Run, a admission) error {
	for range 10 {
		next, err := d.step(ctx, r, a)
		if errors.Is(err, errWait) {
			return nil
		}
		if err != nil {
			return err
		}
		if next == nil || next.Status.Terminal() || (next.Status == compute.RunQueued && r.Status != compute.RunNotStarted) {
			return nil
		}
		r = next
	}
	return nil
}

// step takes one transition of a run and returns the run after it.
func (d *Dispatcher) step(ctx context.Context, r *compute.Run, a admission) (*compute.Run, error) {
	switch r.Status {
	case compute.RunNotStarted:
		return d.queued(ctx, r, a)
	case compute.RunQueued:
		if r.Handle.ID != "" {
			// Submitted, and waiting in the backend's own queue (a Slurm job
			// PENDING, or requeued): follow the job.
			return d.poll(ctx, r)
		}
		return d.queued(ctx, r, a)
	case compute.RunPreparing:
		return d.prepare(ctx, r)
	case compute.RunStarting:
		if r.Handle.ID == "" {
			return d.submit(ctx, r, a)
		}
		return d.poll(ctx, r)
	case compute.RunRunning:
		return d.poll(ctx, r)
	case compute.RunFinalizing:
		return d.finalize(ctx, r, nil)
	case compute.RunCancelRequested:
		return d.cancel(ctx, r)
	}
	return nil, errWait
}

// move changes a run's status unless someone else changed it first.
func (d *Dispatcher) move(ctx context.Context, r *compute.Run, to compute.RunStatus, reason string, edit func(*compute.Run)) (*compute.Run, error) {
	return d.moveVia(ctx, r, nil, to, reason, edit)
}

// moveVia is move through the statuses via, in one write (see
// RunStore.UpdateRunVia).
func (d *Dispatcher) moveVia(ctx context.Context, r *compute.Run, via []compute.RunStatus, to compute.RunStatus, reason string, edit func(*compute.Run)) (*compute.Run, error) {
	next, err := d.cfg.Runs.UpdateRunVia(ctx, r.ID, via, func(cur *compute.Run) error {
		if cur.Status != r.Status {
			return errRunMoved
		}
		cur.Status, cur.StatusReason = to, reason
		if edit != nil {
			edit(cur)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.cfg.Logger.Debug("run status", "run", r.ID, "from", string(r.Status), "to", string(to), "reason", reason)
	d.cfg.OnChange(r.ID)
	if to.Terminal() && r.ParentID != "" && d.sweeps != nil {
		d.Kick() // its sweep may start the next child now
	}
	return next, nil
}

// fail ends a run as Failed with a reason for the user.
func (d *Dispatcher) fail(ctx context.Context, r *compute.Run, reason string) (*compute.Run, error) {
	d.cfg.Logger.Info("run failed", "run", r.ID, "reason", reason)
	return d.move(ctx, r, compute.RunFailed, reason, func(cur *compute.Run) { cur.Error = reason })
}

// target returns a run's target and its backend, or the reason the run
// cannot use it. The target this pass read for the run's admission is
// used when there is one; otherwise it is read now.
func (d *Dispatcher) target(ctx context.Context, r *compute.Run, a admission) (*compute.Target, compute.Backend, string, error) {
	t := a.target
	if t == nil || t.Name != r.Target {
		var err error
		t, err = d.cfg.Targets.GetTarget(ctx, r.Target)
		if errors.Is(err, compute.ErrNotFound) {
			return nil, nil, fmt.Sprintf("the compute target %q does not exist (any more)", r.Target), nil
		} else if err != nil {
			return nil, nil, "", err
		}
	}
	b := d.cfg.Backends.Backend(t.Kind)
	if b == nil {
		return nil, nil, fmt.Sprintf("Trainyard cannot run jobs on %s (%s) yet", t.Name, t.Kind.Label()), nil
	}
	return t, b, "", nil
}

// queued takes a NotStarted or Queued run as far as the target and this
// pass's admission let it: Preparing, or Queued with the reason it waits. A
// NotStarted run admitted at once goes through Queued to Preparing in one
// write (the timeline still shows Queued): a sweep's children mostly do.
func (d *Dispatcher) queued(ctx context.Context, r *compute.Run, a admission) (*compute.Run, error) {
	t, _, problem, err := d.target(ctx, r, a)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		return d.fail(ctx, r, problem)
	}
	switch t.ProvisioningState {
	case compute.ProvisioningSucceeded:
	case compute.ProvisioningCreating, compute.ProvisioningUpdating:
		return d.wait(ctx, r, fmt.Sprintf("waiting for compute %s to be ready (%s)", t.Name, t.ProvisioningState))
	default:
		why := ""
		if len(t.ProvisioningErrors) > 0 {
			why = ": " + t.ProvisioningErrors[0]
		} else if t.Attach != nil && t.Attach.StatusMessage != "" {
			why = ": " + t.Attach.StatusMessage
		}
		return d.fail(ctx, r, fmt.Sprintf("compute %s is %s and cannot run jobs%s", t.Name, t.ProvisioningState, why))
	}
	if !a.admit {
		return d.wait(ctx, r, a.reason)
	}
	if r.Status == compute.RunNotStarted {
		return d.moveVia(ctx, r, []compute.RunStatus{compute.RunQueued}, compute.RunPreparing, "", nil)
	}
	return d.move(ctx, r, compute.RunPreparing, "", nil)
}

// wait leaves a run Queued with the reason it waits, and ends the step.
func (d *Dispatcher) wait(ctx context.Context, r *compute.Run, reason string) (*compute.Run, error) {
	if r.Status == compute.RunNotStarted {
		if _, err := d.move(ctx, r, compute.RunQueued, reason, nil); err != nil {
			return nil, err
		}
		return nil, errWait
	}
	return d.setReason(ctx, r, reason)
}

// setReason records why a run waits (only when it changed) and ends the step.
func (d *Dispatcher) setReason(ctx context.Context, r *compute.Run, reason string) (*compute.Run, error) {
	if r.StatusReason == reason {
		return nil, errWait
	}
	_, err := d.cfg.Runs.UpdateRun(ctx, r.ID, func(cur *compute.Run) error {
		if cur.Status != r.Status {
			return errRunMoved
		}
		cur.StatusReason = reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.cfg.OnChange(r.ID)
	return nil, errWait
}

func (d *Dispatcher) prepare(ctx context.Context, r *compute.Run) (*compute.Run, error) {
	dir := d.cfg.Runs.RunWorkDir(r.ID)
	if err := d.cfg.Runs.MaterializeSnapshot(ctx, r.SnapshotID, dir); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return d.fail(ctx, r, "preparing the working folder from the snapshot: "+err.Error())
	}
	return d.move(ctx, r, compute.RunStarting, "", nil)
}

// interpreter is argv[0] of a run: the runconfig's interpreterPath for
// user-managed environments, else the target's python3. A bare "python"
// (the runconfig template's default) falls back to python3 where there is
// no "python" on the server, as on Debian.
func (d *Dispatcher) interpreter(r *compute.Run) string {
	env := r.Environment
	if env.UserManagedDependencies && env.InterpreterPath != "" {
		if env.InterpreterPath == "python" {
			if _, err := d.cfg.LookPath("python"); err != nil {
				return d.cfg.Python
			}
		}
		return env.InterpreterPath
	}
	return d.cfg.Python
}

// jobEnv is the environment of a run's script: its runconfig's variables and
// what the tracking client needs.
func (d *Dispatcher) jobEnv(r *compute.Run, token string) map[string]string {
	env := map[string]string{"PYTHONUNBUFFERED": "1"}
	for k, v := range r.Environment.Variables {
		env[k] = v
	}
	env["TRAINYARD_RUN_ID"] = r.ID
	env["MLFLOW_TRACKING_URI"] = d.cfg.TrackingURI
	env["MLFLOW_RUN_ID"] = r.ID
	env["MLFLOW_TRACKING_TOKEN"] = token
	env["MLFLOW_EXPERIMENT_ID"] = strconv.FormatInt(r.ExperimentID, 10)
	return env
}

// submit hands the run to its backend and persists the handle before
// anything else happens with it.
func (d *Dispatcher) submit(ctx context.Context, r *compute.Run, a admission) (*compute.Run, error) {
	t, b, problem, err := d.target(ctx, r, a)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		return d.fail(ctx, r, problem)
	}
	workDir := d.cfg.Runs.RunWorkDir(r.ID)
	if _, err := os.Stat(workDir); errors.Is(err, fs.ErrNotExist) {
		// Only a folder that is missing is prepared again here: a job from
		// before a restart may be running in an existing one.
		if err := d.cfg.Runs.MaterializeSnapshot(ctx, r.SnapshotID, workDir); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return d.fail(ctx, r, "preparing the working folder from the snapshot: "+err.Error())
		}
	}
	token, err := d.cfg.Runs.IssueRunToken(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	spec := compute.JobSpec{
		RunID:       r.ID,
		Argv:        append([]string{d.interpreter(r), r.Script}, r.Arguments...),
		Env:         d.jobEnv(r, token),
		WorkDir:     workDir,
		NodeCount:   max(r.NodeCount, 1),
		MaxDuration: r.MaxRunDuration,
	}
	h, err := b.Submit(ctx, t, spec)
	var hk compute.UntrustedHostKey
	switch {
	case errors.As(err, &hk):
		if d.cfg.UntrustedHostKey != nil {
			d.cfg.UntrustedHostKey(context.WithoutCancel(ctx), t.Name, hk)
		}
		fp, changed := hk.HostKeyPresented()
		what := "host key not approved yet"
		if changed {
			what = "host key changed"
		}
		return d.fail(ctx, r, fmt.Sprintf("%s: approve the new fingerprint %s on compute %s (trainyard computetarget approve-host-key) before running there. %s", what, fp, t.Name, err))
	case errors.Is(err, compute.ErrUnavailable):
		reason := "waiting for a node: " + err.Error()
		if t.Kind.IsAttached() {
			reason = fmt.Sprintf("waiting for %s to be reachable: %v", t.Name, err)
			d.mu.Lock()
			d.retryAt[t.Name] = time.Now().Add(unreachableRetry)
			d.mu.Unlock()
		}
		d.cfg.KickTargets()
		return d.move(ctx, r, compute.RunQueued, reason, nil)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return d.fail(ctx, r, "the job could not be started: "+err.Error())
	}
	// The handle is written whatever happened to the run meanwhile (a cancel
	// needs it); only then is the job's state looked at.
	next, err := d.cfg.Runs.UpdateRun(ctx, r.ID, func(cur *compute.Run) error {
		cur.Handle = h
		cur.Attempt++
		return nil
	})
	if err != nil {
		d.cfg.Logger.Error("persisting a job handle failed; cancelling the job", "run", r.ID, "handle", h.ID, "err", err)
		_ = b.Cancel(context.WithoutCancel(ctx), h)
		return nil, err
	}
	d.cfg.Logger.Info("run submitted", "run", r.ID, "target", t.Name, "handle", h.ID)
	if next.Status != compute.RunStarting {
		return next, nil
	}
	return d.followStart(ctx, next)
}

// A job the backend accepted but holds in its own queue (Slurm: PENDING
// until slurmctld's next scheduling pass, about once a second) is polled
// every startFollowEvery for startFollow after its submit, rather than at
// the next pass: waiting for the next pass added up to a whole Interval to
// every Slurm run's start (docs/BENCHMARKS.md, Slurm). At most
// maxFollowing runs are followed so at once (a sweep submitting many
// children does not flood the backend); the others wait for the passes.
const (
	startFollow      = 1500 * time.Millisecond
	startFollowEvery = 25 * time.Millisecond
	maxFollowing     = 8
)

// followStart polls a just-submitted run's job until it runs or ends, or
// startFollow has passed; a run moved meanwhile by someone else (a cancel
// request) is left to the next pass.
func (d *Dispatcher) followStart(ctx context.Context, r *compute.Run) (*compute.Run, error) {
	d.mu.Lock()
	follow := d.following < maxFollowing
	if follow {
		d.following++
	}
	d.mu.Unlock()
	if !follow {
		return d.poll(ctx, r)
	}
	defer func() {
		d.mu.Lock()
		d.following--
		d.mu.Unlock()
	}()
	deadline := time.Now().Add(startFollow)
	waiting := func(cur *compute.Run) bool {
		return (cur.Status == compute.RunStarting || cur.Status == compute.RunQueued) && cur.Handle == r.Handle
	}
	for {
		next, err := d.poll(ctx, r)
		if (err != nil && !errors.Is(err, errWait)) || (next != nil && !waiting(next)) || !time.Now().Before(deadline) {
			return next, err
		}
		if next != nil { // moved (Queued ⇄ Starting): look again at once
			r = next
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(startFollowEvery):
		}
		cur, err := d.cfg.Runs.GetRun(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if !waiting(cur) {
			return nil, errWait
		}
		r = cur
	}
}

// backendOf returns the backend that owns a run's handle, by the name the
// handle records (the target may be gone, or served by another backend now).
func (d *Dispatcher) backendOf(r *compute.Run) (compute.Backend, string) {
	if reg, ok := d.cfg.Backends.Named(r.Handle.Backend); ok {
		return reg.Backend, ""
	}
	return nil, fmt.Sprintf("no backend %q can be reached to follow the job", r.Handle.Backend)
}

// poll follows a submitted job: Running when it runs, Finalizing when it
// ended. A job the backend holds in its own queue (Slurm's PENDING with the
// reason, e.g. "Resources") makes the run Queued with that reason, and
// Starting again when the job starts. A job the backend started again (a
// requeue after preemption or a node failure: JobState.Attempt past the
// run's attempt) sends a Running run back to Queued with that
// reason, so the timeline shows every attempt.
func (d *Dispatcher) poll(ctx context.Context, r *compute.Run) (*compute.Run, error) {
	b, problem := d.backendOf(r)
	if b == nil {
		return d.fail(ctx, r, problem)
	}
	st, err := b.Status(ctx, r.Handle)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, compute.ErrNotFound) || errors.Is(err, compute.ErrInvalid) {
			return d.fail(ctx, r, "the job can no longer be found: "+err.Error())
		}
		return nil, err // transient: try again next pass
	}
	if n := st.Attempt; n > max(r.Attempt, 1) && !st.Phase.Terminal() {
		setAttempt := func(cur *compute.Run) { cur.Attempt = n }
		if r.Status == compute.RunStarting || r.Status == compute.RunRunning {
			return d.move(ctx, r, compute.RunQueued, st.Reason, setAttempt)
		}
		_, err := d.cfg.Runs.UpdateRun(ctx, r.ID, func(cur *compute.Run) error {
			if cur.Status != r.Status {
				return errRunMoved
			}
			cur.StatusReason = st.Reason
			setAttempt(cur)
			return nil
		})
		if err != nil {
			return nil, err
		}
		d.cfg.OnChange(r.ID)
		return nil, errWait
	}
	switch {
	case st.Phase.Terminal() && r.Status == compute.RunQueued:
		// It ended while waiting (cancelled in Slurm, or failed at start):
		// through Starting to Finalizing, as the state machine goes.
		return d.move(ctx, r, compute.RunStarting, "", nil)
	case st.Phase.Terminal():
		next, err := d.move(ctx, r, compute.RunFinalizing, "", nil)
		if err != nil {
			return nil, err
		}
		// Finalized with the state just read: asking the backend again
		// (for the local backend, a scan of /proc) would tell the same.
		return d.finalize(ctx, next, &st)
	case r.Status == compute.RunQueued && st.Phase != compute.JobQueued:
		return d.move(ctx, r, compute.RunStarting, st.Reason, nil)
	case r.Status == compute.RunQueued && st.Reason != "" && st.Reason != r.StatusReason:
		return d.setReason(ctx, r, st.Reason)
	case r.Status == compute.RunStarting && st.Phase == compute.JobQueued && st.Reason != "":
		return d.move(ctx, r, compute.RunQueued, st.Reason, nil)
	case r.Status == compute.RunStarting && (st.Phase == compute.JobRunning || st.Phase == compute.JobFinalizing):
		return d.move(ctx, r, compute.RunRunning, st.Reason, nil)
	case r.Status == compute.RunStarting && st.Reason != "" && st.Reason != r.StatusReason:
		return d.setReason(ctx, r, st.Reason)
	}
	return nil, errWait
}

// finalize collects a finished job's outputs and log and ends the run with
// the job's outcome. known is the job's state when the caller has it.
func (d *Dispatcher) finalize(ctx context.Context, r *compute.Run, known *compute.JobState) (*compute.Run, error) {
	b, problem := d.backendOf(r)
	if b == nil {
		return d.fail(ctx, r, problem)
	}
	st := known
	if st == nil {
		s, err := b.Status(ctx, r.Handle)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, compute.ErrNotFound) || errors.Is(err, compute.ErrInvalid) {
				return d.fail(ctx, r, "the job can no longer be found: "+err.Error())
			}
			return nil, err
		}
		st = &s
	}
	if !st.Phase.Terminal() {
		return nil, errWait
	}
	var problems []string
	if reg, _ := d.cfg.Backends.Named(r.Handle.Backend); reg.Capabilities.Outputs != nil {
		f := reg.Capabilities.Outputs
		// The job ran elsewhere: its outputs come back into the working
		// folder first, and are collected from there like a local job's.
		if err := f.FetchOutputs(ctx, r.Handle, d.cfg.Runs.RunWorkDir(r.ID)); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			problems = append(problems, "fetching outputs from the machine: "+err.Error())
		}
	}
	if err := d.cfg.Runs.CollectRunFiles(ctx, r.ID, d.cfg.Runs.RunWorkDir(r.ID)); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		problems = append(problems, "collecting outputs: "+err.Error())
	}
	if logs, err := b.Logs(ctx, r.Handle, 0); err == nil {
		err = d.cfg.Runs.SaveRunLog(ctx, r.ID, logs)
		logs.Close()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			problems = append(problems, "collecting the log: "+err.Error())
		}
	} else if !errors.Is(err, compute.ErrNotFound) {
		problems = append(problems, "collecting the log: "+err.Error())
	}
	if len(problems) == 0 {
		if err := d.cfg.Runs.RemoveRunWorkDir(ctx, r.ID); err != nil {
			d.cfg.Logger.Warn("removing a run's working folder", "run", r.ID, "err", err)
		}
	}
	switch st.Phase {
	case compute.JobCompleted:
		if len(problems) > 0 {
			return d.fail(ctx, r, problems[0])
		}
		return d.move(ctx, r, compute.RunCompleted, "", nil)
	case compute.JobCanceled:
		return d.move(ctx, r, compute.RunCanceled, st.Reason, nil)
	default:
		reason := st.Reason
		if reason == "" {
			reason = "the job failed"
		}
		return d.fail(ctx, r, reason)
	}
}

// cancel carries out a cancel request: the job (if any) is stopped, its
// outputs collected, and the run ends Canceled (or as the job ended, if it
// ended before the cancel reached it).
func (d *Dispatcher) cancel(ctx context.Context, r *compute.Run) (*compute.Run, error) {
	recovered := false
	if r.Handle.ID == "" {
		h, err := d.recoverHandle(ctx, r)
		if err != nil {
			return nil, err
		}
		if h.ID == "" {
			return d.move(ctx, r, compute.RunCanceled, cancelReason(r, "canceled before it started"), nil)
		}
		r.Handle, recovered = h, true
	}
	b, problem := d.backendOf(r)
	if b == nil {
		return d.move(ctx, r, compute.RunCanceled, problem, nil)
	}
	before, err := b.Status(ctx, r.Handle)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	stopped := err == nil && !before.Phase.Terminal()
	if stopped {
		if err := b.Cancel(ctx, r.Handle); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("cancel: %w", err)
		}
	}
	st, err := b.Status(ctx, r.Handle)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return d.move(ctx, r, compute.RunCanceled, "canceled on request", nil)
	}
	if !st.Phase.Terminal() {
		return nil, errWait
	}
	if (stopped && st.Phase == compute.JobFailed) || recovered {
		// Ended by our signal: a cancel, whatever the exit code says. A
		// recovered handle may belong to a stand-in job (see recoverHandle),
		// whose outcome says nothing about the run.
		st = compute.JobState{Phase: compute.JobCanceled, ExitCode: st.ExitCode, Reason: "canceled on request"}
	}
	if st.Phase == compute.JobCanceled {
		st.Reason = cancelReason(r, st.Reason)
	}
	return d.finalize(ctx, r, &st)
}

// cancelReason is the reason a cancelled run ends with: the one recorded
// with the cancel request as the run's error (a sweep's early-termination
// policy, its time limit), else def.
func cancelReason(r *compute.Run, def string) string {
	if r.Error != "" {
		return r.Error
	}
	return def
}

// recoverHandle finds the job of a run that was being submitted when the
// server stopped and was cancelled before the handle was written: Submit is
// idempotent per run ID, so submitting again returns the existing job's
// handle. When there was no job, this starts a stand-in (`true`), which
// cancel stops at once and whose outcome it disregards.
func (d *Dispatcher) recoverHandle(ctx context.Context, r *compute.Run) (compute.Handle, error) {
	full, err := d.cfg.Runs.GetRun(ctx, r.ID)
	if err != nil {
		return compute.Handle{}, err
	}
	h := full.History
	if len(h) < 2 || h[len(h)-2].Status != compute.RunStarting {
		return compute.Handle{}, nil
	}
	t, b, problem, err := d.target(ctx, r, admission{})
	if err != nil || problem != "" {
		return compute.Handle{}, err
	}
	spec := compute.JobSpec{RunID: r.ID, Argv: []string{"true"}, WorkDir: d.cfg.Runs.RunWorkDir(r.ID), NodeCount: max(r.NodeCount, 1)}
	handle, err := b.Submit(ctx, t, spec)
	if err != nil {
		return compute.Handle{}, nil // nothing was running
	}
	_, err = d.cfg.Runs.UpdateRun(ctx, r.ID, func(cur *compute.Run) error { cur.Handle = handle; return nil })
	return handle, err
}
