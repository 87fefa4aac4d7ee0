package sshvm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/sshvm/sshvmtest"
)

// The tests run against a real OpenSSH sshd started by sshvmtest.Start: on
// 127.0.0.1:<free port> with its own config, host key and authorized keys,
// as the current user. Without sshd they skip, except under CI=true.

// testSSHD is one running sshd, with the short names the tests use.
type testSSHD struct {
	*sshvmtest.SSHD
	t        testing.TB
	dir      string
	port     int
	hostKey  string // path of the host private key
	user     string // the current user
	key      string // client private key, unencrypted (OpenSSH PEM)
	keyPass  string // client private key encrypted with passphrase
	pass     string // its passphrase
	pwUser   string // a user with a password, or "" when none could be made
	password string
}

// startSSHD starts a private sshd and stops it when the test ends.
func startSSHD(t testing.TB) *testSSHD {
	t.Helper()
	s := sshvmtest.StartWithPasswordUser(t)
	return &testSSHD{SSHD: s, t: t, dir: s.Dir, port: s.Port, hostKey: s.HostKey, user: s.User, key: s.Key,
		keyPass: s.KeyPass, pass: s.Passphrase, pwUser: s.PwUser, password: s.Password}
}

func (s *testSSHD) start()                  { s.SSHD.Start() }
func (s *testSSHD) stop()                   { s.SSHD.Stop() }
func (s *testSSHD) newHostKey()             { s.SSHD.NewHostKey() }
func (s *testSSHD) fingerprint() string     { return s.SSHD.Fingerprint() }
func (s *testSSHD) readKey(p string) string { return s.SSHD.ReadKey(p) }

func keygen(t testing.TB, path, passphrase string)   { sshvmtest.Keygen(t, path, passphrase) }
func fingerprintOf(t testing.TB, path string) string { return sshvmtest.FingerprintOf(t, path) }
func freePort(t testing.TB) int                      { return sshvmtest.FreePort(t) }
func randomHex(t testing.TB) string                  { return sshvmtest.RandomHex(t) }

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
