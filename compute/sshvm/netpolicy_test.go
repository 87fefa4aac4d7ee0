package sshvm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func policyVM(addr, pin string) *compute.Target {
	return &compute.Target{Name: "vm1", Kind: compute.KindVirtualMachine,
		Attach: &compute.AttachSpec{Address: addr, SSHPort: 22, UserName: "azureuser", HostKeyFingerprint: pin}}
}

func noCredentials(context.Context, string) (string, string, string, error) {
	return "", "", "", errors.New("no credential may be asked for a refused address")
}

// TestLinkLocalIsNeverDialled: cloud metadata and link-local addresses are
// refused when the connection is made — while reading the host key of a
// new machine and when connecting with a pinned one — before any packet.
func TestLinkLocalIsNeverDialled(t *testing.T) {
	b := New(Config{Credentials: noCredentials, DialTimeout: 5 * time.Second})
	defer b.Close()
	for _, addr := range []string{"169.254.169.254", "169.254.10.10", "fe80::1%lo", "fd00:ec2::254", "::ffff:169.254.169.254"} {
		for _, pin := range []string{"", "SHA256:pinned"} {
			start := time.Now()
			err := b.Provision(context.Background(), policyVM(addr, pin))
			var refused *compute.AddressRefusedError
			if !errors.As(err, &refused) || !errors.Is(err, compute.ErrForbidden) || errors.Is(err, compute.ErrUnavailable) ||
				!strings.Contains(err.Error(), "never contacts") {
				t.Errorf("%s (pin %q): %v, want the address refused", addr, pin, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: refused after %s; it must be refused before connecting", addr, d)
			}
		}
	}
}
