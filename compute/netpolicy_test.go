package compute

import (
	"context"
	"errors"
	"net/netip"
	"strings"
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

func TestParseNetPolicy(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: DefaultAttachNetworks, want: DefaultAttachNetworks},
		{in: " 10.0.0.0/8 , 192.168.1.0/24 ", want: "10.0.0.0/8,192.168.1.0/24"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3", want: "10.1.2.3/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "2001:db8::1/32", want: "2001:db8::/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "0.0.0.0/0,::/0", want: "0.0.0.0/0,::/0"},
		{in: "", err: "an entry is empty"},
		{in: "10.0.0.0/8,", err: "an entry is empty"},
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a network`},
		{in: "fe80::1%eth0", err: `"fe80::1%eth0" is not a network`},
		{in: "fe80::/10%eth0", err: "is not a network"},
		{in: "example.com", err: `"example.com" is not a network`},
		{in: "10.0.0.0/8;192.168.0.0/16", err: "is not a network"},
		{in: "::ffff:0:0/95", err: "wider than the IPv4-mapped range"},
		{in: strings.Repeat("10.0.0.0/8,", maxNetworks) + "10.0.0.0/8", err: "more than 1000 networks"},
	} {
		p, err := ParseNetPolicy(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseNetPolicy(%.40q): %v, want an error with %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseNetPolicy(%q): %v", tc.in, err)
		case p.String() != tc.want:
			t.Errorf("ParseNetPolicy(%q) = %s, want %s", tc.in, p, tc.want)
		}
	}
}

// TestAllowedByPolicy: the default allows loopback and private ranges only;
// an Admin's list replaces it; link-local stays refused under any list.
func TestAllowedByPolicy(t *testing.T) {
	def := DefaultNetPolicy()
	narrow, _ := ParseNetPolicy("10.1.0.0/16")
	all, _ := ParseNetPolicy("0.0.0.0/0,::/0")
	for _, tc := range []struct {
		p       *NetPolicy
		addr    string
		allowed bool
	}{
		{def, "127.0.0.1", true},
		{def, "127.255.255.254", true},
		{def, "::1", true},
		{def, "::ffff:127.0.0.1", true},
		{def, "10.0.0.4", true},
		{def, "172.16.0.1", true},
		{def, "172.31.255.255", true},
		{def, "172.32.0.1", false},
		{def, "192.168.1.10", true},
		{def, "fd12:3456::1", true},
		{def, "fc00::1", true},
		{def, "8.8.8.8", false},
		{def, "2001:4860::8888", false},
		{def, "0.0.0.0", false},
		{def, "::", false},
		{def, "100.100.100.200", false}, // Alibaba's metadata, in CGNAT space
		{def, "169.254.169.254", false},
		{def, "fd00:ec2::254", false}, // inside fc00::/7, still never contacted
		{narrow, "10.1.2.3", true},
		{narrow, "10.2.0.1", false},
		{narrow, "127.0.0.1", false},
		{all, "8.8.8.8", true},
		{all, "2001:4860::8888", true},
		{all, "169.254.169.254", false},
		{all, "fe80::1", false},
	} {
		err := tc.p.Allowed(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.allowed {
			t.Errorf("%s allows %s: %v, want %v", tc.p, tc.addr, err, tc.allowed)
		}
	}
	err := def.Allowed(netip.MustParseAddr("8.8.8.8"))
	want := "connecting to 8.8.8.8 was refused: it is outside the networks attached compute may be in (127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7); an Admin can change them with trainyard serve --attach-networks"
	if err == nil || err.Error() != want {
		t.Errorf("refusal %q, want %q", err, want)
	}
}

// TestCheckHost: attach judges an address at once and a name by what it
// resolves to now; a name that does not resolve is left to the connection.
func TestCheckHost(t *testing.T) {
	ctx := context.Background()
	narrow, _ := ParseNetPolicy("10.0.0.0/8")
	for _, tc := range []struct {
		p    *NetPolicy
		host string
		want string // "" = allowed; else in the error
	}{
		{DefaultNetPolicy(), "127.0.0.1", ""},
		{DefaultNetPolicy(), "[::1]", ""},
		{DefaultNetPolicy(), "8.8.8.8", "8.8.8.8 was refused: it is outside"},
		{DefaultNetPolicy(), "169.254.169.254", "never contacts"},
		{DefaultNetPolicy(), "localhost", ""},
		{narrow, "localhost", "connecting to localhost ("},
		{narrow, "name-that-does-not-resolve.invalid", ""},
	} {
		err := tc.p.CheckHost(ctx, tc.host)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: CheckHost(%s) = %v", tc.p, tc.host, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: CheckHost(%s) = %v, want %q", tc.p, tc.host, err, tc.want)
		}
	}
}

// FuzzParseNetPolicy: any text either is refused or gives a policy whose
// String reads back to the same policy, with every network masked.
func FuzzParseNetPolicy(f *testing.F) {
	for _, s := range []string{DefaultAttachNetworks, "10.0.0.0/8", "10.1.2.3", "::ffff:10.0.0.0/104", "fe80::1%eth0", "", ",", "0.0.0.0/0,::/0", "1.2.3.4/33", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseNetPolicy(s)
		if err != nil {
			return
		}
		again, err := ParseNetPolicy(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("%q → %q → %v %v", s, p.String(), again, err)
		}
		for _, n := range p.nets {
			if n != n.Masked() || n.Addr().Zone() != "" || n.Addr().Is4In6() {
				t.Fatalf("%q: network %s is not clean", s, n)
			}
			_ = p.Allowed(n.Addr())
		}
	})
}
