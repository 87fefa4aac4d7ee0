package compute

import (
	"fmt"
	"net/netip"
	"syscall"
)

// Outbound connections to attached compute (SSH to VMs, slurmrestd) are
// deliberate: the address a connection is about to use is checked when it
// is made, after DNS, so a name that resolves somewhere it should not is
// refused as surely as the address itself (docs/design/security.md §6.5).

// neverContacted are the addresses the server never connects to, whatever
// else is allowed: link-local networks, where clouds serve instance metadata
// and the machine's credentials (169.254.169.254 on Azure, AWS and GCP;
// fd00:ec2::254 on AWS over IPv6).
var neverContacted = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its addresses reach the
// IPv4 address in their last 32 bits, so they are judged as that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// AddressRefusedError is a connection the server refused to make. It
// matches ErrForbidden: no retry helps until the address or the policy
// changes.
type AddressRefusedError struct {
	Address string // the address (with its port, at connect time)
	Reason  string
}

func (e *AddressRefusedError) Error() string {
	return "connecting to " + e.Address + " was refused: " + e.Reason
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *AddressRefusedError) Is(target error) bool { return target == ErrForbidden }

// NetPolicy decides which addresses the server may connect to for attached
// compute. The nil policy refuses only the addresses that are never
// contacted (link-local and cloud metadata).
type NetPolicy struct{}

// Allowed returns nil when the server may connect to ip, else an
// *AddressRefusedError saying why.
func (p *NetPolicy) Allowed(ip netip.Addr) error {
	if e := p.refuse(ip); e != nil {
		return e
	}
	return nil
}

func (p *NetPolicy) refuse(ip netip.Addr) *AddressRefusedError {
	ip = ip.WithZone("").Unmap() // a zone or a v4-mapped form must not hide the address
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, n := range neverContacted {
		if n.Contains(ip) {
			return &AddressRefusedError{Address: ip.String(),
				Reason: fmt.Sprintf("it is in %s (link-local, where clouds serve instance metadata), which Trainyard never contacts", n)}
		}
	}
	return nil
}

// DialControl is a net.Dialer Control function: it refuses, before the
// connection is made, every address Allowed refuses. The dialer calls it for
// each address a name resolved to.
func (p *NetPolicy) DialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressRefusedError{Address: address, Reason: "it is not an IP address and port"}
	}
	if e := p.refuse(ap.Addr()); e != nil {
		e.Address = address
		return e
	}
	return nil
}
