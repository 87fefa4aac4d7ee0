package computetest

import (
	"net"
	"slices"
	"strconv"
	"testing"
)

// TestReservePorts: reserved ports are distinct, lie below the ephemeral
// range and can be bound on every address.
func TestReservePorts(t *testing.T) {
	lo, hi, err := reservedRange()
	if err != nil {
		t.Fatal(err)
	}
	ports := ReservePortsT(t, 5)
	for i, p := range ports {
		if p < lo || p > hi {
			t.Errorf("port %d outside %d–%d", p, lo, hi)
		}
		if slices.Contains(ports[:i], p) {
			t.Errorf("port %d given twice", p)
		}
		l, err := net.Listen("tcp", "0.0.0.0:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("reserved port %d cannot be bound: %v", p, err)
			continue
		}
		l.Close()
	}
}

// TestReservationsDoNotShare: in a range of three ports, a second
// reservation gets only the port the first did not take, and the first's
// ports once it releases them. Lock files are per open file, so this holds
// between test binaries as it does here.
func TestReservationsDoNotShare(t *testing.T) {
	dir := t.TempDir()
	lo, hi := threeFreePorts(t)
	first, release, err := reserveIn(dir, lo, hi, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reserveIn(dir, lo, hi, 2); err == nil {
		t.Fatal("a second reservation of 2 got ports while the first held 2 of 3")
	}
	second, releaseSecond, err := reserveIn(dir, lo, hi, 1)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(first, second[0]) {
		t.Errorf("port %d reserved twice: %v and %v", second[0], first, second)
	}
	release()
	again, releaseAgain, err := reserveIn(dir, lo, hi, 2)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	releaseAgain()
	releaseSecond()
	slices.Sort(first)
	slices.Sort(again)
	if !slices.Equal(first, again) {
		t.Errorf("after release got %v, want the released %v", again, first)
	}
}

// threeFreePorts finds three consecutive ports of the reserved range that
// nothing listens on.
func threeFreePorts(t *testing.T) (lo, hi int) {
	rlo, rhi, err := reservedRange()
	if err != nil {
		t.Fatal(err)
	}
	for p := rlo; p+2 <= rhi; p += 3 {
		if bindable(p) && bindable(p+1) && bindable(p+2) {
			return p, p + 2
		}
	}
	t.Fatal("no three free ports in a row below the ephemeral range")
	return 0, 0
}
