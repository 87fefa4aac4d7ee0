package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// lockedBuffer collects a session's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitOutput waits until out contains want.
func waitOutput(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second * computetest.Slack)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q; it is:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runningInstance(t *testing.T, b *Backend, name string) *compute.Target {
	t.Helper()
	tgt := &compute.Target{Name: name, Kind: compute.KindInstance, CreatedAt: time.Now(),
		Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning}}
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.EndSessions(context.Background(), name) })
	return tgt
}

// TestTerminalSession is a terminal as a user has it: a login shell on a
// terminal in the instance's home, as the instance's user, whose files stay
// there, and whose every process (also one it put in the background) ends
// when the instance stops.
func TestTerminalSession(t *testing.T) {
	b := New(testConfig(t))
	ctx := context.Background()
	tgt := runningInstance(t, b, "ci-term")
	s, err := b.OpenSession(ctx, tgt, compute.SessionSpec{Purpose: "terminal", TTY: &compute.TTYSize{Rows: 24, Cols: 80}, Env: map[string]string{"TERM": "xterm-256color"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := &lockedBuffer{}
	go func() { _, _ = io.Copy(out, s) }()
	if _, err := io.WriteString(s, "echo \"home=$HOME pwd=$(pwd) tty=$(tty >/dev/null && echo yes) uid=$(id -u)\"; echo persisted >note.txt; stty size\n"); err != nil {
		t.Fatal(err)
	}
	home := tgt.Instance.WorkDir
	waitOutput(t, out, "home="+home+" pwd="+home+" tty=yes")
	waitOutput(t, out, "24 80")
	if b.sandbox.root {
		waitOutput(t, out, "uid="+strconv.Itoa(b.instanceUID(tgt)))
	}
	if err := s.Resize(compute.TTYSize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(s, "stty size; echo 'ünïcødé ✓'\n")
	waitOutput(t, out, "40 120")
	waitOutput(t, out, "ünïcødé ✓")
	if got, err := os.ReadFile(home + "/note.txt"); err != nil || string(got) != "persisted\n" {
		t.Errorf("note.txt in the home = %q, %v; want it written there", got, err)
	}
	if b.LastActivity(tgt.Name).IsZero() {
		t.Error("LastActivity is zero after terminal I/O")
	}

	// A process the user detached from the shell must end with the instance too.
	_, _ = io.WriteString(s, "setsid sleep 4242 </dev/null >/dev/null 2>&1 & echo started\n")
	waitOutput(t, out, "started")
	waitProcs(t, "sleep 4242", true)
	if err := b.Power(ctx, tgt, compute.ActionStop); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(); err != nil {
		t.Errorf("Wait after stop: %v", err)
	}
	waitProcs(t, "sleep 4242", false)
}

// TestSessionRefusedWhenStopped: a stopped instance opens nothing.
func TestSessionRefusedWhenStopped(t *testing.T) {
	b := New(testConfig(t))
	tgt := runningInstance(t, b, "ci-off")
	tgt.Instance.State = compute.InstanceStopped
	_, err := b.OpenSession(context.Background(), tgt, compute.SessionSpec{Purpose: "terminal"})
	if !errors.Is(err, compute.ErrConflict) {
		t.Fatalf("OpenSession on a stopped instance: %v; want ErrConflict", err)
	}
}

// TestExecSession runs a command without a terminal, as ssh host cmd does.
func TestExecSession(t *testing.T) {
	b := New(testConfig(t))
	tgt := runningInstance(t, b, "ci-exec")
	s, err := b.OpenSession(context.Background(), tgt, compute.SessionSpec{Purpose: "ssh", Argv: []string{"/bin/sh", "-c", "cat; echo oops >&2; exit 3"}, KeepsAwake: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if since := time.Since(b.LastActivity(tgt.Name)); since > time.Minute {
		t.Errorf("an open session that keeps the instance awake: last activity %s ago", since)
	}
	_, _ = io.WriteString(s, "in and out\n")
	_ = s.CloseInput()
	got, _ := io.ReadAll(s)
	errOut, _ := io.ReadAll(s.Stderr())
	code, err := s.Wait()
	if string(got) != "in and out\n" || string(errOut) != "oops\n" || code != 3 || err != nil {
		t.Errorf("exec session: out %q err %q code %d %v; want the input back, oops, 3", got, errOut, code, err)
	}
}

// waitProcs waits until a process whose command line contains cmd exists
// (want true) or no longer does.
func waitProcs(t *testing.T, cmd string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second * computetest.Slack)
	for {
		found := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), cmd) {
				found = true
			}
		}
		if found == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %q present=%v; want %v", cmd, found, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
