package sshvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

func TestUnreachableErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"dial refused", fmt.Errorf("connecting to x: refused: %w", compute.ErrUnavailable), true},
		{"connection closed", fmt.Errorf("stat: %w", io.EOF), true},
		{"sftp lost", sftp.ErrSSHFxConnectionLost, true},
		{"net op error", &net.OpError{Op: "read", Err: errors.New("reset")}, true},
		{"closed", net.ErrClosed, true},
		{"job gone", fmt.Errorf("job r: %w", compute.ErrNotFound), false},
		{"bad handle", compute.Invalid("handle", "no"), false},
		{"host key changed", &HostKeyChangedError{Address: "a", Want: "SHA256:a", Got: "SHA256:b"}, false},
		{"caller gave up", context.Canceled, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := unreachable(tc.err); got != tc.want {
				t.Fatalf("unreachable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestSparkArgv(t *testing.T) {
	tests := []struct {
		name, prog string
		argv, want []string
	}{
		{"script with args", "", []string{"python3", "train.py", "--lr", "0.1", "$(rm -rf ~)"},
			[]string{"spark-submit", "--master", "yarn", "--deploy-mode", "client", "train.py", "--lr", "0.1", "$(rm -rf ~)"}},
		{"no args", "/usr/bin/spark-submit", []string{"/usr/bin/python3", "job.py"},
			[]string{"/usr/bin/spark-submit", "--master", "yarn", "--deploy-mode", "client", "job.py"}},
		{"a bare program is left alone", "", []string{"hostname"}, []string{"hostname"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SparkArgv(tc.prog, tc.argv); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("SparkArgv = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLostConnection: a job whose VM stops answering is reported as the
// error (try again) until LostGrace, then Failed with the reason, for good;
// the VM's outage is reported once. A VM that comes back within the grace
// re-attaches to the job and its log carries on.
func TestLostConnection(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	cfg := e.config()
	cfg.LostGrace = 3 * time.Second
	var mu sync.Mutex
	var told []string
	cfg.OnUnreachable = func(target string, err error) {
		mu.Lock()
		told = append(told, target+": "+err.Error())
		mu.Unlock()
	}
	b := New(cfg)
	defer b.Close()
	tgt := e.keyTarget("vm-lost")
	ctx := context.Background()
	spec := func(id, script string) compute.JobSpec {
		return compute.JobSpec{RunID: id + "-" + randomHex(t), WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c", script}}
	}

	// Back within the grace: the job is found again and ends normally.
	h, err := b.Submit(ctx, tgt, spec("back", `echo one; sleep 3; echo two`))
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitLog(t, b, h, "one", 10*time.Second)
	s.stop()
	if _, err := b.Status(ctx, h); !errors.Is(err, compute.ErrUnavailable) {
		t.Fatalf("Status while sshd is down: %v", err)
	}
	time.Sleep(time.Second)
	s.start()
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 15*time.Second)
	if got := computetest.ReadLogs(t, b, h, 0); got != "one\ntwo\n" {
		t.Errorf("log after reconnecting: %q", got)
	}

	// Down for good: Failed with the reason after the grace, without
	// further connection attempts for its outputs and log.
	h, err = b.Submit(ctx, tgt, spec("gone", `echo started; sleep 60`))
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitLog(t, b, h, "started", 10*time.Second)
	s.stop()
	t0 := time.Now()
	var st compute.JobState
	for {
		st, err = b.Status(ctx, h)
		if err == nil {
			break
		}
		if !errors.Is(err, compute.ErrUnavailable) || time.Since(t0) > 10*time.Second {
			t.Fatalf("Status while sshd is down: %v after %s", err, time.Since(t0))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d := time.Since(t0); st.Phase != compute.JobFailed || d < 3*time.Second || !strings.HasPrefix(st.Reason, "lost the connection to vm-lost: ") ||
		!strings.Contains(st.Reason, "127.0.0.1") {
		t.Fatalf("after %s: %+v", d, st)
	}
	s.start() // even now it stays Failed: the run has been told
	if st2, err := b.Status(ctx, h); err != nil || st2 != st {
		t.Errorf("Status after giving up: %+v %v, want %+v", st2, err, st)
	}
	if _, err := b.Logs(ctx, h, 0); err == nil || !strings.Contains(err.Error(), "lost the connection") {
		t.Errorf("Logs after giving up: %v", err)
	}
	if err := b.FetchOutputs(ctx, h, t.TempDir()); err == nil {
		t.Error("FetchOutputs after giving up succeeded")
	}
	_ = b.Cancel(ctx, h) // stop the orphan
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 2 || !strings.HasPrefix(told[0], "vm-lost: ") {
		t.Errorf("OnUnreachable told %q, want once per outage", told)
	}
}

// TestNodesOfVM: the VM is one node, idle or running the run, with its
// address, port, CPUs and memory; unusable with the reason when the
// controller found it away.
func TestNodesOfVM(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("vm-nodes")
	ctx := context.Background()
	if err := b.Provision(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	nodes, err := b.Nodes(ctx, tgt)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("Nodes: %v %v", nodes, err)
	}
	n := nodes[0]
	if n.State != compute.NodeIdle || n.PrivateIP != "127.0.0.1" || n.Port != s.port || n.CPUs < 1 || n.MemoryMB < 1 {
		t.Fatalf("idle node: %+v", n)
	}
	id := "nodes-" + randomHex(t)
	h, err := b.Submit(ctx, tgt, compute.JobSpec{RunID: id, WorkDir: t.TempDir(), Argv: []string{"/bin/sh", "-c", "echo up; sleep 30"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Cancel(ctx, h)
	computetest.WaitLog(t, b, h, "up", 10*time.Second)
	if nodes, _ = b.Nodes(ctx, tgt); nodes[0].State != compute.NodeRunning || nodes[0].RunID != id {
		t.Fatalf("busy node: %+v", nodes[0])
	}
	away := *tgt
	a := *tgt.Attach
	a.Unreachable, a.StatusMessage = true, "Unusable: the machine does not answer: refused"
	away.Attach = &a
	if nodes, _ = b.Nodes(ctx, &away); nodes[0].State != compute.NodeUnusable || nodes[0].Reason != a.StatusMessage {
		t.Fatalf("unreachable node: %+v", nodes[0])
	}
	if got, want := ConnectionString(tgt), fmt.Sprintf("ssh -p %d %s@127.0.0.1", s.port, s.user); got != want {
		t.Errorf("ConnectionString = %q, want %q", got, want)
	}
}

// TestHDInsightRunsSparkSubmit: a run on an HDInsight target goes through
// the head node's spark-submit (here a real script on the SSH user's PATH
// that records its argv and runs the script with python3-less /bin/sh), with
// every argument literal.
func TestHDInsightRunsSparkSubmit(t *testing.T) {
	t.Parallel() // its own sshd and folders
	s := startSSHD(t)
	bin := filepath.Join(s.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := `#!/bin/sh
# A stand-in for HDInsight's spark-submit: checks its options, then runs the script.
printf 'spark-submit:'; for a in "$@"; do printf ' <%s>' "$a"; done; echo
[ "$1" = --master ] && [ "$2" = yarn ] && [ "$3" = --deploy-mode ] && [ "$4" = client ] || { echo "bad options" >&2; exit 2; }
shift 4
exec /bin/sh "$@"
`
	if err := os.WriteFile(filepath.Join(bin, "spark-submit"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	s.AddConfig("SetEnv PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin")
	e := newEnv(s)
	b := New(e.config())
	defer b.Close()
	tgt := e.keyTarget("hdi")
	tgt.Kind = compute.KindHDInsight
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "job.sh"), []byte(`for a in "$@"; do printf 'arg <%s>\n' "$a"; done`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := b.Submit(context.Background(), tgt, compute.JobSpec{RunID: "hdi-" + randomHex(t), WorkDir: work,
		Argv: []string{"python3", "job.sh", "$(touch /tmp/nope)", "a'b"}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 15*time.Second)
	want := "spark-submit: <--master> <yarn> <--deploy-mode> <client> <job.sh> <$(touch /tmp/nope)> <a'b>\narg <$(touch /tmp/nope)>\narg <a'b>\n"
	if got := computetest.ReadLogs(t, b, h, 0); got != want {
		t.Errorf("log\n%s\nwant\n%s", got, want)
	}
}
