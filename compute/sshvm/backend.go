// Package sshvm runs Trainyard jobs on attached Linux VMs (and HDInsight head
// nodes) over SSH. It implements compute.Backend with golang.org/x/crypto/ssh
// for commands and github.com/pkg/sftp for files.
//
// Trust: a target's SSH host key is pinned by its SHA256 fingerprint (trust
// on first use, approved by an operator). With no pin the backend reads the
// key during key exchange and aborts before authenticating, returning an
// *UnknownHostKeyError carrying the fingerprint; a different key gives a
// *HostKeyChangedError and no work is done. InsecureIgnoreHostKey is never
// used. Credentials are asked for (Config.Credentials) only at dial time.
//
// On the VM everything lives under ~/.trainyard of the SSH user:
//
//	bin/job-<hash>.sh   the fixed wrapper script (see jobScript)
//	blobs/<sha256>      content-addressed copies of uploaded files
//	jobs/<run-id>/      plan, work/ (the job's cwd), output.log, pid, exit, stop
//
// Detaching (Deprovision) never touches the VM: job folders and blobs stay,
// so a detach cannot harm the machine; an operator may delete ~/.trainyard.
//
// Injection: SSH has no argv, so every value that reaches the VM's shell
// (paths, the job's environment, its argv) is quoted exactly once by
// shellescape.QuoteCommand and handed to a fixed wrapper script as a
// positional parameter; the script never evaluates one. The quoting is POSIX,
// so Provision refuses a VM whose login shell is not a POSIX shell.
//
// Failures: an unreachable VM is compute.ErrUnavailable (keep the run
// queued); an unknown or changed host key is compute.ErrConflict. Pooled
// connections are checked every 15 s and redialled on demand, and jobs run in
// their own session on the VM, so a lost connection or a server restart
// re-attaches to the running job by the pid in its Handle; a job whose VM
// does not answer for Config.LostGrace is reported Failed ("lost the
// connection to <vm>: …"). CheckHealth serves the controller's probes.
package sshvm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"al.essio.dev/pkg/shellescape"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/trainyard/trainyard/compute"
)

// BackendName is the Name of the backend and the Backend of its handles.
const BackendName = "ssh"

// Defaults for Config fields left zero.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultCommandTimeout = 60 * time.Second
	DefaultKillGrace      = 5 * time.Second
	// DefaultMaxSessions stays below OpenSSH's MaxSessions default of 10
	// (the SFTP channel of a connection takes one more).
	DefaultMaxSessions = 8
	// DefaultRemoteDir is Config.RemoteDir's default, under the SSH user's home.
	DefaultRemoteDir = ".trainyard"
)

// Config is what a Backend is built with.
type Config struct {
	// Credentials returns a target's secrets (from the store's sealed
	// secrets); it is called only when a connection is made, after the host
	// key has been checked. Either password or privateKey is set.
	Credentials func(ctx context.Context, target string) (password, privateKey, passphrase string, err error)
	// Targets finds a target by name; Status, Logs and Cancel use it to reach
	// the VM of a handle (which names its target) after a restart.
	Targets func(ctx context.Context, name string) (*compute.Target, error)
	// HostKeys holds the pinned fingerprints. Nil means the pin is
	// Target.Attach.HostKeyFingerprint alone; otherwise a pin in HostKeys wins
	// over that field.
	HostKeys HostKeys
	// DialTimeout bounds connecting and the SSH handshake; 0 = DefaultDialTimeout.
	DialTimeout time.Duration
	// AttachNetworks are the networks the VMs may be in, checked for every
	// address a connection is about to use (after DNS); link-local and
	// cloud metadata addresses are refused whatever it says. Nil =
	// compute.DefaultNetPolicy (loopback and private ranges).
	AttachNetworks *compute.NetPolicy
	// CommandTimeout bounds one remote command; 0 = DefaultCommandTimeout.
	CommandTimeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL; 0 = DefaultKillGrace.
	// It is rounded up to whole seconds on the VM.
	KillGrace time.Duration
	// MaxSessions caps concurrent exec channels per connection; 0 = DefaultMaxSessions.
	MaxSessions int
	// RemoteDir is where Trainyard keeps its files on each VM: relative to
	// the SSH user's home, or absolute; "" = DefaultRemoteDir.
	RemoteDir string
	// StagingDir is a local folder for FetchOutputs callers that give no
	// folder of their own; optional.
	StagingDir string
	// Logger receives what the backend does (never secrets); nil discards.
	Logger *slog.Logger
	// LostGrace is how long Status keeps trying to reach the VM of a running
	// job whose connection was lost before it reports the job Failed ("lost
	// the connection to <vm>: <err>"); 0 = DefaultLostGrace. Within it, a VM
	// that answers again with the job alive carries on as if nothing happened.
	LostGrace time.Duration
	// OnUnreachable, when set, is told (once per outage of a target) that a
	// job's VM stopped answering, e.g. Controller.ReportUnreachable.
	OnUnreachable func(target string, err error)
	// SparkSubmit is the program runs on HDInsight targets are launched with
	// (looked up on the head node's PATH); "" = "spark-submit".
	SparkSubmit string
}

// DefaultLostGrace leaves room within a minute for the run to be finalized
// after the last attempt.
const DefaultLostGrace = 45 * time.Second

// Backend runs jobs on attached VMs over SSH. It is safe for concurrent use.
// Its in-memory state is a pool of connections, one per target; everything
// needed to find a job again is on the VM and in the Handle.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	conns map[string]*conn // by target name
	// lost is, per job handle ID, since when its VM could not be reached
	// (and, after LostGrace, the outcome reported for good).
	lost map[string]*lostJob
	// down holds the targets OnUnreachable was told about (until they answer).
	down map[string]bool
	// facts is what the last check found on each target (Nodes shows it).
	facts map[string]Facts

	uploads atomic.Int64 // files sent to blobs/, for tests and logs
}

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	if cfg.RemoteDir == "" {
		cfg.RemoteDir = DefaultRemoteDir
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.LostGrace <= 0 {
		cfg.LostGrace = DefaultLostGrace
	}
	if cfg.SparkSubmit == "" {
		cfg.SparkSubmit = "spark-submit"
	}
	if cfg.AttachNetworks == nil {
		cfg.AttachNetworks = compute.DefaultNetPolicy()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{cfg: cfg, log: log.With("backend", BackendName), conns: map[string]*conn{},
		lost: map[string]*lostJob{}, down: map[string]bool{}, facts: map[string]Facts{}}
}

// Name implements compute.Backend.
func (b *Backend) Name() string { return BackendName }

// Close closes every pooled connection.
func (b *Backend) Close() error {
	b.mu.Lock()
	cs := b.conns
	b.conns = map[string]*conn{}
	b.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	return nil
}

// conn is one SSH connection to a target with its SFTP channel.
type conn struct {
	key    string // address, user and pin it was made with
	client *ssh.Client
	sftp   *sftp.Client
	home   string // the SSH user's home on the VM
	base   string // Trainyard's folder on the VM (Config.RemoteDir, absolute)
	sem    chan struct{}
	dead   atomic.Bool
	once   sync.Once

	// users counts operations in flight; a retired connection (dropped from
	// the pool by Deprovision or a new pin) closes when the last one ends.
	users   atomic.Int64
	retired atomic.Bool
}

func (c *conn) acquire() { c.users.Add(1) }

func (c *conn) release() {
	if c.users.Add(-1) == 0 && c.retired.Load() {
		c.close()
	}
}

// retire closes the connection once no operation uses it.
func (c *conn) retire() {
	c.retired.Store(true)
	if c.users.Load() == 0 {
		c.close()
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		c.dead.Store(true)
		if c.sftp != nil {
			c.sftp.Close()
		}
		c.client.Close()
	})
}

func (c *conn) root() string     { return c.base }
func (c *conn) jobsDir() string  { return c.root() + "/jobs" }
func (c *conn) blobsDir() string { return c.root() + "/blobs" }
func (c *conn) script() string   { return c.root() + "/bin/" + scriptName }

// Address returns host:port of an attached target.
func Address(t *compute.Target) (string, error) {
	if t == nil || t.Attach == nil || t.Attach.Address == "" {
		return "", compute.Invalid("address", "the target has no address")
	}
	port := t.Attach.SSHPort
	if port == 0 {
		port = 22
	}
	if port < 1 || port > 65535 {
		return "", compute.Invalid("sshPort", "the SSH port %d is out of range", port)
	}
	return net.JoinHostPort(t.Attach.Address, strconv.Itoa(port)), nil
}

// pin returns the approved fingerprint of a target, or "".
func (b *Backend) pin(ctx context.Context, t *compute.Target) (string, error) {
	if b.cfg.HostKeys != nil {
		fp, err := b.cfg.HostKeys.Pinned(ctx, t.Name)
		if err != nil {
			return "", err
		}
		if fp != "" {
			return NormalizeFingerprint(fp), nil
		}
	}
	if t.Attach != nil {
		return NormalizeFingerprint(t.Attach.HostKeyFingerprint), nil
	}
	return "", nil
}

// connect returns a pooled connection to the target, dialling if needed.
// The caller must release it.
func (b *Backend) connect(ctx context.Context, t *compute.Target) (*conn, error) {
	addr, err := Address(t)
	if err != nil {
		return nil, err
	}
	pinned, err := b.pin(ctx, t)
	if err != nil {
		return nil, err
	}
	key := addr + "|" + t.Attach.UserName + "|" + pinned
	b.mu.Lock()
	if c := b.conns[t.Name]; c != nil {
		if c.key == key && !c.dead.Load() {
			c.acquire()
			b.mu.Unlock()
			return c, nil
		}
		delete(b.conns, t.Name)
		c.retire()
	}
	b.mu.Unlock()

	c, err := b.dial(ctx, t, addr, pinned)
	if err != nil {
		return nil, err
	}
	c.key = key
	b.mu.Lock()
	if old := b.conns[t.Name]; old != nil && old.key == key && !old.dead.Load() {
		old.acquire()
		b.mu.Unlock()
		c.close() // another goroutine won the race
		return old, nil
	}
	if old := b.conns[t.Name]; old != nil {
		old.retire()
	}
	c.acquire()
	b.conns[t.Name] = c
	b.mu.Unlock()
	return c, nil
}

func (b *Backend) dial(ctx context.Context, t *compute.Target, addr, pinned string) (*conn, error) {
	if pinned == "" {
		fp, kt, err := Probe(ctx, addr, b.cfg.DialTimeout, b.cfg.AttachNetworks)
		if err != nil {
			return nil, err
		}
		if b.cfg.HostKeys != nil {
			if err := b.cfg.HostKeys.Pending(ctx, t.Name, fp); err != nil {
				return nil, err
			}
		}
		return nil, &UnknownHostKeyError{Address: addr, KeyType: kt, Fingerprint: fp}
	}
	if b.cfg.Credentials == nil {
		return nil, errors.New("sshvm: no Credentials function configured")
	}
	nc, err := dialTCP(ctx, addr, b.cfg.DialTimeout, b.cfg.AttachNetworks)
	if err != nil {
		return nil, err
	}
	hkcb := hostKeyCallback(addr, pinned)
	var hkMu sync.Mutex
	var hkErr error
	checkKey := func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := hkcb(host, remote, key)
		hkMu.Lock()
		hkErr = err
		hkMu.Unlock()
		return err
	}
	// The secrets are opened lazily, by the auth callbacks, which x/crypto/ssh
	// calls only after key exchange, i.e. after checkKey accepted the key: a
	// changed or unknown key never gets them opened, let alone sent.
	creds := &lazyCreds{fetch: func() (string, string, string, error) { return b.cfg.Credentials(ctx, t.Name) }}
	cfg := &ssh.ClientConfig{
		User:            t.Attach.UserName,
		Auth:            creds.methods(),
		HostKeyCallback: checkKey,
		Timeout:         b.cfg.DialTimeout,
	}
	_ = nc.SetDeadline(time.Now().Add(b.cfg.DialTimeout))
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stop()
	if err != nil {
		nc.Close()
		hkMu.Lock()
		hkErr := hkErr
		hkMu.Unlock()
		var unknown *UnknownHostKeyError
		var changed *HostKeyChangedError
		switch {
		case errors.As(hkErr, &changed):
			b.log.Warn("host key changed", "target", t.Name, "want", changed.Want, "got", changed.Got)
			return nil, changed
		case errors.As(hkErr, &unknown):
			return nil, unknown
		case creds.err != nil:
			return nil, creds.err
		case strings.Contains(err.Error(), "unable to authenticate"), errors.Is(err, errNoPassword), strings.Contains(err.Error(), errNoPassword.Error()):
			// (A key that was refused ends in the password method, which
			// has nothing to offer when only a key is stored.)
			return nil, fmt.Errorf("signing in to %s as %s failed (wrong password or key?): %w", addr, t.Attach.UserName, compute.ErrUnavailable)
		}
		return nil, fmt.Errorf("SSH handshake with %s: %w: %w", addr, err, compute.ErrUnavailable)
	}
	_ = nc.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	c := &conn{client: client, sem: make(chan struct{}, b.cfg.MaxSessions)}
	go func() { _ = client.Wait(); c.dead.Store(true) }()
	go b.keepalive(c, t.Name)
	c.sftp, err = sftp.NewClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("starting SFTP on %s: %w: %w", addr, err, compute.ErrUnavailable)
	}
	if c.home, err = c.sftp.Getwd(); err != nil || !strings.HasPrefix(c.home, "/") {
		c.close()
		return nil, fmt.Errorf("finding the home folder on %s (%q): %v: %w", addr, c.home, err, compute.ErrUnavailable)
	}
	c.home = strings.TrimRight(c.home, "/")
	c.base = b.cfg.RemoteDir
	if !strings.HasPrefix(c.base, "/") {
		c.base = c.home + "/" + c.base
	}
	c.base = path.Clean(c.base)
	b.log.Info("connected", "target", t.Name, "address", addr, "user", t.Attach.UserName)
	return c, nil
}

// keepaliveEvery is how often an idle pooled connection is checked; a
// connection that does not answer within keepaliveTimeout is closed, so a
// lost VM is noticed (and redialled) within about half a minute.
var (
	keepaliveEvery   = 15 * time.Second
	keepaliveTimeout = 10 * time.Second
)

func (b *Backend) keepalive(c *conn, target string) {
	tick := time.NewTicker(keepaliveEvery)
	defer tick.Stop()
	for range tick.C {
		if c.dead.Load() {
			return
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err == nil {
				continue
			}
			b.log.Info("connection lost", "target", target, "err", err)
		case <-time.After(keepaliveTimeout):
			b.log.Info("connection not answering; closing it", "target", target)
		}
		c.close()
		return
	}
}

// errNoPassword ends the password methods when only a key is stored.
var errNoPassword = errors.New("no password stored for the SSH user")

// lazyCreds opens a target's secrets on first use, during authentication.
type lazyCreds struct {
	fetch func() (password, privateKey, passphrase string, err error)
	once  sync.Once
	pw    string
	key   ssh.Signer
	err   error
}

func (l *lazyCreds) load() error {
	l.once.Do(func() {
		password, privateKey, passphrase, err := l.fetch()
		if err != nil {
			l.err = fmt.Errorf("reading the credentials: %w", err)
			return
		}
		l.pw = password
		if privateKey != "" {
			l.key, l.err = parseKey(privateKey, passphrase)
		}
		if l.err == nil && l.key == nil && l.pw == "" {
			l.err = compute.Invalid("password", "give a password or a private key for the SSH user")
		}
	})
	return l.err
}

func (l *lazyCreds) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{
		ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			if err := l.load(); err != nil {
				return nil, err
			}
			if l.key == nil {
				return nil, nil
			}
			return []ssh.Signer{l.key}, nil
		}),
		ssh.PasswordCallback(func() (string, error) {
			if err := l.load(); err != nil {
				return "", err
			}
			if l.pw == "" {
				return "", errNoPassword
			}
			return l.pw, nil
		}),
		ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			if err := l.load(); err != nil {
				return nil, err
			}
			if l.pw == "" && len(qs) > 0 {
				return nil, errNoPassword
			}
			ans := make([]string, len(qs))
			for i := range qs {
				ans[i] = l.pw
			}
			return ans, nil
		}),
	}
}

// parseKey reads a PEM/OpenSSH private key, with its passphrase if given.
func parseKey(privateKey, passphrase string) (ssh.Signer, error) {
	var signer ssh.Signer
	var err error
	if passphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(privateKey), []byte(passphrase))
	} else {
		signer, err = ssh.ParsePrivateKey([]byte(privateKey))
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, compute.Invalid("privateKeyPassphrase", "the private key is encrypted; give its passphrase")
		}
		// The parse error never quotes the key.
		return nil, compute.Invalid("privateKey", "the private key cannot be read: %v", err)
	}
	return signer, nil
}

// withConn runs f with a connection to t, redialling once if the pooled
// connection turns out to be dead.
func (b *Backend) withConn(ctx context.Context, t *compute.Target, f func(*conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := b.connect(ctx, t)
		if err != nil {
			return err
		}
		err = f(c)
		c.release()
		if err == nil || attempt > 0 || !connBroken(c, err) {
			return err
		}
		c.close()
		b.log.Info("connection lost; reconnecting", "target", t.Name, "err", err)
	}
}

func connBroken(c *conn, err error) bool {
	if c.dead.Load() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost)
}

// run executes argv on the VM. Every element is quoted once by
// shellescape.QuoteCommand for the user's login shell (a POSIX shell), so
// each reaches the remote program as one literal argument.
func (b *Backend) run(ctx context.Context, c *conn, argv []string) (stdout []byte, stderr []byte, err error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	s, err := c.client.NewSession()
	if err != nil {
		if c.dead.Load() {
			return nil, nil, fmt.Errorf("%w: %w", io.EOF, err)
		}
		return nil, nil, err
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	cmd := shellescape.QuoteCommand(argv)
	if err := s.Start(cmd); err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	timer := time.NewTimer(b.cfg.CommandTimeout)
	defer timer.Stop()
	select {
	case err = <-done:
		return out.Bytes(), errb.Bytes(), err
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("remote command timed out after %s", b.cfg.CommandTimeout)
	}
	// The session's copiers may still be writing into out and errb: close
	// the session and give back no output rather than read them while they
	// write.
	s.Close()
	return nil, nil, err
}

// script runs the job wrapper in a mode, installing it first if needed.
func (b *Backend) script(ctx context.Context, c *conn, mode string, args ...string) ([]byte, error) {
	if err := b.installScript(c); err != nil {
		return nil, err
	}
	out, errOut, err := b.run(ctx, c, append([]string{"/bin/sh", c.script(), mode}, args...))
	if err != nil {
		if msg := strings.TrimSpace(string(errOut)); msg != "" {
			return out, fmt.Errorf("%s on the VM: %w: %s", mode, err, msg)
		}
		return out, fmt.Errorf("%s on the VM: %w", mode, err)
	}
	return out, nil
}

// installScript writes jobScript to the VM unless it is there already.
func (b *Backend) installScript(c *conn) error {
	p := c.script()
	if fi, err := c.sftp.Stat(p); err == nil && fi.Size() == int64(len(jobScript)) {
		return nil
	}
	if err := c.sftp.MkdirAll(c.root() + "/bin"); err != nil {
		return fmt.Errorf("creating %s/bin on the VM: %w", c.root(), err)
	}
	return putFile(c.sftp, p, strings.NewReader(jobScript), 0o700)
}

// putFile writes a remote file via a temporary name and a rename, so readers
// never see half of it.
func putFile(sc *sftp.Client, path string, r io.Reader, mode uint32) error {
	tmp := path + ".tmp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := sc.OpenFile(tmp, osCreate)
	if err != nil {
		return fmt.Errorf("creating %s on the VM: %w", tmp, err)
	}
	_, err = f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = sc.Chmod(tmp, fileMode(mode))
	}
	if err == nil {
		err = sc.PosixRename(tmp, path)
	}
	if err != nil {
		_ = sc.Remove(tmp)
		return fmt.Errorf("writing %s on the VM: %w", path, err)
	}
	return nil
}

// Facts is what Provision found on a VM.
type Facts struct {
	Kernel, OS, Python, PythonVersion, Setsid, Home string
	Shell                                           string // the SSH user's login shell
	CPUs                                            int
	FreeDiskKB                                      int64
	MemoryKB                                        int64
	GPUs                                            int // -1 when nvidia-smi is absent
}

// String words the facts for Target.Attach.StatusMessage.
func (f Facts) String() string {
	gpus := "no GPUs (nvidia-smi not found)"
	if f.GPUs >= 0 {
		gpus = strconv.Itoa(f.GPUs) + " GPU(s) (nvidia-smi)"
	}
	py := "python3 not found"
	if f.Python != "" {
		py = "python3 " + f.PythonVersion + " at " + f.Python
	}
	return fmt.Sprintf("%s (%s); %s; %d CPUs; %.1f GiB free in %s; %s",
		orDash(f.OS), orDash(f.Kernel), py, f.CPUs, float64(f.FreeDiskKB)/(1<<20), f.Home, gpus)
}

// posixShell reports whether a login shell parses single quotes the POSIX
// way, as shellescape's quoting requires. An unknown ("") shell is allowed:
// OpenSSH always sets SHELL, so "" means a server that does not say.
func posixShell(shell string) bool {
	if shell == "" {
		return true
	}
	switch path.Base(shell) {
	case "sh", "bash", "dash", "ksh", "ksh93", "mksh", "pdksh", "zsh", "ash", "busybox", "yash", "posh":
		return true
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "unknown OS"
	}
	return s
}

func parseFacts(out []byte) Facts {
	f := Facts{GPUs: -1}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "kernel":
			f.Kernel = v
		case "os":
			f.OS = v
		case "python":
			f.Python = v
		case "pyversion":
			f.PythonVersion = v
		case "setsid":
			f.Setsid = v
		case "nproc":
			f.CPUs, _ = strconv.Atoi(v)
		case "diskkb":
			f.FreeDiskKB, _ = strconv.ParseInt(v, 10, 64)
		case "memkb":
			f.MemoryKB, _ = strconv.ParseInt(v, 10, 64)
		case "gpus":
			if v != "none" {
				f.GPUs, _ = strconv.Atoi(v)
			}
		case "home":
			f.Home = v
		case "shell":
			f.Shell = v
		}
	}
	return f
}

// minFreeKB is the free space below which a VM is refused (100 MiB).
const minFreeKB = 100 << 10

// Inspect connects to the target and reports what it offers.
func (b *Backend) Inspect(ctx context.Context, t *compute.Target) (Facts, error) {
	var f Facts
	err := b.withConn(ctx, t, func(c *conn) error {
		out, errOut, err := b.run(ctx, c, []string{"/bin/sh", "-c", probeScript})
		if err != nil {
			// Name the machine: a connection cut mid-check (the VM going
			// down) says nothing of where it was.
			addr, _ := Address(t)
			return fmt.Errorf("checking the VM at %s: %w: %s", addr, err, strings.TrimSpace(string(errOut)))
		}
		f = parseFacts(out)
		return nil
	})
	if err == nil {
		b.mu.Lock()
		b.facts[t.Name] = f
		b.mu.Unlock()
	}
	return f, err
}

// CheckHealth implements compute.HealthChecker: it connects to the VM (a
// pooled connection that is alive counts) and reads what it offers again.
// It also forgets a dropped connection's outage, so the next one is reported.
func (b *Backend) CheckHealth(ctx context.Context, t *compute.Target) (string, error) {
	f, err := b.Inspect(ctx, t)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	delete(b.down, t.Name)
	b.mu.Unlock()
	return f.String(), nil
}

// ResetConnection drops the pooled connection to t (once operations in
// flight end), so the next operation signs in afresh, e.g. with rotated
// credentials.
func (b *Backend) ResetConnection(_ context.Context, t *compute.Target) {
	b.mu.Lock()
	c := b.conns[t.Name]
	delete(b.conns, t.Name)
	b.mu.Unlock()
	if c != nil {
		c.retire()
	}
	b.log.Info("connection reset", "target", t.Name)
}

// Provision checks that an attached VM is usable: the pinned host key, a
// successful sign-in, Linux, python3, setsid, free disk, CPUs and GPUs. It
// records what it found in t.Attach.StatusMessage and sets Checked. With no
// pinned key it returns *UnknownHostKeyError (and records the fingerprint as
// pending); with a changed key *HostKeyChangedError.
func (b *Backend) Provision(ctx context.Context, t *compute.Target) error {
	if t.Attach == nil {
		return compute.Invalid("properties", "target %s has no attach settings", t.Name)
	}
	f, err := b.Inspect(ctx, t)
	if err != nil {
		t.Attach.StatusMessage = err.Error()
		return err
	}
	t.Attach.Checked = true
	t.Attach.StatusMessage = f.String()
	var problems []string
	if f.Kernel != "Linux" {
		problems = append(problems, "the machine is not Linux ("+orDash(f.Kernel)+")")
	}
	if f.Python == "" {
		problems = append(problems, "python3 is not installed")
	}
	if f.Setsid == "" {
		problems = append(problems, "setsid (util-linux) is not installed")
	}
	if !posixShell(f.Shell) {
		problems = append(problems, "the login shell "+f.Shell+" is not a POSIX shell (sh, bash, dash, ksh, zsh); commands are quoted for POSIX shells")
	}
	if f.FreeDiskKB < minFreeKB {
		problems = append(problems, fmt.Sprintf("only %d KiB free in the home folder", f.FreeDiskKB))
	}
	if len(problems) > 0 {
		msg := "the VM cannot run jobs: " + strings.Join(problems, "; ")
		t.Attach.StatusMessage = msg + " — found: " + f.String()
		return errors.New(msg)
	}
	b.log.Info("VM checked", "target", t.Name, "facts", f.String())
	return nil
}

// Deprovision detaches: it closes the connection (once operations in flight
// end) and leaves the VM as it is
// (job folders and uploaded files under ~/.trainyard stay). It never fails.
func (b *Backend) Deprovision(_ context.Context, t *compute.Target) error {
	b.mu.Lock()
	c := b.conns[t.Name]
	delete(b.conns, t.Name)
	b.mu.Unlock()
	if c != nil {
		c.retire() // operations in flight finish first
	}
	return nil
}

// Nodes reports the VM as one node: running (with the run) when a job's
// wrapper is alive, idle when reachable and free, unusable with the reason
// otherwise (with the error as Reason). ConnectionString gives the ssh
// command to show beside it.
func (b *Backend) Nodes(ctx context.Context, t *compute.Target) ([]compute.Node, error) {
	n := compute.Node{ID: t.Name, Since: time.Now()}
	if t.Attach != nil {
		n.PublicIP = t.Attach.Address
		n.PrivateIP = t.Attach.Address
		n.Port = t.Attach.SSHPort
		if n.Port == 0 {
			n.Port = 22
		}
	}
	if t.Attach != nil && t.Attach.Unreachable {
		// The controller's probes found the machine away: say so without
		// waiting for another connection attempt.
		n.State, n.Reason = compute.NodeUnusable, t.Attach.StatusMessage
		return []compute.Node{n}, nil
	}
	var running []string
	err := b.withConn(ctx, t, func(c *conn) error {
		out, err := b.script(ctx, c, "running", c.jobsDir())
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(out), "\n") {
			if run, ok := strings.CutPrefix(line, "trainyard-run "); ok && compute.SafeName(run) {
				running = append(running, run)
			}
		}
		return nil
	})
	b.mu.Lock()
	f, known := b.facts[t.Name]
	b.mu.Unlock()
	if !known && err == nil {
		f, known = b.inspectQuietly(ctx, t)
	}
	if known {
		n.CPUs, n.MemoryMB, n.GPUs = f.CPUs, int(f.MemoryKB/1024), max(f.GPUs, 0)
	}
	switch {
	case err != nil:
		n.State = compute.NodeUnusable
		n.Reason = err.Error()
	case len(running) > 0:
		n.State = compute.NodeRunning
		n.RunID = running[0]
	default:
		n.State = compute.NodeIdle
	}
	return []compute.Node{n}, nil
}

func (b *Backend) inspectQuietly(ctx context.Context, t *compute.Target) (Facts, bool) {
	f, err := b.Inspect(ctx, t)
	return f, err == nil
}

// ConnectionString is the ssh command an operator uses to reach the VM.
func ConnectionString(t *compute.Target) string {
	if t == nil || t.Attach == nil {
		return ""
	}
	port := t.Attach.SSHPort
	if port == 0 {
		port = 22
	}
	return fmt.Sprintf("ssh -p %d %s@%s", port, t.Attach.UserName, t.Attach.Address)
}

// ApproveHostKey pins fingerprint for t after checking that the host
// presents exactly that key now; a wrong fingerprint is refused (ErrInvalid).
// It records the pin in HostKeys (if any) and in t.Attach.HostKeyFingerprint.
func (b *Backend) ApproveHostKey(ctx context.Context, t *compute.Target, fingerprint string) error {
	addr, err := Address(t)
	if err != nil {
		return err
	}
	want := NormalizeFingerprint(fingerprint)
	got, _, err := Probe(ctx, addr, b.cfg.DialTimeout, b.cfg.AttachNetworks)
	if err != nil {
		return err
	}
	if want != got {
		return compute.Invalid("fingerprint", "%s presents host key %s, not %s", addr, got, want)
	}
	if b.cfg.HostKeys != nil {
		if err := b.cfg.HostKeys.Approve(ctx, t.Name, got); err != nil {
			return err
		}
	}
	t.Attach.HostKeyFingerprint = got
	_ = b.Deprovision(ctx, t) // drop a connection made under an older pin
	b.log.Info("host key approved", "target", t.Name, "fingerprint", got)
	return nil
}

// SecretReader reads one sealed secret of a target (store.Store has it); a
// secret that was never set is compute.ErrNotFound.
type SecretReader interface {
	Secret(ctx context.Context, target, name string) (string, error)
}

// StoreCredentials is a Config.Credentials that opens a target's password,
// private key and passphrase (compute.SecretPassword, SecretPrivateKey,
// SecretPassphrase) from s; one that is not set is "".
func StoreCredentials(s SecretReader) func(ctx context.Context, target string) (password, privateKey, passphrase string, err error) {
	return func(ctx context.Context, target string) (string, string, string, error) {
		var vals [3]string
		for i, name := range []string{compute.SecretPassword, compute.SecretPrivateKey, compute.SecretPassphrase} {
			v, err := s.Secret(ctx, target, name)
			if err != nil && !errors.Is(err, compute.ErrNotFound) {
				return "", "", "", err
			}
			vals[i] = v
		}
		return vals[0], vals[1], vals[2], nil
	}
}
