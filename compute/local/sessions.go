package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/trainyard/trainyard/compute"
)

// An instance's interactive sessions (terminal, SSH, Jupyter) are processes
// the server starts and holds: they live only as long as the server does
// (bubblewrap's --die-with-parent), so unlike jobs they need no record on
// disk, and their table is the backend's one piece of in-memory state that a
// restart rightly forgets.

var _ compute.SessionOpener = (*Backend)(nil)

// sessionGate starts a session's program once the server has put the
// session in its instance's cgroup (see Submit for why): the go-ahead comes
// on descriptor 3, so standard input (a terminal) is left alone. Fixed text;
// the program arrives as "$@".
const sessionGate = `read -r _ <&3
exec 3<&-
exec "$@"
`

// sessionTable is the open sessions of every instance and when each
// instance last showed activity.
type sessionTable struct {
	mu         sync.Mutex
	byInstance map[string]*instanceSessions
}

type instanceSessions struct {
	last atomic.Int64 // unix nanoseconds of the last activity
	open map[*session]struct{}
}

func newSessionTable() *sessionTable {
	return &sessionTable{byInstance: map[string]*instanceSessions{}}
}

// of returns the instance's entry, made on first use.
func (st *sessionTable) of(name string) *instanceSessions {
	st.mu.Lock()
	defer st.mu.Unlock()
	is := st.byInstance[name]
	if is == nil {
		is = &instanceSessions{open: map[*session]struct{}{}}
		st.byInstance[name] = is
	}
	return is
}

// OpenSession starts spec on instance t as the instance's sandbox user, in
// the instance's cgroup (its VM size's CPU and memory), with the instance's
// home as working folder and HOME.
func (b *Backend) OpenSession(ctx context.Context, t *compute.Target, spec compute.SessionSpec) (compute.Session, error) {
	if t.Kind != compute.KindInstance || t.Instance == nil {
		return nil, fmt.Errorf("%s is a %s; only compute instances have terminals and applications: %w", t.Name, t.Kind.Label(), compute.ErrInvalid)
	}
	if st := t.Instance.State; st != compute.InstanceRunning && st != compute.InstanceJobRunning {
		return nil, compute.Conflictf("ComputeInstanceNotRunning", "state", "instance %s is %s; start it first", t.Name, st)
	}
	return b.openSession(ctx, t, spec)
}

// openSession is OpenSession whatever the instance's state: the setup
// scripts run while it is Creating or Starting.
func (b *Backend) openSession(ctx context.Context, t *compute.Target, spec compute.SessionSpec) (compute.Session, error) {
	if b.sandbox.err != nil && !b.sandbox.cfg.Off {
		return nil, b.sandbox.err
	}
	home, err := b.instanceHome(t)
	if err != nil {
		return nil, err
	}
	argv := spec.Argv
	if len(argv) == 0 {
		argv = loginShell()
	}
	extra := map[string]string{"USER": instanceUser, "LOGNAME": instanceUser, "SHELL": argv[0]}
	for k, v := range spec.Env {
		extra[k] = v
	}
	env := b.sandbox.env(home, extra)
	if !b.sandbox.cfg.Off {
		files, err := b.instanceAccounts(t, home)
		if err != nil {
			return nil, err
		}
		argv = b.sandbox.argv(b.instanceUID(t), home, env, argv, files...)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("opening a %s session on %s: %w", spec.Purpose, t.Name, err)
	}
	defer gateW.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", sessionGate, "trainyard-session"}, argv...)...)
	cmd.Dir, cmd.Env = home, envList(env)
	cmd.ExtraFiles = []*os.File{gateR}
	s := &session{b: b, instance: t.Name, purpose: spec.Purpose, keepsAwake: spec.KeepsAwake, done: make(chan struct{})}
	if spec.TTY != nil {
		// Setsid+Setctty: the session leads its own session with the
		// terminal as its controlling one, so job control, ^C and the
		// hangup on close work as in any terminal.
		s.pty, err = pty.StartWithAttrs(cmd, &pty.Winsize{Rows: spec.TTY.Rows, Cols: spec.TTY.Cols}, &syscall.SysProcAttr{Setsid: true, Setctty: true})
	} else {
		err = s.startPiped(cmd)
	}
	gateR.Close()
	if err != nil {
		return nil, fmt.Errorf("starting a %s session on %s: %w", spec.Purpose, t.Name, err)
	}
	s.cmd = cmd
	if err := b.limiter.place(instanceCgroup(t.Name), cmd.Process.Pid, b.limitsFor(t)); err != nil {
		b.log.Warn("a session runs without its instance's limits: its cgroup could not be made", "target", t.Name, "purpose", spec.Purpose, "err", err)
	}
	_, _ = gateW.Write([]byte("\n"))

	is := b.sessions.of(t.Name)
	s.activity = &is.last
	b.sessions.mu.Lock()
	is.open[s] = struct{}{}
	b.sessions.mu.Unlock()
	s.touch()
	go s.reap()
	b.log.Info("session opened", "target", t.Name, "purpose", spec.Purpose, "pid", cmd.Process.Pid)
	return s, nil
}

// instanceUser is $USER in an instance's sessions: Studio's instances
// have one user, azureuser.
const instanceUser = "azureuser"

// loginShell is the shell a terminal or an SSH login runs.
func loginShell() []string {
	if _, err := os.Stat("/bin/bash"); err == nil {
		return []string{"/bin/bash", "-l"}
	}
	return []string{"/bin/sh", "-l"}
}

// instanceCgroup is the cgroup every session of an instance shares, so the
// instance's VM size bounds all of them together.
func instanceCgroup(name string) string { return cgroupRoot + "/instance-" + name }

// instanceUID is the uid an instance's runs and sessions run as when the
// server is root: one for the instance's whole life (its files persist
// across stop and start), and a new one for a new instance of the same name.
func (b *Backend) instanceUID(t *compute.Target) int {
	return b.sandbox.uid("instance/" + t.Name + "/" + strconv.FormatInt(t.CreatedAt.Unix(), 10))
}

// instanceHome is the instance's workspace, made if missing and, when the
// server is root, owned by the instance's user (given once: a home already
// theirs is not walked again).
func (b *Backend) instanceHome(t *compute.Target) (string, error) {
	dir, err := b.instanceDir(t.Name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("creating the workspace of instance %s: %w", t.Name, err)
	}
	if b.sandbox.root && !b.sandbox.cfg.Off {
		uid := b.instanceUID(t)
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			return "", fmt.Errorf("reading the workspace of instance %s: %w", t.Name, err)
		}
		if int(st.Uid) != uid {
			if err := own(dir, uid); err != nil {
				return "", fmt.Errorf("giving the workspace of instance %s to its user: %w", t.Name, err)
			}
		}
	}
	return dir, nil
}

// instanceAccounts gives the instance's uid a name inside its sandbox when
// the server is root: /etc/passwd and /etc/group as the system has them
// plus azureuser with the instance's uid and home. Programs that look their
// user up (sftp-server, ssh's scp, bash's prompt, pip --user) need it. An
// unprivileged server's sessions run as its own uid, which has a name.
func (b *Backend) instanceAccounts(t *compute.Target, home string) ([]fileBind, error) {
	if !b.sandbox.root {
		return nil, nil
	}
	dir := filepath.Join(b.cfg.DataDir, "instance-etc", t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("preparing the accounts of instance %s: %w", t.Name, err)
	}
	uid := strconv.Itoa(b.instanceUID(t))
	add := map[string]string{
		"passwd": instanceUser + ":x:" + uid + ":" + uid + ":Compute instance user:" + home + ":/bin/bash\n",
		"group":  instanceUser + ":x:" + uid + ":\n",
	}
	var files []fileBind
	for _, name := range []string{"passwd", "group"} {
		sys, err := os.ReadFile("/etc/" + name)
		if err != nil {
			return nil, fmt.Errorf("reading /etc/%s: %w", name, err)
		}
		if len(sys) > 0 && sys[len(sys)-1] != '\n' {
			sys = append(sys, '\n')
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(sys, add[name]...), 0o644); err != nil {
			return nil, fmt.Errorf("writing the accounts of instance %s: %w", t.Name, err)
		}
		files = append(files, fileBind{src: p, dst: "/etc/" + name})
	}
	return files, nil
}

// LastActivity is when a session of the instance last had input or output,
// or now while a session that keeps it awake is open.
func (b *Backend) LastActivity(name string) time.Time {
	is := b.sessions.of(name)
	b.sessions.mu.Lock()
	for s := range is.open {
		if s.keepsAwake {
			b.sessions.mu.Unlock()
			return time.Now()
		}
	}
	b.sessions.mu.Unlock()
	if n := is.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Touch records activity seen outside the sessions' own I/O.
func (b *Backend) Touch(name string, at time.Time) {
	is := b.sessions.of(name)
	for {
		cur := is.last.Load()
		if at.UnixNano() <= cur || is.last.CompareAndSwap(cur, at.UnixNano()) {
			return
		}
	}
}

// EndSessions ends every session of the instance, then kills whatever is
// left in the instance's cgroup (a process a session left behind).
func (b *Backend) EndSessions(ctx context.Context, name string) {
	is := b.sessions.of(name)
	b.sessions.mu.Lock()
	open := make([]*session, 0, len(is.open))
	for s := range is.open {
		open = append(open, s)
	}
	b.sessions.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range open {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	b.limiter.killAll(instanceCgroup(name))
	if len(open) > 0 {
		b.log.Info("sessions ended", "target", name, "count", len(open))
	}
}

// session is one open compute.Session.
type session struct {
	b          *Backend
	instance   string
	purpose    string
	keepsAwake bool
	cmd        *exec.Cmd
	activity   *atomic.Int64

	pty            *os.File // with a TTY: input and output
	stdin          *os.File // without: the three pipes
	stdout, stderr *os.File

	done      chan struct{}
	code      int
	waitErr   error
	closeOnce sync.Once
	// mu keeps Resize off a terminal that Close is closing.
	mu     sync.Mutex
	closed bool
}

var _ compute.Session = (*session)(nil)

// startPiped starts cmd on three pipes; the server keeps its ends only.
func (s *session) startPiped(cmd *exec.Cmd) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	for _, f := range []*os.File{inR, outW, errW} {
		f.Close()
	}
	if err != nil {
		for _, f := range []*os.File{inW, outR, errR} {
			f.Close()
		}
		return err
	}
	s.stdin, s.stdout, s.stderr = inW, outR, errR
	return nil
}

func (s *session) touch() { s.activity.Store(time.Now().UnixNano()) }

func (s *session) Read(p []byte) (int, error) {
	r := s.stdout
	if s.pty != nil {
		r = s.pty
	}
	n, err := r.Read(p)
	if n > 0 {
		s.touch()
	}
	// A terminal whose last process has gone reads EIO; that is its end.
	if err != nil && s.pty != nil && errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

func (s *session) Write(p []byte) (int, error) {
	w := s.stdin
	if s.pty != nil {
		w = s.pty
	}
	n, err := w.Write(p)
	if n > 0 {
		s.touch()
	}
	return n, err
}

func (s *session) Stderr() io.Reader {
	if s.pty != nil {
		return nil
	}
	return s.stderr
}

func (s *session) CloseInput() error {
	if s.pty != nil {
		return nil
	}
	return s.stdin.Close()
}

func (s *session) Resize(size compute.TTYSize) error {
	if s.pty == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return pty.Setsize(s.pty, &pty.Winsize{Rows: size.Rows, Cols: size.Cols})
}

func (s *session) Wait() (int, error) {
	<-s.done
	return s.code, s.waitErr
}

// reap waits for the session's program, records how it ended and takes the
// session off its instance's table.
func (s *session) reap() {
	err := s.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		s.code = ee.ExitCode()
		if s.code < 0 {
			s.code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	default:
		s.waitErr = err
	}
	is := s.b.sessions.of(s.instance)
	s.b.sessions.mu.Lock()
	delete(is.open, s)
	s.b.sessions.mu.Unlock()
	close(s.done)
}

// Close hangs up on the session (SIGHUP to its process group, as a closed
// terminal does), and after the kill grace kills it. Killing bubblewrap ends
// the sandbox's PID namespace, and with it everything the session started,
// also what left its process group.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		pid := s.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGHUP)
		select {
		case <-s.done:
		case <-time.After(s.b.cfg.KillGrace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-s.done
		}
		s.mu.Lock()
		s.closed = true
		for _, f := range []*os.File{s.pty, s.stdin, s.stdout, s.stderr} {
			if f != nil {
				_ = f.Close()
			}
		}
		s.mu.Unlock()
		s.b.log.Info("session closed", "target", s.instance, "purpose", s.purpose)
	})
	return nil
}
