package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Idle shutdown (Studio's idleTimeBeforeShutdown): a running instance
// whose backend opens sessions, with no activity — terminal input or
// output, an open SSH connection, Jupyter's last activity — and no run on
// it for its idle time, is stopped, with the reason on its details page.

// DefaultIdleCheckEvery is how often instances are checked for idleness.
const DefaultIdleCheckEvery = 10 * time.Second

// idleShutdown stops the instances that have been idle for their idle time.
func (c *Controller) idleShutdown(ctx context.Context) error {
	if time.Since(c.lastIdleCheck) < c.cfg.IdleCheckEvery {
		return nil
	}
	c.lastIdleCheck = time.Now()
	instances, _, err := c.cfg.Store.ListTargets(ctx, compute.TargetFilter{Kinds: []compute.Kind{compute.KindInstance}})
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	for _, t := range instances {
		in := t.Instance
		if in == nil || in.IdleShutdownMinutes <= 0 || in.State != compute.InstanceRunning || t.ProvisioningState != compute.ProvisioningSucceeded {
			continue
		}
		so := c.cfg.Backends.Capabilities(t.Kind).Sessions
		if so == nil {
			continue // no sessions, no activity to judge by
		}
		limit := time.Duration(in.IdleShutdownMinutes) * c.cfg.IdleMinute
		last := latest(so.LastActivity(t.Name), t.StateSince, t.LastOperation.Time, c.started)
		if time.Since(last) < limit || c.hasRun(ctx, t) {
			continue
		}
		c.stopIdle(ctx, t.Name, in.IdleShutdownMinutes, last)
	}
	return nil
}

// hasRun reports whether a run is on the instance (a run is activity).
func (c *Controller) hasRun(ctx context.Context, t *compute.Target) bool {
	b := c.cfg.Backends.Backend(t.Kind)
	if b == nil {
		return false
	}
	nodes, err := b.Nodes(ctx, t)
	if err != nil {
		return true // unknown: never stop on a guess
	}
	for _, n := range nodes {
		if n.RunID != "" {
			return true
		}
	}
	return false
}

// stopIdle begins the stop of an idle instance, as a user's Stop would,
// with IdleShutdown as its trigger and the reason kept with the instance.
func (c *Controller) stopIdle(ctx context.Context, name string, minutes int, last time.Time) {
	now := time.Now()
	_, err := c.cfg.Store.UpdateTarget(ctx, name, func(t *compute.Target) error {
		if t.Instance == nil || t.Instance.State != compute.InstanceRunning {
			return errUnchanged
		}
		next, err := compute.BeginPower(t.Instance.State, compute.ActionStop)
		if err != nil {
			return err
		}
		t.Instance.State = next
		t.LastOperation = compute.Operation{Name: "Stop", Status: "InProgress", Trigger: "IdleShutdown", Time: now}
		t.Instance.StopReason = fmt.Sprintf("Stopped by idle shutdown at %s: no terminal, Jupyter or SSH activity and no run for %d minutes (last activity %s).",
			now.UTC().Format("2006-01-02 15:04:05 MST"), minutes, last.UTC().Format("2006-01-02 15:04:05 MST"))
		return nil
	})
	if err != nil {
		if !errors.Is(err, errUnchanged) {
			c.cfg.Logger.Error("idle shutdown", "target", name, "err", err)
		}
		return
	}
	c.cfg.Logger.Info("instance idle: stopping it", "target", name, "idle_minutes", minutes, "last_activity", last)
	c.cfg.OnChange(name)
	c.Kick()
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
