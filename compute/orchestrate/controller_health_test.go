package orchestrate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// healthy is an SSH-like backend whose machines answer or not, per target;
// a machine named "hangs" never answers until the probe's context ends.
type healthy struct {
	compute.Backend
	mu     sync.Mutex
	down   map[string]bool
	probes map[string]int
}

// Name sets it apart from the local backend it wraps.
func (b *healthy) Name() string { return "ssh" }

func (b *healthy) Provision(ctx context.Context, t *compute.Target) error {
	if t.Name == "hangs" {
		return nil // it hangs from then on
	}
	_, err := b.CheckHealth(ctx, t)
	return err
}

func (b *healthy) CheckHealth(ctx context.Context, t *compute.Target) (string, error) {
	b.mu.Lock()
	b.probes[t.Name]++
	down := b.down[t.Name]
	b.mu.Unlock()
	if t.Name == "hangs" {
		<-ctx.Done()
		return "", fmt.Errorf("probing %s: %w: %w", t.Name, ctx.Err(), compute.ErrUnavailable)
	}
	if down {
		return "", fmt.Errorf("connecting to %s: connection refused: %w", t.Name, compute.ErrUnavailable)
	}
	return "Linux; python3 3.13; 2 CPUs", nil
}

func (b *healthy) set(name string, down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[name] = down
}

func (b *healthy) count(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.probes[name]
}

// TestControllerHealthProbes: an attached VM whose machine stops answering
// shows Unusable with the last error and recovers by itself; one that failed
// its first check because the machine was away is checked again when it
// answers; a machine that hangs delays no other target's probe; a reported
// lost connection marks the target at once and probes it right away.
func TestControllerHealthProbes(t *testing.T) {
	e := newEnv(t)
	vm := &healthy{Backend: e.be, down: map[string]bool{}, probes: map[string]int{}}
	c := orchestrate.NewController(orchestrate.ControllerConfig{
		Store: e.cs, Interval: tick, HealthInterval: 50 * time.Millisecond, HealthTimeout: time.Hour,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Backends: e.backends(compute.Registration{Backend: vm, Kinds: []compute.Kind{compute.KindVirtualMachine},
			Capabilities: compute.Capabilities{Health: vm}}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	vm.set("away", true)
	for _, name := range []string{"vm1", "hangs", "away"} {
		create(t, e.st, &compute.CreateRequest{Name: name, Kind: compute.KindVirtualMachine,
			Attach:  &compute.AttachSpec{Address: name + ".example", SSHPort: 22, UserName: "u", HostKeyFingerprint: "SHA256:x"},
			Secrets: map[string]string{compute.SecretPassword: "pw"}})
	}
	c.Kick()
	waitTarget(t, e.st, "vm1", "to be attached", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningSucceeded })
	away := waitTarget(t, e.st, "away", "to fail its check", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningFailed })
	// Failed, and told that the attach completes by itself when the
	// machine answers (compute.StoryOf: one story, as the API says).
	if !away.Attach.Unreachable || compute.DisplayState(away) != string(compute.ProvisioningFailed) ||
		!strings.Contains(compute.StoryOf(away).NextStep, "completes the attach by itself") {
		t.Fatalf("away after its first check: %s", describe(away))
	}

	tests := []struct {
		name   string
		change func()
		want   func(*compute.Target) bool
		what   string
	}{
		{"machine goes away", func() { vm.set("vm1", true) }, func(t *compute.Target) bool {
			return t.Attach.Unreachable && compute.DisplayState(t) == compute.StateUnusable && t.ProvisioningState == compute.ProvisioningSucceeded &&
				strings.Contains(t.Attach.StatusMessage, "connection refused")
		}, "to be Unusable with the error"},
		{"machine comes back", func() { vm.set("vm1", false) }, func(t *compute.Target) bool {
			return !t.Attach.Unreachable && compute.DisplayState(t) == string(compute.ProvisioningSucceeded) && strings.Contains(t.Attach.StatusMessage, "python3")
		}, "to be usable again"},
		{"lost connection reported", func() {
			vm.set("vm1", true)
			c.ReportUnreachable(context.Background(), "vm1", errors.New("lost the connection: EOF"))
		}, func(t *compute.Target) bool { return t.Attach.Unreachable }, "to be Unusable at once"},
		{"back after the report", func() { vm.set("vm1", false) }, func(t *compute.Target) bool { return !t.Attach.Unreachable }, "to recover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			waitTarget(t, e.st, "vm1", tc.what, tc.want)
		})
	}

	// The hanging machine's probe never ends, yet vm1 was probed many times.
	if n := vm.count("hangs"); n != 1 {
		t.Errorf("hangs probed %d times, want 1 (one probe in flight at a time)", n)
	}
	// vm1 went away and came back twice while hangs' probe was stuck: that
	// took at least three probes of vm1 (the report made it Unusable at
	// once), however slowly a loaded machine ran them.
	if n := vm.count("vm1"); n < 3 {
		t.Errorf("vm1 probed %d times while hangs' probe hung, want at least 3", n)
	}

	// The machine that was away at attach: checked in full when it answers.
	vm.set("away", false)
	away = waitTarget(t, e.st, "away", "to be attached after all", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningSucceeded })
	if away.Attach.Unreachable || !away.Attach.Checked {
		t.Fatalf("away after it answered: %s", describe(away))
	}
}
