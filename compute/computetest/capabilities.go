package computetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// The checks of Provision, Nodes and of every capability a registration
// declares. A capability the registration does not declare is skipped (and
// says so); one it declares is checked, and fails when the harness lacks
// the fixture its check needs.

// runCapabilities runs the registration, Provision/Nodes and capability
// subtests. Those that stop the machine or change its credentials run at
// once, one after the other; the others are parallel, and so run with the
// job subtests once RunBackendContract returns.
func runCapabilities(t *testing.T, h Harness) {
	reg := h.Registration
	caps := reg.Capabilities
	name := reg.Backend.Name()

	t.Run("Registration", func(t *testing.T) {
		if _, err := compute.NewRegistry(reg); err != nil {
			t.Errorf("the registration is refused by the registry: %v", err)
		}
		h.served(t, h.Target(t))
		fixtures := []struct {
			field, capability string
			given, declared   bool
		}{
			{"InstanceTarget", "Power", h.InstanceTarget != nil, caps.Power != nil},
			{"ClusterTarget", "Scale", h.ClusterTarget != nil, caps.Scale != nil},
			{"StopMachine", "Health or Unreachable", h.StopMachine != nil, caps.Health != nil || caps.Unreachable != nil},
			{"StartMachine", "Health or Unreachable", h.StartMachine != nil, caps.Health != nil || caps.Unreachable != nil},
			{"UnpinnedTarget", "HostKeys", h.UnpinnedTarget != nil, caps.HostKeys != nil},
			{"RotateCredentials", "SecretRotation", h.RotateCredentials != nil, caps.SecretRotation != nil},
			{"PowerSavingTarget", "ScaleSettings", h.PowerSavingTarget != nil, caps.ScaleSettings != nil},
		}
		for _, f := range fixtures {
			if f.given && !f.declared {
				t.Errorf("the harness gives %s, but %s declares no %s capability: declare it or drop the fixture", f.field, name, f.capability)
			}
		}
		if (h.StopMachine == nil) != (h.StartMachine == nil) {
			t.Errorf("the harness gives one of StopMachine and StartMachine: give both or neither")
		}
	})

	t.Run("ProvisionAndNodes", func(t *testing.T) {
		ctx := context.Background()
		b := h.backend()
		tgt := h.Target(t)
		for i := range 2 {
			if err := b.Provision(ctx, tgt); err != nil {
				t.Fatalf("Provision #%d of the provisioned target %s: %v; want Provision to be idempotent", i+1, tgt.Name, err)
			}
		}
		nodes := nodesOf(t, b, tgt)
		if len(nodes) == 0 {
			t.Fatalf("Nodes(%s) is empty; want at least one node", tgt.Name)
		}
		for _, n := range nodes {
			if n.ID == "" || !validNodeState(n.State) {
				t.Errorf("node %+v: want an ID and one of the node states", n)
			}
		}
	})

	// Sequential: these stop the machine or change its credentials, which
	// the parallel subtests must not see.

	t.Run("Health", func(t *testing.T) {
		hc := caps.Health
		if hc == nil {
			t.Skipf("%s declares no Health", name)
		}
		ctx := context.Background()
		tgt := h.Target(t)
		msg, err := hc.CheckHealth(ctx, tgt)
		if err != nil || msg == "" {
			t.Fatalf("CheckHealth of a machine that answers = %q, %v; want what it found and no error", msg, err)
		}
		if h.StopMachine == nil {
			t.Logf("the harness cannot stop the machine: CheckHealth of a stopped machine is not checked")
			return
		}
		start := h.stopMachine(t)
		defer start()
		if msg, err := hc.CheckHealth(ctx, tgt); !errors.Is(err, compute.ErrUnavailable) {
			t.Errorf("CheckHealth of a stopped machine = %q, %v; want an error matching ErrUnavailable (the target shows Unusable)", msg, err)
		}
		start()
		if msg, err := hc.CheckHealth(ctx, tgt); err != nil || msg == "" {
			t.Errorf("CheckHealth of the machine started again = %q, %v; want what it found and no error", msg, err)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		un := caps.Unreachable
		if un == nil {
			t.Skipf("%s declares no Unreachable", name)
		}
		if h.StopMachine == nil {
			t.Fatalf("%s declares Unreachable but the harness gives no StopMachine and StartMachine", name)
		}
		ctx := context.Background()
		b := h.backend()
		var mu sync.Mutex
		var told []string
		un.NotifyUnreachable(func(target string, err error) {
			mu.Lock()
			defer mu.Unlock()
			told = append(told, target)
		})
		t.Cleanup(func() { un.NotifyUnreachable(func(string, error) {}) })
		tgt := h.Target(t)
		hd := h.submitTo(t, b, tgt, compute.JobSpec{Argv: h.prog(
			`import time; print("up", flush=True); time.sleep(600)`,
			`echo up; sleep 600`)})
		t.Cleanup(func() { _ = b.Cancel(context.Background(), hd) })
		WaitLog(t, b, hd, "up", h.timeout())
		start := h.stopMachine(t)
		defer start()
		waitUntil(t, h.timeout(), func() (bool, string) {
			_, _ = b.Status(ctx, hd) // fails while the machine is away; that is how it is noticed
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(told, tgt.Name), fmt.Sprintf(
				"the NotifyUnreachable callback was told %q; want %q, whose machine went away under a running job", told, tgt.Name)
		})
	})

	t.Run("SecretRotation", func(t *testing.T) {
		rs := caps.SecretRotation
		if rs == nil {
			t.Skipf("%s declares no SecretRotation", name)
		}
		if h.RotateCredentials == nil {
			t.Fatalf("%s declares SecretRotation but the harness gives no RotateCredentials", name)
		}
		ctx := context.Background()
		b := h.backend()
		tgt := h.Target(t)
		before := h.submitTo(t, b, tgt, compute.JobSpec{Argv: h.prog(`print("before")`, `echo before`)})
		WaitPhase(t, b, before, compute.JobCompleted, h.timeout())

		accept := h.RotateCredentials(t)
		accepted := false
		defer func() {
			if !accepted {
				accept()
			}
		}()
		rs.ResetConnection(ctx, tgt)
		spec := compute.JobSpec{RunID: NewRunID(t), WorkDir: t.TempDir(), Argv: h.prog(`print("refused")`, `echo refused`)}
		if hd, err := b.Submit(ctx, tgt, spec); err == nil {
			_ = b.Cancel(ctx, hd)
			t.Errorf("after ResetConnection a job started although the machine refuses the new credentials: the connection made with the old ones was kept")
		}
		accept()
		accepted = true
		h.completes(t, b, tgt, "the job with the new credentials", "after")
	})

	// Parallel: each works on its own target or its own job.

	t.Run("Power", func(t *testing.T) {
		pc := caps.Power
		tgt := h.fixture(t, name, "Power", pc != nil, "InstanceTarget", h.InstanceTarget)
		ctx := context.Background()
		b := h.backend()
		if tgt.Instance == nil || tgt.Instance.State != compute.InstanceRunning {
			t.Fatalf("InstanceTarget gave %s with %+v; want a running instance", tgt.Name, tgt.Instance)
		}
		if h.NoJobs != "" {
			// No job to watch: each action is carried out and settles.
			for _, a := range []compute.PowerAction{compute.ActionStop, compute.ActionStart, compute.ActionRestart} {
				power(t, pc, tgt, a)
			}
			if tgt.Instance.State != compute.InstanceRunning {
				t.Errorf("after stop, start and restart: %s, want Running", tgt.Instance.State)
			}
			return
		}
		running := h.submitTo(t, b, tgt, compute.JobSpec{Argv: h.prog(
			`import time; print("up", flush=True); time.sleep(600)`,
			`echo up; sleep 600`)})
		t.Cleanup(func() { _ = b.Cancel(context.Background(), running) })
		WaitLog(t, b, running, "up", h.timeout())

		power(t, pc, tgt, compute.ActionStop)
		if st := waitEnded(t, b, running, h.timeout()); st.Phase == compute.JobCompleted {
			t.Errorf("the job that was running when the instance stopped: %+v; want it stopped with the instance, not Completed", st)
		}
		spec := compute.JobSpec{RunID: NewRunID(t), WorkDir: t.TempDir(), Argv: h.prog(`print("stopped")`, `echo stopped`)}
		if hd, err := b.Submit(ctx, tgt, spec); err == nil {
			_ = b.Cancel(ctx, hd)
			t.Errorf("Submit to the stopped instance %s was accepted; want it refused until the instance starts", tgt.Name)
		}

		power(t, pc, tgt, compute.ActionStart)
		h.completes(t, b, tgt, "the job after start", "after start")
	})

	t.Run("Sessions", func(t *testing.T) {
		so := caps.Sessions
		tgt := h.fixture(t, name, "Sessions", so != nil, "InstanceTarget", h.InstanceTarget)
		ctx := context.Background()
		if caps.Power == nil {
			t.Fatalf("%s declares Sessions but not Power: an instance's sessions end when it stops", name)
		}
		once, err := so.OpenSession(ctx, tgt, compute.SessionSpec{Purpose: "contract", Argv: []string{"/bin/sh", "-c", `echo "$((6*7)) in $(pwd)"`}})
		if err != nil {
			t.Fatalf("OpenSession on the running instance %s: %v", tgt.Name, err)
		}
		out, _ := io.ReadAll(once)
		if code, err := once.Wait(); code != 0 || err != nil || !strings.HasPrefix(string(out), "42 in /") {
			t.Errorf("a session printing 42 and its folder: %q, exit %d, %v; want \"42 in <home>\", 0", out, code, err)
		}
		_ = once.Close()
		if so.LastActivity(tgt.Name).IsZero() {
			t.Errorf("LastActivity(%s) is zero after a session's output; want the time of it", tgt.Name)
		}
		shell, err := so.OpenSession(ctx, tgt, compute.SessionSpec{Purpose: "contract", TTY: &compute.TTYSize{Rows: 24, Cols: 80}})
		if err != nil {
			t.Fatalf("OpenSession of a login shell on a terminal: %v", err)
		}
		t.Cleanup(func() { _ = shell.Close() })
		ended := waitDone(shell)
		power(t, caps.Power, tgt, compute.ActionStop)
		waitUntil(t, h.timeout(), func() (bool, string) {
			select {
			case <-ended:
				return true, ""
			default:
				return false, "the login shell is still open after the instance stopped; want every session ended"
			}
		})
		if _, err := so.OpenSession(ctx, tgt, compute.SessionSpec{Purpose: "contract"}); !errors.Is(err, compute.ErrConflict) {
			t.Errorf("OpenSession on the stopped instance: %v; want ErrConflict", err)
		}
		power(t, caps.Power, tgt, compute.ActionStart)
	})

	t.Run("Scale", func(t *testing.T) {
		sc := caps.Scale
		tgt := h.fixture(t, name, "Scale", sc != nil, "ClusterTarget", h.ClusterTarget)
		ctx := context.Background()
		b := h.backend()
		c := tgt.Cluster
		if c == nil || c.MinNodes != 0 || c.MaxNodes < 1 {
			t.Fatalf("ClusterTarget gave %s with %+v; want a cluster with MinNodes 0 and MaxNodes at least 1", tgt.Name, c)
		}
		scale := func(demand int) {
			t.Helper()
			if _, err := sc.Scale(ctx, tgt, demand); err != nil {
				t.Fatalf("Scale(%s, demand %d): %v", tgt.Name, demand, err)
			}
		}

		waitUntil(t, h.timeout(), func() (bool, string) {
			scale(1)
			nodes := nodesOf(t, b, tgt)
			return slices.ContainsFunc(nodes, func(n compute.Node) bool { return n.State == compute.NodeIdle }),
				fmt.Sprintf("with demand 1, Nodes(%s) = %+v; want an idle node", tgt.Name, nodes)
		})
		if c.TargetNodeCount != 1 {
			t.Errorf("with demand 1: TargetNodeCount = %d, want 1", c.TargetNodeCount)
		}
		hd := h.submitTo(t, b, tgt, compute.JobSpec{Argv: h.prog(`print("on the node")`, `echo on the node`)})
		WaitPhase(t, b, hd, compute.JobCompleted, h.timeout())
		done := time.Now()

		idle := time.Duration(c.IdleSecondsBeforeScaleDown) * time.Second
		scale(0)
		if nodes := nodesOf(t, b, tgt); len(nodes) == 0 && time.Since(done) < idle {
			t.Errorf("with demand 0, the node went %s after its job ended; want it kept for its idle time (%s)",
				time.Since(done).Round(time.Millisecond), idle)
		}
		waitUntil(t, idle+h.timeout(), func() (bool, string) {
			scale(0)
			nodes := nodesOf(t, b, tgt)
			return len(nodes) == 0, fmt.Sprintf("with demand 0 and the idle time (%s) up, Nodes(%s) = %+v; want none", idle, tgt.Name, nodes)
		})
		if c.TargetNodeCount != 0 {
			t.Errorf("with demand 0: TargetNodeCount = %d, want 0", c.TargetNodeCount)
		}
	})

	t.Run("Outputs", func(t *testing.T) {
		of := caps.Outputs
		if of == nil {
			t.Skipf("%s declares no Outputs", name)
		}
		t.Parallel()
		b := h.backend()
		want := map[string]string{
			"outputs/x.txt": "model " + randomHex(t) + "\nweights: ü\n",
			"logs/y.txt":    "log " + randomHex(t) + "\n",
		}
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			"import os, sys\n"+
				"for d, name, text in ((\"outputs\", \"x.txt\", sys.argv[1]), (\"logs\", \"y.txt\", sys.argv[2])):\n"+
				"    os.makedirs(d, exist_ok=True)\n"+
				"    with open(os.path.join(d, name), \"wb\") as f:\n"+
				"        f.write(os.fsencode(text))",
			`mkdir -p outputs logs && printf %s "$1" >outputs/x.txt && printf %s "$2" >logs/y.txt`,
			want["outputs/x.txt"], want["logs/y.txt"])})
		WaitPhase(t, b, hd, compute.JobCompleted, h.timeout())
		dir := t.TempDir()
		if err := of.FetchOutputs(context.Background(), hd, dir); err != nil {
			t.Fatalf("FetchOutputs: %v", err)
		}
		for rel, w := range want {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil || string(got) != w {
				t.Errorf("%s after FetchOutputs = %q, %v; want %q, as the job wrote it", rel, got, err, w)
			}
		}
	})

	t.Run("HostKeys", func(t *testing.T) {
		hk := caps.HostKeys
		tgt := h.fixture(t, name, "HostKeys", hk != nil, "UnpinnedTarget", h.UnpinnedTarget)
		ctx := context.Background()
		b := h.backend()
		err := b.Provision(ctx, tgt)
		var untrusted compute.UntrustedHostKey
		if !errors.As(err, &untrusted) {
			t.Fatalf("Provision of %s, with no host key pinned: err = %v; want a compute.UntrustedHostKey naming the key the machine presents", tgt.Name, err)
		}
		presented, changed := untrusted.HostKeyPresented()
		if presented == "" || changed || !errors.Is(err, compute.ErrConflict) {
			t.Errorf("Provision with no pin: presented %q, changed %v, err %v; want a fingerprint, not changed, matching ErrConflict", presented, changed, err)
		}
		wrong := otherFingerprint(t, presented)
		if err := hk.ApproveHostKey(ctx, tgt, wrong); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("ApproveHostKey with %s, not the presented %s: err = %v; want ErrInvalid", wrong, presented, err)
		}
		if err := b.Provision(ctx, tgt); !errors.As(err, &untrusted) {
			t.Errorf("Provision after a refused approval: err = %v; want the key still untrusted", err)
		}
		if err := hk.ApproveHostKey(ctx, tgt, presented); err != nil {
			t.Fatalf("ApproveHostKey with the presented %s: %v", presented, err)
		}
		if tgt.Attach == nil || tgt.Attach.HostKeyFingerprint != presented {
			t.Errorf("after ApproveHostKey the target's pin is %+v; want %s", tgt.Attach, presented)
		}
		if err := b.Provision(ctx, tgt); err != nil {
			t.Fatalf("Provision after approving the presented key: %v", err)
		}
		h.completes(t, b, tgt, "the job after the approval", "trusted")
	})

	t.Run("ScaleSettings", func(t *testing.T) {
		pm := caps.ScaleSettings
		tgt := h.fixture(t, name, "ScaleSettings", pm != nil, "PowerSavingTarget", h.PowerSavingTarget)
		ctx := context.Background()
		status := func() compute.PowerStatus {
			t.Helper()
			ps, err := pm.PowerStatus(ctx, tgt)
			if err != nil {
				t.Fatalf("PowerStatus(%s): %v", tgt.Name, err)
			}
			return ps
		}
		ps := status()
		if ps.CloudNodes < 1 || !ps.Editable {
			t.Fatalf("PowerStatus of PowerSavingTarget %s = %+v; want power-saving nodes and editable settings", tgt.Name, ps)
		}
		if s := ps.Settings; s.MaxNodes < 1 || s.MaxNodes > ps.CloudNodes || s.MinNodes < 0 || s.MinNodes > s.MaxNodes {
			t.Errorf("PowerStatus settings %+v; want 0 ≤ min ≤ max ≤ %d power-saving nodes", s, ps.CloudNodes)
		}
		if n := ps.PoweredUp + ps.PoweringUp + ps.PoweredDown + ps.PoweringDown; n != ps.CloudNodes {
			t.Errorf("PowerStatus %+v counts %d nodes by power state; want each of the %d once", ps, n, ps.CloudNodes)
		}

		bad := ps.Settings
		bad.MaxNodes = 0
		err := pm.UpdateScale(ctx, tgt, bad)
		var v *compute.ValidationError
		if !errors.As(err, &v) || v.For(compute.FieldMaxNodes) == "" {
			t.Errorf("UpdateScale with MaxNodes 0: err = %v; want a *compute.ValidationError naming %s", err, compute.FieldMaxNodes)
		}
		if now := status(); now.Settings != ps.Settings {
			t.Errorf("after a refused UpdateScale the settings are %+v; want them unchanged, %+v", now.Settings, ps.Settings)
		}

		good := ps.Settings
		good.IdleSeconds++
		if err := pm.UpdateScale(ctx, tgt, good); err != nil {
			t.Fatalf("UpdateScale(%+v): %v", good, err)
		}
		waitUntil(t, h.timeout(), func() (bool, string) {
			now := status()
			return now.Settings == good, fmt.Sprintf("after UpdateScale(%+v), PowerStatus reads %+v", good, now.Settings)
		})
	})

	t.Run("Describe", func(t *testing.T) {
		d := caps.Describe
		if d == nil {
			t.Skipf("%s declares no Describe", name)
		}
		t.Parallel()
		ctx := context.Background()
		tgt := h.Target(t)
		version, parts, err := d.Describe(ctx, tgt)
		if err != nil {
			t.Fatalf("Describe(%s): %v", tgt.Name, err)
		}
		if version == "" || len(parts) == 0 {
			t.Fatalf("Describe(%s) = version %q, partitions %+v; want a version and at least one partition", tgt.Name, version, parts)
		}
		listed := map[string]bool{}
		for _, p := range parts {
			if p.Name == "" {
				t.Errorf("partition %+v has no name", p)
			}
			for _, n := range p.Nodes {
				listed[n] = true
			}
		}
		for _, n := range nodesOf(t, h.backend(), tgt) {
			if !listed[n.ID] {
				t.Errorf("node %s of %s is in none of the partitions Describe reports: %+v", n.ID, tgt.Name, parts)
			}
		}
	})

	t.Run("NodeSampling", func(t *testing.T) {
		ns := caps.NodeSampling
		if ns == nil {
			t.Skipf("%s declares no NodeSampling", name)
		}
		t.Parallel()
		tgt := h.Target(t)
		nodes := nodesOf(t, h.backend(), tgt)
		s, err := ns.NodeSample(context.Background(), tgt)
		if err != nil {
			t.Fatalf("NodeSample(%s): %v", tgt.Name, err)
		}
		if n := s.PoweredDown + s.Preparing + s.Idle + s.Busy + s.Unusable + s.Preempted; n < len(nodes) {
			t.Errorf("NodeSample(%s) = %+v counts %d nodes; Nodes lists %d", tgt.Name, s, n, len(nodes))
		}
	})
}

// checkClose checks Close last: on a separate backend value when the
// harness has Reopen, else on the backend under test once every subtest
// has ended.
func checkClose(t *testing.T, h Harness) {
	c := h.Registration.Capabilities.Close
	if c != nil && h.Reopen == nil {
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close of the backend under test, after the suite: %v", err)
			}
		})
	}
	t.Run("Close", func(t *testing.T) {
		if c == nil {
			t.Skipf("%s declares no Close", h.backend().Name())
		}
		if h.Reopen == nil {
			t.Skip("the harness has no Reopen: Close is checked on the backend under test when the suite ends")
		}
		t.Parallel()
		reg := h.Reopen()
		if reg.Capabilities.Close == nil {
			t.Fatalf("the registration from Reopen declares no Close, unlike Registration")
		}
		hd := h.submitTo(t, reg.Backend, h.Target(t), compute.JobSpec{Argv: h.prog(`print("closing")`, `echo closing`)})
		WaitPhase(t, reg.Backend, hd, compute.JobCompleted, h.timeout())
		if err := reg.Capabilities.Close.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// The server stopped cleanly; the next one still knows the job.
		next := h.Reopen().Backend
		if st := status(t, next, hd); st.Phase != compute.JobCompleted {
			t.Errorf("after Close, a new backend reports %+v; want Completed", st)
		}
		if got := ReadLogs(t, next, hd, 0); got != "closing\n" {
			t.Errorf("after Close, a new backend reads the log %q; want %q", got, "closing\n")
		}
	})
}

// waitDone is closed when the session's Wait returns.
func waitDone(s compute.Session) <-chan struct{} {
	done := make(chan struct{})
	go func() { _, _ = s.Wait(); close(done) }()
	return done
}

// served fails t unless the registration serves the target's kind.
func (h Harness) served(t *testing.T, tgt *compute.Target) {
	t.Helper()
	if !slices.Contains(h.Registration.Kinds, tgt.Kind) {
		t.Errorf("target %s is a %s, which %s does not serve (it serves %v)", tgt.Name, tgt.Kind, h.backend().Name(), h.Registration.Kinds)
	}
}

// stopMachine stops the machine of Target and returns a function that
// starts it again; calls after the first do nothing, so it can be deferred.
func (h Harness) stopMachine(t *testing.T) (start func()) {
	t.Helper()
	h.StopMachine(t)
	started := false
	return func() {
		if !started {
			started = true
			h.StartMachine(t)
		}
	}
}

// power carries out a on an instance as the controller does: the instance's
// state moves to the transitional one, Power runs, and the state settles.
func power(t *testing.T, pc compute.PowerController, tgt *compute.Target, a compute.PowerAction) {
	t.Helper()
	mid, err := compute.BeginPower(tgt.Instance.State, a)
	if err != nil {
		t.Fatalf("%s of %s: %v", a, tgt.Name, err)
	}
	tgt.Instance.State = mid
	if err := pc.Power(context.Background(), tgt, a); err != nil {
		t.Fatalf("Power(%s, %s): %v", tgt.Name, a, err)
	}
	end, _, err := compute.EndPower(mid)
	if err != nil {
		t.Fatal(err)
	}
	tgt.Instance.State = end
}

// waitUntil calls cond until it holds, and fails t with cond's account of
// what it saw once timeout (times Slack) has passed.
func waitUntil(t *testing.T, timeout time.Duration, cond func() (ok bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(timeout * Slack)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout*Slack, saw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEnded polls Status until the job has ended, whichever way.
func waitEnded(t *testing.T, b compute.Backend, h compute.Handle, timeout time.Duration) compute.JobState {
	t.Helper()
	var st compute.JobState
	waitUntil(t, timeout, func() (bool, string) {
		st = status(t, b, h)
		return st.Phase.Terminal(), fmt.Sprintf("job %s is still %+v; want it ended", h.ID, st)
	})
	return st
}

func nodesOf(t *testing.T, b compute.Backend, tgt *compute.Target) []compute.Node {
	t.Helper()
	nodes, err := b.Nodes(context.Background(), tgt)
	if err != nil {
		t.Fatalf("Nodes(%s): %v", tgt.Name, err)
	}
	return nodes
}

func validNodeState(s compute.NodeState) bool {
	switch s {
	case compute.NodePreparing, compute.NodeIdle, compute.NodeRunning, compute.NodeLeaving, compute.NodeUnusable, compute.NodePreempted:
		return true
	}
	return false
}

// otherFingerprint returns a well-formed SHA256 fingerprint that is not fp.
func otherFingerprint(t *testing.T, fp string) string {
	for {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if other := "SHA256:" + base64.RawStdEncoding.EncodeToString(b[:]); other != fp {
			return other
		}
	}
}

// completes runs a job on tgt that prints line and checks that it
// completes with that output; what names the job in the failure.
func (h Harness) completes(t *testing.T, b compute.Backend, tgt *compute.Target, what, line string) {
	t.Helper()
	hd := h.submitTo(t, b, tgt, compute.JobSpec{Argv: h.prog(`print(`+strconv.Quote(line)+`)`, `echo "$1"`, line)})
	WaitPhase(t, b, hd, compute.JobCompleted, h.timeout())
	if got := ReadLogs(t, b, hd, 0); got != line+"\n" {
		t.Errorf("%s printed %q, want %q", what, got, line+"\n")
	}
}

// fixture starts the parallel subtest of one capability: it skips when the
// backend does not declare it, fails when the harness gives no fixture for
// it (so no backend declares a capability and escapes its check), and
// returns the fixture's target, which the backend must serve.
func (h Harness) fixture(t *testing.T, backend, capability string, declared bool, fixture string, target func(*testing.T) *compute.Target) *compute.Target {
	t.Helper()
	if !declared {
		t.Skipf("%s declares no %s", backend, capability)
	}
	if target == nil {
		t.Fatalf("%s declares %s but the harness gives no %s", backend, capability, fixture)
	}
	t.Parallel()
	tgt := target(t)
	h.served(t, tgt)
	return tgt
}
