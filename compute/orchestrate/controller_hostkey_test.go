package orchestrate_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/orchestrate"
)

// hostKeyErr is a backend's untrusted host key, as compute/sshvm returns it.
type hostKeyErr struct {
	fp      string
	changed bool
}

func (e *hostKeyErr) Error() string                    { return "the host key " + e.fp + " is not trusted" }
func (e *hostKeyErr) Is(target error) bool             { return target == compute.ErrConflict }
func (e *hostKeyErr) HostKeyPresented() (string, bool) { return e.fp, e.changed }

// sshLike is a backend whose Provision meets an untrusted host key.
type sshLike struct {
	compute.Backend
	err        atomic.Pointer[hostKeyErr]
	provisions atomic.Int64
}

// Name sets it apart from the local backend it wraps.
func (b *sshLike) Name() string { return "ssh" }

func (b *sshLike) Provision(context.Context, *compute.Target) error {
	b.provisions.Add(1)
	if e := b.err.Load(); e != nil {
		return e
	}
	return nil
}

// TestControllerUntrustedHostKey: a first host key leaves an attached VM
// Unknown with the key pending approval, and the controller does not knock on
// the machine again meanwhile; a changed key makes the target Failed with the
// warning.
func TestControllerUntrustedHostKey(t *testing.T) {
	e := newEnv(t)
	vm := &sshLike{Backend: e.be}
	vm.err.Store(&hostKeyErr{fp: "SHA256:first"})
	c := orchestrate.NewController(orchestrate.ControllerConfig{
		Store: e.cs, Interval: tick, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Backends: e.backends(compute.Registration{Backend: vm, Kinds: []compute.Kind{compute.KindVirtualMachine}}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	create(t, e.st, &compute.CreateRequest{Name: "vm1", Kind: compute.KindVirtualMachine,
		Attach: &compute.AttachSpec{Address: "127.0.0.1", SSHPort: 22, UserName: "u"}, Secrets: map[string]string{compute.SecretPassword: "pw"}})
	c.Kick()
	tg := waitTarget(t, e.st, "vm1", "to wait for approval", func(t *compute.Target) bool { return t.ProvisioningState != compute.ProvisioningCreating })
	if tg.ProvisioningState != compute.ProvisioningUnknown || tg.Attach.PendingHostKeyFingerprint != "SHA256:first" || tg.Attach.Checked ||
		!strings.Contains(tg.Attach.StatusMessage, "approve-host-key -n vm1 --fingerprint SHA256:first") || len(tg.ProvisioningErrors) != 0 {
		t.Fatalf("after the first key: %s %+v %q", tg.ProvisioningState, tg.Attach, tg.ProvisioningErrors)
	}
	time.Sleep(10 * tick)
	if n := vm.provisions.Load(); n != 1 {
		t.Fatalf("Provision called %d times while the key waits for approval, want 1", n)
	}

	// An operator approves (the handler pins the key and sets Creating);
	// the machine then presents another key.
	vm.err.Store(&hostKeyErr{fp: "SHA256:second", changed: true})
	if _, err := e.st.UpdateTarget(context.Background(), "vm1", func(t *compute.Target) error {
		t.Attach.HostKeyFingerprint, t.Attach.PendingHostKeyFingerprint = "SHA256:first", ""
		t.ProvisioningState = compute.ProvisioningCreating
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.Kick()
	tg = waitTarget(t, e.st, "vm1", "to refuse the changed key", func(t *compute.Target) bool { return t.ProvisioningState != compute.ProvisioningCreating })
	if tg.ProvisioningState != compute.ProvisioningFailed || tg.Attach.PendingHostKeyFingerprint != "SHA256:second" || tg.Attach.HostKeyFingerprint != "SHA256:first" ||
		len(tg.ProvisioningErrors) != 1 || !strings.HasPrefix(tg.ProvisioningErrors[0], "host key changed: approve the new fingerprint SHA256:second") {
		t.Fatalf("after the changed key: %s %+v %q", tg.ProvisioningState, tg.Attach, tg.ProvisioningErrors)
	}

	// A run's submit meeting a changed key on a Succeeded target: RefuseHostKey.
	vm.err.Store(nil)
	if _, err := e.st.UpdateTarget(context.Background(), "vm1", func(t *compute.Target) error {
		t.Attach.HostKeyFingerprint, t.Attach.PendingHostKeyFingerprint = "SHA256:second", ""
		t.ProvisioningState = compute.ProvisioningCreating
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.Kick()
	waitTarget(t, e.st, "vm1", "to be usable", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningSucceeded })
	if err := c.RefuseHostKey(context.Background(), "vm1", &hostKeyErr{fp: "SHA256:third", changed: true}); err != nil {
		t.Fatal(err)
	}
	tg = get(t, e.st, "vm1")
	if tg.ProvisioningState != compute.ProvisioningFailed || tg.Attach.PendingHostKeyFingerprint != "SHA256:third" || !strings.Contains(tg.Attach.StatusMessage, "host key changed") {
		t.Fatalf("after RefuseHostKey: %s %+v", tg.ProvisioningState, tg.Attach)
	}
}
