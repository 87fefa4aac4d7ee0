package compute

import (
	"errors"
	"net/netip"
	"testing"
)

// TestNeverContacted: link-local and cloud metadata addresses are refused
// by every policy, in every spelling that reaches them.
func TestNeverContacted(t *testing.T) {
	var p *NetPolicy
	for _, tc := range []struct {
		addr    string
		refused bool
	}{
		{"169.254.169.254", true},
		{"169.254.0.0", true},
		{"169.254.255.255", true},
		{"169.253.255.255", false},
		{"169.255.0.0", false},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"febf:ffff::1", true},
		{"fec0::1", false},
		{"fd00:ec2::254", true},
		{"fd00:ec2::253", false},
		{"::ffff:169.254.169.254", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b::a00:1", false},
		{"127.0.0.1", false},
		{"10.0.0.4", false},
	} {
		err := p.Allowed(netip.MustParseAddr(tc.addr))
		if (err != nil) != tc.refused {
			t.Errorf("Allowed(%s) = %v, want refused %v", tc.addr, err, tc.refused)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("Allowed(%s): %v is not ErrForbidden", tc.addr, err)
		}
	}
}

// TestDialControl: the dialer's check names the address and port it refused.
func TestDialControl(t *testing.T) {
	var p *NetPolicy
	for addr, want := range map[string]string{
		"169.254.169.254:80": "connecting to 169.254.169.254:80 was refused: it is in 169.254.0.0/16 (link-local, where clouds serve instance metadata), which Trainyard never contacts",
		"[fe80::1%lo]:22":    "connecting to [fe80::1%lo]:22 was refused: it is in fe80::/10 (link-local, where clouds serve instance metadata), which Trainyard never contacts",
		"not-an-address":     "connecting to not-an-address was refused: it is not an IP address and port",
		"127.0.0.1:22":       "",
	} {
		err := p.DialControl("tcp", addr, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("DialControl(%s) = %q, want %q", addr, got, want)
		}
	}
}
