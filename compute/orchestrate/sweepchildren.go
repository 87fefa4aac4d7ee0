package orchestrate

import (
	"context"
	"maps"
	"slices"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// childCache is what a sweep driver knows of one sweep's children between
// ticks. A child that has ended cannot change any more (its status is
// terminal, its metrics are final: a run's tracking token ends with it), so
// it is kept as the loop saw it; the others are read again at every tick.
// Every child is in one of the two: the first tick reads them all, and the
// driver adds each child it creates. A tick that fails drops the cache.
type childCache struct {
	ended  map[string]hyperdrive.Child
	active map[string]bool
	// parent is the sweep's run read in full, the template of its children
	// (script, snapshot, target, environment: none of it changes).
	parent *compute.Run
}

// template is the parent run in full, as children are made from it: lists
// leave out the environment and the run configuration, so it is read once
// per sweep rather than once per child.
func (d *SweepDriver) template(ctx context.Context, p *compute.Run) (*compute.Run, error) {
	k := d.kids[p.ID]
	if k != nil && k.parent != nil {
		return k.parent, nil
	}
	full, err := d.Store.GetRun(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if k != nil {
		k.parent = full
	}
	return full, nil
}

// children lists a sweep's children as the loop sees them. The first call
// for a sweep reads all of them; later ones read only those that were
// active (SweepChildren), so a tick costs the same at the thousandth child
// as at the first.
func (d *SweepDriver) children(ctx context.Context, p *compute.Run) ([]hyperdrive.Child, error) {
	k := d.kids[p.ID]
	if k == nil {
		return d.allChildren(ctx, p)
	}
	runs, values, err := d.Store.SweepChildren(ctx, p.ID, slices.Sorted(maps.Keys(k.active)), p.Sweep.PrimaryMetric)
	if err != nil {
		return nil, err
	}
	out := make([]hyperdrive.Child, 0, len(k.ended)+len(runs))
	for _, c := range k.ended {
		out = append(out, c)
	}
	for _, r := range runs {
		if r.Kind != compute.RunKindScript {
			continue
		}
		c := childOf(r, values[r.ID])
		if c.State.Ended() {
			k.ended[r.ID] = c
			delete(k.active, r.ID)
		} else {
			k.active[r.ID] = true
		}
		out = append(out, c)
	}
	return out, nil
}

// allChildren reads every child of a sweep and starts its cache.
func (d *SweepDriver) allChildren(ctx context.Context, p *compute.Run) ([]hyperdrive.Child, error) {
	page, err := d.Store.ListRuns(ctx, compute.RunFilter{Parent: p.ID, Limit: hyperdrive.MaxTotalRunsLimit})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range page.Runs {
		ids = append(ids, r.ID)
	}
	// The metrics of all of them, in one query.
	runs, values, err := d.Store.SweepChildren(ctx, p.ID, ids, p.Sweep.PrimaryMetric)
	if err != nil {
		return nil, err
	}
	k := &childCache{ended: map[string]hyperdrive.Child{}, active: map[string]bool{}}
	out := make([]hyperdrive.Child, 0, len(runs))
	for _, r := range runs {
		if r.Kind != compute.RunKindScript {
			continue
		}
		c := childOf(r, values[r.ID])
		if c.State.Ended() {
			k.ended[r.ID] = c
		} else {
			k.active[r.ID] = true
		}
		out = append(out, c)
	}
	d.kids[p.ID] = k
	return out, nil
}

// childOf is a child run as the loop sees it, with its primary metric's values.
func childOf(r *compute.Run, metrics []float64) hyperdrive.Child {
	c := hyperdrive.Child{ID: r.ID, Index: r.ChildIndex, Params: r.Hyperparameters, PolicyCanceled: r.PolicyCancelReason != "", Metrics: metrics}
	switch r.Status {
	case compute.RunCompleted, compute.RunFailed, compute.RunCanceled:
		c.State = ChildStateOf(r.Status)
	case compute.RunCancelRequested:
		c.Canceling = true
	}
	return c
}
