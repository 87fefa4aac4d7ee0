package sshvm

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

func TestContract(t *testing.T) { runContract(t, "") }

// TestContractPython runs the contract's Python programs on the VM's
// /usr/bin/python3 (subprocess children, sys.exit codes).
func TestContractPython(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	runContract(t, "/usr/bin/python3")
}

func runContract(t *testing.T, python string) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	t.Cleanup(func() { b.Close() })
	tgt := e.keyTarget("vm-contract")
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Logf("Provision found: %s", tgt.Attach.StatusMessage)
	computetest.RunBackendContract(t, computetest.Harness{
		Registration: b.Registration(),
		Reopen: func() compute.Registration {
			nb := New(e.config())
			t.Cleanup(func() { nb.Close() })
			return nb.Registration()
		},
		Target: func(*testing.T) *compute.Target {
			c := *tgt
			a := *tgt.Attach
			c.Attach = &a
			return &c
		},
		Python:       python,
		Timeout:      15 * time.Second,
		StopMachine:  func(*testing.T) { s.stop() },
		StartMachine: func(*testing.T) { s.start() },
		UnpinnedTarget: func(t *testing.T) *compute.Target {
			e.mu.Lock()
			secrets := e.secrets[tgt.Name]
			e.mu.Unlock()
			return e.target("vm-unpinned-"+randomHex(t), s.user, "", secrets)
		},
		// The rotation moves the target from the plain client key to the
		// one with a passphrase.
		RotateCredentials: func(*testing.T) func() {
			s.Authorize(s.key)
			e.mu.Lock()
			e.secrets[tgt.Name] = [3]string{"", s.readKey(s.keyPass), s.pass}
			e.mu.Unlock()
			return func() { s.Authorize(s.keyPass) }
		},
	})
}

func TestUnknownHostKeyShowsFingerprintBeforeAuth(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.target("vm-new", s.user, "", [3]string{"", s.readKey(s.key), ""})
	err := b.Provision(context.Background(), tgt)
	var unknown *UnknownHostKeyError
	if !errors.As(err, &unknown) {
		t.Fatalf("Provision of an unpinned target: err = %v, want *UnknownHostKeyError", err)
	}
	if want := s.fingerprint(); unknown.Fingerprint != want {
		t.Errorf("fingerprint = %q, want ssh-keygen's %q", unknown.Fingerprint, want)
	}
	if !strings.Contains(err.Error(), s.fingerprint()) || !errors.Is(err, compute.ErrConflict) {
		t.Errorf("error %q should name the fingerprint and match ErrConflict", err)
	}
	if n := e.credCall.Load(); n != 0 {
		t.Errorf("the credentials were opened %d times before the host key was approved", n)
	}
	if got := e.hk.PendingFor("vm-new"); got != s.fingerprint() {
		t.Errorf("pending fingerprint = %q, want %q", got, s.fingerprint())
	}
	if log, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log")); strings.Contains(string(log), "Accepted") || strings.Contains(string(log), "Failed publickey") || strings.Contains(string(log), "Failed password") {
		t.Errorf("sshd saw an authentication attempt:\n%s", log)
	}
	// Submit is refused as well.
	if _, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "r1", Argv: []string{"true"}}); !errors.As(err, &unknown) {
		t.Errorf("Submit to an unpinned target: err = %v", err)
	}

	// Approving a wrong fingerprint is refused; the right one works.
	if err := b.ApproveHostKey(context.Background(), tgt, "SHA256:AAAAwrongwrongwrongwrongwrongwrongwrongwrongA"); !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("approving a wrong fingerprint: err = %v, want ErrInvalid", err)
	}
	if err := b.ApproveHostKey(context.Background(), tgt, s.fingerprint()); err != nil {
		t.Fatalf("approving the right fingerprint: %v", err)
	}
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision after approval: %v", err)
	}
	if !tgt.Attach.Checked || !strings.Contains(tgt.Attach.StatusMessage, "CPUs") {
		t.Errorf("after Provision: checked %v, message %q", tgt.Attach.Checked, tgt.Attach.StatusMessage)
	}
}

func TestWrongPinnedKeyRefused(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	other := filepath.Join(t.TempDir(), "other")
	keygen(t, other, "")
	wrong := fingerprintOf(t, other)
	tgt := e.target("vm-wrong", s.user, wrong, [3]string{"", s.readKey(s.key), ""})
	err := b.Provision(context.Background(), tgt)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) || changed.Got != s.fingerprint() || changed.Want != wrong {
		t.Fatalf("Provision with a wrong pin: err = %v, want *HostKeyChangedError got %s want %s", err, s.fingerprint(), wrong)
	}
	if n := e.credCall.Load(); n != 0 {
		t.Errorf("the credentials were opened %d times for a host with the wrong key", n)
	}
}

func TestHostKeyChangeRefusesAllWork(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-change")
	ctx := context.Background()
	h, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: "before-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c", "echo ok"}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)

	old := s.fingerprint()
	s.newHostKey() // also drops the pooled connection
	before := e.credCall.Load()
	var changed *HostKeyChangedError
	if err := b.Provision(ctx, tgt); !errors.As(err, &changed) || changed.Want != old || changed.Got != s.fingerprint() {
		t.Fatalf("Provision after the key change: %v", err)
	}
	if !strings.Contains(tgt.Attach.StatusMessage, "host key") {
		t.Errorf("StatusMessage %q does not explain the host key change", tgt.Attach.StatusMessage)
	}
	if _, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: "after-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"true"}}); !errors.As(err, &changed) {
		t.Errorf("Submit after the key change: err = %v", err)
	}
	if _, err := b.Status(ctx, h); !errors.As(err, &changed) {
		t.Errorf("Status after the key change: err = %v", err)
	}
	if _, err := b.Logs(ctx, h, 0); !errors.As(err, &changed) {
		t.Errorf("Logs after the key change: err = %v", err)
	}
	if err := b.Cancel(ctx, h); !errors.As(err, &changed) {
		t.Errorf("Cancel after the key change: err = %v", err)
	}
	nodes, err := b.Nodes(ctx, tgt)
	if err != nil || len(nodes) != 1 || nodes[0].State != compute.NodeUnusable || !strings.Contains(nodes[0].Reason, "host key") {
		t.Errorf("Nodes after the key change = %+v, %v; want one unusable node naming the host key", nodes, err)
	}
	if n := e.credCall.Load(); n != before {
		t.Errorf("the credentials were opened %d times for a host with a changed key", n-before)
	}
	// An operator re-approves: work resumes.
	if err := b.ApproveHostKey(ctx, tgt, s.fingerprint()); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.targets[tgt.Name].Attach.HostKeyFingerprint = tgt.Attach.HostKeyFingerprint
	e.mu.Unlock()
	if st, err := b.Status(ctx, h); err != nil || st.Phase != compute.JobCompleted {
		t.Errorf("Status after re-approval: %+v, %v", st, err)
	}
}

func TestInjectionReachesScriptLiterally(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-inject")
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "show.sh"), []byte("for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\nprintf '[%s]\\n' \"$EVIL\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(os.TempDir(), "trainyard-pwned-"+randomHex(t))
	t.Cleanup(func() { os.Remove(mark) })
	args := []string{"$(touch " + mark + ")", "`touch " + mark + "`", "; rm -rf ~; touch " + mark, "| touch " + mark,
		`a'b"c;d`, "two\nlines", "' ; touch " + mark + " ; '", `\'`, "$((1+1))", "~", "--q=x y"}
	evil := "$(touch " + mark + ")'\"\n;"
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "inject-" + randomHex(t), WorkDir: work,
		Env:  map[string]string{"EVIL": evil},
		Argv: append([]string{"/bin/sh", "show.sh"}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	var want strings.Builder
	for _, a := range args {
		want.WriteString("<" + a + ">\n")
	}
	want.WriteString("[" + evil + "]\n")
	if got := computetest.ReadLogs(t, b, h, 0); got != want.String() {
		t.Errorf("the script saw\n%s\nwant\n%s", got, want.String())
	}
	if _, err := os.Stat(mark); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists: a value was run by a shell", mark)
	}
}

func TestOnlyChangedFilesUploaded(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-upload")
	work := t.TempDir()
	uniq := randomHex(t) // fresh content, so no earlier test's blob matches
	files := map[string]string{"a.txt": "alpha " + uniq, "sub/b.txt": "beta " + uniq, "sub/deep/c.py": "print('c') # " + uniq}
	for name, body := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "run.sh"), []byte("#!/bin/sh\ncat a.txt sub/b.txt; test -d empty && echo empty-dir\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	submit := func(runID string) string {
		h, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: runID, WorkDir: work, Argv: []string{"./run.sh"}})
		if err != nil {
			t.Fatal(err)
		}
		computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
		return computetest.ReadLogs(t, b, h, 0)
	}
	n0 := b.uploads.Load()
	if got, want := submit("up-1-"+uniq), "alpha "+uniq+"beta "+uniq+"empty-dir\n"; got != want {
		t.Errorf("first run printed %q, want %q", got, want)
	}
	if n := b.uploads.Load() - n0; n != 4 {
		t.Errorf("first submit uploaded %d files, want 4", n)
	}
	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("ALPHA "+uniq), 0o644); err != nil {
		t.Fatal(err)
	}
	n1 := b.uploads.Load()
	if got, want := submit("up-2-"+uniq), "ALPHA "+uniq+"beta "+uniq+"empty-dir\n"; got != want {
		t.Errorf("second run printed %q, want %q", got, want)
	}
	if n := b.uploads.Load() - n1; n != 1 {
		t.Errorf("second submit uploaded %d files, want only the changed one", n)
	}
	// A fresh backend (after a restart) also finds the files on the VM.
	b2 := New(e.config())
	defer b2.Close()
	h, err := b2.Submit(ctx, tgt, compute.JobSpec{RunID: "up-3-" + uniq, WorkDir: work, Argv: []string{"./run.sh"}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b2, h, compute.JobCompleted, 10*time.Second)
	if n := b2.uploads.Load(); n != 0 {
		t.Errorf("a restarted backend uploaded %d unchanged files", n)
	}
}

func TestSubmitIsIdempotent(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-idem")
	spec := compute.JobSpec{RunID: "idem-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c", "echo once"}}
	h1, err := b.Submit(context.Background(), tgt, spec)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := b.Submit(context.Background(), tgt, spec)
	if err != nil || h2 != h1 {
		t.Fatalf("second Submit = %+v, %v; want %+v", h2, err, h1)
	}
	computetest.WaitPhase(t, b, h1, compute.JobCompleted, 10*time.Second)
	if got := computetest.ReadLogs(t, b, h1, 0); got != "once\n" {
		t.Errorf("output %q: the job ran more than once?", got)
	}
}

func TestCancelKillsRemoteGroup(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-cancel")
	ctx := context.Background()
	h, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: "cancel-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c",
		`trap "" TERM; sleep 300 & echo "pid $!"; sleep 300 & echo "pid $!"; echo ready; wait`}})
	if err != nil {
		t.Fatal(err)
	}
	out := computetest.WaitLog(t, b, h, "ready", 10*time.Second)
	nodes, err := b.Nodes(ctx, tgt)
	if err != nil || nodes[0].State != compute.NodeRunning || !strings.HasPrefix(nodes[0].RunID, "cancel-") {
		t.Errorf("Nodes while running = %+v, %v", nodes, err)
	}
	var pids []int
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "pid "); ok {
			n, _ := strconv.Atoi(p)
			pids = append(pids, n)
		}
	}
	j, _ := parseHandle(h)
	wrapper, _ := strconv.Atoi(j.pid)
	pids = append(pids, wrapper)
	if pgid, err := syscall.Getpgid(wrapper); err != nil || pgid != wrapper {
		t.Errorf("the wrapper %d is in group %d (%v), want its own group", wrapper, pgid, err)
	}
	start := time.Now()
	if err := b.Cancel(ctx, h); err != nil {
		t.Fatal(err)
	}
	t.Logf("Cancel of a job ignoring SIGTERM took %s", time.Since(start).Round(time.Millisecond))
	for _, p := range pids {
		if err := syscall.Kill(p, 0); err == nil {
			t.Errorf("process %d of the job survived Cancel", p)
		}
	}
	st, err := b.Status(ctx, h)
	if err != nil || st.Phase != compute.JobCanceled {
		t.Errorf("Status after Cancel = %+v, %v", st, err)
	}
	if err := b.Cancel(ctx, h); err != nil {
		t.Errorf("second Cancel: %v", err)
	}
	nodes, err = b.Nodes(ctx, tgt)
	if err != nil || nodes[0].State != compute.NodeIdle || nodes[0].Port != s.port {
		t.Errorf("Nodes after Cancel = %+v, %v", nodes, err)
	}
}

func TestPasswordAuth(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	if s.pwUser == "" {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatal("no password user could be made")
		}
		t.Skip("password auth needs root to make a test user")
	}
	e := newEnv(s)
	e.remoteDir = "" // the default, under the password user's own home
	if u, err := user.Lookup(s.pwUser); err == nil {
		t.Cleanup(func() { os.RemoveAll(filepath.Join(u.HomeDir, DefaultRemoteDir)) })
	}
	b := New(e.config())
	defer b.Close()
	tgt := e.target("vm-pw", s.pwUser, s.fingerprint(), [3]string{s.password, "", ""})
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision with a password: %v", err)
	}
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "pw-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"id", "-un"}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	if got := computetest.ReadLogs(t, b, h, 0); got != s.pwUser+"\n" {
		t.Errorf("the job ran as %q, want %s", got, s.pwUser)
	}
	// A wrong password is a clear error, and the password is not in it.
	bad := e.target("vm-pw-bad", s.pwUser, s.fingerprint(), [3]string{"wrong-" + s.password, "", ""})
	err = b.Provision(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "signing in") || strings.Contains(err.Error(), s.password) {
		t.Errorf("Provision with a wrong password: %v", err)
	}
	if strings.Contains(e.log.String(), s.password) {
		t.Errorf("the password is in the backend's log")
	}
}

func TestKeyWithPassphrase(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.target("vm-pass", s.user, s.fingerprint(), [3]string{"", s.readKey(s.keyPass), s.pass})
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision with an encrypted key: %v", err)
	}
	keyBody := strings.Split(s.readKey(s.keyPass), "\n")[1]
	for _, secret := range []string{s.pass, keyBody} {
		if strings.Contains(e.log.String(), secret) || strings.Contains(tgt.Attach.StatusMessage, secret) {
			t.Errorf("a secret (%.8s...) is in the log or the status message", secret)
		}
	}
	noPass := e.target("vm-nopass", s.user, s.fingerprint(), [3]string{"", s.readKey(s.keyPass), ""})
	if err := b.Provision(context.Background(), noPass); !errors.Is(err, compute.ErrInvalid) || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("Provision with an encrypted key and no passphrase: %v", err)
	}
}

func TestFetchOutputs(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-out")
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "out", WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c",
		`mkdir -p outputs/model logs && echo weights >outputs/model/w.bin && echo hi >logs/train.log && ln -s /etc/passwd outputs/link`}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	dst := t.TempDir()
	if err := b.FetchOutputs(context.Background(), h, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"outputs/model/w.bin": "weights\n", "logs/train.log": "hi\n"} {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "outputs/link")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a symlink was fetched: %v", err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	e := newEnv(&testSSHD{port: freePort(t)})
	b := New(e.config())
	defer b.Close()
	tgt := e.target("vm-gone", "root", "SHA256:x", [3]string{"pw", "", ""})
	if _, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "r", Argv: []string{"true"}}); !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("Submit to an unreachable VM: %v, want ErrUnavailable", err)
	}
	nodes, err := b.Nodes(context.Background(), tgt)
	if err != nil || len(nodes) != 1 || nodes[0].State != compute.NodeUnusable || nodes[0].Reason == "" {
		t.Errorf("Nodes of an unreachable VM = %+v, %v", nodes, err)
	}
	if err := b.Deprovision(context.Background(), tgt); err != nil {
		t.Errorf("Deprovision of an unreachable VM: %v", err)
	}
}

func TestParseHandle(t *testing.T) {
	h := compute.Handle{Backend: BackendName, ID: "my-vm:run_1.a:1234.5678"}
	j, err := parseHandle(h)
	if err != nil || j.target != "my-vm" || j.runID != "run_1.a" || j.pid != "1234" || j.start != "5678" {
		t.Errorf("parseHandle = %+v, %v", j, err)
	}
	for _, id := range []string{"", "vm:run", "vm:run:1", "vm:../x:12.3", ":run:12.3", "vm:run:1.2", "vm:run:x.2"} {
		if _, err := parseHandle(compute.Handle{Backend: BackendName, ID: id}); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("parseHandle(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if _, err := parseHandle(compute.Handle{Backend: "local", ID: "vm:r:12.3"}); err == nil {
		t.Error("a local handle was accepted")
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	for in, want := range map[string]string{"SHA256:abc": "SHA256:abc", " abc= ": "SHA256:abc", "": ""} {
		if got := NormalizeFingerprint(in); got != want {
			t.Errorf("NormalizeFingerprint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSSHDRestartMidRun(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-restart")
	ctx := context.Background()
	// The job runs until the test releases it by creating a file (the VM
	// is this machine): a fixed sleep ended before sshd was back on a busy
	// machine.
	release := filepath.Join(t.TempDir(), "release")
	h, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: "restart-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c",
		`echo started; while [ ! -e "$1" ]; do sleep 0.05; done; echo finished`, "job", release}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitLog(t, b, h, "started", 10*time.Second)
	s.stop() // the server and its connections go; the job, in its own session, stays
	if _, err := b.Status(ctx, h); !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("Status while sshd is down: %v, want ErrUnavailable", err)
	}
	s.start()
	if st, err := b.Status(ctx, h); err != nil || st.Phase != compute.JobRunning {
		t.Fatalf("Status after sshd came back: %+v, %v; want Running (re-attached)", st, err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
	if got := computetest.ReadLogs(t, b, h, 0); got != "started\nfinished\n" {
		t.Errorf("output %q", got)
	}
}

func TestMaxDurationKillsJobIgnoringTerm(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-limit")
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "limit-" + randomHex(t), WorkDir: t.TempDir(),
		MaxDuration: 1500 * time.Millisecond,
		Argv:        []string{"/bin/sh", "-c", `trap "" TERM; echo start; sleep 60 & wait; wait; wait`}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 15*time.Second)
	if want := "exceeded the maximum run duration of 1.5s"; st.Reason != want {
		t.Errorf("Reason = %q, want %q", st.Reason, want)
	}
	t.Logf("a job ignoring SIGTERM ended %s after submit (limit 1.5s, grace 1s)", time.Since(start).Round(time.Millisecond))
	j, _ := parseHandle(h)
	pid, _ := strconv.Atoi(j.pid)
	if err := syscall.Kill(-pid, 0); err == nil {
		t.Errorf("the job's group %d is still alive", pid)
	}
}

func TestJobEnvCannotBreakWrapper(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-env")
	// Names the wrapper uses itself, and a PATH without mv: the job must
	// still get them and the wrapper must still record the exit code.
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "env-" + randomHex(t), WorkDir: t.TempDir(),
		Env:  map[string]string{"d": "/nonexistent", "n": "x", "limit": "1", "PATH": "/nonexistent"},
		Argv: []string{"/bin/sh", "-c", `echo "$d $n $limit $PATH"; exit 4`}})
	if err != nil {
		t.Fatal(err)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 10*time.Second)
	if st.ExitCode != 4 {
		t.Errorf("state %+v, want exit code 4", st)
	}
	if got, want := computetest.ReadLogs(t, b, h, 0), "/nonexistent x 1 /nonexistent\n"; got != want {
		t.Errorf("the job saw %q, want %q", got, want)
	}
}
