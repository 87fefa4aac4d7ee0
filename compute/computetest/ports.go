package computetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Ports for daemons a test starts later, or stops and starts again (a Slurm
// cluster's power-saving nodes, whose slurmd binds its port only when the
// node powers up; an sshd restarted mid-run).
//
// Picking a port with a listener on port 0 and closing it, as these tests
// once did, leaves it free for anyone: the kernel hands out the same range
// to every other listen on port 0 and every outgoing connection of the
// whole test run, so now and then another test took the port first and the
// daemon never came up (a cloud node stayed powered down for the two
// minutes a test waited). Ports below the kernel's ephemeral range are never
// handed out that way; a lock file per port keeps test binaries that run
// side by side (go test runs packages in parallel) from picking the same
// one. The lock is an flock: it goes with the process, so a test that
// crashes leaves nothing claimed.

// reservedSpan is how many ports below the ephemeral range are used.
const reservedSpan = 8000

// ReservePorts claims n TCP ports that are free on every address and lie
// below the ephemeral range; release gives them back. It needs no
// testing.TB, for clusters a TestMain starts.
func ReservePorts(n int) (ports []int, release func(), err error) {
	lo, hi, err := reservedRange()
	if err != nil {
		return nil, nil, err
	}
	return reserveIn(portsDir(), lo, hi, n)
}

// reserveIn claims n ports of lo–hi, with lock files in dir, starting the
// search at a random port so that reservations seldom contend.
func reserveIn(dir string, lo, hi, n int) (ports []int, release func(), err error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, nil, fmt.Errorf("reserving ports: %w", err)
	}
	_ = os.Chmod(dir, 0o1777) // other users' test runs lock here too
	var locks []*os.File
	release = func() {
		for _, f := range locks {
			f.Close() // drops the flock
		}
	}
	span := hi - lo + 1
	first := rand.IntN(span)
	for i := 0; i < span && len(ports) < n; i++ {
		port := lo + (first+i)%span
		f, ok := lockPort(dir, port)
		if !ok {
			continue
		}
		if !bindable(port) {
			f.Close()
			continue
		}
		locks = append(locks, f)
		ports = append(ports, port)
	}
	if len(ports) < n {
		release()
		return nil, nil, fmt.Errorf("reserving ports: only %d of %d free in %d–%d", len(ports), n, lo, hi)
	}
	return ports, release, nil
}

// ReservePortsT is ReservePorts for a test: the ports are released when it ends.
func ReservePortsT(t testing.TB, n int) []int {
	t.Helper()
	ports, release, err := ReservePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return ports
}

// portsDir holds the lock files, one per reserved port.
func portsDir() string { return filepath.Join(os.TempDir(), "trainyard-test-ports") }

// reservedRange is the reservedSpan ports just below the kernel's ephemeral
// range, and never below 1024.
func reservedRange() (lo, hi int, err error) {
	ephemeralLow := 32768 // the kernel's default
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				ephemeralLow = v
			}
		}
	}
	hi = ephemeralLow - 1
	lo = max(hi-reservedSpan+1, 1024)
	if hi < lo {
		return 0, 0, fmt.Errorf("reserving ports: the ephemeral range starts at %d, leaving none below it", ephemeralLow)
	}
	return lo, hi, nil
}

// lockPort takes the port's lock file, unless another reservation holds it.
func lockPort(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// bindable reports whether nothing listens on the port, on loopback or on
// every address (daemons such as slurmd bind the latter).
func bindable(port int) bool {
	for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
