// Package sshvmtest starts a real OpenSSH server for tests of code that
// reaches machines over SSH (compute/sshvm and what is wired to it).
package sshvmtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/computetest"
)

// The tests run against a real OpenSSH sshd (Debian's openssh-server) that
// each test starts on 127.0.0.1:<free port> with its own config, host key
// and authorized keys, as the current user. Without sshd they skip, except
// under CI=true, where a missing sshd is a failure.

// sshdPath is Debian's sshd; SSHVM_TEST_SSHD overrides it (e.g. to check
// that the tests skip without one).
var sshdPath = func() string {
	if p := os.Getenv("SSHVM_TEST_SSHD"); p != "" {
		return p
	}
	return "/usr/sbin/sshd"
}()

// SSHD is one running sshd.
type SSHD struct {
	t          testing.TB
	cmd        *exec.Cmd
	netns      string // the network namespace sshd runs in, or ""
	Dir        string // the sshd's folder (config, keys, log)
	Host       string // the address it listens on: 127.0.0.1, or the namespace's own
	Port       int    // it listens on Host:Port
	HostKey    string // path of the host private key
	User       string // the current user, who may sign in with Key or KeyPass
	Key        string // path of a client private key, unencrypted (OpenSSH PEM)
	KeyPass    string // path of a client private key encrypted with Passphrase
	Passphrase string
	PwUser     string // a user with Password, or "" when none could be made (not root)
	Password   string
}

// Require skips the test when sshd, ssh-keygen or setsid is missing (under
// CI=true it fails instead).
func Require(t testing.TB) {
	t.Helper()
	for _, p := range []string{sshdPath, "ssh-keygen", "setsid"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: CI must install openssh-server (apt-get install -y --no-install-recommends openssh-server)", p)
			}
			t.Skipf("%s is missing (apt-get install openssh-server): skipping the SSH tests", p)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// Keygen makes an ed25519 key pair at path (and path.pub).
func Keygen(t testing.TB, path, passphrase string) {
	t.Helper()
	// -a 1: one KDF round keeps parsing the encrypted key fast under -race.
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", passphrase, "-C", "trainyard-test", "-f", path)
}

// FingerprintOf returns ssh-keygen's SHA256 fingerprint of a key file.
func FingerprintOf(t testing.TB, path string) string {
	t.Helper()
	f := strings.Fields(run(t, "ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub"))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -l said %q", f)
	}
	return f[1]
}

// FreePort returns a TCP port reserved for the test: an sshd is stopped and
// started again on it, and no other test may take it in between (see
// computetest.ReservePorts).
func FreePort(t testing.TB) int {
	t.Helper()
	return computetest.ReservePortsT(t, 1)[0]
}

var pwUserOnce sync.Once
var pwUserName, pwUserPass string

// passwordUser makes (once per test binary) a local user with a random
// password for the password-auth test; sshd with UsePAM no checks
// /etc/shadow. Only as root; otherwise "".
func passwordUser(t testing.TB) (string, string) {
	pwUserOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		name := "trainyard-sshtest"
		home := filepath.Join(os.TempDir(), name+"-home")
		if _, err := user.Lookup(name); err != nil {
			if out, err := exec.Command("useradd", "-M", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
				t.Logf("useradd: %v %s", err, out)
				return
			}
		}
		if err := os.MkdirAll(home, 0o755); err != nil {
			return
		}
		if out, err := exec.Command("chown", name, home).CombinedOutput(); err != nil {
			t.Logf("chown: %v %s", err, out)
			return
		}
		pw, err := sharedPassword(t, name)
		if err != nil {
			t.Logf("the test user's password: %v", err)
			return
		}
		c := exec.Command("chpasswd")
		c.Stdin = strings.NewReader(name + ":" + pw + "\n")
		if out, err := c.CombinedOutput(); err != nil {
			t.Logf("chpasswd: %v %s", err, out)
			return
		}
		pwUserName, pwUserPass = name, pw
	})
	return pwUserName, pwUserPass
}

// sharedPassword is the password of the test user, made once per machine
// and kept in a file only root reads: two test suites running side by side
// share the account, and each setting a password of its own would sign the
// other's tests out.
func sharedPassword(t testing.TB, name string) (string, error) {
	dir := filepath.Join("/var/lib", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "password")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return string(b), nil
	}
	tmp, err := os.CreateTemp(dir, ".password-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString("Pw-" + RandomHex(t)); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A link fails when another suite made the file first: then its
	// password is the one.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	b, err := os.ReadFile(path)
	return string(b), err
}

// RandomHex returns 12 random hex digits.
func RandomHex(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// Start starts a private sshd and stops it when the test ends. Only the
// current user may sign in (with Key or KeyPass).
func Start(t testing.TB) *SSHD { return start(t, false, "127.0.0.1", 0, "") }

// StartWithPasswordUser is Start, and as root also makes a local user with a
// random password (PwUser, Password) that may sign in. The user is one per
// machine, so only one test package may use this.
func StartWithPasswordUser(t testing.TB) *SSHD { return start(t, true, "127.0.0.1", 0, "") }

func start(t testing.TB, withPasswordUser bool, host string, port int, netns string) *SSHD {
	t.Helper()
	Require(t)
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // sshd's compiled-in privsep dir
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if port == 0 {
		port = FreePort(t)
	}
	s := &SSHD{t: t, Dir: dir, Host: host, Port: port, netns: netns, User: u.Username,
		HostKey: filepath.Join(dir, "host_ed25519"), Key: filepath.Join(dir, "client"),
		KeyPass: filepath.Join(dir, "client_pass"), Passphrase: "secret phrase " + RandomHex(t)}
	Keygen(t, s.HostKey, "")
	Keygen(t, s.Key, "")
	Keygen(t, s.KeyPass, s.Passphrase)
	var auth strings.Builder
	for _, k := range []string{s.Key, s.KeyPass} {
		pub, err := os.ReadFile(k + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		auth.Write(pub)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(auth.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if withPasswordUser {
		s.PwUser, s.Password = passwordUser(t)
	}
	allow := s.User
	if s.PwUser != "" {
		allow += " " + s.PwUser
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin yes
AllowUsers %s
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
LogLevel VERBOSE
Subsystem sftp internal-sftp
# The login shell reads the user's rc files; where they run 'pyenv init'
# (root's do on the CI machine), its rehash waits up to 60 s on a lock file
# that a session killed mid-login leaves behind, and tests here kill sshd
# mid-session on purpose. Give up on the lock at once instead.
SetEnv PYENV_REHASH_TIMEOUT=0
`, s.Port, s.Host, s.HostKey, filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), allow)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() || os.Getenv("SSHVM_TEST_LOG") != "" {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", log)
		}
	})
	return s
}

// Start starts the sshd (again) and waits until it listens.
func (s *SSHD) Start() {
	t := s.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.Dir, "sshd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
	if s.netns != "" {
		// nsenter, not `ip netns exec`, which remounts /sys privately (docs/design/infra.md §5).
		s.cmd = exec.Command("nsenter", "--net=/run/netns/"+s.netns, sshdPath, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group, so Stop reaches a per-connection child forked
	// a moment before it (one /proc scan can miss it).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
			t.Fatalf("sshd did not listen on %s: %v\n%s", s.Addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the sshd and its per-connection children.
func (s *SSHD) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// Kill the listener and its per-connection children, as a reboot would:
	// established connections must not outlive a host key change. Children
	// that left the group (sshd's sessions call setsid) are found by their
	// parents, again until none is left: under load the listener may fork
	// one between a scan and the kill, and that child would keep answering
	// on the port the test believes closed.
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGSTOP) // nothing forks while we look
	for range 20 {
		left := descendants(pid)
		for _, p := range left {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// descendants lists the processes below pid (not pid itself), from /proc.
func descendants(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// NewHostKey restarts sshd with a freshly generated host key.
func (s *SSHD) NewHostKey() {
	s.Stop()
	_ = os.Remove(s.HostKey)
	_ = os.Remove(s.HostKey + ".pub")
	Keygen(s.t, s.HostKey, "")
	s.Start()
}

// Addr is the sshd's host:port.
func (s *SSHD) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Fingerprint is the SHA256 fingerprint of the sshd's host key.
func (s *SSHD) Fingerprint() string { return FingerprintOf(s.t, s.HostKey) }

// ReadKey returns the content of a key file (Key, KeyPass).
func (s *SSHD) ReadKey(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// AddConfig appends lines to the sshd's config (e.g. "SetEnv PATH=/x:/usr/bin:/bin")
// and restarts it so they apply. sshd takes only the first SetEnv line, so
// a SetEnv line's variables join the one the config already has.
func (s *SSHD) AddConfig(lines ...string) {
	s.t.Helper()
	path := filepath.Join(s.Dir, "sshd_config")
	cfg, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatal(err)
	}
	conf := strings.Split(strings.TrimRight(string(cfg), "\n"), "\n")
	for _, l := range lines {
		vars, isSetEnv := strings.CutPrefix(l, "SetEnv ")
		i := slices.IndexFunc(conf, func(c string) bool { return strings.HasPrefix(c, "SetEnv ") })
		if isSetEnv && i >= 0 {
			conf[i] += " " + vars
			continue
		}
		conf = append(conf, l)
	}
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.Stop()
	s.Start()
}

// Authorize replaces the authorized keys with the public halves of the
// given private key files (e.g. only KeyPass, to check a rotated key is used).
func (s *SSHD) Authorize(keys ...string) {
	s.t.Helper()
	var auth strings.Builder
	for _, k := range keys {
		pub, err := os.ReadFile(k + ".pub")
		if err != nil {
			s.t.Fatal(err)
		}
		auth.Write(pub)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "authorized_keys"), []byte(auth.String()), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// StartInNetns starts an sshd on port 22 of a "remote VM" with its own
// address: a fresh network namespace joined to this host by a veth pair
// (host side 10.200.N.1/24, namespace side 10.200.N.2/24, N random in
// 100–249 so that it meets no other test's 10.200.0.0/24), sshd started in it
// with nsenter (docs/design/infra.md §5). The namespace shares the filesystem and users.
// It skips the test (with the reason) when `ip netns add` is not permitted,
// and removes the namespace and the veth when the test ends.
func StartInNetns(t testing.TB) *SSHD {
	t.Helper()
	Require(t)
	for _, p := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is missing: skipping the network namespace test", p)
		}
	}
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b[:])
	ns, host, peer := "ty-ssh-"+id, "vhty"+id, "vnty"+id
	n := 100 + int(b[0])%150
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add is not permitted here (%v: %s): skipping the network namespace test", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	})
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() }) // gone with the namespace too
	run(t, "ip", "link", "set", peer, "netns", ns)
	run(t, "ip", "addr", "add", fmt.Sprintf("10.200.%d.1/24", n), "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("10.200.%d.2/24", n), "dev", peer)
	run(t, "ip", "-n", ns, "link", "set", peer, "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return start(t, false, fmt.Sprintf("10.200.%d.2", n), 22, ns)
}

// HostSide is the host's address on the namespace's link (10.200.N.1), or
// 127.0.0.1 for an sshd on loopback.
func (s *SSHD) HostSide() string {
	if s.netns == "" {
		return "127.0.0.1"
	}
	return strings.TrimSuffix(s.Host, ".2") + ".1"
}
