package local

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
)

// limitedBackend is a backend with small limits on the local target, or
// skips the test where cgroups cannot be written (a server without root).
func limitedBackend(t *testing.T, memory int64, pids int64) *Backend {
	t.Helper()
	b := New(Config{DataDir: t.TempDir(), LocalMemoryBytes: memory, PidsLimit: pids, KillGrace: 200 * time.Millisecond})
	if b.limiter.off != "" {
		t.Skip("cgroups cannot be written here: " + b.limiter.off)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	return b
}

// TestOutOfMemoryIsNamed: a job that needs more memory than its limit is
// killed by the kernel, and the run's reason says so with the limit.
func TestOutOfMemoryIsNamed(t *testing.T) {
	b := limitedBackend(t, 64<<20, 0)
	h, err := b.Submit(context.Background(), localTarget(), compute.JobSpec{RunID: "greedy", WorkDir: t.TempDir(),
		Argv: []string{"/usr/bin/python3", "-c", "import time\nx = bytearray(512 * 1024 * 1024)\nprint('survived')"}})
	if err != nil {
		t.Fatal(err)
	}
	st := computetest.WaitPhase(t, b, h, compute.JobFailed, 30*time.Second)
	if want := "ran out of memory: limit 64 MiB of the local target"; st.Reason != want {
		t.Errorf("reason %q, want %q", st.Reason, want)
	}
	if again, _ := b.Status(context.Background(), h); again.Reason != st.Reason {
		t.Errorf("a later Status says %q", again.Reason)
	}
}

// TestForkBombStops: a job that forks without bound stops at its pids
// limit, and another job on the same backend still runs meanwhile.
func TestForkBombStops(t *testing.T) {
	b := limitedBackend(t, 0, 32)
	bomb := `import os, time
n = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print("stopped after", n, "forks:", e.strerror, flush=True)
    os._exit(0)
print("never stopped", n, flush=True)
`
	h, err := b.Submit(context.Background(), localTarget(), compute.JobSpec{RunID: "bomb", WorkDir: t.TempDir(),
		Argv: []string{"/usr/bin/python3", "-c", bomb}})
	if err != nil {
		t.Fatal(err)
	}
	out := computetest.WaitLog(t, b, h, "after", 30*time.Second)
	fields := strings.Fields(out)
	if len(fields) < 3 || fields[0] != "stopped" {
		t.Fatalf("the fork bomb was not stopped: %q", out)
	}
	if n, err := strconv.Atoi(fields[2]); err != nil || n >= 32 {
		t.Errorf("it forked %s times with a limit of 32 processes", fields[2])
	}
	other, err := b.Submit(context.Background(), localTarget(), compute.JobSpec{RunID: "bystander", WorkDir: t.TempDir(),
		Argv: []string{"/bin/sh", "-c", "echo fine"}})
	if err != nil {
		t.Fatal(err)
	}
	computetest.WaitPhase(t, b, other, compute.JobCompleted, 10*time.Second)
	// The bomb's parent ended; the children it left sleeping go with it.
	computetest.WaitPhase(t, b, h, compute.JobCompleted, 10*time.Second)
}

// TestNodeSizeLimits: a compute instance's jobs get its VM size's memory
// and CPUs, the built-in target only what it was given.
func TestNodeSizeLimits(t *testing.T) {
	b := New(Config{DataDir: t.TempDir(), LocalCPUs: 1.5, LocalMemoryBytes: 2 << 30})
	tests := []struct {
		name string
		t    *compute.Target
		want Limits
	}{
		{"instance", &compute.Target{Name: "ci", Kind: compute.KindInstance, Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2"}},
			Limits{CPUs: 4, MemoryBytes: 14 << 30, Pids: DefaultPidsLimit, Of: "Standard_DS3_v2"}},
		{"local", localTarget(), Limits{CPUs: 1.5, MemoryBytes: 2 << 30, Pids: DefaultPidsLimit, Of: "the local target"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.limitsFor(tc.t); got != tc.want {
				t.Errorf("limitsFor = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := formatBytes(14 << 30); got != "14 GiB" {
		t.Errorf("formatBytes(14 GiB) = %q", got)
	}
}
