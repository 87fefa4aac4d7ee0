package sshvm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/trainyard/trainyard/compute"
)

// HostKeys keeps the SSH host key fingerprint pinned for each target (trust
// on first use, approved by an operator). The server backs it with its store;
// MemHostKeys is an in-memory one for tests and tools.
type HostKeys interface {
	// Pinned returns the approved SHA256 fingerprint of a target's host key,
	// or "" when none has been approved.
	Pinned(ctx context.Context, target string) (string, error)
	// Pending records the fingerprint a target presented while none was
	// pinned, so the UI and CLI can show it for approval.
	Pending(ctx context.Context, target, fingerprint string) error
	// Approve pins a fingerprint for a target, replacing any earlier one.
	Approve(ctx context.Context, target, fingerprint string) error
}

// MemHostKeys is a HostKeys held in memory. The zero value is ready to use.
type MemHostKeys struct {
	mu      sync.Mutex
	pinned  map[string]string
	pending map[string]string
}

// Pinned implements HostKeys.
func (m *MemHostKeys) Pinned(_ context.Context, target string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pinned[target], nil
}

// Pending implements HostKeys.
func (m *MemHostKeys) Pending(_ context.Context, target, fp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]string{}
	}
	m.pending[target] = fp
	return nil
}

// PendingFor returns the fingerprint last recorded as pending for a target.
func (m *MemHostKeys) PendingFor(target string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[target]
}

// Approve implements HostKeys.
func (m *MemHostKeys) Approve(_ context.Context, target, fp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pinned == nil {
		m.pinned = map[string]string{}
	}
	m.pinned[target] = fp
	delete(m.pending, target)
	return nil
}

// UnknownHostKeyError means no fingerprint is pinned for the target yet. The
// connection was abandoned during key exchange, before any credential was
// sent. Fingerprint is what the host presented, for an operator to approve.
// It matches compute.ErrConflict: the target waits for an approval.
type UnknownHostKeyError struct {
	Address     string
	KeyType     string
	Fingerprint string
}

// Error words the problem and the fingerprint to approve.
func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("the host key of %s is not approved yet: it presented %s key %s; compare it with `ssh-keygen -lf` on the VM and approve it",
		e.Address, e.KeyType, e.Fingerprint)
}

// Is makes errors.Is(err, compute.ErrConflict) true.
func (e *UnknownHostKeyError) Is(target error) bool { return target == compute.ErrConflict }

// HostKeyPresented implements compute.UntrustedHostKey.
func (e *UnknownHostKeyError) HostKeyPresented() (string, bool) { return e.Fingerprint, false }

// HostKeyChangedError means the host presented a key other than the pinned
// one: a reinstalled VM, or a man in the middle. No credential was sent and
// every operation on the target fails until an operator approves the new
// key. It matches compute.ErrConflict.
type HostKeyChangedError struct {
	Address string
	Want    string // the pinned fingerprint
	Got     string // the presented one
	KeyType string
}

// Error warns that the key changed and names both fingerprints.
func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("WARNING: the host key of %s has changed (pinned %s, presented %s key %s); all work on this target is refused until an operator approves the new key",
		e.Address, e.Want, e.KeyType, e.Got)
}

// Is makes errors.Is(err, compute.ErrConflict) true.
func (e *HostKeyChangedError) Is(target error) bool { return target == compute.ErrConflict }

// HostKeyPresented implements compute.UntrustedHostKey.
func (e *HostKeyChangedError) HostKeyPresented() (string, bool) { return e.Got, true }

var (
	_ compute.UntrustedHostKey = (*UnknownHostKeyError)(nil)
	_ compute.UntrustedHostKey = (*HostKeyChangedError)(nil)
)

// errStopAfterKex aborts a probe connection once the host key is seen.
var errStopAfterKex = errors.New("sshvm: host key recorded; connection abandoned before authentication")

// hostKeyCallback returns a callback that accepts only the pinned
// fingerprint. With no pin it records the key and aborts the handshake.
func hostKeyCallback(addr, pinned string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		fp := ssh.FingerprintSHA256(key)
		switch {
		case pinned == "":
			return &UnknownHostKeyError{Address: addr, KeyType: key.Type(), Fingerprint: fp}
		case fp != pinned:
			return &HostKeyChangedError{Address: addr, Want: pinned, Got: fp, KeyType: key.Type()}
		}
		return nil
	}
}

// Probe connects to addr ("host:port") if policy allows its address,
// completes the key exchange and returns the host key's SHA256 fingerprint
// ("SHA256:...") and type, without offering any credential. Use it to show
// a key for approval.
func Probe(ctx context.Context, addr string, timeout time.Duration, policy *compute.NetPolicy) (fingerprint, keyType string, err error) {
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	var mu sync.Mutex
	var seen ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "trainyard-probe",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			mu.Lock()
			seen = key
			mu.Unlock()
			return errStopAfterKex
		},
		Timeout: timeout,
	}
	nc, err := dialTCP(ctx, addr, timeout, policy)
	if err != nil {
		return "", "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(timeout))
	_, _, _, err = ssh.NewClientConn(nc, addr, cfg)
	mu.Lock()
	defer mu.Unlock()
	if seen == nil {
		if err == nil {
			err = errors.New("no host key was presented")
		}
		return "", "", fmt.Errorf("reading the host key of %s: %w: %w", addr, err, compute.ErrUnavailable)
	}
	return ssh.FingerprintSHA256(seen), seen.Type(), nil
}

// NormalizeFingerprint accepts "SHA256:xxx" or bare "xxx" (as printed by
// ssh-keygen -l, without padding) and returns the "SHA256:xxx" form.
func NormalizeFingerprint(fp string) string {
	fp = strings.TrimSpace(fp)
	fp = strings.TrimRight(strings.TrimPrefix(fp, "SHA256:"), "=")
	if fp == "" {
		return ""
	}
	return "SHA256:" + fp
}

// dialTCP connects to addr. policy's check runs at connect time, for each
// address the host name resolved to, so no name can lead the server to an
// address the policy refuses. A refused address is not ErrUnavailable: no
// retry will reach it.
func dialTCP(ctx context.Context, addr string, timeout time.Duration, policy *compute.NetPolicy) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second, Control: policy.DialControl}
	nc, err := d.DialContext(ctx, "tcp", addr)
	var refused *compute.AddressRefusedError
	switch {
	case errors.As(err, &refused):
		return nil, fmt.Errorf("%s: %w", addr, refused)
	case err != nil:
		return nil, fmt.Errorf("connecting to %s: %w: %w", addr, err, compute.ErrUnavailable)
	}
	// A machine on this host that stopped listening on a port in the
	// ephemeral range can be "reached" by a TCP self-connect: the kernel
	// picks that very port as the source and the socket meets itself. The
	// machine is down, not back.
	if nc.LocalAddr().String() == nc.RemoteAddr().String() {
		nc.Close()
		return nil, fmt.Errorf("connecting to %s: nothing listens there (the connection met itself): %w", addr, compute.ErrUnavailable)
	}
	return nc, nil
}
