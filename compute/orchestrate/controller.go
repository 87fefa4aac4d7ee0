package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// TargetStore is what the controller needs from storage (store.Store has it).
type TargetStore interface {
	ListTargets(ctx context.Context, f compute.TargetFilter) ([]*compute.Target, int, error)
	GetTarget(ctx context.Context, name string) (*compute.Target, error)
	UpdateTarget(ctx context.Context, name string, fn func(t *compute.Target) error) (*compute.Target, error)
	DeleteTarget(ctx context.Context, name string) error
}

// ControllerConfig wires a Controller.
type ControllerConfig struct {
	Store TargetStore
	// Backends says which backend serves a kind and what it can do; a kind
	// no backend serves is recorded but not checked.
	Backends *compute.Registry
	// Demand says how many nodes queued and running work wants on a cluster.
	Demand   func(target string) int
	Interval time.Duration
	Logger   *slog.Logger
	// OnChange is called after a target's state was written (to wake live pages).
	OnChange func(name string)
	// HealthInterval is how often attached targets whose backend is a
	// HealthChecker are probed (default DefaultHealthInterval; negative: never).
	HealthInterval time.Duration
	// HealthTimeout bounds one probe (default DefaultHealthTimeout).
	HealthTimeout time.Duration
	// IdleMinute is how long one minute of an instance's idle shutdown
	// lasts (default a minute; tests shorten it). IdleCheckEvery is how
	// often instances are checked (default DefaultIdleCheckEvery).
	IdleMinute     time.Duration
	IdleCheckEvery time.Duration
}

// Defaults of the health probes of attached targets.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 20 * time.Second
)

// Controller moves targets through their state machines
// (docs/design/studio-compute.md §4): it provisions what is Creating, deletes
// what is Deleting, settles instance power actions and scales clusters. All
// state it acts on is in the store, so after a restart it carries on where it
// stopped.
type Controller struct {
	cfg      ControllerConfig
	kick     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool // targets with an operation (or "health/"+name: a probe) under way
	wg       sync.WaitGroup
	probe    chan string // targets to probe now (ReportUnreachable)
	// started and lastIdleCheck pace idle shutdown: no instance is idle
	// for longer than the controller has been watching it.
	started       time.Time
	lastIdleCheck time.Time
}

// NewController returns a controller; call Run to start it.
func NewController(cfg ControllerConfig) *Controller {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Demand == nil {
		cfg.Demand = func(string) int { return 0 }
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(string) {}
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = DefaultHealthTimeout
	}
	if cfg.IdleMinute <= 0 {
		cfg.IdleMinute = time.Minute
	}
	if cfg.IdleCheckEvery <= 0 {
		cfg.IdleCheckEvery = DefaultIdleCheckEvery
	}
	return &Controller{cfg: cfg, kick: make(chan struct{}, 1), inflight: map[string]bool{}, probe: make(chan string, 64), started: time.Now()}
}

// Kick asks for a reconcile pass now (after a user action).
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends, then waits for operations under way.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	var health <-chan time.Time
	if c.cfg.HealthInterval > 0 {
		ht := time.NewTicker(c.cfg.HealthInterval)
		defer ht.Stop()
		health = ht.C
	}
	defer c.wg.Wait()
	for {
		if err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		case <-health:
			if err := c.ProbeAll(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Error("health probes", "err", err)
			}
		case name := <-c.probe:
			c.startProbe(ctx, name)
		}
	}
}

// ReportUnreachable is told by a backend that a target's machine stopped
// answering while in use (a run lost its connection). The target shows
// Unusable with the error at once, and is probed right away (it recovers by
// itself when a probe reaches it).
func (c *Controller) ReportUnreachable(ctx context.Context, name string, cause error) {
	if cause == nil {
		return
	}
	_, err := c.cfg.Store.UpdateTarget(ctx, name, func(t *compute.Target) error {
		if t.Attach == nil || t.ProvisioningState != compute.ProvisioningSucceeded || t.Attach.Unreachable {
			return errUnchanged
		}
		t.Attach.Unreachable = true
		t.Attach.StatusMessage = unreachableMessage(cause)
		return nil
	})
	switch {
	case err == nil:
		c.cfg.OnChange(name)
	case !errors.Is(err, errUnchanged):
		c.cfg.Logger.Warn("marking a target unusable", "target", name, "err", err)
	}
	select {
	case c.probe <- name:
	default:
	}
}

// errUnchanged aborts an UpdateTarget that has nothing to write.
var errUnchanged = errors.New("unchanged")

func unreachableMessage(err error) string {
	return "Unusable: the machine does not answer: " + strings.TrimSuffix(err.Error(), ": "+compute.ErrUnavailable.Error())
}

// ProbeAll starts a health probe of every attached target whose backend is
// a HealthChecker and that is in use (Succeeded) or failed only because its
// machine did not answer. Each probe runs on its own, so a machine that
// hangs delays no other target.
func (c *Controller) ProbeAll(ctx context.Context) error {
	all, _, err := c.cfg.Store.ListTargets(ctx, compute.TargetFilter{})
	if err != nil {
		return fmt.Errorf("list targets: %w", err)
	}
	for _, t := range all {
		if probeable(t) {
			c.startProbe(ctx, t.Name)
		}
	}
	return nil
}

func probeable(t *compute.Target) bool {
	if t.Attach == nil || !t.Kind.IsAttached() {
		return false
	}
	switch t.ProvisioningState {
	case compute.ProvisioningSucceeded:
		return true
	case compute.ProvisioningFailed:
		return t.Attach.Unreachable
	}
	return false
}

func (c *Controller) startProbe(ctx context.Context, name string) {
	c.start(ctx, "health/"+name, func(ctx context.Context) error { return c.checkHealth(ctx, name) })
}

// checkHealth probes one attached target and records the outcome: Unusable
// with the error while the machine does not answer; usable again (with what
// the backend found) once it does. A target that failed its first check
// because the machine was away is checked in full again (Creating).
func (c *Controller) checkHealth(ctx context.Context, name string) error {
	t, err := c.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return err
	}
	hc := c.cfg.Backends.Capabilities(t.Kind).Health
	if hc == nil || !probeable(t) {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, c.cfg.HealthTimeout)
	msg, perr := hc.CheckHealth(pctx, t)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var hk compute.UntrustedHostKey
	if errors.As(perr, &hk) {
		return c.RefuseHostKey(ctx, name, hk)
	}
	_, err = c.cfg.Store.UpdateTarget(ctx, name, func(cur *compute.Target) error {
		if cur.Attach == nil || !probeable(cur) {
			return errUnchanged
		}
		if perr != nil {
			m := unreachableMessage(perr)
			if cur.Attach.Unreachable && cur.Attach.StatusMessage == m {
				return errUnchanged
			}
			cur.Attach.Unreachable = true
			cur.Attach.StatusMessage = m
			return nil
		}
		if !cur.Attach.Unreachable {
			return errUnchanged
		}
		cur.Attach.Unreachable = false
		cur.Attach.StatusMessage = msg
		if cur.ProvisioningState == compute.ProvisioningFailed {
			cur.ProvisioningState = compute.ProvisioningCreating
			cur.ProvisioningErrors = nil
			cur.LastOperation.Status = "InProgress"
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	if perr != nil {
		c.cfg.Logger.Info("attached target unusable", "target", name, "err", perr)
	} else {
		c.cfg.Logger.Info("attached target reachable again", "target", name)
		c.Kick()
	}
	c.cfg.OnChange(name)
	return nil
}

// Reconcile makes one pass: starts an operation for every unsettled target
// that has none under way, and scales the clusters.
func (c *Controller) Reconcile(ctx context.Context) error {
	unsettled, _, err := c.cfg.Store.ListTargets(ctx, compute.TargetFilter{Unsettled: true})
	if err != nil {
		return fmt.Errorf("list unsettled targets: %w", err)
	}
	for _, t := range unsettled {
		c.start(ctx, t.Name, func(ctx context.Context) error { return c.settle(ctx, t.Name) })
	}
	clusters, _, err := c.cfg.Store.ListTargets(ctx, compute.TargetFilter{Kinds: []compute.Kind{compute.KindCluster}})
	if err != nil {
		return fmt.Errorf("list clusters: %w", err)
	}
	for _, t := range clusters {
		if t.ProvisioningState == compute.ProvisioningSucceeded {
			c.start(ctx, t.Name, func(ctx context.Context) error { return c.scale(ctx, t) })
		}
	}
	return c.idleShutdown(ctx)
}

// start runs op for a target unless one is already running for it.
func (c *Controller) start(ctx context.Context, name string, op func(context.Context) error) {
	c.mu.Lock()
	if c.inflight[name] {
		c.mu.Unlock()
		return
	}
	c.inflight[name] = true
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.inflight, name)
			c.mu.Unlock()
		}()
		if err := op(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, compute.ErrNotFound) {
			c.cfg.Logger.Error("compute operation", "target", name, "err", err)
		}
	}()
}

// settle carries one unsettled target to its next settled state.
func (c *Controller) settle(ctx context.Context, name string) error {
	t, err := c.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return err
	}
	b := c.cfg.Backends.Backend(t.Kind)
	switch {
	case t.ProvisioningState == compute.ProvisioningDeleting:
		return c.remove(ctx, t, b)
	case t.ProvisioningState == compute.ProvisioningCreating:
		return c.provision(ctx, t, b)
	case t.ProvisioningState == compute.ProvisioningUpdating:
		return c.update(ctx, name, func(t *compute.Target) {
			t.ProvisioningState = compute.ProvisioningSucceeded
			t.LastOperation.Status = "Succeeded"
		})
	case t.Instance != nil && t.Instance.State.Transitional():
		return c.power(ctx, t)
	}
	return nil
}

func (c *Controller) provision(ctx context.Context, t *compute.Target, b compute.Backend) error {
	if b == nil {
		// Attached kinds whose backend is not part of this build are recorded
		// honestly: nothing has connected to them yet.
		return c.update(ctx, t.Name, func(t *compute.Target) {
			t.ProvisioningState = compute.ProvisioningUnknown
			t.LastOperation.Status = "Succeeded"
			if t.Attach != nil {
				t.Attach.Checked = false
				t.Attach.StatusMessage = "Attached but not checked: Trainyard has not connected to this " + t.Kind.Label() + " yet, so runs cannot use it."
			}
		})
	}
	perr := b.Provision(ctx, t)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var hk compute.UntrustedHostKey
	if errors.As(perr, &hk) {
		return c.update(ctx, t.Name, func(cur *compute.Target) { untrusted(cur, hk) })
	}
	return c.update(ctx, t.Name, func(cur *compute.Target) {
		if perr != nil {
			cur.ProvisioningState = compute.ProvisioningFailed
			cur.ProvisioningErrors = []string{perr.Error()}
			cur.LastOperation.Status = "Failed"
			if cur.Instance != nil {
				cur.Instance.State = compute.InstanceCreateFailed
			}
			scriptResults(cur, t)
			if cur.Attach != nil && t.Attach != nil && t.Attach.StatusMessage != "" {
				cur.Attach.Checked = false
				cur.Attach.StatusMessage = t.Attach.StatusMessage
			}
			if cur.Attach != nil && errors.Is(perr, compute.ErrUnavailable) {
				// The machine did not answer: the health probes check it
				// again and carry on with the attach when it answers.
				cur.Attach.Unreachable = true
			}
			return
		}
		cur.ProvisioningState = compute.ProvisioningSucceeded
		cur.ProvisioningErrors = nil
		cur.LastOperation.Status = "Succeeded"
		if cur.Instance != nil && t.Instance != nil {
			cur.Instance.State = compute.InstanceRunning
			cur.Instance.WorkDir = t.Instance.WorkDir
		}
		scriptResults(cur, t)
		if cur.Attach != nil && t.Attach != nil {
			cur.Attach.Unreachable = false
			cur.Attach.Checked = true
			cur.Attach.StatusMessage = t.Attach.StatusMessage
			cur.Attach.HostKeyFingerprint = t.Attach.HostKeyFingerprint
			cur.Attach.PendingHostKeyFingerprint = ""
		}
	})
}

// untrusted records a host key the target presented that is not trusted.
// A first key leaves the attach waiting for an operator's approval
// (Unknown: settled, so the controller does not knock on the machine again
// until the key is approved); a changed key makes the target Failed with the
// warning, refusing all work until the new key is approved.
func untrusted(cur *compute.Target, hk compute.UntrustedHostKey) {
	fp, changed := hk.HostKeyPresented()
	approve := fmt.Sprintf("trainyard computetarget approve-host-key -n %s --fingerprint %s", cur.Name, fp)
	if cur.Attach != nil {
		cur.Attach.PendingHostKeyFingerprint = fp
		cur.Attach.Unreachable = false // it answered, with another key
	}
	if changed {
		msg := "host key changed: approve the new fingerprint " + fp + " once you have checked it (" + approve + "). " + hk.Error()
		cur.ProvisioningState = compute.ProvisioningFailed
		cur.ProvisioningErrors = []string{msg}
		cur.LastOperation.Status = "Failed"
		if cur.Attach != nil {
			cur.Attach.StatusMessage = msg
		}
		return
	}
	cur.ProvisioningState = compute.ProvisioningUnknown
	cur.ProvisioningErrors = nil
	cur.LastOperation.Status = "Succeeded"
	if cur.Attach != nil {
		cur.Attach.Checked = false
		cur.Attach.StatusMessage = "Host key " + fp + " not yet trusted: compare it with `ssh-keygen -lf` on the machine and approve it (" + approve + "). Nothing is sent to the machine until then."
	}
}

// RefuseHostKey records that a target presented an untrusted host key while
// it was in use (a run's submit met it): the target becomes Failed with the
// warning until an operator approves the key.
func (c *Controller) RefuseHostKey(ctx context.Context, name string, hk compute.UntrustedHostKey) error {
	_, err := c.cfg.Store.UpdateTarget(ctx, name, func(t *compute.Target) error {
		if t.ProvisioningState.Transitional() {
			return nil // the controller is at it; it meets the key itself
		}
		untrusted(t, hk)
		return nil
	})
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	c.cfg.OnChange(name)
	c.Kick()
	return nil
}

func (c *Controller) remove(ctx context.Context, t *compute.Target, b compute.Backend) error {
	if b != nil {
		if err := b.Deprovision(ctx, t); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.update(ctx, t.Name, func(cur *compute.Target) {
				cur.ProvisioningState = compute.ProvisioningFailed
				cur.ProvisioningErrors = []string{"Delete failed: " + err.Error()}
				cur.LastOperation.Status = "Failed"
			})
		}
	}
	if err := c.cfg.Store.DeleteTarget(ctx, t.Name); err != nil {
		return err
	}
	c.cfg.OnChange(t.Name)
	return nil
}

func (c *Controller) power(ctx context.Context, t *compute.Target) error {
	pc := c.cfg.Backends.Capabilities(t.Kind).Power
	if pc == nil {
		return fmt.Errorf("backend for %s cannot start or stop instances: %w", t.Kind, compute.ErrInvalid)
	}
	var action compute.PowerAction
	switch t.Instance.State {
	case compute.InstanceStarting:
		action = compute.ActionStart
	case compute.InstanceStopping:
		action = compute.ActionStop
	case compute.InstanceRestarting:
		action = compute.ActionRestart
	default:
		return nil
	}
	perr := pc.Power(ctx, t, action)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.update(ctx, t.Name, func(cur *compute.Target) {
		if perr != nil {
			cur.Instance.State = compute.InstanceUnusable
			cur.ProvisioningErrors = []string{perr.Error()}
			cur.LastOperation.Status = "Failed"
			return
		}
		if next, _, err := compute.EndPower(cur.Instance.State); err == nil {
			cur.Instance.State = next
		}
		if cur.Instance.State != compute.InstanceStopped {
			cur.Instance.StopReason = "" // it said why it stopped; it runs again
		}
		cur.LastOperation.Status = "Succeeded"
		scriptResults(cur, t)
	})
}

// scriptResults keeps what an instance's setup scripts left in t (their
// logs, a startup script's warning) in the stored target cur.
func scriptResults(cur, t *compute.Target) {
	if cur.Instance == nil || t.Instance == nil {
		return
	}
	cur.Instance.SetupLog = t.Instance.SetupLog
	cur.Instance.StartupLog = t.Instance.StartupLog
	cur.Instance.StartupWarning = t.Instance.StartupWarning
}

func (c *Controller) scale(ctx context.Context, t *compute.Target) error {
	sc := c.cfg.Backends.Capabilities(t.Kind).Scale
	if sc == nil {
		return nil
	}
	before := *t.Cluster
	if _, err := sc.Scale(ctx, t, c.cfg.Demand(t.Name)); err != nil {
		return fmt.Errorf("scale %s: %w", t.Name, err)
	}
	if *t.Cluster == before && t.Nodes.Current == t.Cluster.TargetNodeCount {
		// Nothing the cluster row records changed; the nodes table did its own write.
		c.cfg.OnChange(t.Name)
		return nil
	}
	return c.update(ctx, t.Name, func(cur *compute.Target) {
		cur.Cluster.TargetNodeCount = t.Cluster.TargetNodeCount
		cur.Cluster.AllocationState = t.Cluster.AllocationState
	})
}

func (c *Controller) update(ctx context.Context, name string, fn func(t *compute.Target)) error {
	_, err := c.cfg.Store.UpdateTarget(ctx, name, func(t *compute.Target) error { fn(t); return nil })
	if err != nil {
		return fmt.Errorf("update %s: %w", name, err)
	}
	c.cfg.OnChange(name)
	return nil
}
