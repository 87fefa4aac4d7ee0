package compute

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
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

// DefaultAttachNetworks are the networks attached compute may be in unless
// an Admin says otherwise (trainyard serve --attach-networks): loopback and
// the private ranges, where on-premises clusters and VMs live.
const DefaultAttachNetworks = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

// maxNetworks bounds a policy's list; a longer one is a mistake.
const maxNetworks = 1000

// NetPolicy decides which addresses the server may connect to for attached
// compute: those in its networks, except the never-contacted ones. The nil
// policy allows every address that is not never-contacted (link-local and
// cloud metadata).
type NetPolicy struct {
	nets []netip.Prefix
}

// ParseNetPolicy reads a comma-separated list of networks in CIDR notation
// (10.0.0.0/8, fd00::/8); a bare address stands for itself. Host bits are
// dropped (10.1.2.3/8 is 10.0.0.0/8). 0.0.0.0/0,::/0 allows every address
// that is not never-contacted.
func ParseNetPolicy(s string) (*NetPolicy, error) {
	p := &NetPolicy{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("attach networks %q: an entry is empty; give networks such as 10.0.0.0/8,192.168.1.0/24 separated by commas", s)
		}
		var (
			n   netip.Prefix
			err error
		)
		if strings.Contains(f, "/") {
			n, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil {
				if a.Zone() != "" {
					err = errors.New("a zone has no place in a network")
				}
				n = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("attach networks: %q is not a network in CIDR notation such as 10.0.0.0/8 or fd00::/8", f)
		}
		if n.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8; addresses are judged unmapped.
			if n.Bits() < 96 {
				return nil, fmt.Errorf("attach networks: %q is wider than the IPv4-mapped range; write the IPv4 network instead", f)
			}
			n = netip.PrefixFrom(n.Addr().Unmap(), n.Bits()-96)
		}
		if len(p.nets) == maxNetworks {
			return nil, fmt.Errorf("attach networks: more than %d networks", maxNetworks)
		}
		p.nets = append(p.nets, n.Masked())
	}
	return p, nil
}

// DefaultNetPolicy is the policy of DefaultAttachNetworks.
func DefaultNetPolicy() *NetPolicy {
	p, err := ParseNetPolicy(DefaultAttachNetworks)
	if err != nil {
		panic(err)
	}
	return p
}

// String lists the policy's networks as ParseNetPolicy reads them.
func (p *NetPolicy) String() string {
	if p == nil {
		return "0.0.0.0/0,::/0"
	}
	parts := make([]string, len(p.nets))
	for i, n := range p.nets {
		parts[i] = n.String()
	}
	return strings.Join(parts, ",")
}

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
	if p == nil {
		return nil
	}
	for _, n := range p.nets {
		if n.Contains(ip) {
			return nil
		}
	}
	return &AddressRefusedError{Address: ip.String(),
		Reason: "it is outside the networks attached compute may be in (" + strings.ReplaceAll(p.String(), ",", ", ") +
			"); an Admin can change them with trainyard serve --attach-networks"}
}

// lookupTimeout bounds CheckHost's DNS lookup.
const lookupTimeout = 3 * time.Second

// CheckHost judges an attach target's host before anything connects to it:
// an IP address must be allowed; a name is looked up and every address it
// has now must be allowed. A name that does not resolve here passes (the
// machine may be reachable only later): every connection is checked again
// when it is made (DialControl).
func (p *NetPolicy) CheckHost(ctx context.Context, host string) error {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return p.Allowed(a)
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if e := p.refuse(a); e != nil {
			e.Address = host + " (" + e.Address + ")"
			return e
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
