package sshvm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
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

// testSSHD is one running sshd.
type testSSHD struct {
	t        testing.TB
	dir      string
	port     int
	cmd      *exec.Cmd
	hostKey  string // path of the host private key
	user     string // the current user
	key      string // client private key, unencrypted (OpenSSH PEM)
	keyPass  string // client private key encrypted with passphrase
	pass     string // its passphrase
	pwUser   string // a user with a password, or "" when none could be made
	password string
}

func requireSSHD(t testing.TB) {
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

func keygen(t testing.TB, path, passphrase string) {
	t.Helper()
	// -a 1: one KDF round keeps parsing the encrypted key fast under -race.
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", passphrase, "-C", "trainyard-test", "-f", path)
}

// fingerprintOf returns ssh-keygen's SHA256 fingerprint of a key file.
func fingerprintOf(t testing.TB, path string) string {
	t.Helper()
	f := strings.Fields(run(t, "ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub"))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -l said %q", f)
	}
	return f[1]
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
		pw := "Pw-" + randomHex(t)
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

func randomHex(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// startSSHD starts a private sshd and stops it when the test ends.
func startSSHD(t testing.TB) *testSSHD {
	t.Helper()
	requireSSHD(t)
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // sshd's compiled-in privsep dir
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &testSSHD{t: t, dir: dir, port: freePort(t), user: u.Username,
		hostKey: filepath.Join(dir, "host_ed25519"), key: filepath.Join(dir, "client"),
		keyPass: filepath.Join(dir, "client_pass"), pass: "secret phrase " + randomHex(t)}
	keygen(t, s.hostKey, "")
	keygen(t, s.key, "")
	keygen(t, s.keyPass, s.pass)
	var auth strings.Builder
	for _, k := range []string{s.key, s.keyPass} {
		pub, err := os.ReadFile(k + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		auth.Write(pub)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(auth.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s.pwUser, s.password = passwordUser(t)
	allow := s.user
	if s.pwUser != "" {
		allow += " " + s.pwUser
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
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
`, s.port, s.hostKey, filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), allow)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() || os.Getenv("SSHVM_TEST_LOG") != "" {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", log)
		}
	})
	return s
}

func (s *testSSHD) start() {
	t := s.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, "sshd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
			t.Fatalf("sshd did not listen on %s: %v\n%s", s.addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *testSSHD) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// Kill the listener and its per-connection children, as a reboot would:
	// established connections must not outlive a host key change.
	for _, p := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
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

// newHostKey restarts sshd with a freshly generated host key.
func (s *testSSHD) newHostKey() {
	s.stop()
	_ = os.Remove(s.hostKey)
	_ = os.Remove(s.hostKey + ".pub")
	keygen(s.t, s.hostKey, "")
	s.start()
}

func (s *testSSHD) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *testSSHD) fingerprint() string { return fingerprintOf(s.t, s.hostKey) }

func (s *testSSHD) readKey(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// lockedBuffer collects a backend's log for checks.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("SSHVM_TEST_LOG") != "" {
		os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is a test's backend world: targets by name, their secrets, counters.
type env struct {
	s        *testSSHD
	hk       *MemHostKeys
	credCall atomic.Int64
	log      lockedBuffer // everything the backends logged
	// remoteDir keeps the VM side of a test in a temporary folder.
	remoteDir string

	mu      sync.Mutex
	targets map[string]*compute.Target
	secrets map[string][3]string
}

func newEnv(s *testSSHD) *env {
	var dir string
	if s.t != nil {
		dir = filepath.Join(s.dir, "remote")
	}
	return &env{s: s, remoteDir: dir, hk: &MemHostKeys{}, targets: map[string]*compute.Target{}, secrets: map[string][3]string{}}
}

func (e *env) config() Config {
	return Config{
		Credentials: func(_ context.Context, name string) (string, string, string, error) {
			e.credCall.Add(1)
			e.mu.Lock()
			defer e.mu.Unlock()
			sec, ok := e.secrets[name]
			if !ok {
				return "", "", "", fmt.Errorf("no secrets for %s: %w", name, compute.ErrNotFound)
			}
			return sec[0], sec[1], sec[2], nil
		},
		Targets: func(_ context.Context, name string) (*compute.Target, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			t, ok := e.targets[name]
			if !ok {
				return nil, compute.NotFoundf("name", "no target %s", name)
			}
			c := *t
			a := *t.Attach
			c.Attach = &a
			return &c, nil
		},
		HostKeys:       e.hk,
		RemoteDir:      e.remoteDir,
		DialTimeout:    5 * time.Second,
		CommandTimeout: 20 * time.Second,
		KillGrace:      time.Second,
		Logger:         slog.New(slog.NewTextHandler(&e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// target registers a VM target for the test sshd; pin "" leaves it unpinned.
func (e *env) target(name, userName, pin string, secrets [3]string) *compute.Target {
	t := &compute.Target{Name: name, Kind: compute.KindVirtualMachine, Attach: &compute.AttachSpec{
		Address: "127.0.0.1", SSHPort: e.s.port, UserName: userName, HostKeyFingerprint: pin,
	}}
	e.mu.Lock()
	e.targets[name] = t
	e.secrets[name] = secrets
	e.mu.Unlock()
	return t
}

// keyTarget is a pinned target signing in with the unencrypted client key.
func (e *env) keyTarget(name string) *compute.Target {
	return e.target(name, e.s.user, e.s.fingerprint(), [3]string{"", e.s.readKey(e.s.key), ""})
}
