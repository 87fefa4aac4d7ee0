package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"

	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// SweepStore is what the sweep driver needs from storage (store.Store has it).
type SweepStore interface {
	ListRuns(ctx context.Context, f compute.RunFilter) (compute.RunPage, error)
	GetRun(ctx context.Context, id string) (*compute.Run, error)
	CreateRun(ctx context.Context, r *compute.Run) error
	UpdateRun(ctx context.Context, id string, fn func(r *compute.Run) error) (*compute.Run, error)
	// SweepChildren reads the children of a sweep that have not ended and
	// those named in ids, with the values of metric key each logged.
	SweepChildren(ctx context.Context, parentID string, ids []string, key string) ([]*compute.Run, map[string][]float64, error)
}

// SweepDriver runs HyperDrive sweeps: every Tick it drives hyperdrive.Loop
// for each active parent run of kind hyperdrive. Submit creates a child
// script run (the dispatcher runs it like any submitted run), Cancel asks
// for a child's cancel with the reason, List reads the children with their
// primary metric's history. Nothing but ended children's metrics is kept in
// memory that the store does not have: after a restart the loops are rebuilt
// from the parents (sweep, seed, start time) and their children, and the
// stateless samplers continue the same sequence.
type SweepDriver struct {
	Store  SweepStore
	Logger *slog.Logger
	Now    func() time.Time
	// OnChange is called after a run was written (wakes the dispatcher and
	// live pages).
	OnChange func(runID string)

	mu    sync.Mutex
	loops map[string]*hyperdrive.Loop
	// kids are the children each sweep's loop knows, by parent ID.
	kids map[string]*childCache
}

// sweepParentCanceled is the reason children get when their sweep is cancelled.
const sweepParentCanceled = "Canceled: the sweep was canceled"

// Tick makes one pass over the active sweeps.
func (d *SweepDriver) Tick(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loops == nil {
		d.loops, d.kids = map[string]*hyperdrive.Loop{}, map[string]*childCache{}
	}
	page, err := d.Store.ListRuns(ctx, compute.RunFilter{Kind: compute.RunKindHyperdrive, ActiveOnly: true, Limit: 1000})
	if err != nil {
		return fmt.Errorf("list sweeps: %w", err)
	}
	live := map[string]bool{}
	var errs []error
	for _, p := range page.Runs {
		live[p.ID] = true
		if err := d.drive(ctx, p); err != nil {
			// What the tick did is not known for sure (a child may have
			// been created and the error come after): the next tick reads
			// every child again.
			delete(d.kids, p.ID)
			if ctx.Err() == nil {
				errs = append(errs, fmt.Errorf("sweep %s: %w", p.ID, err))
			}
		}
	}
	for id := range d.loops {
		if !live[id] {
			delete(d.loops, id)
		}
	}
	for id := range d.kids {
		if !live[id] {
			delete(d.kids, id)
		}
	}
	return errors.Join(errs...)
}

func (d *SweepDriver) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *SweepDriver) changed(id string) {
	if d.OnChange != nil {
		d.OnChange(id)
	}
}

// drive ticks one parent's loop and moves the parent when the sweep ends.
func (d *SweepDriver) drive(ctx context.Context, p *compute.Run) error {
	if p.Sweep == nil {
		_, err := d.Store.UpdateRun(ctx, p.ID, func(cur *compute.Run) error {
			cur.Status, cur.Error = compute.RunFailed, "the sweep has no definition"
			return nil
		})
		return err
	}
	// policyCancel tells the Cancel callback whether cancels of this tick are
	// the early-termination policy's (recorded as such) or the sweep's own.
	policyCancel := false
	l := d.loops[p.ID]
	if l == nil {
		start := p.StartedAt
		if start.IsZero() {
			start = p.CreatedAt
		}
		// The callbacks are set per tick below; these only pass NewLoop's check.
		none := hyperdrive.Callbacks{
			Submit: func(int, hyperdrive.Params) (string, error) { return "", errors.New("unbound") },
			Cancel: func(string, string) error { return errors.New("unbound") },
			List:   func() ([]hyperdrive.Child, error) { return nil, errors.New("unbound") },
		}
		var err error
		l, err = hyperdrive.NewLoop(p.Sweep, start, d.now, none)
		if err != nil {
			_, uerr := d.Store.UpdateRun(ctx, p.ID, func(cur *compute.Run) error {
				cur.Status, cur.Error = compute.RunFailed, "the sweep definition is not valid: "+err.Error()
				return nil
			})
			return uerr
		}
	}
	// The callbacks close over this tick's context and flag.
	l.CB = hyperdrive.Callbacks{
		Submit: func(index int, hp hyperdrive.Params) (string, error) { return d.submit(ctx, p, index, hp) },
		Cancel: func(id, reason string) error { return d.cancel(ctx, id, reason, policyCancel) },
		List:   func() ([]hyperdrive.Child, error) { return d.children(ctx, p) },
	}
	d.loops[p.ID] = l

	if p.Status == compute.RunCancelRequested {
		if err := l.Cancel(sweepParentCanceled); err != nil {
			return err
		}
		return d.finish(ctx, p, compute.RunCanceled, p.StatusReason)
	}
	timedOut := d.now().Sub(l.Start) >= time.Duration(p.Sweep.DurationMinutes())*time.Minute
	policyCancel = !timedOut
	pr, err := l.Tick()
	if len(pr.Submitted) > 0 {
		d.changed(p.ID)
	}
	if pr.BestID != "" && pr.BestID != p.BestChildID {
		if _, uerr := d.Store.UpdateRun(ctx, p.ID, func(cur *compute.Run) error { cur.BestChildID = pr.BestID; return nil }); uerr != nil {
			return uerr
		}
		p.BestChildID = pr.BestID
	}
	if err != nil {
		return err
	}
	if !pr.Done {
		return nil
	}
	if timedOut {
		return d.finish(ctx, p, compute.RunCanceled, "Canceled: the sweep reached max_duration_minutes ("+fmt.Sprint(p.Sweep.DurationMinutes())+")")
	}
	return d.finish(ctx, p, compute.RunCompleted, pr.Reason)
}

// finish ends the parent once none of its children is active any more.
func (d *SweepDriver) finish(ctx context.Context, p *compute.Run, to compute.RunStatus, reason string) error {
	kids, err := d.children(ctx, p)
	if err != nil {
		return err
	}
	for _, c := range kids {
		if !c.State.Ended() {
			return nil // children still being cancelled; the next tick looks again
		}
	}
	if id, _ := hyperdrive.BestChild(p.Sweep.Goal, kids); id != "" {
		p.BestChildID = id
	}
	_, err = d.Store.UpdateRun(ctx, p.ID, func(cur *compute.Run) error {
		if cur.Status.Terminal() {
			return nil
		}
		if cur.Status == compute.RunCancelRequested {
			to = compute.RunCanceled
			if reason == "" {
				reason = cur.StatusReason
			}
		}
		cur.Status, cur.StatusReason, cur.BestChildID = to, reason, p.BestChildID
		return nil
	})
	if err == nil {
		d.Logger.Info("sweep ended", "run", p.ID, "status", string(to), "reason", reason)
		d.changed(p.ID)
	}
	return err
}

// submit creates child index of the sweep: the parent's script, snapshot,
// target and environment, with the sampled values appended to the
// runconfig's arguments (the search space wins over duplicates).
func (d *SweepDriver) submit(ctx context.Context, p *compute.Run, index int, hp hyperdrive.Params) (string, error) {
	p, err := d.template(ctx, p)
	if err != nil {
		return "", err
	}
	c := &compute.Run{
		Kind: compute.RunKindScript, ExperimentName: p.ExperimentName, Status: compute.RunNotStarted, Target: p.Target, ParentID: p.ID,
		SubmittedBy: p.SubmittedBy, SubmittedByID: p.SubmittedByID,
		Script: p.Script, Arguments: hyperdrive.MergeArgs(p.Arguments, hp), NodeCount: p.NodeCount,
		MaxRunDuration: p.MaxRunDuration, SnapshotID: p.SnapshotID, Git: p.Git, Environment: p.Environment,
		RunConfiguration: p.RunConfiguration, ChildIndex: index, Hyperparameters: hp,
		ID: fmt.Sprintf("%s_%d", p.ID, index),
	}
	if !compute.ValidRunID(c.ID) {
		c.ID = ""
	}
	if err := d.Store.CreateRun(ctx, c); err != nil {
		return "", err
	}
	if k := d.kids[p.ID]; k != nil {
		k.active[c.ID] = true
	}
	d.changed(c.ID)
	return c.ID, nil
}

// cancel asks for a child's cancel with reason, shown as its error. A child
// that has ended or is being cancelled is left alone.
func (d *SweepDriver) cancel(ctx context.Context, id, reason string, policy bool) error {
	_, err := d.Store.UpdateRun(ctx, id, func(cur *compute.Run) error {
		if cur.Status.Terminal() || cur.Status == compute.RunCancelRequested {
			return nil
		}
		cur.Status, cur.StatusReason, cur.Error = compute.RunCancelRequested, reason, reason
		if policy {
			cur.PolicyCancelReason = reason
		}
		return nil
	})
	if err == nil {
		d.changed(id)
	}
	return err
}

// ChildStateOf maps a run status onto the loop's child states.
func ChildStateOf(s compute.RunStatus) hyperdrive.ChildState {
	switch s {
	case compute.RunCompleted:
		return hyperdrive.ChildCompleted
	case compute.RunFailed:
		return hyperdrive.ChildFailed
	case compute.RunCanceled:
		return hyperdrive.ChildCanceled
	}
	return hyperdrive.ChildActive
}
