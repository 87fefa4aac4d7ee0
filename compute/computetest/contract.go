// Package computetest is the contract every compute.Backend passes: the
// local, SSH VM and Slurm backends all run it. Each backend's tests call
// RunBackendContract with a Harness; the subtests check what a user would
// check about their jobs.
package computetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Harness is what RunBackendContract needs from a backend's tests.
type Harness struct {
	// Registration is the backend under test as the app registers it: its
	// own Registration(), with the backend, the kinds it serves and the
	// capabilities it declares. Every declared capability is checked, and
	// one whose fixture below the harness does not give fails the suite:
	// a backend cannot declare a capability and skip its check.
	Registration compute.Registration
	// Reopen returns the registration of a new backend value over the same
	// persistent state, as the server builds after a restart. Nil skips
	// the restart subtest; a declared Close is then checked on the backend
	// under test when the suite has finished.
	Reopen func() compute.Registration
	// Target returns a provisioned target to run jobs on; it may register
	// its own cleanup with t.
	Target func(t *testing.T) *compute.Target
	// Python is the path of python3 where the jobs run, or "" to write the
	// test programs for /bin/sh.
	Python string
	// Timeout bounds each wait for a job to reach a phase or print
	// something; 0 means 10s. Queue-based backends may need more.
	Timeout time.Duration

	// The fixtures of the capability checks (capabilities.go). Each is
	// required by the capabilities named, and must be nil when the
	// registration declares none of them.

	// InstanceTarget returns a provisioned, running compute instance
	// (Power).
	InstanceTarget func(t *testing.T) *compute.Target
	// ClusterTarget returns a provisioned cluster with MinNodes 0, MaxNodes
	// at least 1 and a short IdleSecondsBeforeScaleDown, which the check
	// waits out (Scale).
	ClusterTarget func(t *testing.T) *compute.Target
	// StopMachine makes the machine of Target stop answering, as if it
	// were switched off (jobs on it keep their state); StartMachine brings
	// it back. Required by Unreachable; Health checks the stopped machine
	// only when they are given. Both or neither.
	StopMachine, StartMachine func(t *testing.T)
	// UnpinnedTarget returns a new target on the machine of Target, with
	// Target's credentials and no host key pinned (HostKeys).
	UnpinnedTarget func(t *testing.T) *compute.Target
	// RotateCredentials gives the backend new credentials for Target that
	// the machine does not accept yet; the function it returns makes the
	// machine accept them, and only them, from then on (SecretRotation).
	RotateCredentials func(t *testing.T) (accept func())
	// PowerSavingTarget returns a provisioned target whose nodes power up
	// and down with demand and whose scale settings this server may edit
	// (ScaleSettings).
	PowerSavingTarget func(t *testing.T) *compute.Target

	// NoJobs says why the backend runs no jobs (an Azure ML workspace's
	// computes take Azure ML jobs, whose logs Trainyard cannot reach). The
	// job subtests are then replaced by one that checks every job is
	// refused at Submit with a JobsNotSupported conflict naming the target,
	// and the capability checks leave out the jobs they would run.
	NoJobs string
}

// backend is the backend under test.
func (h Harness) backend() compute.Backend { return h.Registration.Backend }

func (h Harness) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return 10 * time.Second
}

// prog returns an argv running the Python code when the harness has Python,
// else the sh code; args follow as the program's arguments.
func (h Harness) prog(py, sh string, args ...string) []string {
	if h.Python != "" {
		return append([]string{h.Python, "-c", py}, args...)
	}
	return append([]string{"/bin/sh", "-c", sh, "sh"}, args...)
}

// submit starts a job on a fresh target with a fresh run id and work dir.
func (h Harness) submit(t *testing.T, spec compute.JobSpec) compute.Handle {
	t.Helper()
	return h.submitTo(t, h.backend(), h.Target(t), spec)
}

// submitTo starts a job on tgt with b, with a fresh run id and work dir
// unless spec has them.
func (h Harness) submitTo(t *testing.T, b compute.Backend, tgt *compute.Target, spec compute.JobSpec) compute.Handle {
	t.Helper()
	if spec.RunID == "" {
		spec.RunID = NewRunID(t)
	}
	if spec.WorkDir == "" {
		spec.WorkDir = t.TempDir()
	}
	hd, err := b.Submit(context.Background(), tgt, spec)
	if err != nil {
		t.Fatalf("Submit(%q) to %s: %v", spec.Argv, tgt.Name, err)
	}
	if hd.Backend != b.Name() || hd.ID == "" {
		t.Fatalf("Submit returned handle %+v; want Backend %q and an ID", hd, b.Name())
	}
	return hd
}

// RunBackendContract runs the contract subtests against h: the jobs
// contract, Provision and Nodes, and a check of every capability the
// registration declares (capabilities.go). The job subtests run in
// parallel and wait by polling with a deadline, so they take about as long
// as the slowest job (a few seconds); the capability checks that stop the
// machine or change its credentials run before them, one at a time.
func RunBackendContract(t *testing.T, h Harness) {
	if h.Registration.Backend == nil || h.Target == nil {
		t.Fatal("the harness gives no Registration (the backend's own Registration()) or no Target")
	}
	runCapabilities(t, h)
	if h.NoJobs != "" {
		runWithoutJobs(t, h)
		return
	}

	t.Run("CompletedJobAndItsOutput", func(t *testing.T) {
		t.Parallel()
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			`print("hello"); print("world")`,
			`echo hello; echo world`)})
		st := WaitPhase(t, h.backend(), hd, compute.JobCompleted, h.timeout())
		if st.ExitCode != 0 {
			t.Errorf("ExitCode = %d, want 0", st.ExitCode)
		}
		if got := ReadLogs(t, h.backend(), hd, 0); got != "hello\nworld\n" {
			t.Errorf("Logs(0) = %q, want %q", got, "hello\nworld\n")
		}
		if got := ReadLogs(t, h.backend(), hd, 6); got != "world\n" {
			t.Errorf("Logs(6) = %q, want %q", got, "world\n")
		}
		if got := ReadLogs(t, h.backend(), hd, 1000); got != "" {
			t.Errorf("Logs(past the end) = %q, want nothing", got)
		}
	})

	t.Run("NonZeroExitFails", func(t *testing.T) {
		t.Parallel()
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			`import sys; print("about to fail"); sys.exit(3)`,
			`echo about to fail; exit 3`)})
		st := WaitPhase(t, h.backend(), hd, compute.JobFailed, h.timeout())
		if st.ExitCode != 3 || !strings.Contains(st.Reason, "exit code 3") {
			t.Errorf("state = %+v, want exit code 3 and a reason saying so", st)
		}
		if got := ReadLogs(t, h.backend(), hd, 0); !strings.Contains(got, "about to fail") {
			t.Errorf("Logs = %q, want the output before the failure", got)
		}
	})

	t.Run("ArgvReachesProgramLiterally", func(t *testing.T) {
		t.Parallel()
		pwned := filepath.Join(os.TempDir(), "pwned-"+randomHex(t))
		t.Cleanup(func() { os.Remove(pwned) })
		args := []string{
			"$(touch " + pwned + ")", "`touch " + pwned + "`", "; rm -rf x", "&& touch " + pwned,
			`it's "quoted"`, "two\nlines", "  spaced  out  ", "", "$HOME", "*", "-n", `back\slash`,
		}
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			"import sys\nfor a in sys.argv[1:]: print('<' + a + '>')",
			`for a in "$@"; do printf '<%s>\n' "$a"; done`,
			args...)})
		WaitPhase(t, h.backend(), hd, compute.JobCompleted, h.timeout())
		var want strings.Builder
		for _, a := range args {
			want.WriteString("<" + a + ">\n")
		}
		if got := ReadLogs(t, h.backend(), hd, 0); got != want.String() {
			t.Errorf("the program saw\n%s\nwant\n%s", got, want.String())
		}
		if _, err := os.Stat(pwned); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists: an argument was run by a shell", pwned)
		}
	})

	t.Run("EnvReachesJob", func(t *testing.T) {
		t.Parallel()
		greeting := "hello $HOME; `id` \"x\" 'y'"
		hd := h.submit(t, compute.JobSpec{
			Env: map[string]string{"TRAINYARD_CT_GREETING": greeting, "TRAINYARD_CT_EMPTY": ""},
			Argv: h.prog(
				`import os; print("<" + os.environ["TRAINYARD_CT_GREETING"] + ">"); print("<" + os.environ.get("TRAINYARD_CT_EMPTY", "unset") + ">")`,
				`printf '<%s>\n' "$TRAINYARD_CT_GREETING" "${TRAINYARD_CT_EMPTY-unset}"`),
		})
		WaitPhase(t, h.backend(), hd, compute.JobCompleted, h.timeout())
		want := "<" + greeting + ">\n<>\n"
		if got := ReadLogs(t, h.backend(), hd, 0); got != want {
			t.Errorf("the job saw %q, want %q", got, want)
		}
	})

	t.Run("RunsInWorkDir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "input.txt"), []byte("from the work dir\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		hd := h.submit(t, compute.JobSpec{WorkDir: dir, Argv: h.prog(
			`print(open("input.txt").read().strip())`,
			`cat input.txt`)})
		WaitPhase(t, h.backend(), hd, compute.JobCompleted, h.timeout())
		if got := ReadLogs(t, h.backend(), hd, 0); got != "from the work dir\n" {
			t.Errorf("Logs = %q, want the file read from the work dir", got)
		}
	})

	t.Run("MissingProgramFails", func(t *testing.T) {
		t.Parallel()
		spec := compute.JobSpec{RunID: NewRunID(t), WorkDir: t.TempDir(), Argv: []string{"/nonexistent/trainyard-ct-program"}}
		hd, err := h.backend().Submit(context.Background(), h.Target(t), spec)
		if err != nil {
			return // refusing at submit is as good as failing
		}
		if st := WaitPhase(t, h.backend(), hd, compute.JobFailed, h.timeout()); st.ExitCode == 0 {
			t.Errorf("state = %+v, want a non-zero exit code", st)
		}
	})

	t.Run("ShellBuiltinIsNotAProgram", func(t *testing.T) {
		t.Parallel()
		// Backends that start jobs through a shell must not let argv[0]
		// name a builtin: eval would run its arguments as shell code.
		spec := compute.JobSpec{RunID: NewRunID(t), WorkDir: t.TempDir(), Argv: []string{"eval", "echo INJECTED"}}
		hd, err := h.backend().Submit(context.Background(), h.Target(t), spec)
		if err != nil {
			return
		}
		WaitPhase(t, h.backend(), hd, compute.JobFailed, h.timeout())
		if got := ReadLogs(t, h.backend(), hd, 0); strings.Contains(got, "INJECTED\n") {
			t.Errorf("argv[0] \"eval\" ran its argument as shell code; output %q", got)
		}
	})

	// The rules of compute.JobSpec.Check hold on every backend: a job
	// refused on one target is refused alike on another, before anything
	// is started, with the field at fault named.
	t.Run("BadJobsAreRefused", func(t *testing.T) {
		t.Parallel()
		ok := compute.JobSpec{Argv: h.prog(`print(1)`, `echo 1`)}
		tests := []struct {
			name, field string
			edit        func(s *compute.JobSpec)
		}{
			{"no command", "command", func(s *compute.JobSpec) { s.Argv = nil }},
			{"NUL in an argument", "command", func(s *compute.JobSpec) { s.Argv = append(s.Argv, "a\x00b") }},
			{"run id that climbs out", "runId", func(s *compute.JobSpec) { s.RunID = "../escape" }},
			{"environment name with a dash", "environmentVariables", func(s *compute.JobSpec) { s.Env = map[string]string{"A-B": "1"} }},
			{"negative time limit", "maxRunDuration", func(s *compute.JobSpec) { s.MaxDuration = -time.Second }},
			{"relative working folder", "workDir", func(s *compute.JobSpec) { s.WorkDir = "work" }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				spec := ok
				spec.RunID, spec.WorkDir = NewRunID(t), t.TempDir()
				tc.edit(&spec)
				_, err := h.backend().Submit(context.Background(), h.Target(t), spec)
				var v *compute.ValidationError
				if !errors.Is(err, compute.ErrInvalid) || !errors.As(err, &v) || v.For(tc.field) == "" {
					t.Errorf("Submit with %s: err = %v, want a validation error naming %s", tc.name, err, tc.field)
				}
			})
		}
	})

	t.Run("CancelStopsJobAndChildren", func(t *testing.T) {
		t.Parallel()
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			"import subprocess, sys\n"+
				"child = subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True:\\n print(\"tick\", flush=True)\\n time.sleep(0.05)'])\n"+
				"print('ready', flush=True)\n"+
				"child.wait()",
			`(while :; do echo tick; sleep 0.05; done) & echo ready; wait`)})
		WaitLog(t, h.backend(), hd, "tick", h.timeout())
		if st := status(t, h.backend(), hd); st.Phase != compute.JobRunning {
			t.Fatalf("before Cancel: state = %+v, want Running", st)
		}
		if err := h.backend().Cancel(context.Background(), hd); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		WaitPhase(t, h.backend(), hd, compute.JobCanceled, h.timeout())
		// The child prints every 50 ms; if it survived, the log keeps
		// growing. Absence can only be shown by watching for a while.
		size := len(ReadLogs(t, h.backend(), hd, 0))
		for range 3 {
			time.Sleep(100 * time.Millisecond)
			if now := len(ReadLogs(t, h.backend(), hd, 0)); now != size {
				t.Fatalf("the output grew from %d to %d bytes after the job was cancelled: a child survived", size, now)
			}
		}
		if err := h.backend().Cancel(context.Background(), hd); err != nil {
			t.Errorf("second Cancel: %v", err)
		}
		if st := status(t, h.backend(), hd); st.Phase != compute.JobCanceled {
			t.Errorf("after the second Cancel: state = %+v, want Canceled", st)
		}
	})

	t.Run("CancelOfEndedJobSucceeds", func(t *testing.T) {
		t.Parallel()
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(`print("done")`, `echo done`)})
		WaitPhase(t, h.backend(), hd, compute.JobCompleted, h.timeout())
		if err := h.backend().Cancel(context.Background(), hd); err != nil {
			t.Fatalf("Cancel of a completed job: %v", err)
		}
		if st := status(t, h.backend(), hd); st.Phase != compute.JobCompleted {
			t.Errorf("after Cancel: state = %+v, want it still Completed", st)
		}
	})

	t.Run("MaxDurationEnforced", func(t *testing.T) {
		t.Parallel()
		hd := h.submit(t, compute.JobSpec{MaxDuration: 300 * time.Millisecond, Argv: h.prog(
			`import time; print("start", flush=True); time.sleep(30)`,
			`echo start; sleep 30`)})
		st := WaitPhase(t, h.backend(), hd, compute.JobFailed, h.timeout())
		if want := "exceeded the maximum run duration of 300ms"; !strings.Contains(st.Reason, want) {
			t.Errorf("Reason = %q, want it to contain %q", st.Reason, want)
		}
	})

	t.Run("StatusAfterRestart", func(t *testing.T) {
		if h.Reopen == nil {
			t.Skip("the harness has no Reopen")
		}
		t.Parallel()
		// It must still run when the reopened backend is asked, after the
		// log was read back (over SSH, or from Slurm's shared folder): a
		// second was not always enough on a busy machine.
		hd := h.submit(t, compute.JobSpec{Argv: h.prog(
			`import time; print("started", flush=True); time.sleep(5); print("finished")`,
			`echo started; sleep 5; echo finished`)})
		b := h.Reopen().Backend
		WaitLog(t, b, hd, "started", h.timeout())
		if st := status(t, b, hd); st.Phase != compute.JobRunning {
			t.Fatalf("after the restart: state = %+v, want Running", st)
		}
		WaitPhase(t, b, hd, compute.JobCompleted, h.timeout())
		if got := ReadLogs(t, b, hd, 0); got != "started\nfinished\n" {
			t.Errorf("Logs after the restart = %q", got)
		}
	})

	t.Run("DeprovisionTwice", func(t *testing.T) {
		t.Parallel()
		tgt := h.Target(t)
		for i := range 2 {
			if err := h.backend().Deprovision(context.Background(), tgt); err != nil {
				t.Fatalf("Deprovision #%d: %v", i+1, err)
			}
		}
	})

	checkClose(t, h)
}

// runWithoutJobs is the contract of a backend that runs no jobs: Submit
// refuses every job, before anything starts, with a JobsNotSupported
// conflict naming the target (the dispatcher fails the run with it);
// Status and Logs know no handle; Cancel and Deprovision stay idempotent.
func runWithoutJobs(t *testing.T, h Harness) {
	t.Run("JobsRefused", func(t *testing.T) {
		tgt := h.Target(t)
		spec := compute.JobSpec{RunID: NewRunID(t), WorkDir: t.TempDir(), Argv: h.prog(`print(1)`, `echo 1`)}
		_, err := h.backend().Submit(context.Background(), tgt, spec)
		var coded *compute.CodedError
		if !errors.Is(err, compute.ErrConflict) || !errors.As(err, &coded) || coded.Code != "JobsNotSupported" || coded.Target != tgt.Name {
			t.Fatalf("Submit to %s of a backend that runs no jobs (%s): err = %v; want a JobsNotSupported conflict naming the target", tgt.Name, h.NoJobs, err)
		}
		hd := compute.Handle{Backend: h.backend().Name(), ID: spec.RunID}
		if _, err := h.backend().Status(context.Background(), hd); !errors.Is(err, compute.ErrNotFound) {
			t.Errorf("Status of a job never started: err = %v; want ErrNotFound", err)
		}
		if _, err := h.backend().Logs(context.Background(), hd, 0); !errors.Is(err, compute.ErrNotFound) {
			t.Errorf("Logs of a job never started: err = %v; want ErrNotFound", err)
		}
		if err := h.backend().Cancel(context.Background(), hd); err != nil {
			t.Errorf("Cancel of a job never started: %v; want nothing to do", err)
		}
	})
	t.Run("DeprovisionTwice", func(t *testing.T) {
		tgt := h.Target(t)
		for i := range 2 {
			if err := h.backend().Deprovision(context.Background(), tgt); err != nil {
				t.Fatalf("Deprovision #%d: %v", i+1, err)
			}
		}
	})
}

// Slack multiplies every wait's deadline in the tests that use this
// package and web/webtest: a test names the time a quiet machine needs, and
// the wait allows Slack times that, so a 2-core machine running another
// test suite beside this one does not fail a test that would pass. A wait
// returns as soon as its condition holds, so the slack costs nothing when
// things work; it only delays the report of a real failure.
const Slack = 4

// WaitPhase polls Status until the job is in phase want and returns its
// state. It fails the test at once if the job ends in another phase, and
// after timeout otherwise, showing the job's output either way.
func WaitPhase(t testing.TB, b compute.Backend, h compute.Handle, want compute.JobPhase, timeout time.Duration) compute.JobState {
	t.Helper()
	deadline := time.Now().Add(timeout * Slack)
	var st compute.JobState
	for {
		st = status(t, b, h)
		if st.Phase == want {
			return st
		}
		if st.Phase.Terminal() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s: state %+v, want %s; output:\n%s", h.ID, st, want, ReadLogs(t, b, h, 0))
	return st
}

// WaitLog polls the job's output until it contains s and returns it.
func WaitLog(t testing.TB, b compute.Backend, h compute.Handle, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout * Slack)
	for {
		out := ReadLogs(t, b, h, 0)
		if strings.Contains(out, s) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: output never contained %q; it is:\n%s", h.ID, s, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadLogs returns the job's output from offset on, as far as it is written.
func ReadLogs(t testing.TB, b compute.Backend, h compute.Handle, offset int64) string {
	t.Helper()
	r, err := b.Logs(context.Background(), h, offset)
	if err != nil {
		t.Fatalf("Logs(%s, %d): %v", h.ID, offset, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the logs of %s: %v", h.ID, err)
	}
	return string(data)
}

// NewRunID returns a run id no other test uses.
func NewRunID(t testing.TB) string {
	return "ct-" + randomHex(t)
}

func status(t testing.TB, b compute.Backend, h compute.Handle) compute.JobState {
	t.Helper()
	st, err := b.Status(context.Background(), h)
	if err != nil {
		t.Fatalf("Status(%s): %v", h.ID, err)
	}
	return st
}

func randomHex(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
