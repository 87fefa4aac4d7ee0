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

// TestAttachNetworksAtConnect: an address outside the Admin's networks is
// refused when the connection is made, even when a name leads there.
func TestAttachNetworksAtConnect(t *testing.T) {
	tenOnly, err := compute.ParseNetPolicy("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	b := New(Config{Credentials: noCredentials, DialTimeout: 5 * time.Second, AttachNetworks: tenOnly})
	defer b.Close()
	for _, addr := range []string{"127.0.0.1", "localhost", "8.8.8.8"} {
		err := b.Provision(context.Background(), policyVM(addr, "SHA256:pinned"))
		if !errors.Is(err, compute.ErrForbidden) || !strings.Contains(err.Error(), "outside the networks attached compute may be in (10.0.0.0/8)") {
			t.Errorf("%s: %v, want the address refused", addr, err)
		}
	}
	// Without a policy the default (loopback and private ranges) applies.
	b2 := New(Config{Credentials: noCredentials, DialTimeout: 5 * time.Second})
	defer b2.Close()
	if err := b2.Provision(context.Background(), policyVM("192.0.2.1", "")); !errors.Is(err, compute.ErrForbidden) || !strings.Contains(err.Error(), "192.168.0.0/16") {
		t.Errorf("default policy, TEST-NET address: %v", err)
	}
}
